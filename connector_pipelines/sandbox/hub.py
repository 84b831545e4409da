"""Many emulator accounts on one port: ``/<system>/<account>/...`` -> that account's emulator.

Each tenant of the demo (or of a test) gets its own Plentymarkets account and its own Shopware shop, as in
real life, so tenants never share target state. ``connector-pipelines sandbox serve`` runs a hub. ERP file
accounts are SFTP servers of their own (each on its own port) over a generated catalog; the hub lists them
and can change their files.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, JsonValue
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from connector_pipelines.sandbox.convergence import ConvergenceReport
from connector_pipelines.sandbox.erp_csv import ErpCsvFolder
from connector_pipelines.sandbox.file_servers import (
    ErpFileLayout,
    SftpSandbox,
    default_mapping,
    write_erp_catalog,
)
from connector_pipelines.sandbox.logo import LogoEmulator
from connector_pipelines.sandbox.netsis import NetsisEmulator
from connector_pipelines.sandbox.plentymarkets import PlentyEmulator
from connector_pipelines.sandbox.plentymarkets_settings import PlentySettings
from connector_pipelines.sandbox.plytix import PlytixEmulator
from connector_pipelines.sandbox.plytix import PlytixSettings as PlytixEmulatorSettings
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.sandbox.shopify import ShopifySettings as ShopifyEmulatorSettings
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator, ShopwareSettings
from connector_pipelines.sandbox.webflow import WebflowEmulator
from connector_pipelines.sandbox.webflow_settings import WebflowSettings as WebflowEmulatorSettings
from connector_pipelines.sources.erp_files import SourceRow, parse_records
from connector_pipelines.sources.erp_mapping.config import write_mapping
from connector_pipelines.sources.erp_mapping.values import NumberParser
from connector_pipelines.tenants.systems import ErpFilesSettings

if TYPE_CHECKING:
    from connector_pipelines.sandbox.recipe import SandboxRecipe


@dataclass(frozen=True)
class PlentyAccount:
    emulator: PlentyEmulator
    username: str
    password: str


@dataclass(frozen=True)
class ShopwareAccount:
    emulator: Shopware6Emulator
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class ShopifyAccount:
    emulator: ShopifyEmulator
    access_token: str


@dataclass(frozen=True)
class PlytixAccount:
    emulator: PlytixEmulator
    api_key: str
    api_password: str


@dataclass(frozen=True)
class WebflowAccount:
    emulator: WebflowEmulator
    token: str
    site_id: str


@dataclass(frozen=True)
class ErpFilesAccount:
    """An SFTP server over ``directory`` holding the catalog ``file``, and the mapping that reads it."""

    server: SftpSandbox
    directory: Path
    file: Path
    layout: ErpFileLayout
    mapping_file: Path


@dataclass(frozen=True)
class LogoAccount:
    """A Logo firm (its credentials and numbers are in the emulator's settings)."""

    emulator: LogoEmulator


@dataclass(frozen=True)
class NetsisAccount:
    """A Netsis company (its credentials and database are in the emulator's settings)."""

    emulator: NetsisEmulator


class Change(BaseModel):
    """Body of ``POST /__hub/<pipeline>/<account>/change``: change a fraction of the source's records."""

    fraction: float = Field(0.1, gt=0, le=1)
    seed: int = 0


@dataclass
class _Dispatch:
    """A router whose mounts can be added while the server runs."""

    router: Router = field(default_factory=Router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router(scope, receive, send)


class SandboxHub:
    def __init__(self) -> None:
        self.plenty: dict[str, PlentyAccount] = {}
        self.shopware: dict[str, ShopwareAccount] = {}
        self.shopify: dict[str, ShopifyAccount] = {}
        self.erp_files: dict[str, ErpFilesAccount] = {}
        self.plytix: dict[str, PlytixAccount] = {}
        self.webflow: dict[str, WebflowAccount] = {}
        self.logo: dict[str, LogoAccount] = {}
        self.netsis: dict[str, NetsisAccount] = {}
        self.erp_csv: dict[str, ErpCsvFolder] = {}
        # The recipes of the pipelines whose accounts were added (by the recipes themselves).
        self.recipes: dict[str, SandboxRecipe] = {}
        self._dispatch = _Dispatch()
        self._dispatch.router.routes.append(Route("/__hub", self._index))
        self._dispatch.router.routes.append(
            Route("/__hub/{pipeline}/{account}/convergence", self._convergence)
        )
        self._dispatch.router.routes.append(
            Route("/__hub/{pipeline}/{account}/change", self._change, methods=["POST"])
        )
        self.app: ASGIApp = Starlette(routes=[Mount("/", app=self._dispatch)])
        self._server: EmulatorServer | None = None

    async def _index(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "plentymarkets": sorted(self.plenty),
                "shopware6": sorted(self.shopware),
                "shopify": sorted(self.shopify),
                "erp_files": sorted(self.erp_files),
                "plytix": sorted(self.plytix),
                "webflow": sorted(self.webflow),
                "logo": sorted(self.logo),
                "netsis": sorted(self.netsis),
                "erp_csv": sorted(self.erp_csv),
            },
        )

    async def _convergence(self, request: Request) -> JSONResponse:
        """Source against target of a pipeline's account (for a pipeline that runs in another process)."""
        return await self._recipe_call(
            request, lambda recipe, account: _report(recipe.convergence(self, account))
        )

    async def _change(self, request: Request) -> JSONResponse:
        change = Change.model_validate_json(await request.body())
        return await self._recipe_call(
            request,
            lambda recipe, account: {
                "changed": recipe.change(self, account, fraction=change.fraction, seed=change.seed)
            },
        )

    async def _recipe_call(
        self, request: Request, call: Callable[[SandboxRecipe, str], dict[str, Any]]
    ) -> JSONResponse:
        recipe = self.recipes.get(request.path_params["pipeline"])
        account = request.path_params["account"]
        if recipe is None:
            return JSONResponse({"error": "unknown pipeline"}, status_code=404)
        try:
            answer = await run_in_threadpool(call, recipe, account)
        except KeyError:
            return JSONResponse({"error": "unknown account"}, status_code=404)
        return JSONResponse(answer)

    def _mount(self, prefix: str, app: ASGIApp) -> None:
        # Newest first, so a later account never hides behind an earlier prefix.
        self._dispatch.router.routes.insert(0, Mount(prefix, app=app))

    def add_plenty(
        self,
        account: str,
        *,
        products: int = 20,
        variants: int = 3,
        seed: int = 1,
        realistic_limits: bool = False,
    ) -> PlentyAccount:
        username, password = f"{account}-api", secrets.token_urlsafe(16)
        settings = PlentySettings(username=username, password=password)
        if realistic_limits:
            settings = PlentySettings.realistic(username=username, password=password)
        emulator = PlentyEmulator(
            settings,
            products=products,
            variants=variants,
            seed=seed,
        )
        self.plenty[account] = PlentyAccount(emulator, username, password)
        self._mount(f"/plentymarkets/{account}", emulator.app)
        return self.plenty[account]

    def add_shopware(self, account: str) -> ShopwareAccount:
        client_id, client_secret = f"SWIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
        emulator = Shopware6Emulator(ShopwareSettings(client_id=client_id, client_secret=client_secret))
        self.shopware[account] = ShopwareAccount(emulator, client_id, client_secret)
        self._mount(f"/shopware6/{account}", emulator.app)
        return self.shopware[account]

    def add_shopify(
        self,
        account: str,
        *,
        realistic_limits: bool = False,
        settings: ShopifyEmulatorSettings | None = None,
    ) -> ShopifyAccount:
        """A shop named ``account`` with a generated access token; ``settings`` tune the emulator (faults,
        throttling), ``realistic_limits`` turns the contract's default bucket on."""
        token = f"shpat_{secrets.token_hex(16)}"
        base = settings or (
            ShopifyEmulatorSettings.realistic(app_secret=f"shpss_{secrets.token_hex(16)}")
            if realistic_limits
            else ShopifyEmulatorSettings(app_secret=f"shpss_{secrets.token_hex(16)}")
        )
        emulator = ShopifyEmulator(base.model_copy(update={"shops": {account: token}}))
        self.shopify[account] = ShopifyAccount(emulator, token)
        self._mount(f"/shopify/{account}", emulator.app)
        return self.shopify[account]

    def add_shopify_shop(
        self,
        account: str,
        *,
        products: int,
        variants: int,
        customers: int,
        orders: int,
        lines: int = 3,
        seed: int = 1,
        realistic_limits: bool = False,
        settings: ShopifyEmulatorSettings | None = None,
    ) -> ShopifyAccount:
        """A shop (:meth:`add_shopify`) that sells: seeded products with variants, customers, and orders of
        ``lines`` line items each (the source of ``shopify_ingestion``)."""
        shop = self.add_shopify(account, realistic_limits=realistic_limits, settings=settings)
        shop.emulator.seed(
            products=products, variants=variants, customers=customers, orders=orders, lines=lines, seed=seed
        )
        return shop

    def add_plytix(
        self,
        account: str,
        *,
        products: int = 20,
        variants: int = 3,
        seed: int = 1,
        realistic_limits: bool = False,
    ) -> PlytixAccount:
        """A Plytix account with a generated catalog; the token host and the PIM API share its base URL."""
        settings = PlytixEmulatorSettings.realistic() if realistic_limits else PlytixEmulatorSettings()
        emulator = PlytixEmulator(settings, products=products, variants=variants, seed=seed)
        self.plytix[account] = PlytixAccount(emulator, settings.api_key, settings.api_password)
        self._mount(f"/plytix/{account}", emulator.app)
        return self.plytix[account]

    def add_webflow(
        self,
        account: str,
        *,
        realistic_limits: bool = False,
        settings: WebflowEmulatorSettings | None = None,
    ) -> WebflowAccount:
        """A Webflow e-commerce site with a generated API token; ``realistic_limits``: 60 calls a minute."""
        base = settings or (
            WebflowEmulatorSettings.realistic() if realistic_limits else WebflowEmulatorSettings()
        )
        emulator = WebflowEmulator(base)
        self.webflow[account] = WebflowAccount(emulator, base.token, base.site_id)
        self._mount(f"/webflow/{account}", emulator.app)
        return self.webflow[account]

    def add_erp_files(
        self,
        account: str,
        *,
        products: int = 20,
        variants: int = 3,
        seed: int = 1,
        format: str = "csv",
    ) -> ErpFilesAccount:
        """An SFTP server over a temporary folder with a generated catalog file (csv, json or ndjson), and
        its mapping file."""
        layout = ErpFileLayout.model_validate({"format": format})
        base = Path(tempfile.mkdtemp(prefix=f"erp-files-{account}-"))
        directory = base / "sftp"
        directory.mkdir()
        file = directory / f"products.{layout.format}"
        write_erp_catalog(file, products=products, variants=variants, seed=seed, layout=layout)
        mapping_file = write_mapping(default_mapping(layout), base / "mapping.yaml")
        server = SftpSandbox(directory).start()
        self.erp_files[account] = ErpFilesAccount(server, directory, file, layout, mapping_file)
        return self.erp_files[account]

    def add_logo(self, account: str, *, items: int = 20, seed: int = 1) -> LogoAccount:
        """A Logo firm with ``items`` generated items (stock in three warehouses, two price lists) and its
        own generated credentials."""
        emulator = LogoEmulator(None, items=items, seed=seed)
        self.logo[account] = LogoAccount(emulator)
        self._mount(f"/logo/{account}", emulator.app)
        return self.logo[account]

    def add_netsis(self, account: str, *, items: int = 20, seed: int = 1) -> NetsisAccount:
        """A Netsis company with ``items`` generated stock cards and its own generated credentials."""
        emulator = NetsisEmulator(None, items=items, seed=seed)
        self.netsis[account] = NetsisAccount(emulator)
        self._mount(f"/netsis/{account}", emulator.app)
        return self.netsis[account]

    def add_erp_csv(self, account: str, *, items: int = 20, seed: int = 1) -> ErpCsvFolder:
        """An ERP without an API: its stock and price files in a temporary folder, read where they lie."""
        folder = ErpCsvFolder.generate(
            Path(tempfile.mkdtemp(prefix=f"erp-csv-{account}-")), items=items, seed=seed
        )
        self.erp_csv[account] = folder
        return folder

    def accounts(self) -> dict[str, dict[str, dict[str, str]]]:
        """Base URLs and credentials of every account (the sandbox's own, generated at start)."""
        out: dict[str, dict[str, dict[str, str]]] = {
            "plentymarkets": {},
            "shopware6": {},
            "shopify": {},
            "erp_files": {},
            "plytix": {},
            "webflow": {},
            "logo": {},
            "netsis": {},
            "erp_csv": {},
        }
        for name, logo in self.logo.items():
            firm = logo.emulator.settings
            out["logo"][name] = {
                "base_url": self.base_url("logo", name),
                "firm": str(firm.firm),
                "username": firm.username,
                "password": firm.password,
                "client_id": firm.client_id,
                "client_secret": firm.client_secret,
                "warehouse": logo.emulator.warehouses[0],
                # The first list includes VAT (the web list); the second does not.
                "price_list": logo.emulator.price_lists[0],
                "net_price_list": logo.emulator.price_lists[-1],
            }
        for name, netsis in self.netsis.items():
            company = netsis.emulator.settings
            out["netsis"][name] = {
                "base_url": self.base_url("netsis", name),
                "dbname": company.dbname,
                "dbuser": company.dbuser,
                "username": company.username,
                "password": company.password,
                "dbpassword": company.dbpassword,
                "warehouse": netsis.emulator.warehouses[0],
                "price_list": netsis.emulator.price_lists[0],
            }
        for name, folder in self.erp_csv.items():
            out["erp_csv"][name] = {
                "directory": str(folder.directory),
                "stock_file": folder.stock_file.name,
                "prices_file": folder.prices_file.name,
            }
        for name, plytix in self.plytix.items():
            limits = plytix.emulator.settings
            out["plytix"][name] = {
                "base_url": self.base_url("plytix", name),
                "api_key": plytix.api_key,
                "api_password": plytix.api_password,
                # The plan's limits, which a tenant's settings name so its calls are paced below them.
                "requests_per_10s": str(limits.rate_per_10s or ""),
                "requests_per_hour": str(limits.rate_per_hour or ""),
            }
        for name, site in self.webflow.items():
            out["webflow"][name] = {
                "base_url": f"{self.base_url('webflow', name)}/v2",
                "token": site.token,
                "site_id": site.site_id,
            }
        for name, p in self.plenty.items():
            out["plentymarkets"][name] = {
                "base_url": self.base_url("plentymarkets", name),
                "username": p.username,
                "password": p.password,
            }
        for name, s in self.shopware.items():
            out["shopware6"][name] = {
                "base_url": self.base_url("shopware6", name),
                "client_id": s.client_id,
                "client_secret": s.client_secret,
            }
        for name, shop in self.shopify.items():
            out["shopify"][name] = {
                "shop_url": self.base_url("shopify", name),
                "access_token": shop.access_token,
                # signs the shop's webhooks (X-Shopify-Hmac-Sha256)
                "app_secret": shop.emulator.settings.app_secret,
            }
        for name, erp in self.erp_files.items():
            out["erp_files"][name] = {
                "host": erp.server.host,
                "port": str(erp.server.port),
                "username": erp.server.username,
                "password": erp.server.password,
                "host_key": erp.server.host_key_fingerprint,
                "path": erp.file.name,
                "format": erp.layout.format,
                "mapping_file": str(erp.mapping_file),
                "directory": str(erp.directory),
            }
        return out

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox hub is not serving")
        return self._server.base_url

    def base_url(self, system: str, account: str) -> str:
        return f"{self.url}/{system}/{account}"

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        self._server = EmulatorServer(self.app, host=host, port=port, name="sandbox-hub").start()
        return self._server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for erp in self.erp_files.values():
            erp.server.stop()
            shutil.rmtree(erp.directory.parent, ignore_errors=True)
        self.erp_files.clear()
        for folder in self.erp_csv.values():
            shutil.rmtree(folder.directory, ignore_errors=True)
        self.erp_csv.clear()


def erp_files_shopify_tenant(
    accounts: Mapping[str, Mapping[str, Mapping[str, str]]],
    account: str,
    *,
    shopify: Mapping[str, Any] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(settings, credentials) by system for a tenant of the ``erp_files_shopify`` pipeline on ``account``'s
    SFTP server and shop; ``shopify`` adds Shopify settings (bulk threshold, missing-SKU action, ...)."""
    erp, shop = accounts["erp_files"][account], accounts["shopify"][account]
    layout = ErpFileLayout.model_validate({"format": erp["format"]})
    settings: dict[str, dict[str, Any]] = {
        "erp_files": {
            "kind": "sftp",
            "host": erp["host"],
            "port": int(erp["port"]),
            "sftp_host_key": erp["host_key"],
            "path": erp["path"],
            "mapping_file": erp["mapping_file"],
            **layout.format_settings(),
        },
        "shopify": {"shop_url": shop["shop_url"], **(shopify or {})},
    }
    credentials: dict[str, dict[str, Any]] = {
        "erp_files": {"username": erp["username"], "password": erp["password"]},
        "shopify": {"access_token": shop["access_token"]},
    }
    return settings, credentials


def _report(report: ConvergenceReport) -> dict[str, Any]:
    return {
        "converged": report.converged,
        "expected": report.expected,
        "actual": report.actual,
        "detail": report.describe(),
    }


# --- convergence: file rows against Shopify variants ------------------------------------------------------


@dataclass(frozen=True)
class ExpectedVariant:
    title: str
    price: Decimal
    compare_at: Decimal | None
    options: dict[str, str]


def _amount(value: JsonValue, numbers: NumberParser) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value))
    return numbers.parse(str(value))


def expected_variants(file: Path, layout: ErpFileLayout) -> dict[str, ExpectedVariant]:
    """SKU -> what Shopify should show, read from the rows of a sandbox catalog file as the sandbox writes
    them (not through the pipeline's mapper, so that the check can catch the mapper being wrong)."""
    numbers = NumberParser(layout.decimal_separator)
    settings = ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(file.parent.resolve()), "path": file.name} | layout.format_settings()
    )
    out: dict[str, ExpectedVariant] = {}
    with file.open("rb") as stream:
        for record in parse_records(stream, file.name, settings):
            if not isinstance(record, SourceRow):
                continue
            row = record.data
            pricing = row.get("pricing")
            prices: Mapping[str, JsonValue] = pricing if isinstance(pricing, dict) else row
            price = _amount(prices.get("price"), numbers)
            compare = _amount(
                prices.get("compare_at" if isinstance(pricing, dict) else "compare_at_price"), numbers
            )
            sku = str(row.get("sku") or "").strip()
            if not sku or price is None:
                continue
            out[sku] = ExpectedVariant(
                str(row.get("title") or "").strip(),
                price,
                compare,
                {"Color": str(row.get("color") or ""), "Size": str(row.get("size") or "")},
            )
    return out


class ErpShopifyConvergence(ConvergenceReport):
    unit = "SKUs"
    target = "Shopify"


def check_erp_shopify_convergence(
    file: Path, layout: ErpFileLayout, shopify: ShopifyEmulator
) -> ErpShopifyConvergence:
    """Every row of a sandbox catalog file once in Shopify by SKU with its title, price, compare-at price and
    option values; no other SKU (archived products are retired, so they do not count)."""
    expected = expected_variants(file, layout)
    actual: dict[str, ExpectedVariant] = {}
    skus: Counter[str] = Counter()
    for product in shopify.products():
        if product["status"] == "ARCHIVED":
            continue
        for variant in product["variants"]:
            sku = str(variant["sku"] or "")
            skus[sku] += 1
            compare = variant["compareAtPrice"]
            actual[sku] = ExpectedVariant(
                str(product["title"]),
                Decimal(str(variant["price"])),
                Decimal(str(compare)) if compare is not None else None,
                dict(variant["options"]),
            )
    return ErpShopifyConvergence.compare(expected, actual, skus, ("title", "price", "compare_at", "options"))

"""Connectors opened by system name from a tenant's stored settings and credentials: Logo, Netsis and CSV
files; the probe is the connector's test connection (Logo without SQL says so); Netsis connectors of one
tenant share one login (one licence seat) and the last one closed gives it back; Logo's short tokens are
renewed; the tenant's field mapping comes from its settings, and its row errors become record errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_pipelines.sandbox.logo import LogoEmulator
from connector_pipelines.sandbox.netsis import NetsisEmulator
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sources.erp_gateway.connector import (
    ErpFeatureUnavailableError,
    ErpItem,
    ErpRowError,
    StockLevel,
)
from connector_pipelines.sources.erp_gateway.registry import open_connector, tenant_erp
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.tenants.registry import TenantError, TenantRegistry

CARRIER = "erp_files_shopify"  # a pipeline to register tenants with; the gateway's own is built elsewhere


@pytest.fixture
def logo() -> Iterator[tuple[LogoEmulator, EmulatorServer]]:
    emulator = LogoEmulator(None, items=12)
    with emulator.serve() as server:
        yield emulator, server


@pytest.fixture
def netsis() -> Iterator[tuple[NetsisEmulator, EmulatorServer]]:
    emulator = NetsisEmulator(None, items=12)
    with emulator.serve() as server:
        yield emulator, server


def add_logo(
    registry: TenantRegistry, emulator: LogoEmulator, server: EmulatorServer, **settings: Any
) -> None:
    s = emulator.settings
    values = {"base_url": server.base_url, "firm": s.firm, "warehouse_code": "0", "price_list_code": "WEB"}
    registry.add("acme", "", [CARRIER], settings={"logo": values | settings})
    registry.set_credentials(
        "acme", "logo", {"username": s.username, "password": s.password, "client_secret": s.client_secret}
    )


def add_netsis(registry: TenantRegistry, emulator: NetsisEmulator, server: EmulatorServer) -> None:
    s = emulator.settings
    values = {
        "base_url": server.base_url,
        "dbname": s.dbname,
        "warehouse_code": "10",
        "price_list_code": "WEB",
    }
    registry.add("acme", "", [CARRIER], settings={"netsis": values})
    registry.set_credentials(
        "acme", "netsis", {"username": s.username, "password": s.password, "dbpassword": s.dbpassword}
    )


def test_logo_opens_from_the_tenants_settings_and_renews_its_tokens(
    registry: TenantRegistry, logo: tuple[LogoEmulator, EmulatorServer]
) -> None:
    emulator, server = logo
    add_logo(registry, emulator, server)
    assert tenant_erp(registry, "acme") == "logo"
    with open_connector(registry, "acme", "logo") as connector:
        assert connector.system == "logo" and "SQL query route on" in connector.test_connection()
        stock = [s for s in connector.stock("0") if isinstance(s, StockLevel)]
        assert {s.sku: s.on_hand for s in stock} == emulator.stock_levels("0")
        emulator.expire_tokens()  # a token outlived (about two minutes): the client logs in again
        assert len([i for i in connector.items() if isinstance(i, ErpItem)]) == 12
    stats = emulator.stats()
    assert stats.tokens_issued == 2 and stats.tokens_revoked == 1, "closing revokes the live token"


def test_logo_without_sql_is_named_by_the_probe_and_by_the_reads(
    registry: TenantRegistry, logo: tuple[LogoEmulator, EmulatorServer]
) -> None:
    emulator, server = logo
    emulator.configure(sql_enabled=False)
    add_logo(registry, emulator, server)
    s = emulator.settings
    probe = registry.test_credentials(
        "acme", "logo", {"username": s.username, "password": s.password, "client_secret": s.client_secret}
    )
    assert "SQL query route OFF: stock and prices cannot be read over Logo REST" in probe
    assert "generic CSV connector" in probe and "SQL servis sorgu parametreleri" in probe
    with (
        open_connector(registry, "acme", "logo") as connector,
        pytest.raises(ErpFeatureUnavailableError) as caught,
    ):
        list(connector.stock("0"))
    assert caught.value.feature == "stock per warehouse" and caught.value.system == "logo"
    assert "switched off" in str(caught.value) and "remedy: read stock and prices from CSV" in str(
        caught.value
    )


def test_netsis_connectors_of_a_tenant_share_one_login(
    registry: TenantRegistry, netsis: tuple[NetsisEmulator, EmulatorServer]
) -> None:
    emulator, server = netsis
    assert emulator.settings.seats == 1  # a second login of the user would be refused
    add_netsis(registry, emulator, server)
    with open_connector(registry, "acme", "netsis") as stock_step:
        with open_connector(registry, "acme", "netsis") as price_step:
            assert len(list(stock_step.stock("10"))) == 12
            assert len(list(price_step.prices("WEB"))) == 12
            assert emulator.sessions() == 1
        assert len(list(stock_step.items())) == 12, "the session outlives the first connector to close"
        assert emulator.sessions() == 1
    stats = emulator.stats()
    assert (stats.tokens_issued, stats.tokens_revoked, stats.logins_refused) == (1, 1, 0)
    assert emulator.sessions() == 0, "the seat is free after the run"


def test_mapping_errors_from_the_settings_become_record_errors(
    registry: TenantRegistry, db: Database, logo: tuple[LogoEmulator, EmulatorServer]
) -> None:
    emulator, server = logo
    groups = {"values": {"MUTFAK": "ADET"}, "other": "error"}
    add_logo(
        registry,
        emulator,
        server,
        mapping={"items": {"unit": {"source": "GROUP_CODE", "transforms": [{"map": groups}]}}},
    )
    with open_connector(registry, "acme", "logo") as connector:
        found = list(connector.items())
    good = [i for i in found if isinstance(i, ErpItem)]
    bad = [e for e in found if isinstance(e, ErpRowError)]
    assert good and bad and len(good) + len(bad) == 12
    assert {i.unit for i in good} == {"ADET"}
    first = bad[0]
    assert first.sku is not None and first.field == "unit (from GROUP_CODE)"
    assert first.row.startswith("Logo items ref ") and first.reason.startswith("unknown value ")
    store = TenantStore(db, "acme", CARRIER)
    store.record_errors("erp_items", [(e.key, str(e), e.payload) for e in bad], "run-1")
    listed = {e.record_key: e for e in store.open_errors("erp_items")}
    assert set(listed) == {f"item:{e.sku}" for e in bad}
    assert listed[first.key].payload == first.payload and listed[first.key].reason == str(first)


def test_csv_files_need_no_credentials(registry: TenantRegistry, tmp_path: Path) -> None:
    (tmp_path / "stock.csv").write_text("sku,stock,price\nA-1,3,9.5\n", encoding="utf-8")
    settings = {
        "warehouse_code": "main",
        "price_list_code": "web",
        "stock": {"kind": "local", "root": str(tmp_path), "path": "stock.csv"},
    }
    registry.add("acme", "", [CARRIER], settings={"erp_csv": settings})
    with open_connector(registry, "acme", "erp_csv") as connector:
        assert [p.price for p in connector.prices("web") if not isinstance(p, ErpRowError)] == [9.5]
        assert connector.orders is None


def test_unknown_systems_and_tenants_without_an_erp_are_named(registry: TenantRegistry) -> None:
    registry.add("acme", "", [CARRIER])
    with (
        pytest.raises(
            TenantError, match="'shopify' is not an ERP of the gateway; known: erp_csv, logo, netsis"
        ),
        open_connector(registry, "acme", "shopify"),
    ):
        pass
    with pytest.raises(TenantError, match=r"exactly one ERP of the gateway .* found none"):
        tenant_erp(registry, "acme")


def test_erp_settings_are_validated(registry: TenantRegistry) -> None:
    with pytest.raises(TenantError, match="customer_prefix"):
        registry.add(
            "acme",
            "",
            [CARRIER],
            settings={
                "logo": {
                    "base_url": "http://erp:32001",
                    "firm": 1,
                    "warehouse_code": "0",
                    "price_list_code": "WEB",
                    "customer_prefix": "TOO-LONG-PREFIX",
                }
            },
        )

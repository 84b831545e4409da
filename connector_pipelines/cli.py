"""The `connector-pipelines` command. Heavy modules (Dagster, emulators) are imported by the commands that
need them, so `--help` and the tenant commands stay fast."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import BaseModel

from connector_pipelines import errors
from connector_pipelines.redaction import redact
from connector_pipelines.service import cli as service_cli

if TYPE_CHECKING:
    from connector_pipelines.pipelines.runs import RecordErrorInfo
    from connector_pipelines.runner import RunSummary
    from connector_pipelines.sandbox.recipe import TenantConfig
    from connector_pipelines.store.repositories import OpenError
    from connector_pipelines.tenants.registry import RemovalSummary, TenantInfo, TenantRegistry

F = TypeVar("F", bound=Callable[..., Any])
USER_ERROR_EXIT = 2


class UserError(click.ClickException):
    """One clear line on stderr and exit code 2."""

    exit_code = USER_ERROR_EXIT

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {redact(self.format_message())}", err=True)


def user_errors(func: F) -> F:
    """Turn the library's expected failures into UserError, never a traceback."""
    from connector_pipelines.tenants.crypto import DecryptionError, KeyConfigError
    from connector_pipelines.tenants.registry import TenantError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TenantError, KeyConfigError, DecryptionError, LookupError) as exc:
            # KeyError-style exceptions quote their argument in str(); show the message itself.
            raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _registry() -> TenantRegistry:
    """The tenant registry, on the connector database it creates if missing (`tenants add`, `db upgrade`)."""
    from connector_pipelines.pipelines.catalog import tenant_registry

    return tenant_registry()


def _existing_registry() -> TenantRegistry:
    """The tenant registry of an existing connector database. Every command but `tenants add` and `db
    upgrade` uses this one: run in the wrong folder, it says where it looked instead of leaving an empty
    database there."""
    from connector_pipelines import config

    missing = config.missing_database()
    if missing is not None:
        raise UserError(
            f"{missing} — remedy: run where your connector home is, or set {config.HOME_VAR} or "
            f"{config.DATABASE_URL_VAR}; `{errors.CLI} tenants add` creates the database"
        )
    return _registry()


def _read_json_file(path: str | None, what: str, *, stdin_ok: bool = False) -> Any:
    if path is None and not stdin_ok:
        return None
    try:
        text = sys.stdin.read() if path is None or path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the text may hold credentials.
        raise UserError(f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{what} must be a JSON object")
    return doc


def _read_settings(path: str | None) -> dict[str, dict[str, Any]] | None:
    """A settings file: {system: {setting: value}} (the values are checked by the systems' models)."""
    from pydantic import TypeAdapter, ValidationError

    doc = _read_json_file(path, "settings")
    try:
        return None if doc is None else TypeAdapter(dict[str, dict[str, Any]]).validate_python(doc)
    except ValidationError:
        raise UserError('settings must map each system to an object: {"<system>": {...}}') from None


def _sandbox_config(accounts_file: str, account: str, pipelines: Sequence[str]) -> TenantConfig:
    """Settings and credentials of a tenant on ``account`` of a `sandbox serve --accounts-file`, for each
    pipeline by its sandbox recipe (merged)."""
    from pydantic import TypeAdapter, ValidationError

    from connector_pipelines.pipelines.catalog import pipeline_recipe
    from connector_pipelines.sandbox.recipe import TenantConfig

    try:
        text = Path(accounts_file).read_text(encoding="utf-8")
        accounts = TypeAdapter(dict[str, dict[str, dict[str, str]]]).validate_json(text)
    except OSError as exc:
        raise UserError(f"cannot read the accounts file {accounts_file}: {exc.strerror}") from None
    except ValidationError:
        raise UserError(
            f"{accounts_file} is not an accounts file of `{errors.CLI} sandbox serve --accounts-file`"
        ) from None
    settings: dict[str, dict[str, Any]] = {}
    credentials: dict[str, dict[str, Any]] = {}
    for pipeline in pipelines:
        try:
            config = pipeline_recipe(pipeline).tenant_config(accounts, account)
        except KeyError:
            known = sorted({a for by_account in accounts.values() for a in by_account})
            raise UserError(
                f"the accounts file {accounts_file} has no account '{account}' for every system of "
                f"{pipeline} (its accounts: {', '.join(known) or 'none'}) — remedy: serve it with "
                f"`{errors.CLI} sandbox serve --pipeline {pipeline} --account {account} --accounts-file ...`"
            ) from None
        settings.update(config.settings)
        credentials.update(config.credentials)
    return TenantConfig(settings, credentials)


def _systems_of(pipelines: Iterable[str]) -> list[str]:
    """The systems of the known ``pipelines`` (an unknown one is named by the registry)."""
    from connector_pipelines.pipelines.catalog import pipeline_specs

    specs = pipeline_specs()
    return list(dict.fromkeys(system for p in pipelines if p in specs for system in specs[p].systems))


class PipelineChoice(click.Choice[str]):
    """The pipelines of the catalog, found when first needed: reading them imports every pipeline, which the
    tenant commands and ``--help`` do not need."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from connector_pipelines.pipelines.catalog import pipeline_recipes

        return tuple(pipeline_recipes())

    @choices.setter
    def choices(self, _value: object) -> None:
        """Set by click.Choice's constructor; the catalog decides."""


WEBHOOKS_BENCH = "webhooks"
GATEWAY_BENCH = "erp_gateway"  # its own runs: stock and prices, orders across a kill, webhook latency
# Seeded with customers and orders too (`--customers`, `--orders`), and measured in rows written.
INGESTION_BENCH = "shopify_ingestion"


class BenchChoice(PipelineChoice):
    """What `bench` measures: a pipeline of the catalog, or the service's webhook intake."""

    @property
    def choices(self) -> tuple[str, ...]:
        from connector_pipelines.pipelines.catalog import pipeline_recipes

        return (*pipeline_recipes(), WEBHOOKS_BENCH)

    @choices.setter
    def choices(self, _value: object) -> None:
        """Set by click.Choice's constructor; the catalog decides."""


@click.group()
def main() -> None:
    """Keep commerce systems in sync for many merchants (tenants), with Dagster."""
    from connector_pipelines.logs import configure_process_logging

    configure_process_logging()


# --- tenants -----------------------------------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """Register and manage tenants."""


def _print_tenant(info: TenantInfo, as_json: bool) -> None:
    if as_json:
        click.echo(info.model_dump_json(indent=2))
        return
    click.echo(f"{info.slug}  ({info.display_name})")
    click.echo(f"  enabled:      {'yes' if info.enabled else 'no'}")
    click.echo(f"  pipelines:    {', '.join(info.pipelines) or '-'}")
    click.echo(f"  credentials:  {', '.join(info.credentials_set) or '-'}")
    for system, settings in sorted(info.settings.items()):
        click.echo(f"  {system}: {json.dumps(settings, sort_keys=True)}")


def _next_steps(info: TenantInfo) -> None:
    """What the tenant still needs before its first run, and what happens then."""
    from connector_pipelines.tenants.connections import SYSTEMS

    needed = [s for s in _systems_of(info.pipelines) if not SYSTEMS[s].credentials_optional]
    missing = [s for s in needed if s not in info.credentials_set]
    for system in missing:
        click.echo(
            f"next: store its {system} credentials: `{errors.CLI} tenants set-credentials {info.slug} "
            f"{system} --credentials-file FILE --test` (their fields: `{errors.CLI} systems {system}`)"
        )
    if not info.enabled:
        click.echo(f"it is disabled: enable it with `{errors.CLI} tenants update {info.slug} --enable`")
    waiting = " once its credentials are stored" if missing else ""
    click.echo(
        f"the registry sensor onboards it (a full sync) within 30 s of it being enabled{waiting}, "
        "where the Dagster daemon runs"
    )


FROM_SANDBOX_HELP = (
    "A `sandbox serve --accounts-file` file: settings and credentials of --account come from it."
)


@tenants.command("add")
@click.argument("slug")
@click.option("--name", "display_name", default="", help="Display name (defaults to the slug).")
@click.option(
    "--pipeline", "pipelines", multiple=True, required=True, help="Pipeline to enable (repeatable)."
)
@click.option(
    "--settings-file",
    type=click.Path(dir_okay=False),
    help="JSON: {system: {setting: value}}, for every system of the pipelines (`systems` shows them).",
)
@click.option(
    "--disabled", is_flag=True, help="Register it disabled: nothing runs it until `update --enable`."
)
@click.option("--from-sandbox", "accounts_file", type=click.Path(dir_okay=False), help=FROM_SANDBOX_HELP)
@click.option("--account", help="The sandbox account of --from-sandbox (default: the slug).")
@user_errors
def tenants_add(
    slug: str,
    display_name: str,
    pipelines: tuple[str, ...],
    settings_file: str | None,
    disabled: bool,
    accounts_file: str | None,
    account: str | None,
) -> None:
    """Register a tenant with the settings of every system of its pipelines (checked complete).

    Its credentials follow with `tenants set-credentials` (or come with --from-sandbox); the registry sensor
    onboards the tenant only once they are stored."""
    if account is not None and accounts_file is None:
        raise UserError("--account goes with --from-sandbox")
    settings: dict[str, dict[str, Any]] = {}
    credentials: dict[str, dict[str, Any]] = {}
    registry = _registry()
    if accounts_file is not None:
        sandbox = _sandbox_config(accounts_file, account or slug, pipelines)
        settings, credentials = sandbox.settings, sandbox.credentials
        registry.keyring  # noqa: B018 - the key must be there before the tenant is, to store its credentials
    for system, values in (_read_settings(settings_file) or {}).items():
        settings[system] = {**settings.get(system, {}), **values}
    info = registry.add(
        slug,
        display_name,
        list(pipelines),
        settings,
        enabled=not disabled,
        systems=_systems_of(pipelines),
    )
    for system, values in credentials.items():
        registry.set_credentials(slug, system, values)
    state = "disabled" if disabled else "enabled"
    click.echo(f"added tenant {info.slug} ({', '.join(info.pipelines)}), {state}")
    _next_steps(registry.get(slug))


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def tenants_list(as_json: bool) -> None:
    """List tenants (never shows credentials)."""
    from connector_pipelines import config

    infos = _existing_registry().tenants()
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return
    if not infos:
        click.echo(f"no tenants in {config.database_location()}")
    for info in infos:
        state = "enabled" if info.enabled else "disabled"
        click.echo(f"{info.slug:<30} {state:<9} {','.join(info.pipelines):<30} {info.display_name}")


@tenants.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def tenants_show(slug: str, as_json: bool) -> None:
    """Show one tenant (never shows credentials)."""
    _print_tenant(_existing_registry().get(slug), as_json)


@tenants.command("update")
@click.argument("slug")
@click.option("--name", "display_name", default=None)
@click.option("--enable", is_flag=True, help="Enable the tenant: its schedules and sensors run it again.")
@click.option("--disable", is_flag=True, help="Disable the tenant: nothing runs it but `sync --force`.")
@click.option("--pipeline", "pipelines", multiple=True, help="Replace the enabled pipelines (repeatable).")
@click.option("--settings-file", type=click.Path(dir_okay=False), help="JSON merged into stored settings.")
@user_errors
def tenants_update(
    slug: str,
    display_name: str | None,
    enable: bool,
    disable: bool,
    pipelines: tuple[str, ...],
    settings_file: str | None,
) -> None:
    """Change a tenant's name, state, pipelines or settings."""
    if enable and disable:
        raise UserError("--enable and --disable exclude each other: give one of them")
    enabled = True if enable else False if disable else None
    settings = _read_settings(settings_file)
    info = _existing_registry().update(
        slug,
        display_name=display_name,
        enabled=enabled,
        pipelines=list(pipelines) or None,
        settings=settings,
        systems=_systems_of(pipelines),
    )
    click.echo(f"updated tenant {info.slug}")


def _print_removal(summary: RemovalSummary, location: str) -> None:
    from connector_pipelines.tenants.connections import SYSTEMS

    systems = ", ".join(s for s in _systems_of(summary.pipelines) if s in SYSTEMS) or "its systems"
    click.echo(f"Removing tenant {summary.slug} deletes from the connector database ({location}):")
    click.echo(f"  pipelines:                {', '.join(summary.pipelines) or '-'}")
    click.echo(f"  settings:                 {', '.join(summary.settings) or '-'}")
    click.echo(f"  credentials:              {', '.join(summary.credentials) or '-'}")
    click.echo(f"  cached source records:    {summary.records}")
    click.echo(f"  mappings to target ids:   {summary.mappings} (what its pipelines published)")
    click.echo(f"  open record errors:       {summary.open_errors}")
    click.echo(f"  sync run records:         {summary.sync_runs}")
    click.echo(
        f"Products already in the shops STAY THERE: nothing is deleted or changed in {systems}; remove "
        "them in the shop's admin if they should go too."
    )
    click.echo(
        "Dagster drops its partitions within 30 s (the registry sensor); its runs stay in the run history."
    )
    if INGESTION_BENCH in summary.pipelines:
        click.echo(
            "Its shopify_ingestion tables are crypto-shredded: its data key is destroyed (personal data in "
            "any backup becomes unreadable), its rows deleted, the redaction recorded."
        )


@tenants.command("remove")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@user_errors
def tenants_remove(slug: str, yes: bool, dry_run: bool) -> None:
    """Remove a tenant and everything the connector stores for it (never anything in its shops)."""
    from connector_pipelines import config

    registry = _existing_registry()
    _print_removal(registry.removal_summary(slug), config.database_location())
    if dry_run:
        click.echo("dry run: nothing removed")
        return
    if not yes and not click.confirm(f"Remove tenant {slug}?", default=False):
        raise UserError(f"tenant {slug} not removed")
    from connector_pipelines.sync.shopify_webhooks import forget_removed_tenant

    record = forget_removed_tenant(slug, registry.get(slug).pipelines)
    if record is not None:
        click.echo(
            f"crypto-shredded its ingestion data: data key {record.data_key_id or '-'} destroyed, "
            f"{sum(record.rows.values())} rows deleted"
        )
    registry.remove(slug)
    click.echo(f"removed tenant {slug}")


@tenants.command("customer-data")
@click.argument("slug")
@click.argument("customer_id", type=click.IntRange(min=1))
@click.option(
    "--output", type=click.Path(dir_okay=False), help="Write it to this file (mode 0600), not stdout."
)
@user_errors
def tenants_customer_data(slug: str, customer_id: int, output: str | None) -> None:
    """Everything shopify_ingestion stores about one customer of the tenant's shop, personal data decrypted:
    the answer to a data request (Shopify's customers/data_request webhook writes the same export under
    CONNECTOR_HOME/privacy/<tenant>/)."""
    from connector_pipelines.store.ingestion.keys import PiiUnavailableError
    from connector_pipelines.sync.shopify_ingestion import ingestion_repository

    _existing_registry().get(slug)
    try:
        export = ingestion_repository().customer_data(slug, customer_id)
    except PiiUnavailableError as exc:
        raise UserError(str(exc)) from None
    text = export.model_dump_json(indent=2)
    if output is None:
        click.echo(text)
        return
    path = Path(output)
    path.write_text(text)
    path.chmod(0o600)
    click.echo(f"customer {customer_id} of {slug}: written to {path}")


@tenants.command("set-credentials")
@click.argument("slug")
@click.argument("system")
@click.option("--credentials-file", type=click.Path(dir_okay=False), help="JSON file; '-' or absent = stdin.")
@click.option("--from-sandbox", "accounts_file", type=click.Path(dir_okay=False), help=FROM_SANDBOX_HELP)
@click.option("--account", help="The sandbox account of --from-sandbox (default: the slug).")
@click.option(
    "--test",
    is_flag=True,
    help="First make one cheap authenticated call with them; store them only if it works.",
)
@user_errors
def tenants_set_credentials(
    slug: str,
    system: str,
    credentials_file: str | None,
    accounts_file: str | None,
    account: str | None,
    test: bool,
) -> None:
    """Store a tenant's credentials for a system, encrypted. Values come from a file or stdin, never argv
    (their fields: `connector-pipelines systems SYSTEM`)."""
    registry = _existing_registry()
    if accounts_file is not None:
        if credentials_file is not None:
            raise UserError("give --credentials-file or --from-sandbox, not both")
        config = _sandbox_config(accounts_file, account or slug, registry.get(slug).pipelines)
        if system not in config.credentials:
            raise UserError(f"the tenant's pipelines take no {system} credentials from the sandbox")
        values = config.credentials[system]
    elif account is not None:
        raise UserError("--account goes with --from-sandbox")
    else:
        values = _read_json_file(credentials_file, "credentials", stdin_ok=True)
    if test:
        from connector_pipelines.errors import ConnectorError, PermanentError
        from connector_pipelines.tenants.registry import TenantError

        try:
            seen = registry.test_credentials(slug, system, values)
        except TenantError:
            raise
        except ConnectorError as exc:
            if isinstance(exc, PermanentError):
                exc.add_context(tenant=slug, system=system)  # its remedy names the tenant
            detail = str(exc)
            for named in (f"tenant '{slug}', {system}: ", f"tenant '{slug}': "):
                detail = detail.removeprefix(named)
            verdict = (
                f"could not reach {system} to test the credentials"
                if errors.is_transient(exc)
                else "the credentials do not work"
            )
            raise UserError(f"tenant '{slug}', {system}: {verdict}, nothing stored: {detail}") from None
        click.echo(f"{system} credentials of {slug} work: {seen}")
    registry.set_credentials(slug, system, values)
    click.echo(f"stored {system} credentials for {slug}")


# --- systems -----------------------------------------------------------------------------------------------

# An example of each system's settings and credentials, as `tenants add --settings-file` and `tenants
# set-credentials` take them (checked against the models by the tests; docs/examples/ holds the same).
SYSTEM_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "plentymarkets": {
        "settings": {
            "base_url": "https://p12345.my.plentysystems.com",
            "lang": "de",
            "plenty_id": 12345,
            "default_sales_price_id": 1,
            "warehouse_ids": [1],
        },
        "credentials": {"username": "rest-api-user", "password": "<the REST user's password>"},
    },
    "shopware6": {
        "settings": {
            "base_url": "https://shop.example.com",
            "sales_channel_name": "Storefront",
            "language_locale": "de-DE",
            "deletion": "delete",
        },
        "credentials": {
            "client_id": "SWIAEXAMPLEEXAMPLEEXAMPLE",
            "client_secret": "<the integration's secret access key>",
        },
    },
    "shopify": {
        "settings": {
            "shop_url": "https://acme.myshopify.com",
            "location_id": "gid://shopify/Location/123456789",
            "missing_sku_action": "archive",
        },
        "credentials": {"access_token": "<the app's Admin API access token, shpat_...>"},
    },
    "erp_files": {
        "settings": {
            "kind": "sftp",
            "host": "files.example.com",
            "root": "exports",
            "pattern": "products_*.csv",
            "sftp_host_key": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "csv": {"delimiter": ";"},
            "encoding": "utf-8-sig",
            "mapping_file": "acme/mapping.yaml",
        },
        "credentials": {"username": "erp-export", "password": "<the SFTP password>"},
    },
    "plytix": {
        "settings": {
            "base_url": "https://pim.plytix.com",
            "currency": "EUR",
            "language": "en",
            "requests_per_10s": 50,
            "requests_per_hour": 5000,
            "mapping": {
                "fields": {
                    "name": "label",
                    "description": "attributes.description",
                    "price": {"source": "attributes.price", "transforms": ["decimal"]},
                    "compare_at_price": "attributes.compare_at_price",
                    "images": "assets",
                },
                "product_fields": {"material": "attributes.material"},
            },
        },
        "credentials": {
            "api_key": "<the API key from Plytix's account settings>",
            "api_password": "<the API password>",
        },
    },
    "webflow": {
        "settings": {
            "site_id": "580e63e98c9a982ac9b8b741",
            "rate_limit_per_minute": 60,
            "publish": "live",
            "removal": "archive",
        },
        "credentials": {"token": "<a site API token with ecommerce, CMS and sites scopes>"},
    },
    "logo": {
        "settings": {
            "base_url": "https://logo.acme.com.tr:32001",
            "firm": 1,
            "warehouse_code": "0",
            "price_list_code": "WEB",
            "poll_interval_minutes": 5,
        },
        "credentials": {
            "username": "WEBSERVIS",
            "password": "<the Logo user's password>",
            "client_secret": "<the REST client's secret>",
        },
    },
    "netsis": {
        "settings": {
            "base_url": "https://netsis.acme.com.tr:7070",
            "dbname": "ACME2026",
            "warehouse_code": "10",
            "price_list_code": "WEB",
            "prices_include_vat": True,
        },
        "credentials": {
            "username": "NETSIS",
            "password": "<the NetOpenX user's password>",
            "dbpassword": "<the database user's password>",
        },
    },
    "erp_csv": {
        "settings": {
            "stock": {
                "kind": "sftp",
                "host": "files.acme.com.tr",
                "root": "erp",
                "path": "stock.csv",
                "sftp_host_key": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
                "csv": {"delimiter": ";"},
            },
            "prices_file": "prices.csv",
            "warehouse_code": "MERKEZ",
            "price_list_code": "WEB",
            "currency": "TRY",
        },
        "credentials": {"username": "erp-export", "password": "<the SFTP password>"},
    },
}


def _type_name(annotation: object) -> str:
    """A field's type in words: ``secret``, ``"a" | "b"``, ``list of integer``, ``string (optional)``."""
    import types
    import typing

    from pydantic import SecretStr

    names = {str: "string", int: "integer", float: "number", bool: "boolean", SecretStr: "secret"}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        inner = [_type_name(a) for a in args if a is not type(None)]
        return " | ".join(inner) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "object"
    if isinstance(annotation, type):
        return names.get(annotation, annotation.__name__)
    return str(annotation)


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of each field; a nested model's fields as dotted names."""
    from pydantic_core import to_jsonable_python

    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _fields(annotation, f"{prefix}{name}.")
            continue
        default = (
            "required"
            if info.is_required()
            else json.dumps(to_jsonable_python(info.get_default(call_default_factory=True)))
        )
        rows.append((prefix + name, _type_name(annotation), default, info.description or ""))
    return rows


def _print_fields(rows: list[tuple[str, str, str, str]], widths: list[int]) -> None:
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo(f"    {'  '.join(cells)}  {row[3]}".rstrip())


def _example(system: str) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(settings, credentials, curated): the curated example, else the required fields as placeholders."""
    from connector_pipelines.tenants.connections import SYSTEMS
    from connector_pipelines.tenants.registry import required_fields

    if system in SYSTEM_EXAMPLES:
        return SYSTEM_EXAMPLES[system]["settings"], SYSTEM_EXAMPLES[system]["credentials"], True
    found = SYSTEMS[system]
    settings = {name: f"<{name}>" for name in required_fields(found.settings)}
    return settings, {name: f"<{name}>" for name in required_fields(found.credentials)}, False


@main.command("systems")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON schemas of the models, with the example.")
@user_errors
def systems(name: str | None, as_json: bool) -> None:
    """The settings and credentials each system takes (from their models), with an example."""
    from connector_pipelines.tenants.connections import SYSTEMS
    from connector_pipelines.tenants.registry import check_system

    names = [check_system(name)] if name else sorted(SYSTEMS)
    if as_json:
        doc = {}
        for system in names:
            settings, credentials, curated = _example(system)
            doc[system] = {
                "settings_schema": SYSTEMS[system].settings.model_json_schema(),
                "credentials_schema": SYSTEMS[system].credentials.model_json_schema(),
                "example": {"settings": settings, "credentials": credentials, "placeholders": not curated},
            }
        click.echo(json.dumps(doc, indent=2))
        return
    for system in names:
        found = SYSTEMS[system]
        optional = " (optional: anonymous access needs none)" if found.credentials_optional else ""
        click.echo(f"{system}")
        settings_rows, credentials_rows = _fields(found.settings), _fields(found.credentials)
        widths = [max(len(row[i]) for row in settings_rows + credentials_rows) for i in range(3)]
        click.echo(f'  settings (`tenants add/update --settings-file`, JSON {{"{system}": {{...}}}}):')
        _print_fields(settings_rows, widths)
        click.echo(f"  credentials (`tenants set-credentials TENANT {system}`){optional}:")
        _print_fields(credentials_rows, widths)
        settings, credentials, curated = _example(system)
        click.echo("  example" + ("" if curated else " (placeholders: fill in the values)") + ":")
        click.echo(f"    settings:    {json.dumps({system: settings})}")
        click.echo(f"    credentials: {json.dumps(credentials)}")
        click.echo("")


# --- keys and database -------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Encryption keys of stored credentials."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key for CONNECTOR_ENCRYPTION_KEY."""
    from connector_pipelines.tenants.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
@user_errors
def keys_rotate() -> None:
    """Re-encrypt every credential with CONNECTOR_ENCRYPTION_KEY (old ones readable from ..._KEYS_OLD), and
    re-wrap the shopify_ingestion tenants' data keys with it (their rows stay as they are)."""
    registry = _existing_registry()
    changed = registry.rotate_keys()
    click.echo(f"re-encrypted {changed} credential set(s) with the current key")
    if any(INGESTION_BENCH in t.pipelines for t in registry.tenants()):
        from connector_pipelines.sync.shopify_ingestion import ingestion_repository

        rewrapped = ingestion_repository().rewrap_data_keys()
        click.echo(f"re-wrapped {rewrapped} personal-data key(s) of the ingestion tables with the new key")


@main.group()
def db() -> None:
    """The connector database."""


@db.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Create the connector database, or apply its migrations (also done automatically by every command)."""
    from connector_pipelines import config
    from connector_pipelines.store.db import Database

    database = Database(upgrade=False)
    database.upgrade()
    click.echo(f"database at revision {database.current_revision()} ({config.database_location()})")


# --- runs and record errors --------------------------------------------------------------------------------


def _pipelines_of(pipeline: str | None) -> list[str]:
    from connector_pipelines.pipelines.catalog import pipeline_spec, pipeline_specs

    return [pipeline_spec(pipeline).name] if pipeline else list(pipeline_specs())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


@main.command("runs")
@click.argument("tenant")
@click.option("--pipeline", help="Only this pipeline's runs.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1), help="Runs shown.")
@click.option("--json", "as_json", is_flag=True, help="The runs with their steps as JSON.")
@user_errors
def runs(tenant: str, pipeline: str | None, limit: int, as_json: bool) -> None:
    """A tenant's recent runs, newest first: when, pipeline, mode, status, record counts, the failure.

    Read from the connector database, where every step of every run (scheduled, onboarding, CLI, launched in
    the UI) records its counts and error; the Dagster UI has each run's full log."""
    from connector_pipelines import config
    from connector_pipelines.pipelines.runs import recent_runs

    registry = _existing_registry()
    found = recent_runs(
        registry.db,
        registry.tenant_id(tenant),
        pipeline=_pipelines_of(pipeline)[0] if pipeline else None,
        limit=limit,
    )
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in found], indent=2))
        return
    if not found:
        click.echo(f"no runs of {tenant} recorded in {config.database_location()}")
    for run in found:
        totals = ", ".join(f"{k} {v}" for k, v in run.totals().items())
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at else "running"
        status = run.status if run.status != "failed" else "FAILED"
        click.echo(
            f"{_when(run.started_at)}  {run.pipeline:<18} {run.mode:<6} {status:<8} "
            f"{len(run.steps)} steps  {took:<8} {totals}  run {run.run_id or '-'}"
        )
        if run.error:
            click.echo(f"    error: {' '.join(redact(run.error).split())}")


@main.group("errors")
def record_errors() -> None:
    """Records waiting with an error: list them, send them again, or close them."""


def _open_errors(
    tenant: str, pipeline: str | None, stage: str | None, keys: Sequence[str], limit: int | None
) -> tuple[TenantRegistry, list[RecordErrorInfo]]:
    from connector_pipelines.pipelines.runs import open_record_errors

    registry = _existing_registry()
    registry.get(tenant)  # names an unknown tenant
    found = open_record_errors(
        registry.db, tenant, _pipelines_of(pipeline), stage=stage, keys=set(keys), limit=limit
    )
    return registry, found


SELECTING = (
    click.argument("tenant"),
    click.option("--pipeline", help="Only this pipeline's errors."),
    click.option("--stage", help="Only errors of this stage (e.g. shopware_products, plentymarkets_read)."),
    click.option("--key", "keys", multiple=True, help="Only this record (its key; repeatable)."),
)


def _selecting(func: F) -> F:
    for decorator in reversed(SELECTING):
        func = decorator(func)
    return func


def _dead_letters(
    registry: TenantRegistry, tenant: str, found: Sequence[RecordErrorInfo]
) -> set[tuple[str, str, str]]:
    """(pipeline, stage, record key) of the dead letters among ``found``: records runs no longer retry."""
    from connector_pipelines.store.repositories import TenantStore

    return {
        (name, stage, key)
        for name in dict.fromkeys(e.pipeline for e in found)
        for stage, key in TenantStore(registry.db, tenant, name).dead_letters()
    }


DEAD_ONLY = click.option(
    "--dead",
    "dead_only",
    is_flag=True,
    help="Only dead letters: records that failed too often to be retried.",
)


@record_errors.command("list")
@_selecting
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Errors shown.")
@DEAD_ONLY
@click.option("--json", "as_json", is_flag=True, help="The errors with their whole payloads as JSON.")
@user_errors
def errors_list(
    tenant: str,
    pipeline: str | None,
    stage: str | None,
    keys: tuple[str, ...],
    limit: int,
    dead_only: bool,
    as_json: bool,
) -> None:
    """The tenant's open record errors, newest first: record, stage, reason, attempts and the payload sent.
    Dead letters (records that failed too often: runs no longer retry them) are marked; `errors retry`
    sends them again."""
    registry, found = _open_errors(tenant, pipeline, stage, keys, None)
    dead = _dead_letters(registry, tenant, found)
    if dead_only:
        found = [e for e in found if (e.pipeline, e.stage, e.record_key) in dead]
    found = found[:limit]
    if as_json:
        listed = [
            {**e.model_dump(mode="json"), "dead": (e.pipeline, e.stage, e.record_key) in dead} for e in found
        ]
        click.echo(redact(json.dumps(listed, indent=2)))
        return
    if not found:
        click.echo(f"no open {'dead letters' if dead_only else 'record errors'} of {tenant}")
    for error in found:
        attempts = (
            f"{error.attempts} attempt{'s' if error.attempts != 1 else ''}, last {_when(error.last_seen)}"
        )
        if (error.pipeline, error.stage, error.record_key) in dead:
            attempts = f"DEAD LETTER: {attempts}; retried no more until `errors retry`"
        click.echo(f"{error.pipeline}  {error.stage}  {error.record_key}  ({attempts})")
        click.echo(f"    reason:  {' '.join(redact(error.reason).split())}")
        if error.payload is not None:
            payload = redact(json.dumps(error.payload, sort_keys=True))
            shown = payload if len(payload) <= 300 else payload[:300] + " ... (--json shows all)"
            click.echo(f"    payload: {shown}")


@record_errors.command("retry")
@_selecting
@DEAD_ONLY
@user_errors
def errors_retry(
    tenant: str, pipeline: str | None, stage: str | None, keys: tuple[str, ...], dead_only: bool
) -> None:
    """Have the next run send these records again, even where their hashes say nothing changed.

    Their published hash is cleared (the next delta sees them changed) and dead letters among them are
    re-armed (runs retry them again); their errors stay open until a run gets them through. Records never
    published are sent by every run anyway."""
    from connector_pipelines.pipelines.runs import retry_records
    from connector_pipelines.store.repositories import TenantStore

    registry, found = _open_errors(tenant, pipeline, stage, keys, None)
    if dead_only:
        dead = _dead_letters(registry, tenant, found)
        found = [e for e in found if (e.pipeline, e.stage, e.record_key) in dead]
    if not found:
        click.echo(f"no open {'dead letters' if dead_only else 'record errors'} of {tenant} match")
        return
    for name in dict.fromkeys(e.pipeline for e in found):
        chosen = [e.record_key for e in found if e.pipeline == name]
        store = TenantStore(registry.db, tenant, name)
        cleared = retry_records(store, chosen)
        rearmed = store.rearm_errors(chosen, stage)
        click.echo(
            f"{name}: {len(chosen)} record(s) will be sent again by the next run ({cleared} published one(s) "
            f"had their published hash cleared, {rearmed} dead letter(s) re-armed); send them now with "
            f"`{errors.CLI} sync {tenant} --pipeline {name}`"
        )


@record_errors.command("discard")
@_selecting
@user_errors
def errors_discard(tenant: str, pipeline: str | None, stage: str | None, keys: tuple[str, ...]) -> None:
    """Close these errors without sending anything: the records stay as they are; one that fails again in
    a later run is listed again."""
    from connector_pipelines.pipelines.runs import discard_errors
    from connector_pipelines.store.repositories import TenantStore

    registry, found = _open_errors(tenant, pipeline, stage, keys, None)
    for name in dict.fromkeys(e.pipeline for e in found):
        closed = discard_errors(
            TenantStore(registry.db, tenant, name), [e for e in found if e.pipeline == name]
        )
        click.echo(f"{name}: closed {closed} record error(s); a record that fails again is listed again")
    if not found:
        click.echo(f"no open record errors of {tenant} match")


# --- running pipelines -------------------------------------------------------------------------------------

SUMMARY_FIELDS = ("fetched", "changed", "created", "updated", "unchanged", "deleted", "failed", "duration_s")


def print_run(summary: RunSummary) -> None:
    click.echo(f"run {summary.run_id}: {'success' if summary.success else 'FAILED'}")
    for asset, meta in summary.materializations.items():
        counts = ", ".join(f"{k}={meta[k]}" for k in SUMMARY_FIELDS if k in meta)
        calls = ", ".join(
            f"{k.removeprefix('api_calls_')} calls={v}" for k, v in meta.items() if k.startswith("api_calls_")
        )
        click.echo(f"  {asset:<22} {counts}{'; ' + calls if calls else ''}")
    for check, passed in summary.checks.items():
        click.echo(f"  check {check}: {'passed' if passed else 'FAILED'}")


def plan_entries(summary: RunSummary) -> list[dict[str, Any]]:
    """The per-record plan of a plan-mode run: each step's ``plan`` metadata, with the step's name."""
    return [
        {"asset": asset, **entry}
        for asset, meta in summary.materializations.items()
        for entry in meta.get("plan") or []
    ]


PLAN_CHANGES_SHOWN = 12


def print_plan(entries: list[dict[str, Any]]) -> None:
    """Each record to change, then each changed field with the target's value and the one a sync writes."""
    actions: dict[str, int] = {}
    for entry in entries:
        actions[entry["action"]] = actions.get(entry["action"], 0) + 1
    counted = ", ".join(f"{n} to {action}" for action, n in sorted(actions.items())) or "nothing to change"
    click.echo(f"plan: {counted} (nothing was written)")
    for entry in entries:
        label = f" {entry['label']!r}" if entry.get("label") else ""
        click.echo(redact(f"  {entry['asset']}  {entry['action']:<10} {entry['key']}{label}".rstrip()))
        changes = entry.get("changes") or []
        for change in changes[:PLAN_CHANGES_SHOWN]:
            old, new = (change[side] if change[side] is not None else "(none)" for side in ("old", "new"))
            click.echo(redact(f"      {change['field']}: {old} -> {new}"))
        if len(changes) > PLAN_CHANGES_SHOWN:
            click.echo(f"      ... and {len(changes) - PLAN_CHANGES_SHOWN} more field(s)")


RUN_FAILED_EXIT = 1
# The mode names of shopify_ingestion (issue 14) -> (shared mode, skip existing records).
MODE_ALIASES = {
    "backfill": ("full", False),
    "incremental": ("delta", False),
    "dry_run": ("plan", False),
    "skip_existing": ("full", True),
}
RECORDS_REJECTED_EXIT = 3
REJECTED_SHOWN = 20
SYNC_EXIT_CODES = """\b
Exit codes:
  0  the run succeeded and no record was rejected
  1  the run failed (its error is the last line on stderr)
  2  a user error before any run: bad arguments, or the tenant, its settings, credentials or the
     encryption key are not ready (one line on stderr naming tenant, system and remedy); nothing is run
  3  the run succeeded but records were rejected: they are listed with their reason"""


def print_rejected(tenant: str, records: list[OpenError], total: int) -> None:
    """The records a run rejected, one line each (at most REJECTED_SHOWN), and how many more there are."""
    click.echo(f"{total} record(s) rejected by this run:")
    for record in records:
        reason = " ".join(redact(record.reason).split())
        click.echo(f"  {record.stage} {record.record_key}: {reason[:300]}")
    if total > len(records):
        click.echo(f"  ... and {total - len(records)} more")
    click.echo(f"their payloads: `{errors.CLI} errors list {tenant}`")


def _echo_err(line: str) -> None:
    """A line on stderr, where what is not the command's result goes (the benchmark's log)."""
    click.echo(line, err=True)


@main.command("sync", epilog=SYNC_EXIT_CODES)
@click.argument("tenant")
@click.option("--pipeline", required=True, help="Pipeline to run, e.g. plenty_shopware.")
@click.option(
    "--mode",
    type=click.Choice(["config", "delta", "full", "plan", "webhook", *MODE_ALIASES]),
    default="delta",
    show_default=True,
    help="webhook: apply the tenant's waiting webhooks now. backfill = full, incremental = delta, dry_run = "
    "plan, skip_existing = full writing only new records (shopify_ingestion's names).",
)
@click.option(
    "--since", help="A date range's start (ISO 8601, UTC): only records updated since (shopify_ingestion)."
)
@click.option("--until", help="A date range's end, exclusive (shopify_ingestion).")
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Write only records the target does not hold yet (shopify_ingestion).",
)
@click.option(
    "--product",
    "product_ids",
    multiple=True,
    help="Sync only this product, by its id in the source (repeatable).",
)
@click.option("--force", is_flag=True, help="Run even though the tenant is disabled.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The outcome as one JSON object: counts per step, checks, the plan, rejected records.",
)
@user_errors
def sync(
    tenant: str,
    pipeline: str,
    mode: str,
    since: str | None,
    until: str | None,
    skip_existing: bool,
    product_ids: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Run one sync for a tenant, recorded on the Dagster instance of DAGSTER_HOME (else
    CONNECTOR_HOME/dagster), so it shows in the UI like any run. Progress shows on stderr while it runs;
    `--mode plan` lists what a sync would change, record by record, and writes nothing.

    Before the run, the tenant is checked: registered, enabled (unless --force), the pipeline enabled for
    it, settings and credentials of the pipeline's systems present and readable, and --product ids valid
    for the pipeline's source."""
    from connector_pipelines.errors import PermanentError
    from connector_pipelines.pipelines.catalog import pipeline_spec
    from connector_pipelines.runner import dagster_instance, run_sync, showing_progress
    from connector_pipelines.store.repositories import TenantStore
    from connector_pipelines.sync.preflight import check_product_ids, preflight
    from connector_pipelines.sync.runtime import ReadWindow, SyncMode

    registry = _existing_registry()
    spec = pipeline_spec(pipeline)
    shared, skips = MODE_ALIASES.get(mode, (mode, False))
    mode, skip_existing = shared, skip_existing or skips
    try:
        preflight(registry, tenant, spec, force=force)
        check_product_ids(spec, product_ids)
        window = ReadWindow.parse(since, until)
    except PermanentError as exc:
        raise UserError(str(exc)) from None
    if spec.job_for(SyncMode(mode)) is None:
        raise UserError(
            f"pipeline '{pipeline}' has no '{mode}' mode (modes: {', '.join(sorted(spec.modes))})"
        )
    with showing_progress(sys.stderr):
        summary = run_sync(
            tenant,
            pipeline,
            SyncMode(mode),
            instance=dagster_instance(),
            product_ids=list(product_ids),
            force=force,
            window=window,
            skip_existing=skip_existing,
        )
    store = TenantStore(registry.db, tenant, pipeline)
    rejected = store.count_open_errors(run_id=summary.run_id) if summary.success else 0
    shown = store.open_errors(limit=REJECTED_SHOWN, run_id=summary.run_id) if rejected else []
    if as_json:
        steps = {a: {k: v for k, v in m.items() if k != "plan"} for a, m in summary.materializations.items()}
        doc = {
            "run_id": summary.run_id,
            "success": summary.success,
            "error": summary.error,
            "steps": steps,
            "checks": summary.checks,
            "plan": plan_entries(summary) if mode == SyncMode.PLAN else None,
            "rejected": {
                "total": rejected,
                "records": [
                    {"stage": r.stage, "record_key": r.record_key, "reason": r.reason} for r in shown
                ],
            },
        }
        click.echo(redact(json.dumps(doc, indent=2, default=str)))
    else:
        print_run(summary)
        if mode == SyncMode.PLAN and summary.success:
            print_plan(plan_entries(summary))
        if rejected:
            print_rejected(tenant, shown, rejected)
    if not summary.success:
        click.echo(f"error: {redact(summary.error or 'run failed')}", err=True)
        sys.exit(RUN_FAILED_EXIT)
    if rejected:
        sys.exit(RECORDS_REJECTED_EXIT)


@main.command("demo")
@click.option("--products", default=60, show_default=True, help="Items in the sandbox's Plenty catalog.")
@click.option("--variants", default=3, show_default=True, help="Variations per item.")
def demo(products: int, variants: int) -> None:
    """Run the pipelines against the sandbox and print what each step proves and a summary table.

    The demo works in its own connector home (CONNECTOR_HOME/demo: database, key, Dagster instance), apart
    from your tenants; `dev` shows its runs."""
    from connector_pipelines.demo import run_demo
    from connector_pipelines.runner import showing_progress

    with showing_progress(sys.stderr):
        succeeded = run_demo(click.echo, products=products, variants=variants)
    if not succeeded:
        sys.exit(1)


def _port_taken(exc: OSError, port: int, option: str, make_variable: str) -> UserError | None:
    """The one line for a port that is in use, or None for another error."""
    if exc.errno != errno.EADDRINUSE:
        return None
    return UserError(
        f"port {port} is taken (another `sandbox serve` or `dev`?) — remedy: choose a free one with "
        f"`{option} {port + 1}` (with make: `make dev {make_variable}={port + 1}`)"
    )


@main.command("dev")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--sandbox-port", default=8900, show_default=True, help="Port of the sandbox's emulators.")
@click.option("--service-port", default=8008, show_default=True, help="Port of the connector service.")
@click.option("--products", default=60, show_default=True)
@user_errors
def dev(port: int, sandbox_port: int, service_port: int, products: int) -> None:
    """Open the Dagster UI (webserver and daemon) and the connector service on the demo's connector home,
    with the sandbox and the demo tenants registered; the demo's runs show there. Your own tenants and runs
    are not touched. Ctrl-C or SIGTERM stops every process it started."""
    import os
    import signal
    import socket

    from connector_pipelines.demo import demo_environment, register_demo_tenants, start_sandbox
    from connector_pipelines.pipelines.catalog import tenant_registry
    from connector_pipelines.runner import dagster_instance

    def stop_on_sigterm(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    with demo_environment() as home:
        try:
            hub = start_sandbox(products, 3, port=sandbox_port)
        except OSError as exc:
            raise _port_taken(exc, sandbox_port, "--sandbox-port", "SANDBOX_PORT") or exc from None
        children: list[subprocess.Popen[bytes]] = []
        try:
            ports = ((port, "--port", "UI_PORT"), (service_port, "--service-port", "SERVICE_PORT"))
            for taken, option, variable in ports:
                with socket.socket() as probe:
                    # Dagster's own message for a taken port comes after a minute of start-up, in a traceback.
                    try:
                        probe.bind(("127.0.0.1", taken))
                    except OSError as exc:
                        raise _port_taken(exc, taken, option, variable) or exc from None
            register_demo_tenants(hub, tenant_registry())
            dagster_instance().dispose()  # creates the instance folder with its dagster.yaml
            click.echo(
                f"demo home: {home}; sandbox: {hub.url}; the UI on http://127.0.0.1:{port}; the service on "
                f"http://127.0.0.1:{service_port}/docs"
            )
            env = {**os.environ, "CONNECTOR_DAGSTER_URL": f"http://127.0.0.1:{port}"}
            service = [sys.executable, "-m", "connector_pipelines", "serve", "--port", str(service_port)]
            ui = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
            for argv in (service, ui):
                # Their own process groups: stopping one stops its children (dagster dev's webserver, daemon
                # and code server) too.
                children.append(subprocess.Popen(argv, env=env, start_new_session=True))  # noqa: S603
            children[-1].wait()
        except KeyboardInterrupt:
            pass
        finally:
            _stop_process_groups(children)
            hub.stop()


def _stop_process_groups(children: list[subprocess.Popen[bytes]], grace_s: float = 20.0) -> None:
    """SIGTERM to each child's process group, SIGKILL to what is left after ``grace_s``."""
    import os
    import signal

    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@main.group()
def sandbox() -> None:
    """The emulators of every external system."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, help="0 = any free port.")
@click.option("--products", default=20, show_default=True)
@click.option("--variants", default=3, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--account", "accounts", multiple=True, default=("demo",), show_default=True, help="Repeatable."
)
@click.option("--rate-limits", type=click.Choice(["off", "realistic"]), default="off", show_default=True)
@click.option(
    "--pipeline",
    "pipelines",
    multiple=True,
    type=PipelineChoice(),
    default=("plenty_shopware",),
    show_default=True,
    help="Serve the systems of these pipelines (repeatable).",
)
@click.option("--erp-format", type=click.Choice(["csv", "json", "ndjson"]), default="csv", show_default=True)
@click.option(
    "--accounts-file",
    type=click.Path(dir_okay=False),
    help="Write base URLs and the generated credentials here (mode 0600) instead of nowhere.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line with the base URLs when ready.")
def sandbox_serve(
    host: str,
    port: int,
    products: int,
    variants: int,
    seed: int,
    accounts: tuple[str, ...],
    rate_limits: str,
    pipelines: tuple[str, ...],
    erp_format: str,
    accounts_file: str | None,
    as_json: bool,
) -> None:
    """Serve every emulator on one port: /<system>/<account>/... (ERP files: an SFTP server per account).
    Stops on Ctrl-C or SIGTERM."""
    import os
    import signal
    import threading

    from connector_pipelines.pipelines.catalog import pipeline_recipe
    from connector_pipelines.sandbox.hub import SandboxHub
    from connector_pipelines.sandbox.recipe import Catalog

    hub = SandboxHub()
    catalog = Catalog(products, variants, seed, rate_limits == "realistic", erp_format)
    for account in accounts:
        for pipeline in pipelines:
            pipeline_recipe(pipeline).add_accounts(hub, account, catalog)
    server = hub.serve(host=host, port=port)
    described = hub.accounts()
    if accounts_file:
        path = Path(accounts_file)
        path.write_text(json.dumps(described, indent=2))
        path.chmod(0o600)
    urls = {
        system: {
            a: d.get("base_url") or d.get("shop_url") or f"sftp://{d['host']}:{d['port']}/{d['path']}"
            for a, d in by_account.items()
        }
        for system, by_account in described.items()
        if by_account
    }
    if as_json:
        click.echo(json.dumps({"base_url": server.base_url, "urls": urls, "pid": os.getpid()}), nl=True)
    else:
        for system, by_account in urls.items():
            for account, url in by_account.items():
                click.echo(f"{system:<14} {account:<12} {url}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    hub.stop()


@main.command("bench")
@click.argument("pipeline", type=BenchChoice(), metavar="PIPELINE")
@click.option(
    "--products", type=click.IntRange(min=1), help="Products in the catalog  [default: the pipeline's own]"
)
@click.option("--variants", default=5, show_default=True)
@click.option("--rate-limits", type=click.Choice(["off", "realistic"]), default="off", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: {run: {metric: value}}.")
@click.option(
    "--database-url",
    metavar="URL",
    help="PostgreSQL or SQLite server for the connector database: a throwaway database (or schema) is "
    "created there and removed afterwards  [default: a throwaway SQLite file; webhooks: the PostgreSQL "
    "at 127.0.0.1]",
)
@click.option("--seconds", default=20.0, show_default=True, help="webhooks: how long the load lasts.")
@click.option("--senders", default=16, show_default=True, help="webhooks: concurrent senders.")
@click.option(
    "--customers",
    default=50_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="shopify_ingestion: customers in the shop.",
)
@click.option(
    "--orders",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="shopify_ingestion: orders in the shop (3 line items each); erp_gateway: paid orders into the ERP "
    "[erp_gateway default: 1000].",
)
@click.option(
    "--skus", type=click.IntRange(min=1), help="erp_gateway: ERP items the shop sells  [default: 50000]"
)
@click.pass_context
def bench(
    ctx: click.Context,
    pipeline: str,
    products: int | None,
    variants: int,
    rate_limits: str,
    as_json: bool,
    database_url: str | None,
    seconds: float,
    senders: int,
    customers: int,
    orders: int,
    skus: int | None,
) -> None:
    """Benchmark a pipeline against the sandbox (emulators in a child process, the pipeline in this one): a
    full sync, a delta after 1 % of the source changed, and a delta with nothing changed. `bench webhooks`
    loads the service with signed webhooks, kills it half-way and counts what it lost. `bench
    shopify_ingestion` seeds a shop with --customers, --orders and --products and runs backfill,
    incremental_1pct and incremental_none into the ingestion tables. `bench erp_gateway` (Logo -> Shopify,
    --skus, --orders) runs stock and prices full, 1 % and none, orders across a kill, and webhook latency."""
    if pipeline == WEBHOOKS_BENCH:
        from connector_pipelines.service.bench import DEFAULT_DATABASE_URL, run_webhook_benchmark

        run_webhook_benchmark(seconds, senders, as_json, database_url or DEFAULT_DATABASE_URL)
        return
    from connector_pipelines.bench.harness import UnsupportedDatabaseError, database_backend
    from connector_pipelines.bench.runner import run_benchmark
    from connector_pipelines.pipelines.catalog import pipeline_recipe
    from connector_pipelines.runner import showing_progress

    try:
        if database_url is not None:
            database_backend(database_url)  # before the sandbox starts
        if pipeline == INGESTION_BENCH:
            from connector_pipelines.pipelines.shopify_ingestion.bench import run_ingestion_benchmark

            with showing_progress(sys.stderr):
                run_ingestion_benchmark(
                    click.echo,
                    customers=customers,
                    orders=orders,
                    products=products if products is not None else pipeline_recipe(pipeline).bench_products,
                    variants=variants,
                    rate_limits=rate_limits,
                    as_json=as_json,
                    log=_echo_err,
                    database_url=database_url,
                )
            return
        if pipeline == GATEWAY_BENCH:
            from connector_pipelines.bench.erp_gateway import GATEWAY_ORDERS, run_gateway_benchmark

            defaulted = ctx.get_parameter_source("orders") == click.core.ParameterSource.DEFAULT
            with showing_progress(sys.stderr):
                run_gateway_benchmark(
                    click.echo,
                    skus=skus or products or pipeline_recipe(pipeline).bench_products,
                    orders=GATEWAY_ORDERS if defaulted else orders,
                    as_json=as_json,
                    log=_echo_err,
                    database_url=database_url,
                )
            return
        with showing_progress(sys.stderr):
            run_benchmark(
                pipeline,
                click.echo,
                products=products if products is not None else pipeline_recipe(pipeline).bench_products,
                variants=variants,
                rate_limits=rate_limits,
                as_json=as_json,
                log=_echo_err,
                database_url=database_url,
            )
    except UnsupportedDatabaseError as exc:
        raise click.BadParameter(str(exc), param_hint="--database-url") from None


# --- mappings of ERP files ---------------------------------------------------------------------------------


@main.group()
def mapping() -> None:
    """Mappings of ERP product files to products (erp_files_shopify), and the field mappings of the gateway's
    ERPs (logo, netsis, erp_csv: erp_gateway)."""


def _print_mapping_report(tenant: str, source: str, report: Any) -> None:
    click.echo(
        f"{tenant}: {source}: {report.rows} rows -> {report.products_mapped} products, "
        f"{report.variants_mapped} variants; {len(report.errors)} row error(s)"
    )
    if report.missing_sources:
        click.echo(f"columns / paths of the mapping that no row has: {', '.join(report.missing_sources)}")
    if report.products:
        click.echo(f"\nmapped products (first {len(report.products)}):")
    for product in report.products:
        tags = ",".join(product["tags"])
        click.echo(
            f"  {product['key']}  {product['title']!r}  vendor={product['vendor']!r} "
            f"type={product['productType']!r} status={product['status']} tags={tags}"
        )
        for field in product["metafields"]:
            click.echo(
                f"      metafield {field['namespace']}.{field['key']} ({field['type']}) = {field['value']}"
            )
        for variant in product["variants"]:
            options = " ".join(f"{name}={value}" for name, value in variant["options"].items())
            click.echo(
                f"      {variant['sku']}  price={variant['price']} "
                f"compareAtPrice={variant['compareAtPrice']} {options}  barcode={variant['barcode']} "
                f"weight_kg={variant['weight_kg']} "
                f"inventory={variant['inventory']}"
            )
    if report.errors:
        click.echo("\nrow errors:")
    for error in report.errors:
        where = f"{error.file}:{error.line}" + (f": {error.column}" if error.column else "")
        click.echo(f"  {where}: {error.reason}")


def _mapping_system(registry: TenantRegistry, tenant: str) -> str:
    """The mapping `mapping check` checks: the ERP file mapping where the tenant has erp_files settings,
    else the field mapping of its gateway ERP."""
    from connector_pipelines.sources.erp_gateway.registry import tenant_erp

    return "erp_files" if "erp_files" in registry.get(tenant).settings else tenant_erp(registry, tenant)


def _print_gateway_report(tenant: str, report: Any) -> None:
    click.echo(
        f"{tenant}: {report.system} (warehouse {report.warehouse_code}, "
        f"price list {report.price_list_code}): {report.error_count} row error(s)"
    )
    for kind in report.kinds:
        if kind.unavailable:
            click.echo(f"  {kind.kind}: not readable: {kind.unavailable}")
            continue
        click.echo(f"  {kind.kind}: {kind.rows} rows -> {kind.mapped} mapped, {kind.errors} row error(s)")
        if kind.missing_sources:
            click.echo(f"    fields of the mapping that no row has: {', '.join(kind.missing_sources)}")
        for sample in kind.samples:
            click.echo(f"    {redact(json.dumps(sample, sort_keys=True, ensure_ascii=False))}")
    if report.errors:
        click.echo("\nrow errors:")
    for error in report.errors:
        click.echo(f"  {redact(str(error))}")


def _gateway_mapping_check(
    registry: TenantRegistry, tenant: str, system: str, limit: int, as_json: bool
) -> None:
    """Read and map every item, stock and price row of the tenant's gateway ERP; exit 3 on row errors."""
    from connector_pipelines.sources.erp_gateway.base import MappedConnector
    from connector_pipelines.sources.erp_gateway.check import check_mapping
    from connector_pipelines.sources.erp_gateway.registry import erp_system, open_connector

    settings = registry.settings(tenant, system, erp_system(system).settings)
    try:
        with open_connector(registry, tenant, system) as connector:
            if not isinstance(connector, MappedConnector):
                raise UserError(f"{system} has no field mapping to check")
            report = check_mapping(connector, settings.warehouse_code, settings.price_list_code, limit=limit)
    except errors.ConnectorError as exc:
        raise UserError(" ".join(redact(str(exc)).split())) from None
    if as_json:
        click.echo(redact(report.model_dump_json(indent=2)))
    else:
        _print_gateway_report(tenant, report)
    if report.error_count:
        sys.exit(RECORDS_REJECTED_EXIT)


MAPPING_CHECK_EXIT_CODES = """\b
Exit codes:
  0  every row mapped
  2  a user error: unknown tenant, unreadable file or mapping (one line on stderr)
  3  rows failed: they are listed with file, line, column and reason"""


@mapping.command("check", epilog=MAPPING_CHECK_EXIT_CODES)
@click.argument("tenant")
@click.option(
    "--file",
    "file_path",
    type=click.Path(dir_okay=False),
    help="A local file to map instead of the tenant's (read with the tenant's format settings).",
)
@click.option(
    "--system",
    help="erp_files (the product file mapping), or a gateway ERP (logo, netsis, erp_csv) whose field mapping "
    "is checked against its items, stock and prices; default: the one the tenant has settings for.",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0), help="Products shown.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@user_errors
def mapping_check(tenant: str, file_path: str | None, system: str | None, limit: int, as_json: bool) -> None:
    """Map the tenant's file (or --file) and show a sample of products and every row error. Writes nothing.

    For a gateway ERP: every item, stock and price row read through the tenant's field mapping, a sample of
    the records and every row error (SKU, field, row, reason)."""
    from connector_pipelines.sources.erp_files import (
        FileFormatError,
        FileSourceError,
        parse_records,
        read_records,
    )
    from connector_pipelines.sources.erp_mapping.check import check_mapping
    from connector_pipelines.sources.erp_mapping.config import MappingConfigError
    from connector_pipelines.sync.erp_files_shopify import tenant_mapping
    from connector_pipelines.tenants.connections import ERP_FILES

    registry = _existing_registry()
    chosen = system or _mapping_system(registry, tenant)
    if chosen != ERP_FILES.name:
        if file_path is not None:
            raise UserError("--file applies to the erp_files mapping only")
        _gateway_mapping_check(registry, tenant, chosen, limit, as_json)
        return
    try:
        config = tenant_mapping(registry, tenant)
        if file_path is not None:
            settings = registry.settings(tenant, ERP_FILES.name, ERP_FILES.settings)
            path = Path(file_path)
            with path.open("rb") as stream:
                report = check_mapping(config, parse_records(stream, path.name, settings), limit)
            source = str(path)
        else:
            with registry.connect(tenant, ERP_FILES) as files:
                info = files.newest()
                records = read_records(files, info)
                try:
                    report = check_mapping(config, records, limit)
                finally:
                    records.close()
            source = f"{files.location}/{info.path}"
    except (MappingConfigError, FileSourceError, FileFormatError) as exc:
        # A mapping error lists its problems on several lines; the CLI's user errors are one line.
        raise UserError("; ".join(line.strip() for line in str(exc).splitlines() if line.strip())) from None
    except OSError as exc:
        raise UserError(f"cannot read {file_path}: {exc.strerror}") from None
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        _print_mapping_report(tenant, source, report)
    if report.errors:
        sys.exit(RECORDS_REJECTED_EXIT)


# The service's commands (serve, tokens) live with the service; they import it only when they run.
main.add_command(service_cli.serve)
main.add_command(service_cli.tokens)

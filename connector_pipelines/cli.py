"""The `connector-pipelines` command. Heavy modules (Dagster, emulators) are imported by the commands that
need them, so `--help` and the tenant commands stay fast."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from connector_pipelines.redaction import redact

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


def _registry() -> Any:
    from connector_pipelines.pipelines.catalog import tenant_registry

    return tenant_registry()


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


@click.group()
def main() -> None:
    """Keep commerce systems in sync for many merchants (tenants), with Dagster."""
    from connector_pipelines.logs import configure_process_logging

    configure_process_logging()


# --- tenants -----------------------------------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """Register and manage tenants."""


def _print_tenant(info: Any, as_json: bool) -> None:
    if as_json:
        click.echo(info.model_dump_json(indent=2))
        return
    click.echo(f"{info.slug}  ({info.display_name})")
    click.echo(f"  enabled:      {'yes' if info.enabled else 'no'}")
    click.echo(f"  pipelines:    {', '.join(info.pipelines) or '-'}")
    click.echo(f"  credentials:  {', '.join(info.credentials_set) or '-'}")
    for system, settings in sorted(info.settings.items()):
        click.echo(f"  {system}: {json.dumps(settings, sort_keys=True)}")


@tenants.command("add")
@click.argument("slug")
@click.option("--name", "display_name", default="", help="Display name (defaults to the slug).")
@click.option(
    "--pipeline", "pipelines", multiple=True, required=True, help="Pipeline to enable (repeatable)."
)
@click.option("--settings-file", type=click.Path(dir_okay=False), help="JSON: {system: {setting: value}}.")
@user_errors
def tenants_add(slug: str, display_name: str, pipelines: tuple[str, ...], settings_file: str | None) -> None:
    """Register a tenant."""
    settings = _read_json_file(settings_file, "settings") or {}
    info = _registry().add(slug, display_name, list(pipelines), settings)
    click.echo(f"added tenant {info.slug} ({', '.join(info.pipelines)})")


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def tenants_list(as_json: bool) -> None:
    """List tenants (never shows credentials)."""
    infos = _registry().tenants()
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return
    if not infos:
        click.echo("no tenants")
    for info in infos:
        state = "enabled" if info.enabled else "disabled"
        click.echo(f"{info.slug:<30} {state:<9} {','.join(info.pipelines):<30} {info.display_name}")


@tenants.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def tenants_show(slug: str, as_json: bool) -> None:
    """Show one tenant (never shows credentials)."""
    _print_tenant(_registry().get(slug), as_json)


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
    settings = _read_json_file(settings_file, "settings")
    info = _registry().update(
        slug, display_name=display_name, enabled=enabled, pipelines=list(pipelines) or None, settings=settings
    )
    click.echo(f"updated tenant {info.slug}")


@tenants.command("remove")
@click.argument("slug")
@user_errors
def tenants_remove(slug: str) -> None:
    """Remove a tenant and everything stored for it."""
    _registry().remove(slug)
    click.echo(f"removed tenant {slug}")


@tenants.command("set-credentials")
@click.argument("slug")
@click.argument("system")
@click.option("--credentials-file", type=click.Path(dir_okay=False), help="JSON file; '-' or absent = stdin.")
@user_errors
def tenants_set_credentials(slug: str, system: str, credentials_file: str | None) -> None:
    """Store a tenant's credentials for a system, encrypted. Values come from a file or stdin, never argv."""
    values = _read_json_file(credentials_file, "credentials", stdin_ok=True)
    _registry().set_credentials(slug, system, values)
    click.echo(f"stored {system} credentials for {slug}")


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
    """Re-encrypt every credential with CONNECTOR_ENCRYPTION_KEY (old ones readable from ..._KEYS_OLD)."""
    changed = _registry().rotate_keys()
    click.echo(f"re-encrypted {changed} credential set(s) with the current key")


@main.group()
def db() -> None:
    """The connector database."""


@db.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Apply database migrations (also done automatically on a fresh database)."""
    from connector_pipelines.store.db import Database

    database = Database(upgrade=False)
    database.upgrade()
    click.echo(f"database at revision {database.current_revision()}")


# --- running pipelines -------------------------------------------------------------------------------------

SUMMARY_FIELDS = ("fetched", "changed", "created", "updated", "unchanged", "deleted", "failed", "duration_s")


def print_run(summary: Any) -> None:
    click.echo(f"run {summary.run_id}: {'success' if summary.success else 'FAILED'}")
    for asset, meta in summary.materializations.items():
        counts = ", ".join(f"{k}={meta[k]}" for k in SUMMARY_FIELDS if k in meta)
        calls = ", ".join(
            f"{k.removeprefix('api_calls_')} calls={v}" for k, v in meta.items() if k.startswith("api_calls_")
        )
        click.echo(f"  {asset:<22} {counts}{'; ' + calls if calls else ''}")
    for check, passed in summary.checks.items():
        click.echo(f"  check {check}: {'passed' if passed else 'FAILED'}")
    if summary.error:
        click.echo(f"error: {redact(summary.error)}", err=True)


RUN_FAILED_EXIT = 1
RECORDS_REJECTED_EXIT = 3
REJECTED_SHOWN = 20
SYNC_EXIT_CODES = """\b
Exit codes:
  0  the run succeeded and no record was rejected
  1  the run failed (its error is the last line on stderr)
  2  a user error before any run: bad arguments, or the tenant, its settings, credentials or the
     encryption key are not ready (one line on stderr naming tenant, system and remedy); nothing is run
  3  the run succeeded but records were rejected: they are listed with their reason"""


def print_rejected(records: list[Any], total: int) -> None:
    """The records a run rejected, one line each (at most REJECTED_SHOWN), and how many more there are."""
    click.echo(f"{total} record(s) rejected by this run:")
    for record in records:
        reason = " ".join(redact(record.reason).split())
        click.echo(f"  {record.stage} {record.record_key}: {reason[:300]}")
    if total > len(records):
        click.echo(f"  ... and {total - len(records)} more")


@main.command("sync", epilog=SYNC_EXIT_CODES)
@click.argument("tenant")
@click.option("--pipeline", required=True, help="Pipeline to run, e.g. plenty_shopware.")
@click.option(
    "--mode", type=click.Choice(["config", "delta", "full", "plan"]), default="delta", show_default=True
)
@click.option("--product", "product_ids", type=int, multiple=True, help="Sync only this source product id.")
@click.option("--force", is_flag=True, help="Run even though the tenant is disabled.")
@user_errors
def sync(tenant: str, pipeline: str, mode: str, product_ids: tuple[int, ...], force: bool) -> None:
    """Run one sync for a tenant on the configured Dagster instance (it shows in the UI like any run).

    Before the run, the tenant is checked: registered, enabled (unless --force), the pipeline enabled for
    it, and settings and credentials of the pipeline's systems present and readable."""
    from connector_pipelines.errors import PermanentError
    from connector_pipelines.pipelines.catalog import pipeline_spec
    from connector_pipelines.runner import dagster_instance, run_sync
    from connector_pipelines.store.repositories import TenantStore
    from connector_pipelines.sync.preflight import preflight
    from connector_pipelines.sync.runtime import SyncMode

    registry = _registry()
    spec = pipeline_spec(pipeline)
    try:
        preflight(registry, tenant, spec, force=force)
    except PermanentError as exc:
        raise UserError(str(exc)) from None
    if spec.job_for(SyncMode(mode)) is None:
        raise UserError(
            f"pipeline '{pipeline}' has no '{mode}' mode (modes: {', '.join(sorted(spec.modes))})"
        )
    if product_ids and not spec.selects_products:
        raise UserError(f"pipeline '{pipeline}' cannot sync single products: --product does not apply")
    summary = run_sync(
        tenant,
        pipeline,
        SyncMode(mode),
        instance=dagster_instance(),
        product_ids=list(product_ids),
        force=force,
    )
    print_run(summary)
    if not summary.success:
        sys.exit(RUN_FAILED_EXIT)
    store = TenantStore(registry.db, tenant, pipeline)
    rejected = store.count_open_errors(run_id=summary.run_id)
    if rejected:
        print_rejected(store.open_errors(limit=REJECTED_SHOWN, run_id=summary.run_id), rejected)
        sys.exit(RECORDS_REJECTED_EXIT)


@main.command("demo")
@click.option("--products", default=60, show_default=True, help="Items in the sandbox's Plenty catalog.")
@click.option("--variants", default=3, show_default=True, help="Variations per item.")
def demo(products: int, variants: int) -> None:
    """Run the pipelines against the sandbox on the embedded defaults and print a summary."""
    from connector_pipelines.demo import run_demo

    if not run_demo(click.echo, products=products, variants=variants):
        sys.exit(1)


@main.command("dev")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--sandbox-port", default=8900, show_default=True)
@click.option("--products", default=60, show_default=True)
def dev(port: int, sandbox_port: int, products: int) -> None:
    """Open the Dagster UI (webserver and daemon) with the sandbox and the demo tenants registered."""
    import subprocess

    from connector_pipelines.demo import ensure_demo_key, register_demo_tenants, start_sandbox
    from connector_pipelines.pipelines.catalog import tenant_registry

    ensure_demo_key(click.echo)
    hub = start_sandbox(products, 3, port=sandbox_port)
    try:
        register_demo_tenants(hub, tenant_registry())
        click.echo(f"sandbox: {hub.url}; UI on port {port}")
        command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
        subprocess.run(command, check=False)  # noqa: S603 - fixed argv, no shell
    finally:
        hub.stop()


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
@click.argument("pipeline", type=PipelineChoice())
@click.option(
    "--products", type=click.IntRange(min=1), help="Products in the catalog  [default: the pipeline's own]"
)
@click.option("--variants", default=5, show_default=True)
@click.option("--rate-limits", type=click.Choice(["off", "realistic"]), default="off", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: {run: {metric: value}}.")
def bench(pipeline: str, products: int | None, variants: int, rate_limits: str, as_json: bool) -> None:
    """Benchmark a pipeline against the sandbox (emulators in a child process, the pipeline in this one): a
    full sync, a delta after 1 % of the source changed, and a delta with nothing changed."""
    from connector_pipelines.bench.runner import run_benchmark
    from connector_pipelines.pipelines.catalog import pipeline_recipe

    run_benchmark(
        pipeline,
        click.echo,
        products=products if products is not None else pipeline_recipe(pipeline).bench_products,
        variants=variants,
        rate_limits=rate_limits,
        as_json=as_json,
        log=lambda line: click.echo(line, err=True),
    )


# --- mappings of ERP files ---------------------------------------------------------------------------------


@main.group()
def mapping() -> None:
    """Mappings of ERP product files to products (erp_files_shopify)."""


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
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0), help="Products shown.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@user_errors
def mapping_check(tenant: str, file_path: str | None, limit: int, as_json: bool) -> None:
    """Map the tenant's file (or --file) and show a sample of products and every row error. Writes nothing."""
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

    registry = _registry()
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

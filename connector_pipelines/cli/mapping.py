"""`mapping check`: a tenant's field mapping against a sample of its data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from connector_pipelines import errors
from connector_pipelines.cli.base import UserError, existing_registry, main, user_errors
from connector_pipelines.cli.running import RECORDS_REJECTED_EXIT
from connector_pipelines.redaction import redact

if TYPE_CHECKING:
    from connector_pipelines.tenants.registry import TenantRegistry


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
    from connector_pipelines.clients.erp_files import FileSourceError
    from connector_pipelines.sources.erp_files import FileFormatError, parse_records, read_records
    from connector_pipelines.sources.erp_mapping.check import check_mapping
    from connector_pipelines.sources.erp_mapping.config import MappingConfigError
    from connector_pipelines.sync.erp_files_shopify import tenant_mapping
    from connector_pipelines.tenants.connections import ERP_FILES

    registry = existing_registry()
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

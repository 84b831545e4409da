"""The mapping check of a gateway ERP: every item, stock and price row mapped, nothing written, a sample and
every row error; a read the ERP cannot serve is reported, not raised; `connector-pipelines mapping check`
runs it for a tenant's ERP (exit 3 when rows fail)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector_pipelines.cli import main
from connector_pipelines.clients.logo import LogoClient
from connector_pipelines.sandbox.logo import LogoEmulator, LogoSettings
from connector_pipelines.sources.erp_gateway.check import check_mapping
from connector_pipelines.sources.erp_gateway.logo import LogoConnector
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines.tenants.systems import ErpFieldMapping


@pytest.fixture
def logo() -> Iterator[tuple[LogoEmulator, str]]:
    emulator = LogoEmulator(LogoSettings(sql_enabled=False), items=8)
    with emulator.serve() as server:
        yield emulator, server.base_url


def test_a_read_the_erp_cannot_serve_is_reported(logo: tuple[LogoEmulator, str]) -> None:
    emulator, url = logo
    s = emulator.settings
    mapping = ErpFieldMapping.model_validate({"items": {"barcode": "NO_SUCH_FIELD"}})
    with LogoClient(url, s.username, s.password, firm=s.firm, client_secret=s.client_secret) as client:
        report = check_mapping(LogoConnector(client, mapping=mapping), "0", "WEB", limit=2)
    items, stock, prices = report.kinds
    assert (items.rows, items.mapped, items.errors, items.missing_sources) == (8, 8, 0, ["NO_SUCH_FIELD"])
    assert [sample["sku"] for sample in items.samples] == ["M01.000001", "M01.000002"]
    assert stock.unavailable is not None and "SQL query route is switched off" in stock.unavailable
    assert prices.unavailable is not None and report.error_count == 0


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    return CliRunner()


def test_mapping_check_of_a_tenants_csv_files(
    cli: CliRunner, registry: TenantRegistry, tmp_path: Path
) -> None:
    (tmp_path / "stock.csv").write_text("sku,stock,price\nA-1,3,9.5\nA-2,drei,1\n", encoding="utf-8")
    settings = {
        "warehouse_code": "main",
        "price_list_code": "web",
        "stock": {"kind": "local", "root": str(tmp_path), "path": "stock.csv"},
        "mapping": {"items": {"name": {"source": "title", "transforms": ["required"]}}},
    }
    registry.add("acme", "", ["erp_files_shopify"], settings={"erp_csv": settings})
    result = cli.invoke(main, ["mapping", "check", "acme"])
    assert result.exit_code == 3, result.output
    lines = result.output.splitlines()
    assert lines[0] == "acme: erp_csv (warehouse main, price list web): 3 row error(s)"
    assert "  item: 2 rows -> 0 mapped, 2 row error(s)" in lines
    assert "  stock: 2 rows -> 1 mapped, 1 row error(s)" in lines
    assert "    fields of the mapping that no row has: title, vat_rate, barcode, unit" in lines
    assert (
        "  stock.csv:3: stock 'A-2': on_hand (from stock): unparsable number 'drei' (decimal separator '.')"
        in lines
    )
    assert "  stock.csv:2: item 'A-1': name (from title): required value missing" in lines
    report = json.loads(
        cli.invoke(main, ["mapping", "check", "acme", "--system", "erp_csv", "--json"]).output
    )
    assert [k["kind"] for k in report["kinds"]] == ["item", "stock", "price"]
    assert report["kinds"][2]["samples"] == [
        {"sku": "A-1", "price_list_code": "web", "price": "9.5", "currency": "TRY", "includes_vat": True},
        {"sku": "A-2", "price_list_code": "web", "price": "1", "currency": "TRY", "includes_vat": True},
    ]
    wrong = cli.invoke(main, ["mapping", "check", "acme", "--system", "erp_csv", "--file", "x.csv"])
    assert wrong.exit_code == 2 and "--file applies to the erp_files mapping only" in wrong.output
    unknown = cli.invoke(main, ["mapping", "check", "acme", "--system", "sap"])
    assert unknown.exit_code == 2 and "'sap' is not an ERP of the gateway" in unknown.output

"""The generic CSV connector: stock and price files in a folder and on the sandbox FTP and SFTP servers, read
through the field mapping (the default columns, or a tenant's with the seed transformations); bad rows are
row errors naming SKU, field and row, the rest goes through; it cannot take orders, which it says as a
missing capability."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector_pipelines.sandbox.file_servers import FtpSandbox, SftpSandbox
from connector_pipelines.sources.erp_gateway.connector import (
    Capability,
    ErpConnector,
    ErpItem,
    ErpRowError,
    PriceEntry,
    StockLevel,
)
from connector_pipelines.sources.erp_gateway.csv import CsvConnector
from connector_pipelines.tenants.systems import ErpCsvSettings, ErpFilesCredentials, ErpFilesSettings

TODAY = date(2026, 7, 25)
STOCK = "sku,name,stock,reserved\nA-1,Havlu,12,2\nA-2,Bardak,0,\n A-3 ,Tabak,7.5,1\n"
PRICES = (
    "sku,price,currency,valid_from,valid_to\n"
    "A-1,10.50,,2026-01-01,\n"
    "A-1,9.90,,2026-07-01,2026-07-31\n"
    "A-2,99,EUR,,\n"
    "A-3,5,,2026-08-01,\n"
)


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def local(folder: Path, **values: Any) -> ErpCsvSettings:
    stock = values.pop("stock", {"kind": "local", "root": str(folder), "path": "stock.csv"})
    return ErpCsvSettings.model_validate(
        {"warehouse_code": "main", "price_list_code": "web", "prices_file": "prices.csv", "stock": stock}
        | values
    )


def connect(settings: ErpCsvSettings, credentials: ErpFilesCredentials | None = None) -> CsvConnector:
    return CsvConnector(settings, credentials, today=lambda: TODAY)


def split(found: Iterable[Any]) -> tuple[list[Any], list[ErpRowError]]:
    rows = list(found)
    return [r for r in rows if not isinstance(r, ErpRowError)], [
        r for r in rows if isinstance(r, ErpRowError)
    ]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(tmp_path / "erp", {"stock.csv": STOCK, "prices.csv": PRICES})


def test_stock_prices_and_items_from_a_folder(folder: Path) -> None:
    with connect(local(folder)) as connector:
        stock, problems = split(connector.stock("main"))
        assert problems == []
        assert stock == [
            StockLevel(sku="A-1", warehouse_code="main", on_hand=Decimal(12), reserved=Decimal(2)),
            StockLevel(sku="A-2", warehouse_code="main", on_hand=Decimal(0)),
            StockLevel(sku="A-3", warehouse_code="main", on_hand=Decimal("7.5"), reserved=Decimal(1)),
        ]
        prices, problems = split(connector.prices("web"))
        assert problems == []
        # The July price overrides January's today; A-3's price starts in August.
        assert {(p.sku, p.price, p.currency, p.includes_vat) for p in prices} == {
            ("A-1", Decimal("9.90"), "TRY", True),
            ("A-2", Decimal(99), "EUR", True),
        }
        items, _ = split(connector.items())
        assert [(i.sku, i.name) for i in items] == [("A-1", "Havlu"), ("A-2", "Bardak"), ("A-3", "Tabak")]


def test_it_cannot_take_orders_and_says_so(folder: Path) -> None:
    connector: ErpConnector = connect(local(folder))
    assert connector.orders is None
    assert connector.capabilities == {Capability.ITEMS, Capability.STOCK, Capability.PRICES}
    reason = connector.lacks(Capability.ORDERS)
    assert reason is not None and "cannot take orders" in reason and "order flow is skipped" in reason
    assert connector.lacks(Capability.STOCK) is None
    report = connector.test_connection()
    assert report.startswith(f"local://{folder}: stock file stock.csv, {len(STOCK)} bytes, modified ")
    assert "prices file prices.csv" in report and "cannot take orders" in report
    connector.close()


def test_bad_rows_are_row_errors_naming_sku_field_and_row(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "stock.csv": "sku,stock\nA-1,12\nA-2,zwölf\n,3\nA-4,1,extra\nA-5,4\n",
            "prices.csv": "sku,price,includes_vat\nA-1,-1,\nA-2,1.5,vielleicht\nA-5,2,no\n",
        },
    )
    with connect(local(folder)) as connector:
        stock, problems = split(connector.stock("main"))
        assert [s.sku for s in stock] == ["A-1", "A-5"]
        assert [str(p) for p in problems] == [
            "stock.csv:3: stock 'A-2': on_hand (from stock): "
            "unparsable number 'zwölf' (decimal separator '.')",
            "stock.csv:4: stock: sku (from sku): required value missing",
            "stock.csv:5: stock: #3: 3 fields where the header has 2",
        ]
        assert problems[0].key == "stock:A-2" and problems[0].payload == {"sku": "A-2", "stock": "zwölf"}
        assert problems[1].key == "stock@stock.csv:4"
        prices, problems = split(connector.prices("web"))
        assert [(p.sku, p.includes_vat) for p in prices] == [("A-5", False)]
        assert [(p.sku, p.field, p.row) for p in problems] == [
            ("A-1", "price (from price)", "prices.csv:2"),
            ("A-2", "includes_vat (from includes_vat)", "prices.csv:3"),
        ]
        assert "greater than or equal to 0" in problems[0].reason
        assert problems[1].reason == "expected true or false, got 'vielleicht'"


def test_a_tenants_mapping_with_the_seed_transformations(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "stok.csv": (
                "STOK_KODU;DEPO;MIKTAR;FIYAT;KDV_DAHIL\n"
                "A-1;1;1.234,5;10,50;E\n"
                "A-1;2;7;10,50;E\n"
                "A-2;1;;20;H\n"
                "A-3;1;3;;E\n"
            )
        },
    )
    settings = local(
        folder,
        prices_file=None,
        warehouse_code="1",
        stock={"kind": "local", "root": str(folder), "path": "stok.csv", "csv": {"delimiter": ";"}},
        mapping={
            "decimal_separator": ",",
            "stock": {
                "sku": {"source": "STOK_KODU", "transforms": ["trim", "required"]},
                "on_hand": {"source": "MIKTAR", "transforms": [{"defaultValue": "0"}, "parseFloat"]},
                "warehouse_code": "DEPO",
            },
            "prices": {
                "sku": "STOK_KODU",
                "price": {"source": "FIYAT", "transforms": ["required", "parseFloat"]},
                "includes_vat": {"source": "KDV_DAHIL", "transforms": [{"map": {"E": "true", "H": "false"}}]},
            },
        },
    )
    with connect(settings) as connector:
        stock, problems = split(connector.stock("1"))
        assert problems == []
        assert [(s.sku, s.on_hand) for s in stock] == [("A-1", Decimal("1234.5")), ("A-2", 0), ("A-3", 3)]
        assert [s.on_hand for s in split(connector.stock("2"))[0]] == [7], "rows of other warehouses left out"
        prices, problems = split(connector.prices("web"))
        assert [(p.sku, p.price, p.includes_vat) for p in prices] == [
            ("A-1", Decimal("10.50"), True),
            ("A-2", Decimal(20), False),
        ]
        assert [str(p) for p in problems] == [
            "stok.csv:5: price 'A-3': price (from FIYAT): required value missing"
        ]


def test_a_file_not_modified_since_the_cursor_has_nothing_new(folder: Path) -> None:
    modified = datetime(2026, 7, 25, 10, 0, tzinfo=UTC)
    os.utime(folder / "stock.csv", (modified.timestamp(), modified.timestamp()))
    with connect(local(folder)) as connector:
        assert list(connector.stock("main", since=datetime(2026, 7, 25, 11, 0, tzinfo=UTC))) == []
        assert len(list(connector.stock("main", since=datetime(2026, 7, 25, 9, 0)))) == 3, "naive: UTC"
        assert len(list(connector.stock("main"))) == 3


def test_the_newest_file_of_a_pattern_is_read(folder: Path) -> None:
    write(folder, {"stock_20260724.csv": "sku,stock\nA-1,1\n", "stock_20260725.csv": "sku,stock\nA-1,2\n"})
    stock = {"kind": "local", "root": str(folder), "pattern": "stock_*.csv", "newest_by": "name"}
    with connect(local(folder, stock=stock)) as connector:
        assert [s.on_hand for s in split(connector.stock("main"))[0]] == [2]


@pytest.fixture(params=["sftp", "ftp"])
def served(
    request: pytest.FixtureRequest, folder: Path
) -> Iterator[tuple[ErpFilesSettings, ErpFilesCredentials]]:
    if request.param == "sftp":
        with SftpSandbox(folder) as sftp:
            yield sftp.settings(path="stock.csv"), sftp.credentials()
    else:
        with FtpSandbox(folder) as ftp:
            yield ftp.settings(path="stock.csv"), ftp.credentials()


def test_stock_and_prices_over_the_sandbox_file_servers(
    served: tuple[ErpFilesSettings, ErpFilesCredentials], folder: Path
) -> None:
    files, credentials = served
    with connect(local(folder, stock=files.model_dump()), credentials) as connector:
        assert connector.test_connection().startswith(f"{files.kind}://")
        stock, problems = split(connector.stock("main"))
        assert problems == [] and [s.sku for s in stock] == ["A-1", "A-2", "A-3"]
        assert all(isinstance(s, StockLevel) for s in stock)
        prices, _ = split(connector.prices("web"))
        assert {p.sku for p in prices} == {"A-1", "A-2"} and all(isinstance(p, PriceEntry) for p in prices)
        items, _ = split(connector.items())
        assert all(isinstance(i, ErpItem) for i in items) and len(items) == 3


def test_settings_name_files_below_the_root() -> None:
    stock = {"kind": "local", "root": "/data", "path": "stock.csv"}
    base = {"warehouse_code": "main", "price_list_code": "web", "stock": stock}
    with pytest.raises(ValueError, match=r"must not contain '\.\.'"):
        ErpCsvSettings.model_validate(base | {"prices_file": "../prices.csv"})
    with pytest.raises(ValueError, match="wildcards only in the file name"):
        ErpCsvSettings.model_validate(base | {"prices_file": "*/prices.csv"})
    with pytest.raises(ValueError, match="mapped by `mapping`"):
        ErpCsvSettings.model_validate(base | {"stock": stock | {"mapping_file": "m.yaml"}})
    settings = ErpCsvSettings.model_validate(base | {"prices_file": "out/prices_*.csv"})
    assert (settings.file_settings("prices").pattern, settings.file_settings("prices").path) == (
        "out/prices_*.csv",
        None,
    )
    assert settings.file_settings("items") == settings.stock

"""The field mapping of the gateway's reads: a connector's rules with the tenant's over them, the seed's
transformation names, values converted per field (numbers, booleans, dates), and every failure a row error
naming kind, SKU, field and row."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from connector_pipelines.sources.erp_gateway.connector import ErpItem, ErpRowError, PriceEntry, StockLevel
from connector_pipelines.sources.erp_gateway.fields import RawRow, RecordMapper
from connector_pipelines.tenants.systems import ErpFieldMapping

BASE = ErpFieldMapping.model_validate(
    {
        "items": {"sku": {"source": "CODE", "transforms": ["trim"]}, "name": "NAME", "active": "ACTIVE"},
        "stock": {"sku": "CODE", "on_hand": "ONHAND"},
        "prices": {
            "sku": "CODE",
            "price": "PRICE",
            "currency": {"source": "CUR", "transforms": [{"default": "TRY"}]},
            "includes_vat": {"transforms": [{"default": "true"}]},
            "valid_from": "FROM",
        },
    }
)


def row(n: int, **data: object) -> RawRow:
    return RawRow(f"rows #{n}", data)  # type: ignore[arg-type]


def test_the_tenants_rules_replace_the_connectors_field_by_field() -> None:
    tenant = ErpFieldMapping.model_validate(
        {"items": {"name": {"source": "NAME2", "transforms": ["trim", {"defaultValue": "(unnamed)"}]}}}
    )
    mapper = RecordMapper(BASE, tenant)
    modified = datetime(2026, 7, 1, 9, 30)
    rows = [
        RawRow("rows #1", {"CODE": " A-1\t", "NAME": "x", "NAME2": " Havlu ", "ACTIVE": "0"}, modified),
        row(2, CODE="A-2", NAME2=""),
    ]
    assert list(mapper.items(rows)) == [
        ErpItem(sku="A-1", name="Havlu", active=False, modified_at=modified),
        ErpItem(sku="A-2", name="(unnamed)"),
    ]
    assert mapper.sources("item") == ["CODE", "NAME2", "ACTIVE"]


def test_the_seed_transformations_are_spelled_as_the_seed_spelled_them() -> None:
    tenant = ErpFieldMapping.model_validate(
        {
            "decimal_separator": ",",
            "stock": {
                "on_hand": {"source": "QTY", "transforms": ["required", "parseInt"]},
                "reserved": {"source": "RES", "transforms": [{"defaultValue": "0"}, "parseFloat"]},
            },
        }
    )
    rule = tenant.stock["on_hand"]
    assert [op.op for op in rule.transforms] == ["required", "integer"]
    mapper = RecordMapper(BASE, tenant)
    found = list(mapper.stock([row(1, CODE="A", QTY="1.200", RES=""), row(2, CODE="B", QTY="2,5")], "1"))
    assert found[0] == StockLevel(sku="A", warehouse_code="1", on_hand=Decimal(1200), reserved=Decimal(0))
    assert isinstance(found[1], ErpRowError)
    assert str(found[1]) == "rows #2: stock 'B': on_hand (from QTY): '2,5' is not a whole number"
    with pytest.raises(ValidationError, match="parseDate"):
        ErpFieldMapping.model_validate({"items": {"name": {"source": "N", "transforms": ["parseDate"]}}})
    with pytest.raises(ValidationError, match=r"items\.colour"):
        ErpFieldMapping.model_validate({"items": {"colour": "C"}})


def test_values_are_converted_per_field_and_failures_name_sku_field_and_row() -> None:
    mapper = RecordMapper(BASE)
    rows = [
        row(1, CODE="A", PRICE=12.5, FROM="2026-07-01T00:00:00"),
        row(2, CODE="B", PRICE="7", CUR="eur", FROM="01.08.2026"),
        row(3, CODE="C", PRICE="-3"),
        row(4, CODE="D", PRICE="12,5"),
        row(5, CODE="E", PRICE="1", FROM="yesterday"),
        row(6, PRICE="1"),
        row(7, CODE="G", PRICE=None),
    ]
    found = list(mapper.prices(rows, "WEB"))
    assert found[:2] == [
        PriceEntry(
            sku="A",
            price_list_code="WEB",
            price=Decimal("12.5"),
            currency="TRY",
            includes_vat=True,
            valid_from=date(2026, 7, 1),
        ),
        PriceEntry(
            sku="B",
            price_list_code="WEB",
            price=Decimal(7),
            currency="EUR",
            includes_vat=True,
            valid_from=date(2026, 8, 1),
        ),
    ]
    problems = [(e.sku, e.field, e.row, e.reason) for e in found[2:] if isinstance(e, ErpRowError)]
    assert problems == [
        ("C", "price (from PRICE)", "rows #3", "Input should be greater than or equal to 0"),
        ("D", "price (from PRICE)", "rows #4", "unparsable number '12,5' (decimal separator '.')"),
        ("E", "valid_from (from FROM)", "rows #5", "not a date: 'yesterday' (YYYY-MM-DD or DD.MM.YYYY)"),
        (None, "sku (from CODE)", "rows #6", "required value missing"),
        ("G", "price (from PRICE)", "rows #7", "required value missing"),
    ]
    assert found[2].payload == {"CODE": "C", "PRICE": "-3"}  # type: ignore[union-attr]


def test_rows_of_other_warehouses_are_left_out_and_a_row_naming_none_is_the_one_asked_for() -> None:
    tenant = ErpFieldMapping.model_validate({"stock": {"warehouse_code": "DEPOT"}})
    mapper = RecordMapper(BASE, tenant)
    rows = [
        row(1, CODE="A", ONHAND=1, DEPOT="1"),
        row(2, CODE="A", ONHAND=2, DEPOT="2"),
        row(3, CODE="B", ONHAND=3),
        row(4, CODE="C", ONHAND="broken", DEPOT="1"),
    ]
    found = list(mapper.stock(rows, "2"))
    assert all(isinstance(s, StockLevel) for s in found), "another warehouse's bad row is no error here"
    assert [(s.sku, int(s.on_hand)) for s in found if isinstance(s, StockLevel)] == [("A", 2), ("B", 3)]


def test_a_read_error_passes_through_and_required_fields_must_be_mapped() -> None:
    mapper = RecordMapper(BASE)
    broken = ErpRowError(kind="stock", sku=None, field="row", row="stock.csv:9", reason="malformed CSV")
    assert next(mapper.stock([broken, row(1, CODE="A", ONHAND=1)], "1")) is broken
    with pytest.raises(ValueError, match="the prices mapping must map price, currency, includes_vat"):
        RecordMapper(
            ErpFieldMapping.model_validate(
                {"items": {"sku": "CODE"}, "stock": {"sku": "C", "on_hand": "Q"}, "prices": {"sku": "C"}}
            )
        )

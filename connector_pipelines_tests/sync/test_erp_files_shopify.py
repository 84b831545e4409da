"""The bookkeeping of one read of an ERP file (pure): row errors, held-back products, deletions, coverage."""

from __future__ import annotations

from decimal import Decimal

from connector_pipelines.catalog.models import Price, Product, Texts, Variant
from connector_pipelines.sources.erp_files import RowError
from connector_pipelines.sync.erp_files_shopify import Coverage, _FileRead, _row_error_records


def _product(parent: str, *, title: str = "Tee", price: bool = True) -> Product:
    prices = (Price(currency="EUR", gross=Decimal("9.90")),) if price else ()
    return Product(
        key=f"erp_files:product:{parent}",
        texts={"en": Texts(name=title)},
        variants=(Variant(key=f"erp_files:variant:{parent}-1", sku=f"{parent}-1", prices=prices),),
    )


def test_errors_of_one_cell_become_one_record_error() -> None:
    errors = [
        RowError("p.csv", 3, "price", "not a number", "erp_files:product:A"),
        RowError("p.csv", 3, "price", "required value missing", "erp_files:product:A"),
        RowError("p.csv", 4, "", "3 fields where the header has 4"),
    ]
    records = _row_error_records(errors)
    assert [(key, reason) for key, reason, _ in records] == [
        ("p.csv:3 price", "p.csv:3: price: not a number; required value missing"),
        ("p.csv:4", "p.csv:4: 3 fields where the header has 4"),
    ]
    assert records[0][2] == {
        "file": "p.csv",
        "line": 3,
        "column": "price",
        "reason": "not a number",
        "product": "erp_files:product:A",
    }


def test_a_product_with_a_bad_row_keeps_its_last_good_version() -> None:
    read = _FileRead(previous=frozenset({"erp_files:product:A", "erp_files:product:GONE"}))
    items: list[Product | RowError] = [
        RowError("p.csv", 2, "price", "bad", "erp_files:product:A"),
        _product("A"),  # published before: held back
        RowError("p.csv", 3, "price", "bad", "erp_files:product:B"),
        _product("B"),  # new: goes out with its good variants
        _product("C"),
    ]
    assert [p.key for p in read.products(items)] == ["erp_files:product:B", "erp_files:product:C"]
    assert read.held_back == ["erp_files:product:A"] and read.error_count == 2
    assert read.unreadable() == {"erp_files:product:A", "erp_files:product:B"}, "GONE may be deleted"


def test_a_row_without_product_key_holds_every_deletion_back() -> None:
    read = _FileRead(previous=frozenset({"erp_files:product:GONE"}))
    list(read.products([RowError("p.csv", 9, "", "malformed CSV"), _product("C")]))
    assert read.unreadable() == {"erp_files:product:GONE"}


def test_coverage_counts_products_missing_required_fields() -> None:
    coverage = Coverage()
    coverage.add_product(_product("A"))
    coverage.add_product(_product("B", title=" ", price=False))
    coverage.add_payload(
        "erp_files:product:C", {"texts": {"en": {"name": "Mug"}}, "variants": [{"sku": "", "prices": []}]}
    )
    assert coverage.products == 3 and not coverage.complete
    assert coverage.missing == {"title": 1, "variant.sku": 1, "variant.price": 2}
    assert coverage.examples["variant.price"] == ["erp_files:product:B", "erp_files:product:C"]

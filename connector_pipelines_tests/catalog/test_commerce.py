from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from connector_pipelines.catalog.commerce import Order, OrderLine, ProductRecord, VariantRecord
from connector_pipelines_tests.store.ingestion.records import T0, customer, order, product


def test_an_order_is_processed_when_created_unless_told() -> None:
    assert order(1).processed_at == T0
    later = order(1).model_copy(update={"processed_at": None}).model_dump()
    assert Order.model_validate(later).processed_at == T0


def test_keys_name_the_source_record() -> None:
    assert order(7).key == "shopify:order:7"
    assert product(3).key == "shopify:product:3"
    assert customer(5).key == "shopify:customer:5"


def test_a_child_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"order 1 lists line id\(s\) \[11\] more than once"):
        order(1, lines=(11, 12, 11))
    with pytest.raises(ValidationError, match=r"product 2 lists variant id\(s\) \[21\] more than once"):
        product(2, variants=(21, 21))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "euro"}, "currency"),
        ({"updated_at": datetime(2026, 3, 1)}, "updated_at"),
        ({"id": 0}, "id"),
        ({"total_price": Decimal("-1")}, "total_price"),
        ({"total_price": Decimal("1e15")}, "total_price"),
        ({"id": 2**63}, "id"),
    ],
)
def test_bad_orders_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Order.model_validate({**order(1).model_dump(), **change})


def test_records_are_immutable_and_strict() -> None:
    with pytest.raises(ValidationError):
        order(1).model_copy().__setattr__("name", "#2")
    with pytest.raises(ValidationError, match="colour"):
        VariantRecord.model_validate({"id": 1, "price": "1.00", "colour": "red"})
    with pytest.raises(ValidationError, match="quantity"):
        OrderLine(id=1, title="x", quantity=-1, unit_price=Decimal(1))
    assert ProductRecord.model_validate(product(1).model_dump()) == product(1)

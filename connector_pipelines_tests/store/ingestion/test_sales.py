from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from connector_pipelines.catalog.commerce import Deletion
from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.store.ingestion.sales import COLUMNS, daily_sales
from connector_pipelines_tests.store.ingestion.records import order


def _day(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def sales_fixture(repo: IngestionRepository) -> IngestionRepository:
    repo.upsert_orders(
        "acme",
        [
            order(1, customer_id=1, total="100.00", sold=_day(1)),
            order(2, customer_id=2, total="50.00", sold=_day(1)),
            order(3, customer_id=None, total="30.00", sold=_day(1)),
            order(4, customer_id=3, total="20.00", currency="USD", sold=_day(1)),
            order(5, customer_id=1, total="999.00", sold=_day(1), cancelled=True),
            order(6, customer_id=1, total="40.00", sold=_day(2)),
            order(7, customer_id=4, total="60.00", sold=_day(2)),
            order(8, customer_id=3, total="10.00", sold=_day(2)),
            order(9, customer_id=5, total="70.00", sold=_day(2), test=True),
            order(10, customer_id=6, total="80.00", sold=_day(2)),
            order(11, customer_id=6, total="15.00", currency="USD", sold=_day(3)),
            order(12, customer_id=2, total="35.00", currency="USD", sold=_day(3, 23, 30)),
        ],
    )
    repo.delete("acme", "orders", [Deletion(id=10, deleted_at=_day(4))])
    repo.upsert_orders("globex", [order(1, customer_id=1, total="5000.00", sold=_day(1))])
    return repo


def _rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(row) for row in frame.itertuples(index=False)]


def test_daily_sales_per_day_and_currency(sales_fixture: IngestionRepository) -> None:
    frame = daily_sales(sales_fixture, "acme", chunk_rows=2)
    assert tuple(frame.columns) == COLUMNS
    # day, currency, orders, revenue, average order value, new, returning, guest orders
    assert _rows(frame) == [
        (date(2026, 3, 1), "EUR", 3, 180.0, 60.0, 2, 0, 1),
        (date(2026, 3, 1), "USD", 1, 20.0, 20.0, 1, 0, 0),
        (date(2026, 3, 2), "EUR", 3, 110.0, 36.6667, 1, 2, 0),
        (date(2026, 3, 3), "USD", 2, 50.0, 25.0, 1, 1, 0),
    ]


def test_daily_sales_days_are_the_shops_days(sales_fixture: IngestionRepository) -> None:
    frame = daily_sales(sales_fixture.db, "acme", timezone="Europe/Berlin")
    usd = [row for row in _rows(frame) if row[1] == "USD"]
    assert usd == [
        (date(2026, 3, 1), "USD", 1, 20.0, 20.0, 1, 0, 0),
        (date(2026, 3, 3), "USD", 1, 15.0, 15.0, 1, 0, 0),
        (date(2026, 3, 4), "USD", 1, 35.0, 35.0, 0, 1, 0),
    ]


def test_daily_sales_of_a_tenant_without_orders(ingestion_db: IngestionDatabase) -> None:
    frame = daily_sales(ingestion_db.engine, "nobody")
    assert tuple(frame.columns) == COLUMNS
    assert frame.empty
    assert str(frame["orders"].dtype) == "int64"

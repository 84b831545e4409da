"""Daily sales per currency from the ingested orders, computed with pandas."""

from __future__ import annotations

from typing import Final

import pandas as pd
from sqlalchemy import Engine, false, or_, select

from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.models import Order, table_of
from connector_pipelines.store.ingestion.repository import IngestionRepository

COLUMNS: Final = (
    "day",
    "currency",
    "orders",
    "revenue",
    "average_order_value",
    "new_customers",
    "returning_customers",
    "guest_orders",
)
READ_CHUNK = 50_000
_ORDERS = table_of(Order)


def daily_sales(
    source: IngestionRepository | IngestionDatabase | Engine,
    tenant: str,
    *,
    timezone: str = "UTC",
    chunk_rows: int = READ_CHUNK,
) -> pd.DataFrame:
    """One row per day and currency, oldest first: ``orders``, ``revenue`` (sum of order totals),
    ``average_order_value``, ``new_customers`` (customers whose first order was that day),
    ``returning_customers`` (customers who had ordered on an earlier day) and ``guest_orders`` (orders
    without a customer).

    An order counts on the day it was processed (``processed_at``: the sale) in ``timezone``; cancelled,
    deleted and test orders do not count, neither for the sales nor for a customer's first order day. Money
    is a float rounded to four places (the stored scale). The orders are read ``chunk_rows`` at a time;
    what is kept between chunks is one row per day and currency, and per customer and day.
    """
    engine = source.db.engine if isinstance(source, IngestionRepository) else _engine(source)
    o = _ORDERS.c
    query = select(o.customer_id, o.currency, o.total_price, o.processed_at).where(
        o.tenant == tenant,
        o.created_at.is_not(None),
        o.deleted_at.is_(None),
        o.cancelled_at.is_(None),
        or_(o.test.is_(None), o.test == false()),
    )
    totals: list[pd.DataFrame] = []
    visits: list[pd.DataFrame] = []
    with engine.connect() as conn:
        for chunk in pd.read_sql(query, conn, chunksize=chunk_rows, coerce_float=True):
            chunk["day"] = pd.to_datetime(chunk["processed_at"], utc=True).dt.tz_convert(timezone).dt.date
            chunk["total_price"] = chunk["total_price"].astype("float64")
            chunk["guest"] = chunk["customer_id"].isna()
            totals.append(
                chunk.groupby(["day", "currency"], as_index=False).agg(
                    orders=("total_price", "size"),
                    revenue=("total_price", "sum"),
                    guest_orders=("guest", "sum"),
                )
            )
            visits.append(chunk.loc[~chunk["guest"], ["day", "currency", "customer_id"]].drop_duplicates())
    if not totals:
        return _empty()
    sales = pd.concat(totals).groupby(["day", "currency"], as_index=False).sum()
    customers = pd.concat(visits).drop_duplicates()
    first_day = customers.groupby("customer_id")["day"].min().rename("first_day")
    customers = customers.join(first_day, on="customer_id")
    customers["new"] = customers["day"] == customers["first_day"]
    kinds = customers.groupby(["day", "currency"], as_index=False).agg(
        new_customers=("new", "sum"), returning_customers=("new", lambda new: int((~new).sum()))
    )
    sales = sales.merge(kinds, on=["day", "currency"], how="left")
    sales[["new_customers", "returning_customers"]] = (
        sales[["new_customers", "returning_customers"]].fillna(0).astype("int64")
    )
    sales["orders"] = sales["orders"].astype("int64")
    sales["guest_orders"] = sales["guest_orders"].astype("int64")
    sales["average_order_value"] = (sales["revenue"] / sales["orders"]).round(4)
    sales["revenue"] = sales["revenue"].round(4)
    return sales.sort_values(["day", "currency"]).reset_index(drop=True)[list(COLUMNS)]


def _engine(source: IngestionDatabase | Engine) -> Engine:
    return source.engine if isinstance(source, IngestionDatabase) else source


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": pd.Series(dtype="object"),
            "currency": pd.Series(dtype="str"),
            "orders": pd.Series(dtype="int64"),
            "revenue": pd.Series(dtype="float64"),
            "average_order_value": pd.Series(dtype="float64"),
            "new_customers": pd.Series(dtype="int64"),
            "returning_customers": pd.Series(dtype="int64"),
            "guest_orders": pd.Series(dtype="int64"),
        }
    )

"""Daily sales per currency from the ingested orders, computed with pandas (imported by the functions that
compute: the step module imports this one, and the code location must not pay for pandas)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, false, or_, select

from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.models import Order, table_of
from connector_pipelines.store.ingestion.repository import IngestionRepository

if TYPE_CHECKING:
    import pandas as pd

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
SHOWN_DAYS = 30
Row = dict[str, str | int]
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
    import pandas as pd

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
    import pandas as pd

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


class SalesSnapshot(BaseModel):
    """The last computed figures and the state of the orders table they were computed from."""

    fingerprint: str
    days: int
    orders: int
    totals: dict[str, Row]
    daily_sales: list[Row]  # the newest days, newest first


def _row(values: Mapping[Hashable, object]) -> Row:
    """A row of the sales table, money with two decimals."""
    return {
        "day": str(values["day"]),
        "currency": str(values["currency"]),
        "orders": int(str(values["orders"])),
        "revenue": f"{float(str(values['revenue'])):.2f}",
        "average_order_value": f"{float(str(values['average_order_value'])):.2f}",
        "new_customers": int(str(values["new_customers"])),
        "returning_customers": int(str(values["returning_customers"])),
        "guest_orders": int(str(values["guest_orders"])),
    }


def summarize(table: pd.DataFrame, fingerprint: str, shown_days: int = SHOWN_DAYS) -> SalesSnapshot:
    """The sales table as figures to show: totals per currency, and the newest ``shown_days`` days."""
    totals: dict[str, Row] = {}
    for currency, rows in table.groupby("currency"):
        orders = int(rows["orders"].sum())
        revenue = float(rows["revenue"].sum())
        totals[str(currency)] = {
            "orders": orders,
            "revenue": f"{revenue:.2f}",
            "average_order_value": f"{revenue / orders:.2f}" if orders else "0.00",
        }
    days = sorted({str(day) for day in table["day"]}, reverse=True)
    newest = set(days[:shown_days])
    shown = [_row(record) for record in table.to_dict("records") if str(record["day"]) in newest]
    return SalesSnapshot(
        fingerprint=fingerprint,
        days=len(days),
        orders=int(table["orders"].sum()) if len(table) else 0,
        totals=totals,
        daily_sales=sorted(shown, key=lambda r: (str(r["day"]), str(r["currency"])), reverse=True),
    )


def sales_snapshot(url: str, tenant: str, fingerprint: str, shown_days: int = SHOWN_DAYS) -> SalesSnapshot:
    """The figures of ``tenant`` from the tables at ``url`` (what the step's child process runs)."""
    engine = create_engine(url)
    try:
        return summarize(daily_sales(engine, tenant), fingerprint, shown_days)
    finally:
        engine.dispose()

"""The ``shopify_daily_sales`` step: the tenant's daily sales per day (UTC) and currency, computed with pandas
from its orders table (``store/ingestion/sales.py``: orders, revenue, average order value, new and returning
customers, guest orders), shown as a table in the materialization's metadata.

The figures are computed again only when the orders table changed since they were last computed (a
fingerprint of its rows: how many, the newest update, the newest write); otherwise the last figures, kept in
the connector database, are shown again. A run that wrote no order so costs one aggregate query.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import func, select

from connector_pipelines.store.ingestion import models
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.sync.runtime import Step, StepContext, StepReport
from connector_pipelines.sync.shopify_ingestion import ingestion_repository

# pandas (about 50 MB) is imported when sales are computed, not with the code location.
if TYPE_CHECKING:
    import pandas as pd

SHOWN_DAYS = 30
SALES_CURSOR = "daily_sales"
Row = dict[str, str | int]


class SalesSnapshot(BaseModel):
    """The last computed figures and the state of the orders table they were computed from."""

    fingerprint: str
    days: int
    orders: int
    totals: dict[str, Row]
    daily_sales: list[Row]  # the newest days, newest first


def orders_fingerprint(repo: IngestionRepository, tenant: str) -> str:
    """Changes with any write to the tenant's orders (rows, their newest update, their newest write)."""
    orders = models.table_of(models.Order)
    query = select(func.count(), func.max(orders.c.updated_at), func.max(orders.c.synced_at)).where(
        orders.c.tenant == tenant
    )
    with repo.db.engine.connect() as conn:
        count, updated, synced = conn.execute(query).one()
    return f"{count}|{updated}|{synced}"


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


def markdown(snapshot: SalesSnapshot) -> str:
    """The shown days as a markdown table (what the UI renders for the materialization)."""
    if not snapshot.daily_sales:
        return "_no sales yet_"
    columns = list(snapshot.daily_sales[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in snapshot.daily_sales]
    return "\n".join(lines)


def sales_step(ctx: StepContext) -> StepReport:
    """The tenant's daily sales, in any mode (the step writes no table); computed again only when its
    orders changed."""
    repo = ingestion_repository()
    with Step(ctx.store, ctx.mode, "shopify:daily_sales", ctx.run_id) as report:
        fingerprint = orders_fingerprint(repo, ctx.tenant)
        raw = ctx.store.get_cursor(SALES_CURSOR)
        snapshot = SalesSnapshot.model_validate_json(raw) if raw else None
        recomputed = snapshot is None or snapshot.fingerprint != fingerprint
        if snapshot is None or recomputed:
            from connector_pipelines.store.ingestion.sales import daily_sales

            snapshot = summarize(daily_sales(repo, ctx.tenant), fingerprint)
            ctx.store.set_cursor(SALES_CURSOR, snapshot.model_dump_json())
        report.counts = {"days": snapshot.days, "orders": snapshot.orders}
        report.extra.update(recomputed=recomputed, totals=snapshot.totals, daily_sales=snapshot.daily_sales)
        report.preview = markdown(snapshot)
    return report

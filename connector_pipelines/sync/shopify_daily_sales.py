"""The ``shopify_daily_sales`` step: the tenant's daily sales per day (UTC) and currency, computed with pandas
from its orders table (``store/ingestion/sales.py``: orders, revenue, average order value, new and returning
customers, guest orders), shown as a table in the materialization's metadata.

pandas runs in a child process of its own: with numpy it weighs about 60 MB, which the run's process (that
may have just streamed half a million rows within its memory bound) never takes on.

The figures are computed again only when the orders table changed since they were last computed (a
fingerprint of its rows: how many, the newest update, the newest write); otherwise the last figures, kept in
the connector database, are shown again. A run that wrote no order so costs one aggregate query.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import func, select

from connector_pipelines.store.ingestion import models
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.store.ingestion.sales import SalesSnapshot, sales_snapshot
from connector_pipelines.sync.runtime import Step, StepContext, StepReport
from connector_pipelines.sync.shopify_ingestion import ingestion_repository

SALES_CURSOR = "daily_sales"


def orders_fingerprint(repo: IngestionRepository, tenant: str) -> str:
    """Changes with any write to the tenant's orders (rows, their newest update, their newest write)."""
    orders = models.table_of(models.Order)
    query = select(func.count(), func.max(orders.c.updated_at), func.max(orders.c.synced_at)).where(
        orders.c.tenant == tenant
    )
    with repo.db.engine.connect() as conn:
        count, updated, synced = conn.execute(query).one()
    return f"{count}|{updated}|{synced}"


def markdown(snapshot: SalesSnapshot) -> str:
    """The shown days as a markdown table (what the UI renders for the materialization)."""
    if not snapshot.daily_sales:
        return "_no sales yet_"
    columns = list(snapshot.daily_sales[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in snapshot.daily_sales]
    return "\n".join(lines)


def computed_in_child(url: str, tenant: str, fingerprint: str) -> SalesSnapshot:
    """The figures of ``tenant`` from the tables at ``url``, computed by a fresh interpreter (spawned, so it
    shares nothing with this process's threads and connections); its errors are raised here."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(sales_snapshot, url, tenant, fingerprint).result()


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
            snapshot = computed_in_child(
                repo.db.engine.url.render_as_string(hide_password=False), ctx.tenant, fingerprint
            )
            ctx.store.set_cursor(SALES_CURSOR, snapshot.model_dump_json())
        report.counts = {"days": snapshot.days, "orders": snapshot.orders}
        report.extra.update(recomputed=recomputed, totals=snapshot.totals, daily_sales=snapshot.daily_sales)
        report.preview = markdown(snapshot)
    return report

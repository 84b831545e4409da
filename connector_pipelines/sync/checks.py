"""Checks every pipeline can declare: records waiting with an error, and a step's freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.runtime import CheckFunction, CheckOutcome, StepContext

PREVIEW_ROWS = 20


def open_errors_preview(store: TenantStore, limit: int = PREVIEW_ROWS) -> tuple[int, str]:
    """How many records wait with an unresolved error, and a markdown table of the first ones."""
    errors = store.open_errors(limit=limit)
    total = store.count_open_errors()
    if not errors:
        return total, ""
    rows = "\n".join(f"| `{e.record_key}` | {e.stage} | {e.attempts} | {e.reason[:200]} |" for e in errors)
    return total, f"| record | stage | attempts | reason |\n|---|---|---|---|\n{rows}"


def open_record_errors(ctx: StepContext) -> CheckOutcome:
    total, preview = open_errors_preview(ctx.store)
    return CheckOutcome(total == 0, {"open_errors": total}, preview)


def latest_success(store: TenantStore, step: str) -> datetime | None:
    run = store.last_run(step)
    return run.finished_at if run is not None else None


def fresh(step: str, max_age: timedelta) -> CheckFunction:
    """Passes when the sync step ``step`` last succeeded within ``max_age``."""

    def check(ctx: StepContext) -> CheckOutcome:
        last = latest_success(ctx.store, step)
        age = datetime.now(UTC) - last if last else None
        return CheckOutcome(
            age is not None and age <= max_age,
            {"age_hours": round(age.total_seconds() / 3600, 2) if age else -1.0},
        )

    return check

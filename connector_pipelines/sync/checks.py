"""Checks every pipeline can declare: records waiting with an error, and a step's freshness."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connector_pipelines.clients.http import ApiClient
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.runtime import CheckFunction, CheckOutcome, StepContext, StepReport

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


@dataclass
class SkuReconciliation:
    """SKUs of the snapshot against those the target holds: each once, none the source dropped."""

    expected: int = 0
    in_target: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated)

    def preview(self, limit: int = PREVIEW_ROWS) -> str:
        lines = []
        for name in ("missing", "unexpected", "duplicated"):
            values: list[str] = getattr(self, name)
            if values:
                shown = ", ".join(f"`{v}`" for v in values[:limit])
                lines.append(f"- {len(values)} {name}: {shown}{' …' if len(values) > limit else ''}")
        return "\n".join(lines)

    def step_report(self, check: str, in_target: str, client: ApiClient) -> StepReport:
        """The report of a step that read the target's SKUs: counts (``in_target`` names the target's
        count), the calls it took, and the reconciliation check ``check`` evaluated."""
        counts = {
            "expected_skus": self.expected,
            in_target: self.in_target,
            "missing": len(self.missing),
            "unexpected": len(self.unexpected),
            "duplicated": len(self.duplicated),
        }
        report = StepReport(preview=self.preview())
        report.extra = {**counts, f"api_calls_{client.system}": client.stats.calls}
        report.checks[check] = CheckOutcome(self.passed, counts, self.preview())
        return report

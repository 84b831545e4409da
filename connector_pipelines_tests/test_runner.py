"""Runs started from Python (`runner.py`): where they are recorded when nothing is set, and the progress they
show while they execute."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.logs import configure_process_logging
from connector_pipelines.pipelines.catalog import pipeline_spec
from connector_pipelines.runner import (
    PlainProgress,
    RunProgress,
    StepProgress,
    dagster_instance,
    run_sync,
    showing_progress,
)
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import sandbox_tenant


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A progress view that keeps what it was shown."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, step: StepProgress) -> None:
        self.events.append(("started", step.describe()))

    def advanced(self, step: StepProgress) -> None:
        self.events.append(("advanced", step.describe()))

    def finished(self, step: StepProgress, ok: bool) -> None:
        self.events.append(("finished" if ok else "failed", step.describe()))

    def close(self) -> None:
        self.events.append(("closed", ""))


def test_without_dagster_home_runs_are_recorded_under_the_connector_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with dagster_instance() as instance:
        assert instance.is_persistent
    home = tmp_path / "connector" / "dagster"
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    dagster_instance().dispose()
    assert (tmp_path / "elsewhere" / "dagster.yaml").exists()


def test_an_instance_folder_keeps_its_own_config(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\nretention: {}\n")
    dagster_instance(tmp_path).dispose()
    assert "retention" in (tmp_path / "dagster.yaml").read_text()


def test_plain_progress_is_quiet_for_short_steps_and_paces_long_ones() -> None:
    clock, lines = Clock(), list[str]()
    progress = RunProgress(PlainProgress(lines.append, "acme full", clock=clock, interval_s=5), 2, clock)
    progress.step_started("plenty_shopware__plenty_units")
    clock.now += 1
    progress.step_finished(ok=True)
    assert lines == [], "a short step prints nothing"

    progress.step_started("plenty_shopware__shopware_products")
    clock.now += 6
    progress.message("100/1000 records published (50/s)")
    clock.now += 1
    progress.message("200/1000 records published (50/s)")  # within the interval: no line
    progress.message("an ordinary log line")
    clock.now += 5
    progress.message("300/1000 records published (50/s)")
    progress.step_finished(ok=True)
    assert lines == [
        "acme full: step 2/2 shopware_products: 100/1000 records published, 50/s, about 18 s left",
        "acme full: step 2/2 shopware_products: 300/1000 records published, 50/s, about 14 s left",
        "acme full: step 2/2 shopware_products: 300/1000 records published, 50/s, about 14 s left — done "
        "after 12 s",
    ]


def test_a_read_reports_records_without_a_total() -> None:
    step = StepProgress("plenty_products", 9, 16, 0.0)
    assert step.read("products read: 1200 records (300/s)")
    assert step.describe() == "step 9/16 plenty_products: 1200 products read, 300/s"
    assert not step.read("products read: many")


def test_a_failed_step_always_gets_its_line() -> None:
    clock, lines = Clock(), list[str]()
    progress = RunProgress(PlainProgress(lines.append, "acme delta", clock=clock), 1, clock)
    progress.step_started("plenty_shopware__plenty_products")
    progress.step_finished(ok=False)
    assert lines == ["acme delta: step 1/1 plenty_products — FAILED after 0 s"]


def test_a_run_reports_every_step_and_the_records_it_publishes(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    """Against the engine's own messages: a full sync reports each step of its job, and the publication's
    records done of the total."""
    tenant = sandbox_tenant(hub, sqlite_registry, "plenty_shopware")
    recorder = Recorder()
    with showing_progress(io.StringIO(), views=lambda title: recorder):
        summary = run_sync(tenant.slug, tenant.pipeline, SyncMode.FULL, instance=tenant.instance)
    assert summary.success
    steps = len(
        defs.resolve_job_def(pipeline_spec("plenty_shopware").job_name("sync")).nodes_in_topological_order
    )
    started = [text for event, text in recorder.events if event == "started"]
    assert len(started) == steps and started[-1].startswith(f"step {steps}/{steps} ")
    assert all(event != "failed" for event, _ in recorder.events)
    published = [text for event, text in recorder.events if event == "advanced" and "published" in text]
    done = re.search(r"(\d+)/(\d+) records published", published[-1]) if published else None
    assert done is not None and done[1] == done[2] != "0", recorder.events
    assert recorder.events[-1] == ("closed", "")
    run = tenant.instance.get_run_by_id(summary.run_id)
    assert run is not None and run.run_config["loggers"] == {"console": {"config": {"log_level": "CRITICAL"}}}


def test_while_progress_shows_each_log_line_prints_once() -> None:
    """Dagster's console log is off during such a run (above); the process's own handler keeps warnings
    only, the run's log has the rest: no line twice, none across the bar."""
    configure_process_logging()
    (handler,) = [
        h for h in logging.getLogger("connector_pipelines").handlers if getattr(h, "_connector", False)
    ]
    before = handler.level
    with showing_progress(io.StringIO()):
        assert handler.level == logging.WARNING
    assert handler.level == before

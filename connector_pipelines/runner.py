"""Launching a pipeline run for one tenant from Python (the CLI, the demo, the benchmark), and showing its
progress while it executes.

Runs execute in this process, recorded on the given Dagster instance (for the CLI :func:`dagster_instance`:
``DAGSTER_HOME``, else ``CONNECTOR_HOME/dagster``), so they show in the UI like any scheduled run and carry
the same tags. Inside :func:`showing_progress`, every run reports its steps, the records done of the total
where a step says, the rate and the time left: as a bar on a terminal, as a plain line every few seconds
otherwise.
"""

from __future__ import annotations

import io
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import dagster as dg

from connector_pipelines import config
from connector_pipelines.pipelines.catalog import pipeline_spec
from connector_pipelines.pipelines.runs import run_tags, sync_run_config
from connector_pipelines.redaction import redact
from connector_pipelines.sync.runtime import ReadWindow, SyncMode


@dataclass
class RunSummary:
    run_id: str
    success: bool
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None

    def counts(self, asset: str) -> dict[str, Any]:
        return self.materializations.get(asset, {})


def dagster_instance(home: Path | None = None) -> dg.DagsterInstance:
    """The Dagster instance in ``home`` (by default :func:`config.dagster_home`: ``DAGSTER_HOME``, else
    ``CONNECTOR_HOME/dagster``). A folder without a ``dagster.yaml`` gets one with the embedded SQLite storage
    and telemetry off; a folder with its own (production: PostgreSQL) keeps it."""
    folder = home or config.dagster_home()
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "dagster.yaml"
    if not settings.exists():
        settings.write_text(config.LOCAL_DAGSTER_YAML)
    return dg.DagsterInstance.from_config(str(folder))


def _metadata_value(value: dg.MetadataValue) -> Any:
    return value.value


# --- progress ----------------------------------------------------------------------------------------------

# What the steps report of their records, as they log it: the publish engine's progress callback
# (sync/publish.py) and a source read's (sync/plenty_shopware.py). connector_pipelines_tests/test_runner.py
# runs a full sync to hold these to the messages the engine writes.
_PUBLISHED = re.compile(r"^(?P<done>\d+)/(?P<total>\d+) records published \((?P<rate>[\d.]+)/s\)$")
_READ = re.compile(r"^(?P<what>[\w ]+ read): (?P<done>\d+) records \((?P<rate>[\d.]+)/s\)$")


@dataclass
class StepProgress:
    """What is known of the running step: its place in the run, and the records done (of the total, where
    the step knows it) at which rate."""

    name: str
    index: int
    steps: int
    started: float
    what: str = "records"
    done: int | None = None
    total: int | None = None
    rate: float | None = None

    def seconds_left(self) -> float | None:
        if self.done is None or self.total is None or not self.rate:
            return None
        return max(self.total - self.done, 0) / self.rate

    def describe(self) -> str:
        text = f"step {self.index}/{self.steps} {self.name}"
        if self.done is None:
            return text
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        text += f": {count} {self.what}"
        if self.rate:
            text += f", {self.rate:.0f}/s"
        left = self.seconds_left()
        if left is not None and self.done != self.total:
            text += f", about {left:.0f} s left"
        return text

    def read(self, message: str) -> bool:
        """Take the records done from a step's log message; whether it was one."""
        if found := _PUBLISHED.match(message):
            self.what, self.total = "records published", int(found["total"])
        elif found := _READ.match(message):
            self.what = found["what"]
        else:
            return False
        self.done, self.rate = int(found["done"]), float(found["rate"])
        return True


class ProgressView(Protocol):
    """Where a run's progress shows."""

    def started(self, step: StepProgress) -> None: ...

    def advanced(self, step: StepProgress) -> None: ...

    def finished(self, step: StepProgress, ok: bool) -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """Progress as plain lines, for output that is not a terminal: at most one every ``interval_s`` while a
    step reports records, and one when a step that took at least that long ends. A short run prints none."""

    def __init__(
        self,
        echo: Callable[[str], None],
        title: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = 5.0,
    ) -> None:
        self._echo, self._title, self._clock, self._interval = echo, title, clock, interval_s
        self._last = clock()

    def started(self, step: StepProgress) -> None:
        """Nothing yet: most steps end within a second."""

    def advanced(self, step: StepProgress) -> None:
        if self._clock() - self._last >= self._interval:
            self._line(step.describe())

    def finished(self, step: StepProgress, ok: bool) -> None:
        took = self._clock() - step.started
        if not ok or took >= self._interval:
            outcome = "done" if ok else "FAILED"
            self._line(f"{step.describe()} — {outcome} after {took:.0f} s")

    def close(self) -> None:
        """Nothing to tear down."""

    def _line(self, text: str) -> None:
        self._last = self._clock()
        self._echo(redact(f"{self._title}: {text}"))


class BarProgress:
    """Progress as a bar per running step on a terminal (rich), gone when the step ends."""

    def __init__(self, stream: TextIO, title: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._title = title
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task: Any = None
        self._bars.start()

    def started(self, step: StepProgress) -> None:
        description = redact(f"{self._title} [{step.index}/{step.steps}] {step.name}")
        self._task = self._bars.add_task(description, total=None, rate="")

    def advanced(self, step: StepProgress) -> None:
        if self._task is not None:
            rate = f"{step.rate:.0f}/s" if step.rate else ""
            self._bars.update(self._task, completed=step.done or 0, total=step.total, rate=rate)

    def finished(self, step: StepProgress, ok: bool) -> None:
        if self._task is not None:
            self._bars.remove_task(self._task)
            self._task = None

    def close(self) -> None:
        self._bars.stop()


class RunProgress:
    """A Dagster event listener (``instance.add_event_listener``) that turns a run's events into progress:
    step starts and ends, and the records its log messages report."""

    def __init__(self, view: ProgressView, steps: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.view, self.steps, self._clock = view, steps, clock
        self.step: StepProgress | None = None
        self._started = 0

    def __call__(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            self.message(entry.user_message)
        elif event.event_type == dg.DagsterEventType.STEP_START:
            self.step_started(str(event.step_key))
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            self.step_finished(event.event_type == dg.DagsterEventType.STEP_SUCCESS)

    def step_started(self, step_key: str) -> None:
        self._started += 1
        # Step keys are <pipeline>__<step>: the pipeline is the run's.
        self.step = StepProgress(step_key.split("__", 1)[-1], self._started, self.steps, self._clock())
        self.view.started(self.step)

    def message(self, text: str) -> None:
        if self.step is not None and self.step.read(text):
            self.view.advanced(self.step)

    def step_finished(self, ok: bool) -> None:
        if self.step is not None:
            self.view.finished(self.step, ok)
            self.step = None


ViewFactory = Callable[[str], ProgressView]
_views: ContextVar[ViewFactory | None] = ContextVar("connector_progress_views", default=None)


@contextmanager
def _unredirected(stream: TextIO) -> Iterator[TextIO]:
    """A stream writing where ``stream`` writes now, also while a run executes: Dagster captures file
    descriptors 1 and 2 into the run's compute logs during its steps, so progress written to them would
    land there, and a terminal would no longer look like one. A stream without a descriptor (a test's) is
    used as it is."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        yield stream
        return
    with os.fdopen(os.dup(fd), "w", encoding=stream.encoding or "utf-8", errors="replace") as copy:
        yield copy


@contextmanager
def showing_progress(stream: TextIO, views: ViewFactory | None = None) -> Iterator[None]:
    """Every run started inside shows its progress on ``stream`` (or in ``views``): a bar when it is a
    terminal, else plain lines. Meanwhile the connector's informational log lines are left to the run's log
    in the Dagster instance (the UI shows them): printed too, each would show twice, and break the bar; its
    warnings and errors still print, once."""
    handlers = [
        h for h in logging.getLogger("connector_pipelines").handlers if getattr(h, "_connector", False)
    ]
    levels = [h.level for h in handlers]
    with _unredirected(stream) as out:

        def line(text: str) -> None:
            print(text, file=out, flush=True)

        def view(title: str) -> ProgressView:
            return BarProgress(out, title) if out.isatty() else PlainProgress(line, title)

        token = _views.set(views or view)
        for handler in handlers:
            handler.setLevel(max(handler.level, logging.WARNING))
        try:
            yield
        finally:
            _views.reset(token)
            for handler, level in zip(handlers, levels, strict=True):
                handler.setLevel(level)


# --- running -----------------------------------------------------------------------------------------------


def load_job(pipeline: str, mode: SyncMode) -> dg.JobDefinition:
    """The job that runs ``pipeline`` in ``mode``, from the code location's definitions (imported on first
    use, as a run worker loads the code location before its run starts)."""
    from connector_pipelines.definitions import defs

    job_name = pipeline_spec(pipeline).job_for(mode)
    if job_name is None:
        raise ValueError(f"pipeline '{pipeline}' has no '{mode.value}' mode")
    return defs.resolve_job_def(job_name)


def run_sync(
    tenant: str,
    pipeline: str,
    mode: SyncMode,
    *,
    instance: dg.DagsterInstance,
    product_ids: Sequence[str | int] | None = None,
    log_level: str = "INFO",
    force: bool = False,
    window: ReadWindow | None = None,
    skip_existing: bool = False,
) -> RunSummary:
    """Run ``pipeline`` for ``tenant`` in ``mode``; ``force`` runs a disabled tenant; ``window`` and
    ``skip_existing`` are the run options of the pipelines that take them. Every step checks the tenant
    first (``sync/preflight.py``): a problem fails the run with that one line as its error.

    ``product_ids`` are source product ids; a pipeline's own ids may be numbers (Plentymarkets item ids),
    and they travel as strings. Inside :func:`showing_progress`, the run shows its progress instead of
    Dagster's console log (its errors end up in the summary)."""
    job = load_job(pipeline, mode)
    instance.add_dynamic_partitions(pipeline, [tenant])
    run_id = str(uuid.uuid4())
    views = _views.get()
    view = views(f"{tenant} {mode.value}") if views is not None else None
    if view is not None:
        instance.add_event_listener(run_id, RunProgress(view, len(job.nodes_in_topological_order)))
    try:
        result = job.execute_in_process(
            instance=instance,
            partition_key=tenant,
            run_id=run_id,
            run_config={
                **sync_run_config(
                    mode,
                    [str(p) for p in product_ids or ()],
                    force=force,
                    window=window,
                    skip_existing=skip_existing,
                ),
                "loggers": {"console": {"config": {"log_level": "CRITICAL" if view else log_level}}},
            },
            tags=run_tags(tenant, mode, "cli"),
            raise_on_error=False,
        )
    finally:
        if view is not None:
            view.close()
    return summarize(result)


def summarize(result: dg.ExecuteInProcessResult) -> RunSummary:
    """What a run materialized and checked, and the first step failure's message when it failed."""
    summary = RunSummary(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        name = materialization.asset_key.path[-1]
        summary.materializations[name] = {k: _metadata_value(v) for k, v in materialization.metadata.items()}
    for evaluation in result.get_asset_check_evaluations():
        summary.checks[f"{evaluation.asset_key.path[-1]}:{evaluation.check_name}"] = evaluation.passed
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        if failures and failures[0].step_failure_data is not None:
            data = failures[0].step_failure_data
            # The step boundary's description is the one line; Dagster's message prefixes the class path.
            described = data.user_failure_data.description if data.user_failure_data is not None else None
            summary.error = (described or (data.error.message if data.error else "step failed")).strip()
        else:
            summary.error = "run failed"
    return summary

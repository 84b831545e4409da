"""Log formatting for connector processes: text or JSON lines, always through the redaction filter, with the
run's context (tenant, pipeline, run id, step) on every record emitted while a step runs."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from connector_pipelines import config
from connector_pipelines.redaction import RedactingFilter, redact

CONTEXT_FIELDS = ("tenant", "pipeline", "run_id", "step")


@dataclass(frozen=True)
class LogContext:
    tenant: str | None = None
    pipeline: str | None = None
    run_id: str | None = None
    step: str | None = None


# The context of the step running in this thread (or asyncio task, or a thread started with copy_context()).
_current: ContextVar[LogContext | None] = ContextVar("connector_log_context", default=None)
# Every step running in this process. Worker threads (the publish engine's ThreadPoolExecutor, the prefetch
# thread of streams.py) do not inherit context variables; they fall back to the process's one running step.
_active: tuple[LogContext, ...] = ()
_active_lock = threading.Lock()


@contextmanager
def log_context(
    *,
    tenant: str | None = None,
    pipeline: str | None = None,
    run_id: str | None = None,
    step: str | None = None,
) -> Iterator[LogContext]:
    """Stamp these fields on every record logged while the block runs (see :class:`LogContextFilter`)."""
    global _active
    ctx = LogContext(tenant=tenant, pipeline=pipeline, run_id=run_id, step=step)
    token = _current.set(ctx)
    with _active_lock:
        _active = (*_active, ctx)
    try:
        yield ctx
    finally:
        with _active_lock:
            # By identity: two steps of equal context are still two entries.
            index = next(i for i, c in enumerate(_active) if c is ctx)
            _active = _active[:index] + _active[index + 1 :]
        _current.reset(token)


def current_log_context() -> LogContext | None:
    """This thread's step context; in a thread that did not inherit one, the process's only running step
    (with several running at once a worker thread's record cannot be attributed, and gets none)."""
    ctx = _current.get()
    if ctx is not None:
        return ctx
    active = _active
    return active[0] if len(active) == 1 else None


class LogContextFilter(logging.Filter):
    """Sets ``tenant``, ``pipeline``, ``run_id`` and ``step`` on each record from the current log context.
    Values given explicitly (``extra={"tenant": ...}``) win."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_log_context()
        if ctx is not None:
            for key in CONTEXT_FIELDS:
                value = getattr(ctx, key)
                if value is not None and getattr(record, key, None) is None:
                    setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = record.exc_text or redact(self.formatException(record.exc_info))
        return orjson.dumps(doc).decode()


def make_handler(stream: object = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    if config.log_format() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(LogContextFilter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_process_logging(level: int = logging.INFO) -> None:
    """Logging for the CLI and other non-Dagster entry points."""
    root = logging.getLogger("connector_pipelines")
    if not any(getattr(h, "_connector", False) for h in root.handlers):
        handler = make_handler()
        handler._connector = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)

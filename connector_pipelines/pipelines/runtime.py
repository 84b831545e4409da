"""What every asset does around its step: tenant and mode from the run, logs forwarded to Dagster,
metadata built from the step report, and an error boundary that lets no secret through."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from connector_pipelines.redaction import RedactingFilter, redact


class _DagsterForwarder(logging.Handler):
    def __init__(self, log: dg.DagsterLogManager) -> None:
        super().__init__(logging.INFO)
        self._log = log
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            self._log.error(message)
        elif record.levelno >= logging.WARNING:
            self._log.warning(message)
        else:
            self._log.info(message)


@contextmanager
def step_boundary(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> Iterator[None]:
    """Forward the connector's log records to the run log; turn any failure into a redacted dg.Failure."""
    logger = logging.getLogger("connector_pipelines")
    handler = _DagsterForwarder(context.log)
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        # Chained tracebacks could carry secrets from a server's echo; the message alone, redacted.
        raise dg.Failure(description=redact(f"{type(exc).__name__}: {exc}")) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def to_metadata(values: dict[str, Any], preview: str = "") -> dict[str, dg.MetadataValue]:
    meta: dict[str, dg.MetadataValue] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            meta[name] = dg.MetadataValue.bool(value)
        elif isinstance(value, int):
            meta[name] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            meta[name] = dg.MetadataValue.float(value)
        elif isinstance(value, str):
            meta[name] = dg.MetadataValue.text(redact(value))
        else:
            meta[name] = dg.MetadataValue.json(value)
    if preview:
        meta["preview"] = dg.MetadataValue.md(redact(preview))
    return meta


def tenant_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    return str(context.partition_key)

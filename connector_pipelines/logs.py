"""Log formatting for connector processes: text or JSON lines, always through the redaction filter."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from connector_pipelines import config
from connector_pipelines.redaction import RedactingFilter, redact


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("tenant", "pipeline", "run_id", "step"):
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

"""What every asset does around its step: tenant and mode from the run, logs forwarded to Dagster and stamped
with the run's context, metadata built from the step report, a retry policy, and an error boundary that lets
no secret through and tells Dagster whether a failure is worth retrying."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from connector_pipelines.errors import PermanentError, is_transient
from connector_pipelines.logs import log_context
from connector_pipelines.redaction import RedactingFilter, redact

STEP_RETRIES_VAR = "CONNECTOR_STEP_RETRIES"
STEP_RETRY_DELAY_VAR = "CONNECTOR_STEP_RETRY_DELAY_S"
DEFAULT_STEP_RETRIES = 2
DEFAULT_STEP_RETRY_DELAY_S = 30.0


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


def _env_number(name: str, default: float, *, integer: bool) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number of seconds"
        raise ValueError(f"{name}={raw!r} is not {kind}") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


def retry_policy() -> dg.RetryPolicy:
    """The retry policy of every step: ``CONNECTOR_STEP_RETRIES`` retries (default 2) after a transient
    failure, the first after about ``CONNECTOR_STEP_RETRY_DELAY_S`` seconds (default 30), then exponentially
    longer ((2^n - 1) x delay), each moved by up to +/- delay of jitter so that tenants failing together
    (an API outage) do not all come back at once. Permanent failures bypass it (see :func:`step_boundary`)."""
    retries = int(_env_number(STEP_RETRIES_VAR, DEFAULT_STEP_RETRIES, integer=True))
    delay = _env_number(STEP_RETRY_DELAY_VAR, DEFAULT_STEP_RETRY_DELAY_S, integer=False)
    return dg.RetryPolicy(
        max_retries=retries, delay=delay, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )


def _step_name(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    if isinstance(context, dg.AssetCheckExecutionContext):
        specs = list(context.check_specs)
        if len(specs) == 1:
            return specs[0].key.to_user_string()
    else:
        keys = list(context.op_execution_context.selected_asset_keys)
        if len(keys) == 1:
            return keys[0].to_user_string()
    return context.op_execution_context.op.name


def _pipeline_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str | None:
    """The pipeline from the key prefix: every pipeline's assets are named ``<pipeline>/<step>``."""
    if isinstance(context, dg.AssetCheckExecutionContext):
        keys = [spec.asset_key for spec in context.check_specs]
    else:
        keys = list(context.op_execution_context.selected_asset_keys)
    prefixes = {key.path[0] for key in keys if len(key.path) > 1}
    return prefixes.pop() if len(prefixes) == 1 else None


def _retries_left(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> bool:
    """Whether the step's retry policy will run this step again after a failure of this attempt."""
    try:
        step = context.op_execution_context.get_step_execution_context()
        policy, disabled = step.op_retry_policy, step.retry_mode.disabled
    except Exception:  # a context built for a direct call: no run, no policy
        return False
    return policy is not None and not disabled and context.retry_number < policy.max_retries


def _failure(
    exc: Exception, context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, tenant: str | None
) -> dg.Failure:
    """A dg.Failure for ``exc``: retried by the step's retry policy only when the error is transient.

    The last attempt's transient failure does not ask for a retry either: Dagster would report it as
    "Exceeded max_retries", and the run's failure message (run log, alert, sync_runs row) would lose it."""
    transient = is_transient(exc)
    retry = transient and _retries_left(context)
    if isinstance(exc, PermanentError):
        exc.add_context(tenant=tenant)
    # The message alone, redacted: chained tracebacks could carry secrets from a server's echo.
    description = redact(f"{type(exc).__name__}: {exc}")
    if transient and not retry:
        attempts = context.retry_number + 1
        description += f" (transient; still failing after {attempts} attempt{'s' if attempts > 1 else ''})"
    metadata: dict[str, Any] = {
        "error": type(exc).__name__,
        "retryable": transient,
        "attempt": context.retry_number + 1,
    }
    if isinstance(exc, PermanentError):
        for name, value in (("system", exc.system), ("remedy", exc.remedy or exc.default_remedy())):
            if value:
                metadata[name] = redact(value)
    if tenant:
        metadata["tenant"] = tenant
    return dg.Failure(description=description, metadata=metadata, allow_retries=retry)


@contextmanager
def step_boundary(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, *, pipeline: str | None = None
) -> Iterator[None]:
    """Around an asset's or check's body:

    * the connector's log records go to the run log, and every record logged meanwhile (in any thread)
      carries ``tenant`` (the partition key), ``pipeline`` (given, or the asset key's prefix), ``run_id`` and
      ``step`` (the asset or check key) for the JSON formatter;
    * any failure becomes a redacted ``dg.Failure``: a transient one (:class:`errors.TransientError`) with
      ``allow_retries=True``, so the step's retry policy (:func:`retry_policy`) repeats it, except on the
      last attempt; anything else with ``allow_retries=False``: it fails at once, naming tenant, system and
      remedy where known. A ``dg.Failure`` raised by the body passes unchanged.
    """
    tenant = str(context.partition_key) if context.has_partition_key else None
    logger = logging.getLogger("connector_pipelines")
    handler = _DagsterForwarder(context.log)
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with log_context(
            tenant=tenant,
            pipeline=pipeline or _pipeline_of(context),
            run_id=context.run.run_id,
            step=_step_name(context),
        ):
            yield
    except dg.Failure:
        raise
    except Exception as exc:
        raise _failure(exc, context, tenant) from None
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

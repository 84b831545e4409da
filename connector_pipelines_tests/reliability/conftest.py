"""The reliability and security suite: chaos convergence, the connector database under faults, bad input,
security. Short by default (CI runs it in ``make test``); ``--reliability-long`` or ``RELIABILITY_LONG=1``
runs the long version (``make reliability``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant, make_tenant
from connector_pipelines_tests.reliability import figures

FIGURES_PLUGIN = "connector_pipelines_tests.reliability.figures"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Loaded with -p, the figures plugin has added the option already; adding it twice is an error.
    if not pluginmanager.has_plugin(FIGURES_PLUGIN):
        figures.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: the reliability and security suite (chaos, faults, fuzzing, security)"
    )
    figures.install(config)


@pytest.fixture(scope="session")
def long_version(pytestconfig: pytest.Config) -> bool:
    return figures.long_version(pytestconfig)


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Records one figure line: printed, and shown in the terminal summary of the run."""

    def record(line: str) -> None:
        print(line)
        request.node.user_properties.append((figures.FIGURE, line))

    return record


@pytest.fixture
def plenty_shopware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlentyShopwareTenant]:
    """A plenty_shopware tenant on emulators, with a SQLite connector database of its own."""
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    database = Database(url)
    hub = SandboxHub()
    hub.serve()
    try:
        yield make_tenant(hub, TenantRegistry(database), products=6)
    finally:
        hub.stop()
        database.dispose()

"""The reliability suite's figure lines, in the terminal summary of every run that includes the suite.

A test hands its line to the ``figure`` fixture, which stores it as a user property of the test's report;
pytest-xdist carries reports from workers to the controller, where this plugin prints every line collected.
Under xdist the controller never imports the suite's conftest, so ``make test`` and ``make reliability``
load this module with ``-p connector_pipelines_tests.reliability.figures``; a run without xdist gets it
from the suite's conftest.
"""

from __future__ import annotations

import os

import pytest

FIGURE = "reliability_figure"
LONG_ENV = "RELIABILITY_LONG"
LONG_OPTION = "--reliability-long"
_REPORTER = "reliability_figure_report"


def add_options(parser: pytest.Parser) -> None:
    parser.addoption(
        LONG_OPTION,
        action="store_true",
        default=False,
        help=f"run the long version of the reliability suite (or set {LONG_ENV}=1)",
    )


def long_version(config: pytest.Config) -> bool:
    return os.environ.get(LONG_ENV) == "1" or bool(config.getoption(LONG_OPTION, default=False))


class FigureReport:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.lines.extend(str(value) for name, value in report.user_properties if name == FIGURE)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.lines:
            terminalreporter.section("reliability figures")
            for line in self.lines:
                terminalreporter.write_line(line)


def install(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_REPORTER):
        config.pluginmanager.register(FigureReport(), _REPORTER)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    install(config)

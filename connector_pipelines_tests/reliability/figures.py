"""The reliability suite's figure lines, in the terminal summary of every run that includes the suite.

A test hands its line to the ``figure`` fixture, which stores it as a user property of the test's report;
pytest-xdist carries reports from workers to the controller, where this plugin prints every line collected.
Under xdist the controller never imports the suite's conftest, so ``make test`` and ``make reliability``
load this module with ``-p connector_pipelines_tests.reliability.figures``; a run without xdist gets it
from the suite's conftest.
"""

from __future__ import annotations

import os
import re

import pytest

FIGURE = "reliability_figure"
LONG_ENV = "RELIABILITY_LONG"
LONG_OPTION = "--reliability-long"
_REPORTER = "reliability_figure_report"
# The long version's floor over the chaos of every pipeline of the catalog, added up.
CHAOS_FLOOR = {"runs": 200, "faults": 500, "kills": 20}
CHAOS_LINE = re.compile(
    r"^chaos (?P<pipeline>\S+): (?P<runs>\d+) runs, (?P<faults>\d+) faults injected, (?P<kills>\d+) kills, "
    r"(?P<lost>\d+) lost, (?P<duplicated>\d+) duplicated$"
)
CHAOS_COUNTS = ("runs", "faults", "kills", "lost", "duplicated")


def chaos_total(lines: list[str]) -> tuple[str, dict[str, int]] | None:
    """The chaos lines of every pipeline added up: one line, and its counts (None without any)."""
    found = [m for m in map(CHAOS_LINE.match, lines) if m is not None]
    if not found:
        return None
    total = {name: sum(int(m[name]) for m in found) for name in CHAOS_COUNTS}
    total["pipelines"] = len(found)
    line = (
        f"chaos, {len(found)} pipelines: {total['runs']} runs, {total['faults']} faults injected, "
        f"{total['kills']} kills, {total['lost']} lost, {total['duplicated']} duplicated"
    )
    return line, total


def below_floor(total: dict[str, int], pipelines: int) -> str | None:
    """Why the long chaos falls short of its floor, once it ran on every pipeline (None: it does not)."""
    if total["pipelines"] < pipelines:
        return None  # a part of the suite: the floor holds for all of it
    short = [f"{total[k]} {k} < {floor}" for k, floor in CHAOS_FLOOR.items() if total[k] < floor]
    return f"the long chaos is below its floor: {', '.join(short)}" if short else None


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
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.lines: list[str] = []
        self.shortfall: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.lines.extend(str(value) for name, value in report.user_properties if name == FIGURE)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        total = chaos_total(self.lines)
        if total is None or not long_version(self.config):
            return
        from connector_pipelines.pipelines.catalog import pipeline_recipes

        self.shortfall = below_floor(total[1], len(pipeline_recipes()))
        if self.shortfall is not None:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.lines:
            terminalreporter.section("reliability figures")
            total = chaos_total(self.lines)
            for line in [*self.lines, *([total[0]] if total else [])]:
                terminalreporter.write_line(line)
            if self.shortfall is not None:
                terminalreporter.write_line(f"FAILED: {self.shortfall}", red=True)


def install(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_REPORTER):
        config.pluginmanager.register(FigureReport(config), _REPORTER)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    install(config)

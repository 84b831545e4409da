"""The Dagster UI of the running topology in a real browser: Debian's Chromium, driven headless by Playwright.

Nothing is installed at run time (Playwright's own browser download cannot work here): the test uses
/usr/bin/chromium, skips with the reason where it or the playwright package is missing, and fails when
CI=true. Screenshots land in the test's tmp_path; their paths are printed.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.catalog import pipeline_specs
from connector_pipelines_tests.topology.conftest import TENANTS
from connector_pipelines_tests.topology.processes import LOCATION, PIPELINE, Topology

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.topology, pytest.mark.postgres, pytest.mark.xdist_group("topology")]

CHROMIUM = Path("/usr/bin/chromium")
# As root in a container, without a GPU, on a machine whose network ends at loopback: without the last flags
# Chromium keeps dialling Google's services and logs every refusal.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Tall enough for the largest pipeline graph to fit unscrolled.
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1600, 1300
GREETING_MS = 15_000
WAIT_MS = 60_000  # the webserver answers slowly while the rest of the suite runs beside it
LOADED = "() => !document.body.innerText.includes('Loading...')"
SHOWS_TEXT = "text => document.body.innerText.split(/[\\n\\t]/).some(part => part.trim() === text)"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium; requested before the topology, so a missing browser skips before anything starts."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Ui:
    """Pages of the UI; playwright is imported in the methods, so this module imports without it and the
    test can skip with a reason."""

    def __init__(self, page: Page, base_url: str, shots: Path) -> None:
        self.page, self.base_url, self.shots = page, base_url, shots
        self.skip = page.get_by_role("button", name="Skip")

    def greet(self) -> None:
        """A fresh browser is greeted by a newsletter dialog shortly after the first page renders; skipping
        it once is remembered, so it covers none of the screenshots. A version without it goes on."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.goto(f"{self.base_url}/overview", wait_until="networkidle")
        with contextlib.suppress(PlaywrightTimeout):
            self.skip.wait_for(timeout=GREETING_MS)
            self.skip.click()

    def visit(self, path: str, name: str, expected: Iterable[str]) -> Path:
        """Open a page, wait until every expected text and every status shows, and keep a screenshot of it."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.goto(f"{self.base_url}{path}", wait_until="networkidle")
        shot = self.shots / f"{name}.png"
        # Rendered text only (innerText leaves out hidden elements), matched as a whole line or cell.
        waits: list[tuple[str, str | None, str]] = [(SHOWS_TEXT, text, f"text {text!r}") for text in expected]
        waits.append((LOADED, None, "no 'Loading...' left"))
        for condition, arg, what in waits:
            try:
                self.page.wait_for_function(condition, arg=arg, timeout=WAIT_MS)
            except PlaywrightTimeout:
                self.page.screenshot(path=str(shot), full_page=True)
                raise AssertionError(f"{path}: {what} did not show within {WAIT_MS} ms; see {shot}") from None
        if self.skip.count():
            self.skip.click()
        self.page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        return shot


def _assets_by_pipeline() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for spec in defs.resolve_all_asset_specs():
        if spec.group_name in pipeline_specs():
            groups[spec.group_name].append(spec.key.path[-1])
    return groups


def _checks_of(pipeline: str, asset: str) -> list[str]:
    names = sorted(
        key.name
        for key in defs.resolve_asset_graph().asset_check_keys
        if key.asset_key.path == [pipeline, asset]
    )
    assert names, f"{pipeline}/{asset} has no checks"
    return names


def test_a_user_sees_pipelines_tenants_checks_and_automation(
    browser: Browser, first_sync: Topology, tmp_path: Path
) -> None:
    tenant = TENANTS[0]
    page = browser.new_page(viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT})
    ui = Ui(page, first_sync.webserver_url, tmp_path)
    ui.greet()
    location = f"/locations/{LOCATION}"
    shots = []

    pipelines = _assets_by_pipeline()
    assert PIPELINE in pipelines
    for pipeline, assets in sorted(pipelines.items()):
        shots.append(
            ui.visit(f"{location}/asset-groups/{pipeline}", f"graph-{pipeline}", [pipeline, *assets])
        )

    # A tenant's partition of the published asset: its latest materialization and the counts a user reads.
    counts = ["created", "updated", "unchanged", "deleted", "failed", "duration_s"]
    shots.append(
        ui.visit(
            f"/assets/{PIPELINE}/shopware_products?view=partitions&partition={tenant}",
            f"partition-{tenant}",
            [tenant, "Latest materialization", "Metadata", *counts],
        )
    )
    for asset in ("plenty_products", "shopware_products"):
        shots.append(
            ui.visit(
                f"/assets/{PIPELINE}/{asset}?view=checks", f"checks-{asset}", _checks_of(PIPELINE, asset)
            )
        )

    shots.append(ui.visit(f"{location}/schedules", "schedules", [s.name for s in defs.schedules or []]))
    shots.append(
        ui.visit(
            f"{location}/schedules/{PIPELINE}_delta_schedule",
            "schedule-delta",
            [f"{PIPELINE}_delta_schedule", "Every minute", "Tick history"],
        )
    )
    shots.append(ui.visit(f"{location}/sensors", "sensors", [s.name for s in defs.sensors or []]))
    shots.append(
        ui.visit(
            f"{location}/sensors/tenant_registry_sensor",
            "sensor-registry",
            ["tenant_registry_sensor", "Cursor"],
        )
    )
    assert tenant in page.inner_text("body"), "the registry sensor's cursor names the tenant"
    page.close()
    assert all(shot.stat().st_size > 10_000 for shot in shots)

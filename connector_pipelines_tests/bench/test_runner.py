"""What the benchmark runner reads of a sandbox in another process: every recipe's changes and convergence
over the hub's HTTP routes, and its figures from the emulators' stats."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connector_pipelines.pipelines.catalog import pipeline_recipes
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog


@pytest.fixture(params=sorted(pipeline_recipes()))
def pipeline(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def hub(pipeline: str) -> Iterator[SandboxHub]:
    """The pipeline's accounts alone, as the benchmark serves them (pipelines share systems: Shopware)."""
    sandbox = SandboxHub()
    pipeline_recipes()[pipeline].add_accounts(sandbox, "bench", Catalog(products=4, variants=2))
    sandbox.serve()
    yield sandbox
    sandbox.stop()


def test_hub_routes_change_and_compare_through_the_recipe(hub: SandboxHub, pipeline: str) -> None:
    recipe = pipeline_recipes()[pipeline]
    with httpx.Client(base_url=hub.url) as http:

        def get(path: str) -> object:
            response = http.get(path)
            response.raise_for_status()
            return response.json()

        convergence = http.get(f"/__hub/{pipeline}/bench/convergence").json()
        assert convergence["converged"] is False and convergence["expected"] > 0, "nothing published yet"
        changed = http.post(f"/__hub/{pipeline}/bench/change", json={"fraction": 1, "seed": 7}).json()
        assert changed["changed"]
        assert http.get(f"/__hub/{pipeline}/ghost/convergence").status_code == 404
        assert http.get("/__hub/nope/bench/convergence").status_code == 404
        for system in recipe.emulated:
            http.post(f"/{system}/bench/__sandbox/stats/reset").raise_for_status()
        figures = recipe.bench_counts(get, "bench", lambda asset: {})
        assert figures.target_writes == 0
        assert recipe.bench_items(get, "bench", Catalog(products=4, variants=2)) > 0

"""The pipelines this code location has: every ``pipelines/<name>/spec.py`` found, read without Dagster (the
CLI, the run-failure sensor, the demo and the benchmarks use it)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from connector_pipelines.store.db import Database
from connector_pipelines.sync.spec import PipelineSpec
from connector_pipelines.tenants.registry import TenantRegistry

if TYPE_CHECKING:
    from connector_pipelines.sandbox.recipe import SandboxRecipe

T = TypeVar("T")


def _declared(module: str) -> list[Any]:
    """``pipelines/<name>/<module>.py`` of every pipeline folder, imported, in the order of the names."""
    package = importlib.import_module(__package__ or "connector_pipelines.pipelines")
    return [
        importlib.import_module(f"{package.__name__}.{found.name}.{module}")
        for found in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
        if found.ispkg
    ]


@cache
def pipeline_specs() -> dict[str, PipelineSpec]:
    specs: list[PipelineSpec] = [m.SPEC for m in _declared("spec")]
    return {spec.name: spec for spec in specs}


def pipeline_spec(name: str) -> PipelineSpec:
    return _named(pipeline_specs(), name, "pipeline")


def tenant_registry(db: Database | None = None) -> TenantRegistry:
    """The tenant registry (of ``db``, else the configured one) that accepts this location's pipelines."""
    return TenantRegistry(db if db is not None else Database(), pipelines=pipeline_specs())


def pipeline_of_job(job_name: str) -> PipelineSpec | None:
    """The pipeline a job belongs to, by the job names its spec declares."""
    for spec in pipeline_specs().values():
        if any(spec.job_name(job.name) == job_name for job in spec.jobs):
            return spec
    return None


@cache
def pipeline_recipes() -> dict[str, SandboxRecipe]:
    """Every pipeline's sandbox recipe (``pipelines/<name>/recipe.py``, exporting ``RECIPE``), by pipeline:
    what the demo, the benchmark, ``sandbox serve`` and the test harness know of a pipeline."""
    recipes: list[SandboxRecipe] = [m.RECIPE for m in _declared("recipe")]
    return {recipe.pipeline: recipe for recipe in recipes}


def pipeline_recipe(name: str) -> SandboxRecipe:
    return _named(pipeline_recipes(), name, "sandbox recipe of pipeline")


def _named(found: dict[str, T], name: str, what: str) -> T:
    if name not in found:
        raise LookupError(f"unknown {what} '{name}'; known: {', '.join(sorted(found))}")
    return found[name]

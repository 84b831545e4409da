"""The pipelines this code location has: every ``pipelines/<name>/spec.py`` found, read without Dagster (the
CLI, the run-failure sensor, the demo and the benchmarks use it)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from connector_pipelines.store.db import Database
from connector_pipelines.sync.spec import PipelineSpec
from connector_pipelines.tenants.registry import TenantRegistry

if TYPE_CHECKING:
    from connector_pipelines.sandbox.recipe import SandboxRecipe

T = TypeVar("T")


def _folders(module: str) -> list[str]:
    """The modules ``pipelines/<name>/<module>.py`` of the pipeline folders that have one, in the order of the
    names, found without importing them."""
    package = importlib.import_module(__package__ or "connector_pipelines.pipelines")
    names = [
        f"{package.__name__}.{found.name}.{module}"
        for found in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
        if found.ispkg
    ]
    return [name for name in names if importlib.util.find_spec(name) is not None]


def _declared(module: str) -> list[Any]:
    """``pipelines/<name>/<module>.py`` of every pipeline folder, imported, in the order of the names."""
    return [importlib.import_module(name) for name in _folders(module)]


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


def recipe_names() -> tuple[str, ...]:
    """The pipelines that have a sandbox recipe (a pipeline's folder is named after it), none imported: a
    recipe imports its emulators, which a command that uses one pipeline must not pay for all of them."""
    return tuple(name.split(".")[-2] for name in _folders("recipe"))


def pipeline_recipe(name: str) -> SandboxRecipe:
    """The recipe of ``name``, importing that pipeline's recipe alone."""
    _named(dict.fromkeys(recipe_names()), name, "sandbox recipe of pipeline")
    package = __package__ or "connector_pipelines.pipelines"
    recipe: SandboxRecipe = importlib.import_module(f"{package}.{name}.recipe").RECIPE
    if recipe.pipeline != name:
        raise LookupError(f"the recipe in pipelines/{name}/ is of pipeline '{recipe.pipeline}'")
    return recipe


def _named(found: dict[str, T], name: str, what: str) -> T:
    if name not in found:
        raise LookupError(f"unknown {what} '{name}'; known: {', '.join(sorted(found))}")
    return found[name]

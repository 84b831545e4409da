"""The contract every pipeline keeps, run on each pipeline of the catalog from its sandbox recipe: a new
pipeline gets this suite by declaring its recipe (``pipelines/<name>/recipe.py``).

Full converges; changes, an addition and a deletion converge; nothing changed writes nothing; a plan writes
nothing and leaves the work to the next run; a killed run resumes without duplicates; a bad record is
isolated. What differs per pipeline (how to kill a run, how to make a record bad) is on the recipe."""

from __future__ import annotations

from typing import Any

import pytest

from connector_pipelines.pipelines.catalog import pipeline_recipes
from connector_pipelines.runner import RunSummary
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant, sandbox_tenant

PIPELINES = sorted(pipeline_recipes())
WRITES = ("created", "updated", "deleted")


@pytest.fixture(params=PIPELINES)
def tenant(request: pytest.FixtureRequest, hub: SandboxHub, sqlite_registry: TenantRegistry) -> SandboxTenant:
    return sandbox_tenant(hub, sqlite_registry, request.param)


def _ok(summary: RunSummary) -> RunSummary:
    assert summary.success, summary.error
    return summary


def _converged(tenant: SandboxTenant) -> None:
    report = tenant.convergence()
    assert report.converged, report.describe()


def _written(summary: RunSummary, tenant: SandboxTenant) -> dict[str, Any]:
    counts = summary.counts(tenant.recipe.target_asset)
    return {k: counts.get(k, 0) for k in (*WRITES, "failed")}


def _onboard(tenant: SandboxTenant) -> RunSummary:
    return _ok(tenant.sync(SyncMode.FULL))


def _change_and_add(tenant: SandboxTenant, seed: int) -> None:
    """After a full: change 30 % of the source and add one product."""
    _onboard(tenant)
    assert tenant.recipe.change(tenant.hub, tenant.slug, fraction=0.3, seed=seed)
    tenant.recipe.add_one(tenant.hub, tenant.slug, seed=5, variants=3)


def test_full_converges(tenant: SandboxTenant) -> None:
    full = _onboard(tenant)
    assert _written(full, tenant)["created"] > 0
    _converged(tenant)


def test_changes_additions_and_deletions_converge(tenant: SandboxTenant) -> None:
    _change_and_add(tenant, seed=11)
    recipe, hub = tenant.recipe, tenant.hub
    deleted = recipe.delete_one(hub, tenant.slug)
    delta = _ok(tenant.sync(SyncMode.DELTA))
    assert _written(delta, tenant)["created"] == 1
    if recipe.deletions_need_full:
        report = tenant.convergence()
        assert not (report.missing or report.mismatched), report.describe()
        assert set(report.unexpected) <= deleted.target_keys, "only the deletion waits for a full read"
        assert _written(_ok(tenant.sync(SyncMode.FULL)), tenant)["deleted"] == 1
    else:
        assert _written(delta, tenant)["deleted"] == 1
    _converged(tenant)


def test_a_delta_with_nothing_changed_writes_nothing(tenant: SandboxTenant) -> None:
    _onboard(tenant)
    before = tenant.recipe.target_state(tenant.hub, tenant.slug)
    quiet = _ok(tenant.sync(SyncMode.DELTA))
    assert _written(quiet, tenant) == dict.fromkeys((*WRITES, "failed"), 0)
    assert tenant.recipe.target_state(tenant.hub, tenant.slug) == before
    _converged(tenant)


def test_a_plan_writes_nothing_and_leaves_the_work_to_the_next_run(tenant: SandboxTenant) -> None:
    _change_and_add(tenant, seed=13)
    recipe, hub = tenant.recipe, tenant.hub
    before = recipe.target_state(hub, tenant.slug)
    plan = _ok(tenant.sync(SyncMode.PLAN))
    entries = plan.counts(recipe.target_asset)["plan"]
    assert {e["action"] for e in entries} >= {"create", "update"}, entries
    assert recipe.target_state(hub, tenant.slug) == before, "a plan writes nothing"
    assert not tenant.convergence().converged

    delta = _ok(tenant.sync(SyncMode.DELTA))
    written = _written(delta, tenant)
    assert written["created"] == 1 and written["updated"] > 0, "the plan did not consume the changes"
    _converged(tenant)


def test_a_killed_run_resumes_without_duplicates(
    tenant: SandboxTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run dies right after its first target write landed, before it heard back (as a killed process
    or a dropped connection): the rerun finds what was written and neither loses nor duplicates it."""
    kill = tenant.recipe.kill
    tenant.registry.update(tenant.slug, settings=kill.settings)
    write = getattr(kill.cls, kill.method)

    def dies_after_writing(writer: Any, *args: Any, **kwargs: Any) -> Any:
        write(writer, *args, **kwargs)
        raise RuntimeError("killed: the target took the write, the run never heard back")

    with monkeypatch.context() as patched:
        patched.setattr(kill.cls, kill.method, dies_after_writing)
        died = tenant.sync(SyncMode.FULL)
    assert not died.success and "killed" in (died.error or "")
    assert tenant.recipe.target_state(tenant.hub, tenant.slug), "the run died after writing"

    _ok(tenant.sync(SyncMode.FULL))
    report = tenant.convergence()
    assert report.converged and not report.duplicated, report.describe()


def test_a_bad_record_is_isolated(tenant: SandboxTenant) -> None:
    recipe, hub = tenant.recipe, tenant.hub
    recipe.reject_one(hub, tenant.slug)
    full = _onboard(tenant)
    written = _written(full, tenant)
    assert written["failed"] == 1 and written["created"] > 1, "a bad record never sinks the batch"
    assert tenant.store().count_open_errors() == 1
    report = tenant.convergence()
    assert report.missing and not (report.unexpected or report.duplicated), report.describe()

    recipe.clear_faults(hub, tenant.slug)
    retry = _ok(tenant.sync(SyncMode.DELTA))
    assert _written(retry, tenant)["created"] == 1
    assert tenant.store().count_open_errors() == 0
    _converged(tenant)

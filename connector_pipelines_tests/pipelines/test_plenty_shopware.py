"""plenty_shopware through Dagster against the emulators: every mode, deletions, bad records, faults."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant, make_tenant


def _onboard(tenant: PlentyShopwareTenant) -> None:
    for mode in (SyncMode.CONFIG, SyncMode.FULL):
        summary = tenant.sync(mode)
        assert summary.success, summary.error
    report = tenant.convergence()
    assert report.converged, report.describe()


@pytest.mark.postgres
def test_full_delta_and_zero_change_delta_on_postgres(
    hub: SandboxHub, db: object, registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", registry.db.url)
    run_full_delta_zero_change(make_tenant(hub, registry))


def test_full_delta_and_zero_change_delta(tenant: PlentyShopwareTenant) -> None:
    run_full_delta_zero_change(tenant)


def run_full_delta_zero_change(tenant: PlentyShopwareTenant) -> None:
    config = tenant.sync(SyncMode.CONFIG)
    assert config.success, config.error
    assert config.counts("plenty_categories")["changed"] > 0
    assert config.counts("shopware_reference")["created"] > 0

    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    products = full.counts("shopware_products")
    assert products["created"] == 12 and products["failed"] == 0
    assert products["api_calls_shopware6"] > 0 and "preview" in products
    assert full.counts("plenty_products")["full_read"] is True
    assert all(full.checks.values()), full.checks
    assert tenant.convergence().converged, tenant.convergence().describe()

    changes = tenant.plenty.emulator.change_random(0.5, seed=11, kinds=("price", "stock"))
    changed_items = {c.item_id for c in changes}
    delta = tenant.sync(SyncMode.DELTA)
    assert delta.success, delta.error
    assert delta.counts("plenty_products")["full_read"] is False
    assert delta.counts("plenty_products")["fetched"] == len(changed_items), "only changed items are re-read"
    assert 0 < delta.counts("shopware_products")["updated"] <= len(changed_items)
    assert delta.counts("shopware_products")["created"] == 0
    assert tenant.convergence().converged, tenant.convergence().describe()

    before = tenant.shopware.emulator.stats().sync_requests
    quiet = tenant.sync(SyncMode.DELTA)
    assert quiet.success, quiet.error
    assert quiet.counts("shopware_products")["updated"] == 0
    assert quiet.counts("shopware_products")["unchanged"] == 12
    assert tenant.shopware.emulator.stats().sync_requests == before, "nothing unchanged is sent"


def test_deletions_need_a_complete_read(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    gone = next(iter(tenant.plenty.emulator.catalog.items))
    tenant.plenty.emulator.delete_item(gone)
    delta = tenant.sync(SyncMode.DELTA)
    assert delta.counts("shopware_products")["deleted"] == 0, "a delta cannot see deletions"
    full = tenant.sync(SyncMode.FULL)
    assert full.counts("plenty_products")["removed"] == 1
    assert full.counts("shopware_products")["deleted"] == 1
    report = tenant.convergence()
    assert report.converged, report.describe()


def test_deactivation_instead_of_deletion(hub: SandboxHub, sqlite_registry: TenantRegistry) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopware={"deletion": "deactivate"})
    _onboard(tenant)
    gone = next(iter(tenant.plenty.emulator.catalog.items))
    tenant.plenty.emulator.delete_item(gone)
    before = tenant.shopware.emulator.count("product")
    assert tenant.sync(SyncMode.FULL).counts("shopware_products")["deleted"] == 1
    assert tenant.shopware.emulator.count("product") == before, "kept, not deleted"
    parent = tenant.shopware.emulator.products_by_number()[f"P-{gone}"]
    assert parent["active"] is False
    again = tenant.sync(SyncMode.FULL)
    assert again.counts("shopware_products")["deleted"] == 0, "deactivated once"


def test_a_bad_record_is_isolated_recorded_and_retried(tenant: PlentyShopwareTenant) -> None:
    assert tenant.sync(SyncMode.CONFIG).success
    victim = next(iter(tenant.plenty.emulator.catalog.variations.values()))
    tenant.shopware.emulator.reject_next_sync_record(victim.number, times=20)
    full = tenant.sync(SyncMode.FULL)
    assert full.success, "a bad record never sinks the batch"
    counts = full.counts("shopware_products")
    assert counts["failed"] == 1 and counts["created"] == 11
    assert full.checks["shopware_products:open_record_errors"] is False
    (error,) = tenant.store().open_errors()
    assert error.record_key == f"plentymarkets:item:{victim.item_id}" and "/" in error.reason
    report = tenant.convergence()
    assert report.missing and all(
        not n.startswith("A-") or n.startswith(victim.number[:8]) for n in report.missing
    )

    tenant.shopware.emulator.clear_reject_rules()
    retry = tenant.sync(SyncMode.DELTA)
    assert retry.counts("shopware_products")["created"] == 1
    assert retry.counts("shopware_products")["resolved_errors"] == 1
    assert tenant.store().count_open_errors() == 0
    assert tenant.convergence().converged, tenant.convergence().describe()


def test_429_storms_5xx_and_dropped_connections_are_survived(tenant: PlentyShopwareTenant) -> None:
    tenant.plenty.emulator.faults.configure(
        FaultConfig(seed=3, storm_429=3, retry_after_s=0.01, rate_5xx=0.1)
    )
    tenant.shopware.emulator.faults.configure(FaultConfig(seed=4, rate_5xx=0.15, rate_drop=0.1))
    _onboard(tenant)
    assert tenant.plenty.emulator.faults.counters.too_many == 3
    assert tenant.shopware.emulator.faults.counters.total > 0


def test_expired_tokens_are_renewed(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    tenant.plenty.emulator.expire_tokens()
    tenant.shopware.emulator.expire_tokens()
    tenant.plenty.emulator.change_random(0.3, seed=5, kinds=("price",))
    delta = tenant.sync(SyncMode.DELTA)
    assert delta.success, delta.error
    assert tenant.convergence().converged


def test_plan_shows_the_diff_and_writes_nothing(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    variation = next(iter(tenant.plenty.emulator.catalog.variations.values()))
    tenant.plenty.emulator.set_stock(variation.id, 4242)
    requests = tenant.shopware.emulator.stats().sync_requests
    plan = tenant.sync(SyncMode.PLAN)
    assert plan.success, plan.error
    entries = plan.counts("shopware_products")["plan"]
    assert [e["action"] for e in entries] == ["update"]
    assert "stock" in entries[0]["changed_fields"]
    assert tenant.shopware.emulator.stats().sync_requests == requests
    assert not tenant.convergence().converged, "plan wrote nothing"
    assert tenant.sync(SyncMode.DELTA).counts("shopware_products")["updated"] == 1
    assert tenant.convergence().converged


def test_single_product_sync(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    items = list(tenant.plenty.emulator.catalog.items.values())[:2]
    for item in items:
        tenant.plenty.emulator.set_stock(item.variation_ids[-1], 777)
    one = tenant.sync(SyncMode.DELTA, product_ids=[str(items[0].id)])
    assert one.counts("plenty_products")["fetched"] == 1
    assert one.counts("shopware_products")["updated"] == 1
    rest = tenant.sync(SyncMode.DELTA)
    assert rest.counts("shopware_products")["updated"] == 1, "the other item, via the untouched cursor"
    assert tenant.convergence().converged


def test_wrong_credentials_fail_clearly_without_leaking(tenant: PlentyShopwareTenant) -> None:
    secret = "definitely-wrong-secret-123"
    tenant.registry.set_credentials(
        tenant.slug, "shopware6", {"client_id": tenant.shopware.client_id, "client_secret": secret}
    )
    run = tenant.sync(SyncMode.CONFIG)
    assert not run.success
    assert run.error is not None and "shopware6" in run.error and "401" in run.error
    text = tenant.event_log_text(run.run_id)
    for value in (secret, tenant.plenty.password):
        assert value not in text and value not in run.error


def test_a_killed_run_converges_without_duplicates(
    hub: SandboxHub, sqlite_registry: TenantRegistry, tmp_path: Path
) -> None:
    tenant = make_tenant(hub, sqlite_registry, products=40, shopware={"batch_size": 4})
    assert tenant.sync(SyncMode.CONFIG).success
    # Slow Shopware writes down so the run is surely mid-way when it is killed.
    slow = FaultConfig(rate_slow=1.0, slow_s=0.2, path_prefix="/api/_action/sync")
    tenant.shopware.emulator.faults.configure(slow)
    command = [
        sys.executable,
        "-m",
        "connector_pipelines",
        "sync",
        tenant.slug,
        "--pipeline",
        "plenty_shopware",
    ]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster")}
    child = subprocess.Popen(
        [*command, "--mode", "full"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while tenant.shopware.emulator.count("product") < 16:
        assert child.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    written = tenant.shopware.emulator.count("product")
    assert 0 < written < 160, "killed half-way"

    tenant.shopware.emulator.faults.clear()
    rerun = tenant.sync(SyncMode.FULL)
    assert rerun.success, rerun.error
    report = tenant.convergence()
    assert report.converged and not report.duplicated, report.describe()


def test_no_secret_reaches_logs_metadata_or_errors(
    tenant: PlentyShopwareTenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [tenant.plenty.password, tenant.shopware.client_secret]
    runs = [tenant.sync(SyncMode.CONFIG), tenant.sync(SyncMode.FULL)]
    tenant.plenty.emulator.faults.configure(FaultConfig(rate_5xx=1.0, status_5xx=503))
    failing = tenant.sync(SyncMode.DELTA)
    assert not failing.success and failing.error
    texts = [caplog.text, failing.error]
    texts += [tenant.event_log_text(r.run_id) for r in [*runs, failing]]
    texts += [json.dumps(r.materializations, default=str) for r in runs]
    texts += [str(run.error) for run in tenant.store_runs()]
    for text in texts:
        for secret in secrets:
            assert secret not in text

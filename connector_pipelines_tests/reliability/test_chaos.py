"""Chaos convergence: source changes interleaved with syncs in every mode while the sandbox misbehaves.

Each sequence (seeded, so a failure names the seed that reproduces it) changes the Plenty catalog at random
(add, change, delete items and variations, prices, stock, SKUs, texts) and runs a sync in a random mode while
the emulators inject faults (429 storms, 5xx, connections dropped mid-response, answers slower than the
client's timeout, access tokens expired mid-run, a batch rejected for one bad record); some runs are child
processes killed with SIGKILL mid-read or mid-publish. Shopware must never hold a duplicate. At the end one
full sync with a record still rejected leaves exactly that record's error open and its products off; once
the rejection stops, a clean full sync makes Shopware equal to Plenty, every error resolved.

erp_files_shopify runs the same way: a catalog file on SFTP changed (prices, titles, products added and
deleted), Shopify answering with the same transport faults plus bulk operations that fail part-way or on one
line, runs killed mid-write; there a duplicate is a SKU twice in the shop. The pipelines taking part are the
entries of ``CHAOS_PIPELINES``; the figure line adds up all of them.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.catalog import pipeline_spec
from connector_pipelines.pipelines.runs import run_tags
from connector_pipelines.sandbox.convergence import ConvergenceReport, check_convergence
from connector_pipelines.sandbox.file_servers import (
    add_products,
    change_prices,
    delete_products,
    rename_product,
)
from connector_pipelines.sandbox.hub import (
    SandboxHub,
    check_erp_shopify_convergence,
    erp_files_shopify_tenant,
)
from connector_pipelines.sandbox.plentymarkets import PlentyEmulator
from connector_pipelines.sandbox.server import FaultConfig, Faults
from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator
from connector_pipelines.sources.plentymarkets import key
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync import plenty_shopware as steps
from connector_pipelines.sync.publish import PENDING
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.targets.shopware6 import ProductWriter
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant, register

pytestmark = pytest.mark.reliability

CLIENT_TIMEOUT_S = 1.0
SLOW_S = CLIENT_TIMEOUT_S + 0.3  # past the client's timeout: the request is answered after it gave up
PACING_S = 0.15  # Shopware writes in a run that is to be killed: slow enough to land the kill mid-publish
MODES = (SyncMode.CONFIG, SyncMode.DELTA, SyncMode.FULL, SyncMode.PLAN)


@dataclass
class Tally:
    runs: int = 0
    faults: int = 0
    kills: int = 0
    lost: int = 0
    duplicated: set[str] = field(default_factory=set)

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.faults += other.faults
        self.kills += other.kills
        self.lost += other.lost
        self.duplicated |= other.duplicated

    def line(self) -> str:
        return (
            f"chaos: {self.runs} runs, {self.faults} faults injected, {self.kills} kills, "
            f"{self.lost} lost, {len(self.duplicated)} duplicated"
        )


def _check_failure_is_explained(result: dg.ExecuteInProcessResult, where: str) -> None:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, f"{where}: run {result.run_id} failed without a failed step"
    for event in failures:
        data = event.step_failure_data
        message = data.error.message.strip() if data is not None and data.error is not None else ""
        assert ": " in message, f"{where}: a step failed without a message: {message!r}"


def _fault_total(faults: Faults) -> int:
    return faults.counters.total


class PlentyShopwareChaos:
    """One seeded sequence against a fresh Plenty account, Shopware shop and connector database."""

    pipeline = steps.PIPELINE

    def __init__(self, seed: int, products: int, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.slug = f"chaos-{seed}"
        self.hub = SandboxHub()
        self.hub.serve()
        self.hub.add_plenty(self.slug, products=products, variants=3, seed=seed)
        self.hub.add_shopware(self.slug)
        url = f"sqlite:///{work / 'connector.db'}"
        monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
        self.db = Database(url)
        self.registry = TenantRegistry(self.db)
        # Small batches: more requests to fail, and a rejected record splits a batch of several.
        register(self.hub, self.registry, self.slug, shopware={"batch_size": 3})
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(self.pipeline, [self.slug])
        self.child_env = {**os.environ, "DAGSTER_HOME": str(work / "dagster")}
        self._renamed = 0

    @property
    def plenty(self) -> PlentyEmulator:
        return self.hub.plenty[self.slug].emulator

    @property
    def shopware(self) -> Shopware6Emulator:
        return self.hub.shopware[self.slug].emulator

    def store(self) -> TenantStore:
        return TenantStore(self.db, self.slug, self.pipeline)

    def close(self) -> None:
        self.hub.stop()
        self.db.dispose()

    def where(self) -> str:
        return f"plenty_shopware chaos sequence seed={self.seed}"

    # --- source changes ------------------------------------------------------------------------------------

    def mutate(self) -> None:
        plenty, rng = self.plenty, self.rng
        for _ in range(rng.randint(0, 3)):
            catalog = plenty.catalog
            variations = sorted(catalog.variations)
            items = sorted(catalog.items)
            victim = catalog.variations[rng.choice(variations)]
            match rng.choice(
                ["add", "delete", "deactivate", "price", "stock", "sku", "text", "random", "variation"]
            ):
                case "add":
                    plenty.add_item(variants=rng.randint(1, 3))
                case "delete" if len(items) > 3:
                    plenty.delete_item(rng.choice(items))
                case "deactivate":
                    plenty.deactivate_variation(victim.id)
                case "price":
                    plenty.set_price(victim.id, round(rng.uniform(1, 500), 2))
                case "stock":
                    plenty.set_stock(victim.id, rng.randint(0, 90))
                case "sku":
                    self._renamed += 1
                    plenty.update_variation(victim.id, number=f"{victim.number}-r{self._renamed}")
                case "text":
                    name = f"Umbenannt {rng.random():.6f}"
                    plenty.update_item(victim.item_id, texts={"de": {"name1": name}})
                case "random":
                    plenty.change_random(0.1, seed=rng.randrange(1 << 30), kinds=("price", "stock", "item"))
                case _:
                    plenty.update_variation(victim.id, weightG=rng.randint(1, 5000))

    # --- faults -----------------------------------------------------------------------------------------

    def _fault_config(self) -> FaultConfig:
        rng = self.rng
        return FaultConfig(
            seed=rng.randrange(1 << 30),
            storm_429=rng.choice([0, 0, 0, 1, 2]),
            retry_after_s=0,
            rate_5xx=rng.choice([0, 0, 0.05, 0.15]),
            rate_drop=rng.choice([0, 0, 0.05, 0.1]),
            rate_slow=rng.choice([0, 0, 0, 0.05]),
            slow_s=SLOW_S,
        )

    def _reject_one(self) -> None:
        variation = self.plenty.catalog.variations[self.rng.choice(sorted(self.plenty.catalog.variations))]
        self.shopware.reject_next_sync_record(variation.number, times=self.rng.randint(1, 3))

    # --- runs ---------------------------------------------------------------------------------------------

    def run_in_process(self, mode: SyncMode) -> dg.ExecuteInProcessResult:
        """The mode's job as the runner starts it, with the clients' timeouts lowered so that the emulators'
        slow answers outlast them."""
        run_config: dict[str, Any] = {
            "resources": {"sync_run": {"config": {"mode": mode.value, "client_timeout_s": CLIENT_TIMEOUT_S}}},
            "loggers": {"console": {"config": {"log_level": "ERROR"}}},
        }
        job = defs.resolve_job_def(str(pipeline_spec(self.pipeline).job_for(mode)))
        self.tally.runs += 1
        return job.execute_in_process(
            instance=self.instance,
            partition_key=self.slug,
            run_config=run_config,
            tags=run_tags(self.slug, mode),
            raise_on_error=False,
        )

    def chaotic_run(self) -> None:
        rng = self.rng
        mode = rng.choice(MODES)
        faults = [self.plenty.faults, self.shopware.faults]
        before = sum(_fault_total(f) for f in faults)
        rejected_before = self.shopware.stats().sync_failed
        for emulator_faults in faults:
            if rng.random() < 0.7:
                emulator_faults.configure(self._fault_config())
        if rng.random() < 0.3:
            self._reject_one()
        expiries: list[Callable[[], None]] = []
        if rng.random() < 0.4:
            expiries.append(self.plenty.expire_tokens)
        if rng.random() < 0.4:
            expiries.append(self.shopware.expire_tokens)
        fired = threading.Event()

        def expire() -> None:
            for expire_tokens in expiries:
                expire_tokens()
            fired.set()

        timer = threading.Timer(rng.uniform(0.2, 2.0), expire)
        if expiries:
            timer.start()
        result = self.run_in_process(mode)
        timer.cancel()
        slow_hits = sum(f.counters.slow for f in faults)
        for emulator_faults in faults:
            emulator_faults.clear()
        self.shopware.clear_reject_rules()
        self.tally.faults += sum(_fault_total(f) for f in faults) - before
        self.tally.faults += self.shopware.stats().sync_failed - rejected_before
        self.tally.faults += len(expiries) if fired.is_set() else 0
        if not result.success:
            _check_failure_is_explained(result, self.where())
        if slow_hits:
            # Answers the client gave up on still land: let them, before Plenty changes again.
            time.sleep(SLOW_S)

    def killed_run(self) -> None:
        """A ``connector-pipelines sync`` child process, SIGKILLed mid-read or mid-publish."""
        rng = self.rng
        mode = rng.choice((SyncMode.CONFIG, SyncMode.DELTA, SyncMode.FULL))
        self.shopware.faults.configure(
            FaultConfig(rate_slow=1.0, slow_s=PACING_S, path_prefix="/api/_action/sync")
        )
        plenty_before = self.plenty.stats().total
        writes_before = self.shopware.stats().sync_requests
        mid_publish = mode != SyncMode.CONFIG and rng.random() < 0.6
        if mid_publish:
            # Enough changed records that the publish takes several requests: one of them is cut.
            self.plenty.change_random(0.5, seed=rng.randrange(1 << 30), kinds=("price",))
        threshold = rng.randint(1, 3) if mid_publish else rng.randint(1, 6)
        command = [sys.executable, "-m", "connector_pipelines", "sync", self.slug]
        child = subprocess.Popen(
            [*command, "--pipeline", self.pipeline, "--mode", mode.value],
            env=self.child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.tally.runs += 1
        deadline = time.monotonic() + 120
        try:
            while child.poll() is None:
                done = (
                    self.shopware.stats().sync_requests - writes_before
                    if mid_publish
                    else self.plenty.stats().total - plenty_before
                )
                if done >= threshold:
                    child.send_signal(signal.SIGKILL)
                    child.wait()
                    self.tally.kills += 1
                    break
                assert time.monotonic() < deadline, f"{self.where()}: a {mode.value} run hangs"
                time.sleep(0.01)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        time.sleep(PACING_S * 2)  # the write in flight when the run died still lands
        self.shopware.faults.clear()

    def check_no_duplicates(self) -> None:
        numbers = Counter(str(p.get("productNumber")) for p in self.shopware.entities("product"))
        self.tally.duplicated |= {n for n, count in numbers.items() if count > 1}

    # --- the end: one record still failing, then nothing --------------------------------------------------

    def convergence(self) -> ConvergenceReport:
        return check_convergence(self.plenty, self.shopware)

    def finish(self) -> None:
        catalog = self.plenty.catalog
        victim = catalog.variations[self.rng.choice(sorted(catalog.variations))]
        item = catalog.items[victim.item_id]
        numbers = {f"P-{item.id}"} | {catalog.variations[v].number for v in item.variation_ids}
        # New stock in a sales warehouse makes the victim's product one that must be sent (and so fail), and
        # one whose Shopware state visibly differs from Plenty's while it fails.
        self.plenty.set_stock(victim.id, 1000 + self.rng.randint(0, 999))
        self.shopware.reject_next_sync_record(victim.number, times=1000)
        result = self.run_in_process(SyncMode.FULL)
        assert result.success, f"{self.where()}: the full sync with one bad record failed"
        self.tally.faults += 1
        open_errors = self.store().open_errors()
        assert {(e.stage, e.record_key) for e in open_errors} == {
            ("shopware_products", key("item", item.id))
        }, f"{self.where()}: open errors are not exactly the rejected record: {open_errors}"
        report = self.convergence()
        problems = report.missing + report.unexpected + [m.split(":")[0] for m in report.mismatched]
        assert problems and set(problems) <= numbers, (
            f"{self.where()}: only the rejected product may differ: {report.describe()}"
        )
        self.check_no_duplicates()

        self.shopware.clear_reject_rules()
        result = self.run_in_process(SyncMode.FULL)
        assert result.success, f"{self.where()}: the clean full sync failed"
        report = self.convergence()
        self.tally.lost += len(report.missing) + len(report.mismatched)
        self.tally.duplicated |= set(report.duplicated)
        assert report.converged, f"{self.where()}: {report.describe()}"
        store = self.store()
        assert store.open_errors() == [], f"{self.where()}: errors left open: {store.open_errors()}"
        for kind in (steps.PRODUCTS, *steps.REFERENCE_KINDS):
            published = {k: m.content_hash for k, m in store.mappings(kind).items()}
            assert published == store.record_hashes(kind), f"{self.where()}: {kind} mappings are off"


class ErpFilesShopifyChaos:
    """One seeded sequence of erp_files_shopify: a catalog file on an SFTP server, a Shopify shop."""

    pipeline = "erp_files_shopify"
    modes = (SyncMode.DELTA, SyncMode.FULL, SyncMode.PLAN)

    def __init__(self, seed: int, products: int, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.slug = f"erp-chaos-{seed}"
        self.hub = SandboxHub()
        self.hub.serve()
        self.shop = self.hub.add_shopify(self.slug)
        self.erp = self.hub.add_erp_files(self.slug, products=products, variants=3, seed=seed)
        url = f"sqlite:///{work / 'connector.db'}"
        monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
        self.db = Database(url)
        registry = TenantRegistry(self.db)
        # A low bulk threshold: runs take the bulk path and the direct one, depending on how much changed.
        settings, credentials = erp_files_shopify_tenant(
            self.hub.accounts(), self.slug, shopify={"bulk_threshold": 4, "bulk_poll_interval_s": 0.05}
        )
        registry.add(self.slug, self.slug, [self.pipeline], settings)
        for system, values in credentials.items():
            registry.set_credentials(self.slug, system, values)
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(self.pipeline, [self.slug])
        self.child_env = {**os.environ, "DAGSTER_HOME": str(work / "dagster")}
        self._stamp = 0.0
        self._renamed = 0

    @property
    def shopify(self) -> ShopifyEmulator:
        return self.shop.emulator

    def where(self) -> str:
        return f"erp_files_shopify chaos sequence seed={self.seed}"

    def close(self) -> None:
        self.hub.stop()
        self.db.dispose()

    def _parents(self) -> list[str]:
        with self.erp.file.open(newline="", encoding="utf-8") as stream:
            return sorted({row["parent_id"] for row in csv.DictReader(stream)})

    def _touched(self) -> None:
        # A later modification time than any before: listings carry whole seconds, and two rewrites of one
        # size within a second would look like one file.
        self._stamp = max(self._stamp, self.erp.file.stat().st_mtime) + 2
        os.utime(self.erp.file, (self._stamp, self._stamp))

    def mutate(self) -> None:
        rng, file, layout = self.rng, self.erp.file, self.erp.layout
        changes = rng.randint(0, 3)
        for _ in range(changes):
            parents = self._parents()
            match rng.choice(["prices", "rename", "delete", "add"]):
                case "prices":
                    change_prices(file, layout, fraction=rng.uniform(0.05, 0.5), seed=rng.randrange(1 << 30))
                case "rename":
                    self._renamed += 1
                    rename_product(file, layout, rng.choice(parents), f"Umbenannt {self._renamed}")
                case "delete" if len(parents) > 3:
                    delete_products(file, layout, rng.sample(parents, rng.randint(1, 2)))
                case _:
                    add_products(file, layout, rng.randint(1, 2), seed=rng.randrange(1 << 30))
        if changes:
            self._touched()

    def run_in_process(self, mode: SyncMode) -> dg.ExecuteInProcessResult:
        run_config: dict[str, Any] = {
            "resources": {"sync_run": {"config": {"mode": mode.value, "client_timeout_s": CLIENT_TIMEOUT_S}}},
            "loggers": {"console": {"config": {"log_level": "ERROR"}}},
        }
        self.tally.runs += 1
        return defs.resolve_job_def(str(pipeline_spec(self.pipeline).job_for(mode))).execute_in_process(
            instance=self.instance,
            partition_key=self.slug,
            run_config=run_config,
            tags=run_tags(self.slug, mode),
            raise_on_error=False,
        )

    def chaotic_run(self) -> None:
        rng, shopify = self.rng, self.shopify
        mode = rng.choice(self.modes)
        before = _fault_total(shopify.faults)
        bulk_before = shopify.stats_snapshot()["bulk_operations"]
        if rng.random() < 0.7:
            shopify.faults.configure(
                FaultConfig(
                    seed=rng.randrange(1 << 30),
                    storm_429=rng.choice([0, 0, 1, 2]),
                    retry_after_s=0,
                    rate_5xx=rng.choice([0, 0, 0.05, 0.15]),
                    rate_drop=rng.choice([0, 0, 0.05, 0.1]),
                    rate_slow=rng.choice([0, 0, 0, 0.05]),
                    slow_s=SLOW_S,
                )
            )
        bulk_fault = rng.choice(["none", "none", "failed", "lines"])
        if bulk_fault == "failed":
            shopify.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=rng.randint(0, 3))
        elif bulk_fault == "lines":
            shopify.fail_bulk_lines([rng.randint(0, 5)])
        result = self.run_in_process(mode)
        shopify.wait_for_bulk()
        slow_hits = shopify.faults.counters.slow
        shopify.faults.clear()
        shopify.clear_bulk_faults()
        self.tally.faults += _fault_total(shopify.faults) - before
        # A bulk fault counts when a bulk operation ran to meet it.
        met = bulk_fault != "none" and shopify.stats_snapshot()["bulk_operations"] > bulk_before
        self.tally.faults += int(met)
        if not result.success:
            _check_failure_is_explained(result, self.where())
        if slow_hits:
            time.sleep(SLOW_S)

    def killed_run(self) -> None:
        rng, shopify = self.rng, self.shopify
        mode = rng.choice((SyncMode.DELTA, SyncMode.FULL))
        # Enough changed products that writing them takes several calls, slowed so the kill lands among them.
        change_prices(self.erp.file, self.erp.layout, fraction=0.6, seed=rng.randrange(1 << 30))
        self._touched()
        shopify.faults.configure(FaultConfig(rate_slow=1.0, slow_s=PACING_S, path_prefix="/admin"))
        calls_before = shopify.stats_snapshot()["graphql_calls"]
        threshold = rng.randint(1, 4)
        command = [sys.executable, "-m", "connector_pipelines", "sync", self.slug]
        child = subprocess.Popen(
            [*command, "--pipeline", self.pipeline, "--mode", mode.value],
            env=self.child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.tally.runs += 1
        deadline = time.monotonic() + 120
        try:
            while child.poll() is None:
                if shopify.stats_snapshot()["graphql_calls"] - calls_before >= threshold:
                    child.send_signal(signal.SIGKILL)
                    child.wait()
                    self.tally.kills += 1
                    break
                assert time.monotonic() < deadline, f"{self.where()}: a {mode.value} run hangs"
                time.sleep(0.01)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        time.sleep(PACING_S * 2)
        shopify.wait_for_bulk()
        shopify.faults.clear()

    def check_no_duplicates(self) -> None:
        self.shopify.wait_for_bulk()
        skus = Counter(str(v) for v in _all_skus(self.shopify))
        self.tally.duplicated |= {sku for sku, count in skus.items() if count > 1}

    def finish(self) -> None:
        result = self.run_in_process(SyncMode.FULL)
        assert result.success, f"{self.where()}: the clean full sync failed"
        self.shopify.wait_for_bulk()
        report = check_erp_shopify_convergence(self.erp.file, self.erp.layout, self.shopify)
        self.tally.lost += len(report.missing) + len(report.mismatched)
        self.tally.duplicated |= set(report.duplicated)
        assert report.converged, f"{self.where()}: {report.describe()}"
        store = TenantStore(self.db, self.slug, self.pipeline)
        assert store.open_errors() == [], f"{self.where()}: errors left open: {store.open_errors()}"


def _all_skus(shopify: ShopifyEmulator) -> list[object]:
    return [v["sku"] for p in shopify.products() if p["status"] != "ARCHIVED" for v in p["variants"]]


class ChaosSequence(Protocol):
    rng: random.Random
    tally: Tally

    def mutate(self) -> None: ...
    def chaotic_run(self) -> None: ...
    def killed_run(self) -> None: ...
    def check_no_duplicates(self) -> None: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


def run_sequence(chaos: ChaosSequence, length: int, kills: int) -> Tally:
    try:
        kill_at = set(chaos.rng.sample(range(length), kills))
        for step in range(length):
            chaos.mutate()
            if step in kill_at:
                chaos.killed_run()
            else:
                chaos.chaotic_run()
            chaos.check_no_duplicates()
        chaos.finish()
        return chaos.tally
    finally:
        chaos.close()


# The pipelines the chaos test drives, each with its sequences (short, long) and sequence size.
CHAOS_PIPELINES: dict[
    str, tuple[Callable[[int, int, Path, pytest.MonkeyPatch], ChaosSequence], dict[str, int], dict[str, int]]
] = {
    "plenty_shopware": (
        PlentyShopwareChaos,
        {"sequences": 2, "steps": 6, "kills": 1, "products": 8},
        {"sequences": 6, "steps": 16, "kills": 3, "products": 20},
    ),
    "erp_files_shopify": (
        ErpFilesShopifyChaos,
        {"sequences": 1, "steps": 6, "kills": 1, "products": 8},
        {"sequences": 4, "steps": 16, "kills": 3, "products": 20},
    ),
}


def test_chaos_converges_without_loss_or_duplicates(
    long_version: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    figure: Callable[[str], None],
) -> None:
    total = Tally()
    try:
        for name, (sequence, short, long) in CHAOS_PIPELINES.items():
            size = long if long_version else short
            for seed in range(1, size["sequences"] + 1):
                work = tmp_path / f"{name}-{seed}"
                work.mkdir()
                with monkeypatch.context() as mp:
                    chaos = sequence(seed, size["products"], work, mp)
                    total.add(run_sequence(chaos, size["steps"], size["kills"]))
    finally:
        figure(total.line())
    assert total.kills > 0, "no run was killed mid-way: the kill thresholds are never reached"
    assert total.lost == 0 and not total.duplicated, total.line()


# --- what the chaos runs turned up, pinned down -------------------------------------------------------------


def test_the_error_of_a_record_gone_from_the_source_is_closed(plenty_shopware: PlentyShopwareTenant) -> None:
    tenant = plenty_shopware
    assert tenant.sync(SyncMode.CONFIG).success
    catalog = tenant.plenty.emulator.catalog
    item = catalog.items[min(catalog.items)]
    tenant.shopware.emulator.reject_next_sync_record(
        catalog.variations[item.variation_ids[-1]].number, times=99
    )
    assert tenant.sync(SyncMode.FULL).success
    assert [e.record_key for e in tenant.store().open_errors()] == [key("item", item.id)]

    tenant.plenty.emulator.delete_item(item.id)
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    assert tenant.store().open_errors() == [], "nothing is failing: the record is gone from both sides"
    assert tenant.convergence().converged, tenant.convergence().describe()


@pytest.mark.parametrize("deletion", ["delete", "deactivate"])
def test_a_product_created_by_a_killed_run_and_then_deleted_leaves_no_orphan(
    plenty_shopware: PlentyShopwareTenant, monkeypatch: pytest.MonkeyPatch, deletion: str
) -> None:
    tenant = plenty_shopware
    tenant.registry.update(tenant.slug, settings={"shopware6": {"deletion": deletion}})
    assert tenant.sync(SyncMode.CONFIG).success
    written = ProductWriter.upsert

    def dies_after_writing(writer: ProductWriter, items: Any) -> Any:
        written(writer, items)
        raise RuntimeError("killed: Shopware took the batch, the run never heard back")

    with monkeypatch.context() as patched:
        patched.setattr(ProductWriter, "upsert", dies_after_writing)
        assert not tenant.sync(SyncMode.FULL).success
    created = {n for n in tenant.shopware.emulator.products_by_number() if n.startswith("P-")}
    published = {m.content_hash for m in tenant.store().mappings("product").values()}
    assert created and published == {PENDING}, "written, never confirmed, but on record"

    for number in created:
        tenant.plenty.emulator.delete_item(int(number.removeprefix("P-")))
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    report = tenant.convergence()
    assert report.converged, report.describe()

"""Chaos convergence on every pipeline of the catalog: source changes interleaved with syncs in every mode
while the sandbox misbehaves, driven by each pipeline's sandbox recipe (``pipelines/<name>/recipe.py``).

Each sequence (seeded, so a failure names the seed that reproduces it) changes the source at random through
the recipe (a fraction of the records, a product added, one deleted) and through the pipeline's own kinds of
change below (renames, SKUs, stock, texts, variants), and runs a sync in a random mode of the pipeline while
the emulators inject faults: 429 storms, 5xx, connections dropped mid-response, answers slower than the
client's timeout, tokens expired mid-run, a record the target rejects (the recipe's bad record). Some runs are
``connector-pipelines sync`` child processes killed with SIGKILL: right after their n-th target write landed
(the recipe's kill point: the run never hears back), or when their n-th request reaches the sandbox. Both
points are counted in requests and writes, never in seconds. After every run the target must hold no
duplicate. At the end, with everything repriced and one record still rejected, a full sync must succeed and
keep that record's error open; once the rejection stops, a clean full sync makes the target equal to the
source (checked from the emulators) with every error resolved, and a delta then writes nothing.

The figure line per pipeline counts runs, faults injected, kills, records lost and duplicated; the figures
plugin adds them up and fails the long version (``--reliability-long``) that ran on every pipeline below
200 runs, 500 faults and 20 kills in all.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import dagster as dg
import pytest
from pydantic import JsonValue
from starlette.types import ASGIApp, Receive, Scope, Send

from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.catalog import (
    pipeline_recipe,
    pipeline_recipes,
    pipeline_spec,
    tenant_registry,
)
from connector_pipelines.pipelines.runs import run_tags
from connector_pipelines.runner import summarize
from connector_pipelines.sandbox.file_servers import add_products, delete_products, rename_product
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog, SandboxRecipe, register_tenant
from connector_pipelines.sandbox.server import ADMIN_PREFIX, FaultConfig, Faults
from connector_pipelines.sources.plentymarkets import key
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.publish import PENDING
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.targets.shopware6 import ProductWriter
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant
from connector_pipelines_tests.reliability import killed_run

pytestmark = pytest.mark.reliability

CLIENT_TIMEOUT_S = 1.0
SLOW_S = CLIENT_TIMEOUT_S + 0.3  # past the client's timeout: the request is answered after it gave up
HANG_S = 120.0  # a run, or a request in progress, that takes longer hangs
WRITES = ("created", "updated", "deleted")


# --- the sandbox as the chaos sees it ---------------------------------------------------------------------


@runtime_checkable
class FaultyEmulator(Protocol):
    faults: Faults


@runtime_checkable
class TokenIssuer(Protocol):
    def expire_tokens(self) -> None: ...


def emulators(hub: SandboxHub, account: str) -> dict[str, FaultyEmulator]:
    """The HTTP emulators of one account, by system (every one of them injects faults)."""
    by_system: dict[str, Mapping[str, Any]] = {
        "plentymarkets": hub.plenty,
        "shopware6": hub.shopware,
        "shopify": hub.shopify,
        "plytix": hub.plytix,
        "webflow": hub.webflow,
        "logo": hub.logo,
        "netsis": hub.netsis,
    }
    return {system: found[account].emulator for system, found in by_system.items() if account in found}


class Traffic:
    """ASGI middleware in front of the sandbox hub. It counts the requests in progress, so that a sequence
    waits until every answer has been given (one its client gave up on included) before it looks at the
    target or changes the source; and it runs an action when the n-th request comes in, a point of a run
    that depends on no clock."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._state = threading.Condition()
        self._in_progress = 0
        self._seen = 0
        self._actions: list[tuple[int, Callable[[], None]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admin = ADMIN_PREFIX in scope["path"] or scope["path"].startswith("/__hub")
        with self._state:
            self._in_progress += 1
            due: list[Callable[[], None]] = []
            if not admin:
                self._seen += 1
                due = [action for at, action in self._actions if at == self._seen]
                self._actions = [(at, action) for at, action in self._actions if at > self._seen]
        try:
            for action in due:
                action()
            await self.app(scope, receive, send)
        finally:
            with self._state:
                self._in_progress -= 1
                self._state.notify_all()

    def at(self, requests: int, action: Callable[[], None]) -> None:
        """Run ``action`` as the ``requests``-th request from now comes in, before an emulator sees it."""
        with self._state:
            self._actions.append((self._seen + requests, action))

    def settle(self) -> None:
        """Forget the actions not reached, and wait until no request is in progress."""
        with self._state:
            self._actions.clear()
            assert self._state.wait_for(lambda: self._in_progress == 0, timeout=HANG_S), "a request hangs"


# --- the tally --------------------------------------------------------------------------------------------


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

    def line(self, pipeline: str) -> str:
        return (
            f"chaos {pipeline}: {self.runs} runs, {self.faults} faults injected, {self.kills} kills, "
            f"{self.lost} lost, {len(self.duplicated)} duplicated"
        )


# --- what a pipeline's chaos adds to its recipe -----------------------------------------------------------

Mutation = Callable[[SandboxHub, str, random.Random], None]
# A fault of the pipeline's own, armed for one run: returns how many of it the run met, once it is over.
OwnFault = Callable[[SandboxHub, str, random.Random], Callable[[], int]]


@dataclass(frozen=True)
class Size:
    sequences: int
    steps: int
    kills: int
    products: int


@dataclass(frozen=True)
class Profile:
    """Beyond the recipe: target settings that make writes small (more requests to fail, a rejected record
    splits a batch of several), the pipeline's own kinds of source change and of fault, and the sizes."""

    target: Mapping[str, Any]
    mutations: tuple[Mutation, ...]
    short: Size
    long: Size
    faults: tuple[OwnFault, ...] = ()


# plenty_shopware: items and variations added, deleted, deactivated, renumbered; prices, stock, texts.
def plenty_change(hub: SandboxHub, account: str, rng: random.Random) -> None:
    plenty = hub.plenty[account].emulator
    catalog = plenty.catalog
    items = sorted(catalog.items)
    victim = catalog.variations[rng.choice(sorted(catalog.variations))]
    match rng.choice(["add", "delete", "deactivate", "price", "stock", "sku", "text", "variation"]):
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
            plenty.update_variation(victim.id, number=f"{victim.number}-r{rng.randrange(1 << 30)}")
        case "text":
            plenty.update_item(victim.item_id, texts={"de": {"name1": f"Umbenannt {rng.random():.6f}"}})
        case _:
            plenty.update_variation(victim.id, weightG=rng.randint(1, 5000))


# erp_files_shopify: the catalog file rewritten: titles, products dropped and added.
def erp_change(hub: SandboxHub, account: str, rng: random.Random) -> None:
    erp = hub.erp_files[account]
    file, layout = erp.file, erp.layout
    before = file.stat().st_mtime
    with file.open(newline="", encoding="utf-8") as stream:
        parents = sorted({row["parent_id"] for row in csv.DictReader(stream)})
    match rng.choice(["rename", "delete", "add"]):
        case "rename":
            rename_product(file, layout, rng.choice(parents), f"Umbenannt {rng.random():.6f}")
        case "delete" if len(parents) > 3:
            delete_products(file, layout, rng.sample(parents, rng.randint(1, 2)))
        case _:
            add_products(file, layout, rng.randint(1, 2), seed=rng.randrange(1 << 30))
    # Listings carry whole seconds: a later modification time than any before, as a rewrite seconds later.
    stamp = max(before, file.stat().st_mtime) + 2
    os.utime(file, (stamp, stamp))


def shopify_bulk_failure(hub: SandboxHub, account: str, rng: random.Random) -> Callable[[], int]:
    """Half the runs: the next bulk operation fails part-way (the recipe's bad record fails one line)."""
    shop = hub.shopify[account].emulator
    if rng.random() < 0.5:
        return lambda: 0
    before = int(shop.stats_snapshot()["bulk_operations"])
    shop.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=rng.randint(0, 3))
    return lambda: int(int(shop.stats_snapshot()["bulk_operations"]) > before)


def _attributes(product: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    found = product.get("attributes")
    return found if isinstance(found, dict) else {}


# plytix_webflow: labels, compare-at prices, parent-level texts; variants retired and added (a new option
# value on a live product); products deleted.
def plytix_change(hub: SandboxHub, account: str, rng: random.Random) -> None:
    plytix = hub.plytix[account].emulator
    catalog = plytix.catalog()
    tops = [p for p in catalog if not p.get("_parent_id")]
    parents = [p for p in tops if p.get("num_variations")]
    top = rng.choice(tops)
    variants_of = {
        str(p["id"]): sorted(
            (v for v in catalog if v.get("_parent_id") == p["id"]), key=lambda v: str(v["sku"])
        )
        for p in parents
    }
    match rng.choice(["label", "compare_at", "material", "retire", "variant", "delete"]):
        case "label":
            with plytix.store.lock:
                plytix.store.update(
                    plytix.store.resolve(str(top["sku"])), {"label": f"Umbenannt {rng.random():.6f}"}
                )
        case "compare_at":
            sku = str(rng.choice([p for p in catalog if not p.get("num_variations")])["sku"])
            plytix.set_attribute(sku, "compare_at_price", round(rng.uniform(500, 900), 2))
        case "material":
            plytix.set_attribute(str(top["sku"]), "material", f"Material {rng.randrange(1000)}")
        case "retire" if parents:
            variants = variants_of[str(rng.choice(parents)["id"])]
            if len(variants) > 1:
                plytix.delete_product(str(rng.choice(variants)["sku"]))
        case "variant" if parents:
            parent = rng.choice(parents)
            variants = variants_of[str(parent["id"])]
            # The parent's size axis (apparel) kept, a color none of its variants has: a new option value.
            shared = {k: v for k, v in _attributes(variants[0]).items() if k == "size"}
            used = {_attributes(v).get("color") for v in variants}
            free = [c for c in plytix.store.attribute_by_label["color"].options or () if c not in used]
            if free:
                attributes = {**shared, "color": rng.choice(free), "price": round(rng.uniform(5, 300), 2)}
                plytix.add_variant(str(parent["sku"]), attributes)
        case "delete" if len(parents) > 3:
            plytix.delete_product(str(rng.choice(parents)["sku"]))
        case _:
            plytix.set_attribute(str(top["sku"]), "brand", f"Brand {rng.randrange(1000)}")


PROFILES: dict[str, Profile] = {
    "plenty_shopware": Profile(
        {"batch_size": 3},
        (plenty_change,),
        short=Size(sequences=1, steps=6, kills=2, products=8),
        long=Size(sequences=5, steps=16, kills=3, products=20),
    ),
    "erp_files_shopify": Profile(
        # Bulk mutations from four products on: runs take the bulk path and the direct one.
        {"bulk_threshold": 4, "bulk_poll_interval_s": 0.05},
        (erp_change,),
        short=Size(sequences=1, steps=6, kills=2, products=8),
        long=Size(sequences=5, steps=16, kills=3, products=20),
        faults=(shopify_bulk_failure,),
    ),
    "plytix_webflow": Profile(
        {"batch_size": 3},
        (plytix_change,),
        short=Size(sequences=1, steps=6, kills=2, products=8),
        long=Size(sequences=5, steps=16, kills=3, products=20),
    ),
}
# A pipeline without a profile of its own is driven by its recipe alone.
RECIPE_ONLY = Profile({}, (), Size(1, 6, 2, 8), Size(5, 16, 3, 20))


# --- one sequence -----------------------------------------------------------------------------------------


def _check_failure_is_explained(result: dg.ExecuteInProcessResult, where: str) -> None:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, f"{where}: run {result.run_id} failed without a failed step"
    for event in failures:
        data = event.step_failure_data
        message = data.error.message.strip() if data is not None and data.error is not None else ""
        assert ": " in message, f"{where}: a step failed without a message: {message!r}"


class ChaosSequence:
    """One seeded sequence of a pipeline against fresh emulator accounts and a fresh connector database."""

    def __init__(
        self, pipeline: str, profile: Profile, seed: int, products: int, work: Path, env: pytest.MonkeyPatch
    ) -> None:
        self.recipe: SandboxRecipe = pipeline_recipe(pipeline)
        self.spec = pipeline_spec(pipeline)
        self.profile = profile
        self.seed = seed
        self.rng = random.Random(f"{pipeline}:{seed}")
        self.tally = Tally()
        self.slug = f"chaos-{seed}"
        self.hub = SandboxHub()
        self.traffic = Traffic(self.hub.app)
        self.hub.app = self.traffic
        self.hub.serve()
        self.recipe.add_accounts(self.hub, self.slug, Catalog(products, 3, seed=seed))
        self.emulators = emulators(self.hub, self.slug)
        url = f"sqlite:///{work / 'connector.db'}"
        env.setenv("CONNECTOR_DATABASE_URL", url)
        self.db = Database(url)
        self.registry: TenantRegistry = tenant_registry(self.db)
        target = {**self.recipe.harness_target, **profile.target}
        register_tenant(
            self.registry, self.recipe, self.hub.accounts(), self.slug, name="Chaos", target=target
        )
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(pipeline, [self.slug])
        self.child_env = {**os.environ, "DAGSTER_HOME": str(work / "dagster")}
        # Deletions through the recipe beyond the additions, so that the catalog never runs dry.
        self.deletable = products // 2

    @property
    def pipeline(self) -> str:
        return self.recipe.pipeline

    def where(self) -> str:
        return f"{self.pipeline} chaos sequence seed={self.seed}"

    def store(self) -> TenantStore:
        return TenantStore(self.db, self.slug, self.pipeline)

    def close(self) -> None:
        self.hub.stop()
        self.db.dispose()

    # --- source changes ------------------------------------------------------------------------------------

    def mutate(self) -> None:
        rng, recipe, hub, slug = self.rng, self.recipe, self.hub, self.slug
        for _ in range(rng.randint(0, 3)):
            choice = rng.randrange(3 + len(self.profile.mutations))
            if choice == 0:
                recipe.change(hub, slug, fraction=rng.uniform(0.05, 0.3), seed=rng.randrange(1 << 30))
            elif choice == 1:
                recipe.add_one(hub, slug, seed=rng.randrange(1 << 30), variants=rng.randint(1, 3))
                self.deletable += 1
            elif choice == 2 and self.deletable > 0:
                recipe.delete_one(hub, slug)
                self.deletable -= 1
            elif choice > 2:
                self.profile.mutations[choice - 3](hub, slug, rng)

    # --- runs ---------------------------------------------------------------------------------------------

    def _fault_config(self) -> FaultConfig:
        rng = self.rng
        return FaultConfig(
            seed=rng.randrange(1 << 30),
            storm_429=rng.choice([0, 1, 2, 3]),
            retry_after_s=0,
            rate_5xx=rng.choice([0, 0.05, 0.1, 0.2]),
            rate_drop=rng.choice([0, 0, 0.05, 0.1]),
            rate_slow=rng.choice([0, 0, 0.03, 0.05]),
            slow_s=SLOW_S,
        )

    def _faults_seen(self) -> int:
        return sum(emulator.faults.counters.total for emulator in self.emulators.values())

    def run_in_process(self, mode: SyncMode) -> dg.ExecuteInProcessResult:
        """The mode's job as the runner starts it, with the clients' timeouts lowered so that the emulators'
        slow answers outlast them."""
        run_config: dict[str, Any] = {
            "resources": {"sync_run": {"config": {"mode": mode.value, "client_timeout_s": CLIENT_TIMEOUT_S}}},
            "loggers": {"console": {"config": {"log_level": "ERROR"}}},
        }
        self.tally.runs += 1
        result = defs.resolve_job_def(str(self.spec.job_for(mode))).execute_in_process(
            instance=self.instance,
            partition_key=self.slug,
            run_config=run_config,
            tags=run_tags(self.slug, mode),
            raise_on_error=False,
        )
        self.traffic.settle()
        return result

    def target_counts(self, result: dg.ExecuteInProcessResult) -> Mapping[str, Any]:
        """What the run's target step counted (its materialization's metadata)."""
        return summarize(result).counts(self.recipe.target_asset)

    def chaotic_run(self) -> None:
        rng, hub, slug = self.rng, self.hub, self.slug
        mode = rng.choice(sorted(self.spec.modes))
        before = self._faults_seen()
        for emulator in self.emulators.values():
            if rng.random() < 0.8:
                emulator.faults.configure(self._fault_config())
        rejecting = rng.random() < 0.3
        if rejecting:
            self.recipe.reject_one(hub, slug)
        met = [arm(hub, slug, rng) for arm in self.profile.faults]
        expired = threading.Event()
        issuers = [e for e in self.emulators.values() if isinstance(e, TokenIssuer)]
        if issuers and rng.random() < 0.4:

            def expire() -> None:
                for issuer in issuers:
                    issuer.expire_tokens()
                expired.set()

            self.traffic.at(rng.randint(1, 30), expire)
        result = self.run_in_process(mode)
        self.check_no_duplicates()  # once the target is done with what it does on its own (bulk work)
        for emulator in self.emulators.values():
            emulator.faults.clear()
        self.recipe.clear_faults(hub, slug)
        self.tally.faults += self._faults_seen() - before + int(expired.is_set()) + sum(m() for m in met)
        self.tally.faults += int(rejecting and int(self.target_counts(result).get("failed", 0)) > 0)
        if not result.success:
            _check_failure_is_explained(result, self.where())

    def _settings_now(self, settings: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        stored = self.registry.get(self.slug).settings
        return {system: {k: stored[system][k] for k in values} for system, values in settings.items()}

    def killed_run(self) -> None:
        """A ``connector-pipelines sync`` child process, SIGKILLed right after its n-th target write landed
        (mid-publish), or when its n-th request reaches the sandbox (anywhere in the run)."""
        rng, recipe = self.rng, self.recipe
        # A plan writes nothing and a webhook run with an empty inbox reaches no kill point.
        mode = rng.choice(sorted(m for m in self.spec.modes if m not in (SyncMode.PLAN, SyncMode.WEBHOOK)))
        sync = ["sync", self.slug, "--pipeline", self.pipeline, "--mode", mode.value]
        mid_publish = mode != SyncMode.CONFIG and rng.random() < 0.6
        restore: dict[str, dict[str, Any]] = {}
        if mid_publish:
            # Enough changed records that the publication takes several writes, small ones: one is cut.
            recipe.change(self.hub, self.slug, fraction=0.5, seed=rng.randrange(1 << 30))
            restore = self._settings_now(recipe.kill.settings)
            self.registry.update(self.slug, settings=recipe.kill.settings)
            command = [
                sys.executable,
                "-m",
                killed_run.__name__,
                self.pipeline,
                str(rng.randint(1, 2)),
                *sync,
            ]
        else:
            command = [sys.executable, "-m", "connector_pipelines", *sync]
        child = subprocess.Popen(
            command, env=self.child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not mid_publish:
            self.traffic.at(rng.randint(1, 12), lambda: child.send_signal(signal.SIGKILL))
        self.tally.runs += 1
        try:
            code = child.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            pytest.fail(f"{self.where()}: a {mode.value} run hangs")
        self.traffic.settle()  # the write in flight when the run died still lands
        if restore:
            self.registry.update(self.slug, settings=restore)
        self.tally.kills += int(code == -signal.SIGKILL)
        self.check_no_duplicates()

    def check_no_duplicates(self) -> None:
        """The target holds no record twice, whatever else it lacks for now."""
        report = self.recipe.convergence(self.hub, self.slug)
        self.tally.duplicated |= {f"{self.slug}:{d}" for d in report.duplicated}

    # --- the start: a bad record; the end: nothing left -----------------------------------------------------

    def onboard(self) -> None:
        """The first run publishes everything, and the target rejects one record of it (the recipe's bad
        record): the run goes on without it and keeps its error open."""
        recipe, hub, slug, where = self.recipe, self.hub, self.slug, self.where()
        recipe.reject_one(hub, slug)
        result = self.run_in_process(SyncMode.FULL)
        recipe.clear_faults(hub, slug)
        assert result.success, f"{where}: the full sync with one bad record failed"
        failed = int(self.target_counts(result).get("failed", 0))
        open_errors = self.store().count_open_errors()
        assert failed >= 1 and open_errors >= 1, f"{where}: the bad record left no error ({failed} failed)"
        report = recipe.convergence(hub, slug)
        assert not report.converged and not report.duplicated, f"{where}: {report.describe()}"
        self.tally.faults += 1

    def finish(self) -> None:
        """A clean full sync: the target equals the source, every error resolved; then a delta writes
        nothing."""
        recipe, hub, slug, where = self.recipe, self.hub, self.slug, self.where()
        result = self.run_in_process(SyncMode.FULL)
        assert result.success, f"{where}: the clean full sync failed"
        report = recipe.convergence(hub, slug)
        self.tally.lost += len(report.missing) + len(report.mismatched)
        self.tally.duplicated |= {f"{slug}:{d}" for d in report.duplicated}
        assert report.converged, f"{where}: {report.describe()}"
        assert self.store().open_errors() == [], f"{where}: errors left open: {self.store().open_errors()}"

        before = recipe.target_state(hub, slug)
        quiet = self.run_in_process(SyncMode.DELTA)
        written = {k: self.target_counts(quiet).get(k, 0) for k in WRITES}
        assert quiet.success and not any(written.values()), f"{where}: nothing changed, yet {written}"
        assert recipe.target_state(hub, slug) == before, f"{where}: a delta with nothing changed wrote"


def run_sequence(chaos: ChaosSequence, length: int, kills: int) -> None:
    try:
        kill_at = set(chaos.rng.sample(range(length), kills))
        chaos.onboard()
        for step in range(length):
            chaos.mutate()
            if step in kill_at:
                chaos.killed_run()
            else:
                chaos.chaotic_run()
        chaos.finish()
    finally:
        chaos.close()


@pytest.mark.parametrize("pipeline", sorted(pipeline_recipes()))
def test_chaos_converges_without_loss_or_duplicates(
    pipeline: str,
    long_version: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    figure: Callable[[str], None],
) -> None:
    profile = PROFILES.get(pipeline, RECIPE_ONLY)
    size = profile.long if long_version else profile.short
    total = Tally()
    try:
        for seed in range(1, size.sequences + 1):
            work = tmp_path / f"seed-{seed}"
            work.mkdir()
            with monkeypatch.context() as env:
                chaos = ChaosSequence(pipeline, profile, seed, size.products, work, env)
                try:
                    run_sequence(chaos, size.steps, size.kills)
                finally:
                    total.add(chaos.tally)
    finally:
        figure(total.line(pipeline))
    assert total.kills > 0, "no run was killed mid-way: the kill points are never reached"
    assert total.lost == 0 and not total.duplicated, total.line(pipeline)


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


def test_an_update_that_landed_unanswered_is_sent_again_after_the_source_reverts(
    plenty_shopware: PlentyShopwareTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chaos seed 1 of the long version: a killed run's stock update landed, the stock went back to what
    Shopware had before, and the mapping, still naming that earlier version, made every later run skip it."""
    tenant = plenty_shopware
    for mode in (SyncMode.CONFIG, SyncMode.FULL):
        assert tenant.sync(mode).success
    plenty = tenant.plenty.emulator
    variation = next(v for v in plenty.catalog.variations.values() if v.stock)
    physical = variation.stock[0].physical
    plenty.set_stock(variation.id, physical + 40, warehouse_id=variation.stock[0].warehouse_id)
    written = ProductWriter.upsert

    def dies_after_writing(writer: ProductWriter, items: Any) -> Any:
        written(writer, items)
        raise RuntimeError("killed: Shopware took the batch, the run never heard back")

    with monkeypatch.context() as patched:
        patched.setattr(ProductWriter, "upsert", dies_after_writing)
        assert not tenant.sync(SyncMode.FULL).success
    assert tenant.convergence().converged, "the update landed, though the run never heard back"

    plenty.set_stock(variation.id, physical, warehouse_id=variation.stock[0].warehouse_id)
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    report = tenant.convergence()
    assert report.converged, report.describe()

"""plenty_shopware through Dagster against the emulators: every mode, deletions, bad records, faults."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_pipelines.clients.plentymarkets import ID_CHUNK, PlentymarketsClient
from connector_pipelines.errors import TransientError
from connector_pipelines.pipelines.plenty_shopware.recipe import DEALER_RULE
from connector_pipelines.sandbox.convergence import expected_products
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    GERMAN_LANGUAGE_ID,
    STOREFRONT_SALES_CHANNEL_ID,
    SYSTEM_LANGUAGE_ID,
)
from connector_pipelines.sources.plentymarkets import Page, PlentyReader
from connector_pipelines.sync.publish import PublishItem, WriteOutcome
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.targets.shopware6 import ProductWriter
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant, make_tenant

DEALER_PRICE = 7  # the sandbox catalog's sales price of its dealer class


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
    held = tenant.shopware.emulator.products_by_number()[variation.number]["stock"]
    tenant.plenty.emulator.set_stock(variation.id, 4242)
    wanted = expected_products(tenant.plenty.emulator)[variation.number].stock
    requests = tenant.shopware.emulator.stats().sync_requests
    plan = tenant.sync(SyncMode.PLAN)
    assert plan.success, plan.error
    entries = plan.counts("shopware_products")["plan"]
    assert [e["action"] for e in entries] == ["update"]
    assert "stock" in entries[0]["changed_fields"], "the parent's, the sum of its variants'"
    change = {"field": f"{variation.number}.stock", "old": str(held), "new": str(wanted)}
    assert change in entries[0]["changes"], "the variant's stock, as Shopware has it and as it will be"
    assert {c["field"] for c in entries[0]["changes"]} == {"stock", f"{variation.number}.stock"}
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


def test_products_are_published_while_plenty_is_still_read(
    hub: SandboxHub, sqlite_registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopware={"batch_size": 2})
    tenant.registry.update(tenant.slug, settings={"plentymarkets": {"page_size": 4}})
    published = threading.Event()
    upsert, pages = ProductWriter.upsert, PlentyReader._pages

    def noting_upsert(writer: ProductWriter, items: Sequence[PublishItem]) -> WriteOutcome:
        outcome = upsert(writer, items)
        published.set()
        return outcome

    def pages_waiting_for_shopware(reader: PlentyReader, item_ids: Sequence[int] | None) -> Iterator[Page]:
        for number, page in enumerate(pages(reader, item_ids)):
            # Plenty's second page only comes once Shopware got products of the first.
            assert number == 0 or published.wait(30), "nothing was published while Plenty was read"
            yield page

    monkeypatch.setattr(ProductWriter, "upsert", noting_upsert)
    monkeypatch.setattr(PlentyReader, "_pages", pages_waiting_for_shopware)
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    assert full.counts("plenty_products")["published_while_reading"] == 12
    products = full.counts("shopware_products")
    assert (products["created"], products["unchanged"], products["failed"]) == (12, 0, 0), "the run's"
    assert tenant.convergence().converged, tenant.convergence().describe()


def test_each_part_of_an_item_page_goes_on_as_soon_as_its_variations_are_in(hub: SandboxHub) -> None:
    account = hub.add_plenty("parts", products=ID_CHUNK * 2 + 7, variants=2)
    client = PlentymarketsClient(f"{hub.url}/plentymarkets/parts", account.username, account.password)
    variation_requests: list[str] = []
    request = client.request

    def noting_request(method: str, path: str, **kwargs: Any) -> httpx.Response:
        if path.endswith("/items/variations"):
            variation_requests.append(path)
        return request(method, path, **kwargs)

    client.request = noting_request  # type: ignore[method-assign]
    parts: list[tuple[int, int]] = []  # (items of the part, variation requests made when it came)
    with client:
        for chunk, by_item, invalid in PlentyReader(client, lang="de")._pages(None):
            assert set(by_item) == {i.id for i in chunk} and not invalid
            parts.append((len(chunk), len(variation_requests)))
    # One page of items (the client's page size is larger), handed on in the parts of one filter each.
    assert parts == [(ID_CHUNK, 1), (ID_CHUNK, 2), (7, 3)]


def test_a_failing_publication_leaves_the_read_whole_and_the_rest_to_shopware_products(
    tenant: PlentyShopwareTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert = ProductWriter.upsert
    calls = 0

    def fails_at_first(writer: ProductWriter, items: Sequence[PublishItem]) -> WriteOutcome:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TransientError("Shopware is restarting")
        return upsert(writer, items)

    monkeypatch.setattr(ProductWriter, "upsert", fails_at_first)
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    snapshot = full.counts("plenty_products")
    assert snapshot["fetched"] == 12 and "Shopware is restarting" in snapshot["publishing_stopped"]
    assert full.counts("shopware_products")["created"] == 12
    assert tenant.convergence().converged, tenant.convergence().describe()


def _add_french(tenant: PlentyShopwareTenant) -> str:
    """French in the shop's storefront, as an admin installs it; returns its language id."""
    french, locale = "f" * 32, "e" * 32
    operations = {
        "locale": {
            "entity": "locale",
            "action": "upsert",
            "payload": [{"id": locale, "code": "fr-FR", "name": "French", "territory": "France"}],
        },
        "language": {
            "entity": "language",
            "action": "upsert",
            "payload": [{"id": french, "name": "Français", "localeId": locale}],
        },
        "channel": {
            "entity": "sales_channel_language",
            "action": "upsert",
            "payload": [{"salesChannelId": STOREFRONT_SALES_CHANNEL_ID, "languageId": french}],
        },
    }
    tenant.shopware.emulator.writer.sync(operations, SYSTEM_LANGUAGE_ID)
    return french


def test_texts_in_every_language_of_the_sales_channel(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    parent = tenant.shopware.emulator.products_by_number()["P-100"]
    item = tenant.plenty.emulator.catalog.items[100]
    english, german = (tenant.plenty.emulator.catalog.item_texts(item, lang) for lang in ("en", "de"))
    assert english is not None and german is not None
    assert parent["name"] == english["name1"], "the system language's own text"
    assert parent["translations"][GERMAN_LANGUAGE_ID] == german["name1"]

    french = _add_french(tenant)
    tenant.plenty.emulator.update_item(100, texts={"fr": {"name1": "Sac Krakau"}})
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    assert full.counts("shopware_products")["updated"] == 12, "a new language publishes every product"
    translations = tenant.shopware.emulator.products_by_number()["P-100"]["translations"]
    assert translations[french] == "Sac Krakau"
    assert tenant.convergence().converged, tenant.convergence().describe()


def test_a_translation_plenty_no_longer_has_is_reset_in_shopware(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    french = _add_french(tenant)
    plenty, shop = tenant.plenty.emulator, tenant.shopware.emulator
    plenty.update_item(100, texts={"fr": {"name1": "Sac Krakau", "description": "<p>Un sac</p>"}})
    assert tenant.sync(SyncMode.FULL).success
    assert shop.products_by_number()["P-100"]["translations"][french] == "Sac Krakau"

    item = plenty.catalog.items[100]
    with plenty.catalog.lock:  # the French texts deleted in Plenty (the emulator has no mutation for it)
        assert item.text_overrides is not None
        del item.text_overrides["fr"]
    plenty.update_item(100, position=item.position + 1)  # as the deletion moves the item's updatedAt
    plan = tenant.sync(SyncMode.PLAN)
    assert plan.success, plan.error
    (entry,) = plan.counts("shopware_products")["plan"]
    assert {"field": f"translations.{french}.name", "old": "Sac Krakau", "new": None} in entry["changes"]
    delta = tenant.sync(SyncMode.DELTA)
    assert delta.success, delta.error
    assert delta.counts("shopware_products")["updated"] == 1
    translations = shop.products_by_number()["P-100"]["translations"]
    assert translations[french] is None, "reset: Shopware shows the system language's text"
    assert translations[SYSTEM_LANGUAGE_ID], "the other languages keep theirs"
    german = plenty.catalog.item_texts(plenty.catalog.items[100], "de")
    assert german is not None and translations[GERMAN_LANGUAGE_ID] == german["name1"]
    again = tenant.sync(SyncMode.DELTA)
    assert again.success and again.counts("shopware_products")["updated"] == 0
    assert tenant.convergence().converged, tenant.convergence().describe()


def test_tier_and_dealer_prices_become_advanced_prices(tenant: PlentyShopwareTenant) -> None:
    _onboard(tenant)
    catalog = tenant.plenty.emulator.catalog
    rules = {r["name"]: r["id"] for r in tenant.shopware.emulator.entities("rule")}
    products = tenant.shopware.emulator.products_by_number()
    dealer_priced = [v for v in catalog.variations.values() if DEALER_PRICE in dict(catalog.prices(v))]
    assert dealer_priced, "the sandbox catalog has dealer prices"
    for variation in dealer_priced:
        rows = [p for p in products[variation.number]["prices"] if p["ruleId"] == rules[DEALER_RULE]]
        assert rows and rows[0]["quantityStart"] == 1, variation.number
    variation = dealer_priced[0]
    tenant.plenty.emulator.set_price(variation.id, 1.99, sales_price_id=DEALER_PRICE)
    assert tenant.sync(SyncMode.DELTA).success
    (first, *_) = (
        p
        for p in tenant.shopware.emulator.products_by_number()[variation.number]["prices"]
        if p["ruleId"] == rules[DEALER_RULE]
    )
    assert next(p["gross"] for p in first["price"] if p["currencyId"] == DEFAULT_CURRENCY_ID) == 1.99
    assert tenant.convergence().converged, tenant.convergence().describe()


def test_images_are_uploaded_once_per_content_in_order_and_removed_with_their_last_link(
    tenant: PlentyShopwareTenant,
) -> None:
    _onboard(tenant)
    report = tenant.convergence()
    assert report.converged and not report.media_pending, report.describe()
    plenty, shop = tenant.plenty.emulator, tenant.shopware.emulator
    uploads, media = shop.stats().media_uploads, shop.count("media")
    assert uploads == media == len(plenty.catalog.images)

    items = list(plenty.catalog.items.values())
    copied = items[0].image_ids[0]
    plenty.add_image(items[1].id, file_of=copied)  # the same file on another item
    gone = items[2].image_ids[-1]
    plenty.delete_image(gone)
    delta = tenant.sync(SyncMode.DELTA)
    assert delta.success, delta.error
    assert delta.counts("shopware_media")["deleted"] == 1
    assert shop.stats().media_uploads == uploads, "the copy's content is in Shopware already"
    assert shop.count("media") == media - 1
    report = tenant.convergence()
    assert report.converged and not report.media_pending, report.describe()


def test_images_wait_in_their_queue_beyond_the_budget(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopware={"media_budget_s": 0})
    _onboard(tenant)
    images = len(tenant.plenty.emulator.catalog.images)
    assert tenant.convergence().media_pending, "linked, not uploaded"
    assert tenant.shopware.emulator.stats().media_uploads == 0
    tenant.registry.update(tenant.slug, settings={"shopware6": {"media_budget_s": 600}})
    delta = tenant.sync(SyncMode.DELTA)
    media = delta.counts("shopware_media")
    assert (media["created"], media["queued"]) == (images, 0)
    assert delta.counts("shopware_products")["updated"] == 0, "the products did not wait for them"
    assert not tenant.convergence().media_pending


def test_what_an_unanswered_update_linked_goes_with_the_next_version(
    tenant: PlentyShopwareTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update that landed while its run died (never confirmed) linked an image; Plenty drops the image
    again before the next run: that run removes the link, though the last confirmed version never had it."""
    _onboard(tenant)
    plenty = tenant.plenty.emulator
    item = next(iter(plenty.catalog.items.values()))
    added = plenty.add_image(item.id)
    written = ProductWriter.upsert

    def dies_after_writing(writer: ProductWriter, items: Sequence[PublishItem]) -> WriteOutcome:
        written(writer, items)
        raise RuntimeError("killed: Shopware took the batch, the run never heard back")

    with monkeypatch.context() as patched:
        patched.setattr(ProductWriter, "upsert", dies_after_writing)
        assert not tenant.sync(SyncMode.DELTA).success
    links = {number: len(p["media"]) for number, p in tenant.shopware.emulator.products_by_number().items()}
    assert added.image_id is not None
    plenty.delete_image(added.image_id)
    delta = tenant.sync(SyncMode.DELTA)
    assert delta.success, delta.error
    after = {number: len(p["media"]) for number, p in tenant.shopware.emulator.products_by_number().items()}
    assert after[f"P-{item.id}"] == links[f"P-{item.id}"] - 1, "the lost write's link is gone"
    report = tenant.convergence()
    assert report.converged, report.describe()

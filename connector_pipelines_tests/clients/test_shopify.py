"""ShopifyClient against the Shopify emulator over real HTTP."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from graphql import parse, validate

from connector_pipelines.clients.http import AuthError, RetrySettings
from connector_pipelines.clients.shopify import (
    BULK_PRODUCT_DELETE,
    BULK_PRODUCT_SET,
    DOCUMENTS,
    BulkOperationInProgress,
    ShopifyClient,
    ShopifyGraphQLError,
    operation_name,
)
from connector_pipelines.clients.shopify_models import ProductIdentifier, ProductInput, product_set_variables
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings
from connector_pipelines.schemas import shopify_schema

TOKEN = "shpat_client_test_token_0123456789"
FAST_RETRY = RetrySettings(base_delay_s=0.01, max_delay_s=0.05)


def product(n: int, sizes: tuple[str, ...] = ("S", "M")) -> ProductInput:
    return ProductInput.model_validate(
        {
            "title": f"Product {n}",
            "handle": f"product-{n}",
            "productOptions": [{"name": "Size", "values": [{"name": s} for s in sizes]}],
            "variants": [
                {"optionValues": [{"optionName": "Size", "name": s}], "sku": f"SKU-{n}-{s}", "price": "9.5"}
                for s in sizes
            ],
        }
    )


class Harness:
    def __init__(self, emulator: ShopifyEmulator, server: EmulatorServer) -> None:
        self.emulator = emulator
        self.server = server
        self.clients: list[ShopifyClient] = []

    def client(self, **kwargs: Any) -> ShopifyClient:
        options: dict[str, Any] = {"retry": FAST_RETRY, **kwargs}
        self.clients.append(ShopifyClient(self.server.base_url, options.pop("token", TOKEN), **options))
        return self.clients[-1]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.emulator.wait_for_bulk()
        self.server.stop()


def _harness(**settings: Any) -> Harness:
    emulator = ShopifyEmulator(ShopifySettings(shops={"acme": TOKEN}, **settings))
    return Harness(emulator, emulator.serve())


@pytest.fixture(scope="module")
def shared() -> Iterator[Harness]:
    h = _harness()
    yield h
    h.server.stop()


@pytest.fixture
def harness(shared: Harness) -> Iterator[Callable[..., Harness]]:
    """``harness()``: the shared default emulator, emptied; ``harness(**settings)``: a new one."""
    made: list[Harness] = []

    def make(**settings: Any) -> Harness:
        if not settings:
            shared.emulator.reset()
            shared.emulator.reset_stats()
            return shared
        made.append(_harness(**settings))
        return made[-1]

    yield make
    for client in shared.clients:
        client.close()
    shared.clients.clear()
    for h in made:
        h.close()


def test_every_client_document_is_valid_against_the_vendored_schema() -> None:
    schema = shopify_schema()
    for name, document in DOCUMENTS.items():
        assert operation_name(document) == name
        assert validate(schema, parse(document)) == [], name


def test_product_set_update_and_delete(harness: Callable[..., Harness]) -> None:
    h = harness()
    client = h.client()
    created = client.product_set(product(1), ProductIdentifier(handle="product-1"))
    assert created.ok
    assert created.product is not None
    assert [(v.sku, v.price) for v in created.product.variants] == [("SKU-1-S", "9.50"), ("SKU-1-M", "9.50")]
    assert created.product.variants[0].selected_options[0].value == "S"

    replaced = client.product_set(product(1, ("M",)), {"handle": "product-1"})
    assert replaced.product is not None
    assert replaced.product.id == created.product.id
    assert [v.sku for v in replaced.product.variants] == ["SKU-1-M"]

    rejected = client.product_set({"title": "Clash", "handle": "product-1"}, {"handle": "other"})
    assert not rejected.ok
    assert rejected.user_errors[0].code == "HANDLE_NOT_UNIQUE"
    assert rejected.user_errors[0].field == ["input", "handle"]

    deleted = client.product_delete(created.product.id)
    assert deleted.deleted_product_id == created.product.id
    assert client.product_delete(created.product.id).user_errors[0].message == "Product does not exist"
    assert h.emulator.product_count() == 0


def test_variants_by_sku_batches_lookups(harness: Callable[..., Harness]) -> None:
    h = harness()
    for n in range(3):
        h.emulator.put_product(product(n, ("S", "M", "L")).to_graphql())
    client = h.client(sku_batch_size=4)
    wanted = [f"SKU-{n}-{s}" for n in range(3) for s in ("S", "M", "L")] + ["NOPE", "sku-0-s"]
    found = client.variants_by_sku(wanted)
    assert sorted(found) == sorted(wanted[:9])
    assert found["SKU-2-L"].product_handle == "product-2"
    assert client.stats.calls == 3  # 11 SKUs in batches of 4, one request each


def test_iter_products_and_variants_paginate(harness: Callable[..., Harness]) -> None:
    h = harness()
    for n in range(5):
        h.emulator.put_product(product(n).to_graphql())
    client = h.client()
    assert [p.handle for p in client.iter_products(page_size=2)] == [f"product-{n}" for n in range(5)]
    assert client.stats.calls == 3
    assert [p.variants_count for p in client.iter_products(query="handle:product-3")] == [2]
    assert len(list(client.iter_variants(page_size=3))) == 10


def test_bulk_product_set_end_to_end(harness: Callable[..., Harness]) -> None:
    h = harness(bulk_result_order="shuffled")
    client = h.client()
    lines = [product_set_variables(product(n), {"handle": f"product-{n}"}) for n in range(20)]
    lines[7]["input"]["variants"][0]["optionValues"][0]["name"] = "XXL"
    started = client.run_bulk_mutation(BULK_PRODUCT_SET, iter(lines))
    assert started.status == "CREATED"
    done = client.wait_for_bulk_operation(started.id, poll_interval_s=0.05, timeout_s=10)
    assert done.succeeded
    assert done.object_count == 20
    assert done.url is not None
    results = sorted(client.iter_bulk_results(done.url), key=lambda line: line.line_number)
    assert [line.line_number for line in results] == list(range(20))
    assert results[0].ok
    assert results[0].payload is not None
    assert results[0].payload["product"]["variants"]["nodes"][0]["sku"] == "SKU-0-S"
    assert not results[7].ok
    assert results[7].user_errors[0].code == "OPTION_VALUE_DOES_NOT_EXIST"
    assert h.emulator.product_count() == 19

    ids = [{"input": {"id": line.payload["product"]["id"]}} for line in results if line.ok and line.payload]
    deleted = client.wait_for_bulk_operation(client.run_bulk_mutation(BULK_PRODUCT_DELETE, ids).id, 0.05, 10)
    assert deleted.succeeded
    assert h.emulator.product_count() == 0


def test_failed_bulk_operation_and_failing_lines(harness: Callable[..., Harness]) -> None:
    h = harness(bulk_result_order="input")
    client = h.client()
    lines = [product_set_variables(product(n)) for n in range(6)]
    h.emulator.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=2)
    failed = client.wait_for_bulk_operation(client.run_bulk_mutation(BULK_PRODUCT_SET, lines).id, 0.05, 10)
    assert (failed.status, failed.error_code, failed.url) == ("FAILED", "INTERNAL_SERVER_ERROR", None)
    assert failed.partial_data_url is not None
    assert [line.line_number for line in client.iter_bulk_results(failed.partial_data_url)] == [0, 1]

    h.emulator.fail_bulk_lines([1, 4])
    partial = client.wait_for_bulk_operation(client.run_bulk_mutation(BULK_PRODUCT_SET, lines).id, 0.05, 10)
    assert partial.succeeded
    results = list(client.iter_bulk_results(partial.url or ""))
    assert [line.line_number for line in results if line.errors] == [1, 4]
    assert results[1].errors[0].code == "INTERNAL_SERVER_ERROR"


def test_only_one_bulk_mutation_at_a_time(harness: Callable[..., Harness]) -> None:
    h = harness(bulk_mutation_concurrency=1, bulk_start_delay_s=0.3)
    client = h.client()
    first = client.run_bulk_mutation(BULK_PRODUCT_SET, [product_set_variables(product(1))])
    with pytest.raises(BulkOperationInProgress) as raised:
        client.run_bulk_mutation(BULK_PRODUCT_SET, [product_set_variables(product(2))])
    assert raised.value.running_id == first.id
    assert raised.value.codes == ["OPERATION_IN_PROGRESS"]


class LoseFirstAnswer(httpx.BaseTransport):
    """Delivers the first request carrying ``marker`` but loses the answer, as a reset connection would."""

    def __init__(self, marker: bytes) -> None:
        self.inner = httpx.HTTPTransport()
        self.marker = marker
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.lost and self.marker in request.content:
            response.read()
            response.close()
            self.lost += 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("concurrency", [1, 5])
def test_a_retried_bulk_submission_starts_one_operation(
    harness: Callable[..., Harness], concurrency: int
) -> None:
    h = harness(bulk_mutation_concurrency=concurrency, bulk_start_delay_s=0.2)
    transport = LoseFirstAnswer(b"bulkOperationRunMutation(")
    client = h.client(transport=transport)
    started = client.run_bulk_mutation(BULK_PRODUCT_SET, [product_set_variables(product(1))])
    assert transport.lost == 1
    done = client.wait_for_bulk_operation(started.id, 0.05, 10)
    assert done.succeeded
    statuses = sorted(op["status"] for op in h.emulator.bulk_operations())
    # With one slot the retry is refused and adopts the first; with five it starts a second, and the
    # client cancels the first.
    assert statuses == (["COMPLETED"] if concurrency == 1 else ["CANCELED", "COMPLETED"])
    assert h.emulator.product_count() == 1


@pytest.mark.parametrize("throttled_status", [200, 429])
def test_throttled_calls_wait_for_the_bucket(harness: Callable[..., Harness], throttled_status: int) -> None:
    # productSet requests 513 points and costs about 17; a 520-point bucket is short after one call.
    h = harness(
        throttle_enabled=True, bucket_capacity=520, restore_rate=100, throttled_status=throttled_status
    )
    pacing = h.client()
    for n in range(3):
        assert pacing.product_set(product(n)).ok
    assert pacing.stats.rate_limit_waits >= 2  # waited before calls 2 and 3 instead of being throttled
    assert h.emulator.stats_snapshot()["throttled"] == 0

    # Emptied, the bucket needs 5 s to hold the 513 points again: far more than the next call takes to arrive.
    h.emulator.shops["acme"].bucket.charge(520)
    fresh = h.client()  # knows neither the bucket nor the cost yet: gets THROTTLED, then waits and retries
    assert fresh.product_set(product(9)).ok
    assert h.emulator.stats_snapshot()["throttled"] == 1
    assert fresh.stats.rate_limit_waits >= 1
    assert fresh.stats.by_status[throttled_status] >= 1


def test_threads_sharing_a_client_each_wait_for_their_own_cost(harness: Callable[..., Harness]) -> None:
    # Two batches in flight share one client: a throttled productSet (513 points) must wait for its own cost,
    # not for the cheap lookup the other thread sent last, and the threads must not spend the same points.
    h = harness(throttle_enabled=True, bucket_capacity=520, restore_rate=500)
    client = h.client(retry=RetrySettings(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02))
    failures: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=run, args=(lambda: [client.product_set(product(n)) for n in range(5)],))
    reader = threading.Thread(
        target=run, args=(lambda: [client.variants_by_sku(["SKU-0-S"]) for _ in range(30)],)
    )
    for thread in (writer, reader):
        thread.start()
    for thread in (writer, reader):
        thread.join()
    assert not failures, failures
    assert (
        h.emulator.stats_snapshot()["throttled"] <= 1
    )  # at most the first call, before any bucket was known
    assert client.stats.rate_limit_waits >= 4


def test_retries_transient_failures_on_every_call(harness: Callable[..., Harness]) -> None:
    h = harness(bulk_result_order="input")
    client = h.client(retry=RetrySettings(max_attempts=10, base_delay_s=0.01, max_delay_s=0.02))
    h.emulator.faults.configure(
        FaultConfig(seed=3, rate_5xx=0.3, rate_drop=0.2, storm_429=1, retry_after_s=0)
    )
    lines = [product_set_variables(product(n)) for n in range(5)]
    done = client.wait_for_bulk_operation(client.run_bulk_mutation(BULK_PRODUCT_SET, lines).id, 0.02, 10)
    assert done.succeeded
    assert len(list(client.iter_bulk_results(done.url or ""))) == 5
    assert client.product_set(product(7)).ok
    assert client.stats.retries >= 3
    assert h.emulator.faults.counters.total == client.stats.retries
    assert len(h.emulator.bulk_operations("acme")) == 1


def test_graphql_errors_are_typed_and_name_the_operation(harness: Callable[..., Harness]) -> None:
    client = harness().client()
    with pytest.raises(ShopifyGraphQLError) as raised:
        client.graphql("query Broken { shop { nope } }")
    assert raised.value.operation == "Broken"
    assert raised.value.codes == ["undefinedField"]
    assert "Broken: Field 'nope' doesn't exist on type 'Shop'" in str(raised.value)


def test_token_never_appears_in_errors_reprs_or_logs(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness()
    wrong = "shpat_wrong_secret_token_987654"
    client = h.client(token=wrong)
    h.emulator.faults.configure(FaultConfig(storm_429=1, retry_after_s=0))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as raised:
        client.product_set(product(1))
    for text in (str(raised.value), repr(raised.value), repr(client), str(vars(client)), caplog.text):
        assert wrong not in text
    assert raised.value.status == 401
    assert client.stats.calls == 2  # the 429 was retried; the 401 was not

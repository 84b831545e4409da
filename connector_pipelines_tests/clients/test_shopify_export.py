"""The export client against the Shopify emulator: its documents are valid against the vendored schema; a
bulk export is submitted, polled, downloaded and joined (nested lines after all parents, as from 2026-01);
a dropped download resumes where it stopped; paged reads complete nested connections; counts and destroy
events; every call (bulk submission and polls too) survives THROTTLED answers and 429 storms; clients of one
shop share its cost bucket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import parse, validate

from connector_pipelines.clients import shopify_export
from connector_pipelines.clients.http import RetrySettings
from connector_pipelines.clients.shopify import operation_name
from connector_pipelines.clients.shopify_export import (
    CUSTOMERS,
    DOCUMENTS,
    OBJECTS,
    ORDERS,
    PRODUCTS,
    BulkResultFile,
    ShopifyExportClient,
    search_since,
)
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings
from connector_pipelines.schemas import shopify_schema

TOKEN = "shpat_export_test_token_0123456789"
FAST_RETRY = RetrySettings(base_delay_s=0.01, max_delay_s=0.05)


class Shop:
    def __init__(self, **settings: Any) -> None:
        self.emulator = ShopifyEmulator(ShopifySettings(shops={"acme": TOKEN}, **settings))
        self.server: EmulatorServer = self.emulator.serve()
        self.clients: list[ShopifyExportClient] = []

    def client(self, **options: Any) -> ShopifyExportClient:
        client = ShopifyExportClient(self.server.base_url, TOKEN, retry=FAST_RETRY, **options)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.emulator.wait_for_bulk()
        self.server.stop()


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """A seeded shop; each test starts with no shared cost bucket known."""
    monkeypatch.setattr(shopify_export, "_BUCKETS", {})
    made = Shop()
    made.emulator.seed(products=6, variants=30, customers=20, orders=15, lines=3, seed=2)
    yield made
    made.close()


def _decoded(value: bytes | dict[str, Any]) -> dict[str, Any]:
    """A bulk line (raw JSON) or a page's node, as a dict."""
    if isinstance(value, dict):
        return value
    decoded = orjson.loads(value)
    assert isinstance(decoded, dict)
    return decoded


def test_every_document_and_bulk_query_is_valid_against_the_vendored_schema() -> None:
    schema = shopify_schema()
    for name, document in DOCUMENTS.items():
        assert operation_name(document) == name
        assert validate(schema, parse(document)) == [], name
    for obj in OBJECTS.values():
        query = obj.bulk_query(search_since(None, None) or "updated_at:>='2026-01-01T00:00:00Z'")
        assert validate(schema, parse(query)) == [], obj.name


def test_a_bulk_export_joins_every_parent_with_its_nested_lines(shop: Shop) -> None:
    client = shop.client()
    operation = client.wait_for_bulk_operation(client.start_export(ORDERS, None).id, poll_interval_s=0.01)
    assert operation.succeeded
    with client.bulk_result(operation) as items:
        exported = list(items)
    assert len(exported) == 15
    for item in exported:
        order = _decoded(item.node)["id"]
        lines = [_decoded(child) for child in item.children]
        assert len(lines) == 3 and {line["__parentId"] for line in lines} == {order}


def test_a_filtered_export_and_an_empty_one(shop: Shop) -> None:
    client = shop.client()
    changed = shop.emulator.change_sample("customers", 0.2, seed=1)
    since = search_since(_newest_update(shop.emulator))
    filtered = client.wait_for_bulk_operation(client.start_export(CUSTOMERS, since).id, poll_interval_s=0.01)
    with client.bulk_result(filtered) as items:
        found = {_decoded(item.node)["id"] for item in items}
    assert found == set(changed)
    future = "updated_at:>='2099-01-01T00:00:00Z'"
    empty = client.wait_for_bulk_operation(client.start_export(CUSTOMERS, future).id, poll_interval_s=0.01)
    with client.bulk_result(empty) as items:
        assert list(items) == []


def _newest_update(emulator: ShopifyEmulator) -> Any:
    from datetime import UTC, datetime

    customers = emulator.shop().commerce.customers.values()
    return datetime.fromtimestamp(int(max(c.updated_at for c in customers)), UTC)


class _CutStream(httpx.SyncByteStream):
    def __init__(self, part: bytes) -> None:
        self.part = part

    def __iter__(self) -> Iterator[bytes]:
        yield self.part
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class CutFirstDownload(httpx.BaseTransport):
    """A transport that drops the first result download half-way (as a lost connection would)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.ranges: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/__bulk-results/" not in request.url.path:
            return response
        self.ranges.append(request.headers.get("Range"))
        if len(self.ranges) > 1:
            return response
        body = response.read()
        response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, stream=_CutStream(body[: len(body) // 2])
        )


def test_a_dropped_download_resumes_where_it_stopped(shop: Shop, tmp_path: Path) -> None:
    transport = CutFirstDownload()
    client = shop.client(transport=transport)
    operation = client.wait_for_bulk_operation(client.start_export(PRODUCTS, None).id, poll_interval_s=0.01)
    assert operation.url is not None
    whole = httpx.get(operation.url).content
    target = tmp_path / "result.jsonl"
    with target.open("wb") as out:
        assert client.download(operation.url, out) == len(whole)
    assert target.read_bytes() == whole
    assert transport.ranges == [None, f"bytes={len(whole) // 2}-"]
    assert client.stats.retries == 1
    assert sum(1 for _ in BulkResultFile(target)) == 6


def test_paged_reads_complete_nested_connections(shop: Shop) -> None:
    client = shop.client()
    products = list(client.read_pages(PRODUCTS, None))
    assert len(products) == 6
    # 30 variants each, 25 on the product's page: the rest through the product's own connection.
    assert all(len(item.children) == 30 for item in products)
    assert len({_decoded(child)["id"] for item in products for child in item.children}) == 180
    assert client.count(PRODUCTS) == 6 and client.count(ORDERS) == 15 and client.count(CUSTOMERS) == 20


def test_destroy_events_name_what_was_deleted(shop: Shop) -> None:
    client = shop.client()
    first = min(shop.emulator.shop().commerce.orders)
    shop.emulator.delete_order(f"gid://shopify/Order/{first}")
    events = list(client.destroy_events(ORDERS, None))
    assert [e["subjectId"] for e in events] == [f"gid://shopify/Order/{first}"]
    assert list(client.destroy_events(CUSTOMERS, None)) == []


def test_bulk_submission_and_polls_survive_429_storms(shop: Shop) -> None:
    client = shop.client()
    shop.emulator.faults.configure(FaultConfig(storm_429=3, retry_after_s=0, path_prefix="/admin/api"))
    started = client.start_export(CUSTOMERS, None)
    shop.emulator.faults.configure(FaultConfig(storm_429=2, retry_after_s=0, path_prefix="/admin/api"))
    finished = client.wait_for_bulk_operation(started.id, poll_interval_s=0.01)
    assert finished.succeeded and client.stats.by_status[429] == 5


@pytest.mark.parametrize("throttled_status", [200, 429])
def test_throttled_calls_are_retried_and_clients_of_a_shop_share_its_bucket(
    monkeypatch: pytest.MonkeyPatch, throttled_status: int
) -> None:
    monkeypatch.setattr(shopify_export, "_BUCKETS", {})
    shop = Shop(throttle_enabled=True, bucket_capacity=30, restore_rate=10, throttled_status=throttled_status)
    try:
        shop.emulator.seed(products=2, variants=2, customers=3, orders=2, lines=1, seed=1)
        first = shop.client()
        first.start_export(CUSTOMERS, None)
        first.start_export(PRODUCTS, None)  # the bucket (30) held two submissions: it is nearly empty now
        # A client of the same shop starts from what the first learned: it waits instead of being throttled.
        second = shop.client()
        second.start_export(ORDERS, None)
        assert shop.emulator.stats_snapshot()["throttled"] == 0
        assert second.stats.rate_limit_wait_s > 0
        # A client that knows nothing of the bucket is throttled, waits what the answer says and goes on.
        monkeypatch.setattr(shopify_export, "_BUCKETS", {})
        third = shop.client()
        shop.emulator.wait_for_bulk()
        shop.emulator.shop().bucket.charge(30)  # spent by a process of the app this client cannot see
        third.start_export(CUSTOMERS, None)
        assert shop.emulator.stats_snapshot()["throttled"] >= 1
        assert third.stats.by_status.get(throttled_status, 0) >= 1 and third.stats.retries >= 1
    finally:
        shop.close()


def _line(gid: str, parent: str | None = None) -> bytes:
    body: dict[str, Any] = {"id": gid}
    if parent is not None:
        body["__parentId"] = parent
    return orjson.dumps(body)


def _joined(path: Path, lines: list[bytes]) -> list[tuple[str, list[str]]]:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return [
        (
            str(orjson.loads(item.node)["id"]),
            [str(orjson.loads(child)["id"]) for child in item.children if isinstance(child, bytes)],
        )
        for item in BulkResultFile(path)
        if isinstance(item.node, bytes)
    ]


ORDER_1, ORDER_2, ORDER_3 = (f"gid://shopify/Order/{n}" for n in (11, 7, 30))
LINE_A, LINE_B, LINE_C = (f"gid://shopify/LineItem/{n}" for n in (1, 2, 3))
JOINED = [(ORDER_1, [LINE_A, LINE_B]), (ORDER_2, []), (ORDER_3, [LINE_C])]


@pytest.mark.parametrize(
    "lines",
    [
        # nested lines after all parents (the default from 2026-01), in the parents' order
        [
            _line(ORDER_1),
            _line(ORDER_2),
            _line(ORDER_3),
            _line(LINE_A, ORDER_1),
            _line(LINE_B, ORDER_1),
            _line(LINE_C, ORDER_3),
        ],
        # grouped: each parent's lines right after it
        [
            _line(ORDER_1),
            _line(LINE_A, ORDER_1),
            _line(LINE_B, ORDER_1),
            _line(ORDER_2),
            _line(ORDER_3),
            _line(LINE_C, ORDER_3),
        ],
        # nested lines after all parents, not in the parents' order
        [
            _line(ORDER_1),
            _line(ORDER_2),
            _line(ORDER_3),
            _line(LINE_C, ORDER_3),
            _line(LINE_A, ORDER_1),
            _line(LINE_B, ORDER_1),
        ],
        # in no promised order: a parent's lines apart and before their parent
        [
            _line(LINE_C, ORDER_3),
            _line(LINE_A, ORDER_1),
            _line(ORDER_1),
            _line(ORDER_2),
            _line(ORDER_3),
            _line(LINE_B, ORDER_1),
        ],
    ],
    ids=["children_last", "grouped", "children_last_reordered", "unordered"],
)
def test_a_bulk_result_joins_parents_and_nested_lines_in_any_order(
    tmp_path: Path, lines: list[bytes]
) -> None:
    assert _joined(tmp_path / "result.jsonl", lines) == JOINED


def test_a_nested_line_without_its_parent_in_the_result_is_an_error(tmp_path: Path) -> None:
    lines = [_line(ORDER_1), _line(LINE_A, ORDER_1), _line(LINE_B, "gid://shopify/Order/99")]
    with pytest.raises(ValueError, match="name a parent it does not hold"):
        _joined(tmp_path / "result.jsonl", lines)

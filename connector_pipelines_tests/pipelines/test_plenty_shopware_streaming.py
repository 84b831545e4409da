"""The engine under plenty_shopware's streaming: the snapshot hands each written batch over, a
:class:`StreamPublisher` publishes while the read goes on, and ``publish`` finishes (versions, exclusions,
deadlines); the media queue kept while products are confirmed, and the products lacking required data
kept by each read. A recording writer stands in for Shopware."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from connector_pipelines.catalog.models import Price, Product, Texts, Variant
from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.plenty_shopware import (
    MEDIA_SOURCE_CURSOR,
    REQUIRED_CURRENCY,
    MediaQueueKeeper,
    lacks_required_data,
    media_queue,
    products_missing_price_or_category,
    remember_incomplete,
    remembered_incomplete,
)
from connector_pipelines.sync.publish import (
    PlanEntry,
    PublishItem,
    PublishSpec,
    RecordFailure,
    StreamPublisher,
    WriteOutcome,
    publish,
)
from connector_pipelines.sync.snapshot import Written, update_snapshot

SPEC = PublishSpec("product", "product", "publish", target_id=lambda key: f"id-{key}")
WAIT_S = 30  # only ever reached when the behaviour under test is broken


def _product(i: int, name: str = "") -> Product:
    return Product(key=f"p{i:03d}", texts={"de": Texts(name=name or f"product {i}")})


@dataclass
class RecordingWriter:
    reject: set[str] = field(default_factory=set)
    explode: bool = False
    upserts: list[list[str]] = field(default_factory=list)
    called: threading.Event = field(default_factory=threading.Event)

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        self.upserts.append([i.key for i in items])
        self.called.set()
        if self.explode:
            raise RuntimeError("the target is gone")
        out = WriteOutcome()
        for item in items:
            if item.key in self.reject:
                out.failed.append(RecordFailure(item.key, "rejected", None))
            else:
                out.confirmed.append(MappingRow(item.key, f"id-{item.key}", item.content_hash))
        return out

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        return WriteOutcome(confirmed=list(mappings))

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        return [PlanEntry(i.key, i.action, "") for i in items]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TenantStore]:
    db = Database(f"sqlite:///{tmp_path / 'connector.db'}")
    tenant_registry(db).add("acme", "", ["plenty_shopware"])
    yield TenantStore(db, "acme", "plenty_shopware")
    db.dispose()


def test_the_snapshot_hands_over_each_written_batch_of_changed_records(store: TenantStore) -> None:
    update_snapshot(store, "product", [_product(i) for i in range(3)], complete=True)
    handed: list[list[Written]] = []
    changed = [_product(1, "renamed"), *(_product(i) for i in range(3, 8))]
    result = update_snapshot(
        store, "product", [_product(0), *changed], complete=True, on_written=handed.append, batch=4
    )
    assert [[key for key, _, _ in batch] for batch in handed] == [
        ["p001", "p003", "p004", "p005"],
        ["p006", "p007"],
    ], "unchanged records are not handed over"
    hashes = store.record_hashes("product")
    assert all(hashes[key] == digest for batch in handed for key, digest, _ in batch), "as stored"
    assert handed[0][0][2] == changed[0] and result.removed == ["p002"]


def test_publishing_starts_while_the_read_goes_on(store: TenantStore) -> None:
    writer = RecordingWriter()

    def read() -> Iterator[Product]:
        yield from (_product(i) for i in range(4))
        # The rest of the source only comes once the target got the first records.
        assert writer.called.wait(WAIT_S), "nothing was published while reading"
        yield from (_product(i) for i in range(4, 10))

    with StreamPublisher(store, writer, SPEC, run_id="r1", batch_size=2) as stream:
        update_snapshot(store, "product", read(), complete=True, on_written=stream.send, batch=2)
    assert (stream.result.created, stream.result.updated) == (10, 0)
    assert sorted(store.mappings("product")) == [f"p{i:03d}" for i in range(10)]


def test_the_stream_sends_only_what_the_target_lacks_and_records_refusals(store: TenantStore) -> None:
    update_snapshot(store, "product", [_product(i) for i in range(3)], complete=True)
    publish(store, RecordingWriter(), SPEC, run_id="r0", batch_size=10)
    writer = RecordingWriter(reject={"p004"})
    records = [_product(0), _product(1, "renamed"), _product(3), _product(4)]
    with StreamPublisher(store, writer, SPEC, run_id="r1", batch_size=10) as stream:
        # p000 is handed over although unchanged: the target holds this version, so it is not sent.
        digests = update_snapshot(store, "product", records, complete=False).changed
        stream.send([(p.key, store.record_hashes("product")[p.key], p) for p in records])
    assert digests == ["p001", "p003", "p004"]
    assert writer.upserts == [["p001", "p003", "p004"]]
    assert (stream.result.created, stream.result.updated, stream.result.failed) == (1, 1, 1)
    (error,) = store.open_errors("publish", run_id="r1")
    assert error.record_key == "p004"


def test_a_failing_stream_stops_without_failing_the_read_when_tolerant(store: TenantStore) -> None:
    writer = RecordingWriter(explode=True)
    with StreamPublisher(store, writer, SPEC, run_id="r1", batch_size=2, tolerant=True) as stream:
        update_snapshot(
            store, "product", [_product(i) for i in range(6)], complete=True, on_written=stream.send, batch=2
        )
    assert stream.stopped == "RuntimeError: the target is gone"
    assert len(store.record_hashes("product")) == 6, "the read went on"
    assert {m.content_hash for m in store.mappings("product").values()} == {"pending"}, "nothing confirmed"
    # What the stream left, the next publication sends.
    rest = publish(store, RecordingWriter(), SPEC, run_id="r1", batch_size=10)
    assert rest.created == 6

    strict = StreamPublisher(store, RecordingWriter(explode=True), SPEC, run_id="r2", batch_size=1)
    with pytest.raises(RuntimeError, match="the target is gone"), strict:
        strict.send([("p000", "changed", _product(0))])


def test_a_new_target_version_publishes_every_record_once_more(store: TenantStore) -> None:
    update_snapshot(store, "product", [_product(i) for i in range(3)], complete=True)
    assert publish(store, RecordingWriter(), SPEC, run_id="r1", batch_size=10).created == 3
    v2 = PublishSpec("product", "product", "publish", version="v2")
    again = publish(store, RecordingWriter(), v2, run_id="r2", batch_size=10)
    assert (again.updated, again.unchanged) == (3, 0)
    quiet = publish(store, RecordingWriter(), v2, run_id="r3", batch_size=10)
    assert (quiet.updated, quiet.unchanged) == (0, 3)
    assert v2.published_hash("abc") != "abc" and SPEC.published_hash("abc") == "abc"


def test_excluded_records_wait_and_a_deadline_leaves_the_rest(store: TenantStore) -> None:
    update_snapshot(store, "product", [_product(i) for i in range(5)], complete=True)
    writer = RecordingWriter()
    result = publish(store, writer, SPEC, run_id="r1", batch_size=10, exclude={"p001"})
    assert (result.created, result.left) == (4, 0) and "p001" not in writer.upserts[0]
    update_snapshot(store, "product", [_product(i, "new") for i in range(5)], complete=True)
    late = publish(store, RecordingWriter(), SPEC, run_id="r2", batch_size=2, deadline=0.0)
    assert (late.created, late.updated, late.left) == (0, 0, 5)


def _files(*names: str) -> dict[str, object]:
    return {
        "files": {n * 32: {"url": f"https://cdn/{n}.jpg", "file_name": n, "extension": "jpg"} for n in names}
    }


def test_the_media_queue_grows_with_the_products_shopware_confirms(store: TenantStore) -> None:
    keeper = MediaQueueKeeper(store)
    first = MappingRow("p1", "id-p1", "h1", _files("a", "b"))
    store.put_mappings("product", [first])
    keeper.confirmed([(PublishItem("p1", "h1", None, None), first)])
    keeper.close()
    assert sorted(store.record_hashes("media")) == ["a" * 32, "b" * 32]
    assert store.get_cursor(MEDIA_SOURCE_CURSOR) is not None, "the queue is current: nothing to derive"

    keeper = MediaQueueKeeper(store)
    second = MappingRow("p1", "id-p1", "h2", _files("b", "c"))
    store.put_mappings("product", [second])
    keeper.confirmed([(PublishItem("p1", "h2", None, first), second)])
    keeper.close()
    assert sorted(store.record_hashes("media")) == ["a" * 32, "b" * 32, "c" * 32], "a was dropped"
    media_queue(store)  # which no product links any more: derived again, and gone
    assert sorted(store.record_hashes("media")) == ["b" * 32, "c" * 32]


def _priced(i: int, *, category: bool = True, currency: str = "EUR") -> Product:
    variant = Variant(key=f"v{i:03d}", sku=f"S-{i}", prices=(Price(currency=currency, gross=Decimal(9)),))
    return Product(
        key=f"p{i:03d}",
        texts={"de": Texts(name=f"product {i}")},
        category_keys=("c1",) if category else (),
        variants=(variant,),
    )


def _read(store: TenantStore, products: list[Product], *, complete: bool) -> None:
    """One read of ``products`` as the products step keeps the products lacking required data."""
    before = remembered_incomplete(store)
    lacking: set[str] = set()

    def written(batch: list[Written]) -> None:
        lacking.update(k for k, _, p in batch if lacks_required_data(p, REQUIRED_CURRENCY))

    result = update_snapshot(store, "product", products, complete=complete, on_written=written)
    remember_incomplete(store, before, result, lacking)


def test_the_products_lacking_required_data_are_kept_by_each_read_as_the_store_finds_them(
    store: TenantStore,
) -> None:
    _read(
        store, [_priced(0), _priced(1, category=False), _priced(2, currency="CHF"), _priced(3)], complete=True
    )
    assert remembered_incomplete(store) == {"p001", "p002"}, "worked out from the store the first time"
    # A delta: one fixed, one broken, the others not read at all.
    _read(store, [_priced(1), _priced(3, category=False)], complete=False)
    assert products_missing_price_or_category(store, REQUIRED_CURRENCY) == ["p002", "p003"]
    # A complete read that no longer finds one of them, and a new product without a price in EUR.
    _read(
        store, [_priced(0), _priced(1), _priced(3, category=False), _priced(4, currency="CHF")], complete=True
    )
    kept = products_missing_price_or_category(store, REQUIRED_CURRENCY)
    assert kept == ["p003", "p004"] == store.incomplete_products("product", REQUIRED_CURRENCY)

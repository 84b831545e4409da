"""The generic snapshot and publish engine, with a recording writer standing in for a target API."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from pydantic import JsonValue

from connector_pipelines.catalog.models import Product, Texts
from connector_pipelines.redaction import MASK, register_secrets
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PENDING,
    PLAN_VALUE_CHARS,
    UNCONFIRMED,
    DeclaresIntents,
    FieldChange,
    PlanEntry,
    PublishItem,
    PublishSpec,
    RecordFailure,
    StreamPublisher,
    WriteOutcome,
    field_changes,
    in_flight,
    merge_extra,
    preview_markdown,
    publish,
)
from connector_pipelines.sync.snapshot import STREAM_GC_YOUNG, gc_for_streams, update_snapshot
from connector_pipelines.tenants.registry import TenantRegistry

SPEC = PublishSpec("product", "product", "publish", label=lambda p: p["texts"]["de"]["name"])


def _product(i: int, name: str = "") -> Product:
    return Product(key=f"p{i:03d}", texts={"de": Texts(name=name or f"product {i}")})


@dataclass
class RecordingWriter:
    reject: set[str] = field(default_factory=set)
    deactivate: bool = False
    upserts: list[list[str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        self.upserts.append([i.key for i in items])
        out = WriteOutcome()
        for item in items:
            if item.key in self.reject:
                out.failed.append(RecordFailure(item.key, "rejected by target", item.payload))
            else:
                out.confirmed.append(MappingRow(item.key, f"id-{item.key}", item.content_hash))
        return out

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        self.removed.extend(m.source_key for m in mappings)
        marker = DEACTIVATED if self.deactivate else "gone"
        return WriteOutcome(confirmed=[MappingRow(m.source_key, m.target_id, marker) for m in mappings])

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        return [PlanEntry(i.key, i.action, "") for i in items] + [
            PlanEntry(m.source_key, "delete", "") for m in removals
        ]


@pytest.fixture
def store(registry: TenantRegistry, db: Database) -> TenantStore:
    registry.add("acme", "", ["plenty_shopware"])
    return TenantStore(db, "acme", "plenty_shopware")


def _snapshot(store: TenantStore, products: list[Product], complete: bool = True) -> list[str]:
    return update_snapshot(store, "product", products, key=lambda p: p.key, complete=complete).changed


def test_full_cycle(store: TenantStore) -> None:
    writer = RecordingWriter(reject={"p003"})
    assert len(_snapshot(store, [_product(i) for i in range(10)])) == 10
    first = publish(store, writer, SPEC, run_id="r1", batch_size=4)
    assert (first.created, first.failed, first.unchanged) == (9, 1, 0)
    assert [len(b) for b in writer.upserts] == [4, 4, 2], "batched"
    assert store.count_open_errors("publish") == 1
    assert "product 0" in preview_markdown(first.preview)

    writer.reject.clear()
    second = publish(store, writer, SPEC, run_id="r2", batch_size=4)
    assert (second.created, second.unchanged, second.resolved_errors) == (1, 9, 1), (
        "the failed record is retried"
    )
    assert store.count_open_errors() == 0

    assert _snapshot(store, [_product(i, "renamed" if i == 5 else "") for i in range(10)]) == ["p005"]
    third = publish(store, writer, SPEC, run_id="r3", batch_size=4)
    assert (third.updated, third.unchanged) == (1, 9)


def test_a_dead_letter_waits_for_the_operator(store: TenantStore) -> None:
    store = TenantStore(store.db, store.tenant, store.pipeline, dead_after=3)
    writer = RecordingWriter(reject={"p001"})
    _snapshot(store, [_product(i) for i in range(3)])
    for run in range(3):
        publish(store, writer, SPEC, run_id=f"r{run}", batch_size=10)
    assert store.dead_letter_keys("publish") == {"p001"}

    writer.upserts.clear()
    held = publish(store, writer, SPEC, run_id="r3", batch_size=10)
    assert writer.upserts == [] and held.dead_letters == 1 and held.counts()["dead_letters"] == 1

    writer.reject.clear()
    assert store.rearm_errors(["p001"], "publish") == 1
    sent = publish(store, writer, SPEC, run_id="r4", batch_size=10)
    assert writer.upserts == [["p001"]] and sent.created == 1 and sent.dead_letters == 0
    assert store.count_open_errors() == 0


def test_partial_reads_never_delete(store: TenantStore) -> None:
    writer = RecordingWriter()
    _snapshot(store, [_product(i) for i in range(5)])
    publish(store, writer, SPEC, run_id="r1", batch_size=10)
    _snapshot(store, [_product(1)], complete=False)
    assert publish(store, writer, SPEC, run_id="r2", batch_size=10).deleted == 0

    def broken() -> object:
        yield _product(0)
        raise ConnectionError("source went away")

    with pytest.raises(ConnectionError):
        update_snapshot(store, "product", broken(), complete=True)  # type: ignore[arg-type]
    assert len(store.record_hashes("product")) == 5

    _snapshot(store, [_product(i) for i in range(3)])
    result = publish(store, writer, SPEC, run_id="r3", batch_size=10)
    assert result.deleted == 2 and sorted(writer.removed) == ["p003", "p004"]
    assert store.count_mappings("product") == 3


def test_deactivation_is_not_repeated(store: TenantStore) -> None:
    writer = RecordingWriter(deactivate=True)
    _snapshot(store, [_product(i) for i in range(3)])
    publish(store, writer, SPEC, run_id="r1", batch_size=10)
    _snapshot(store, [_product(0)])
    assert publish(store, writer, SPEC, run_id="r2", batch_size=10).deleted == 2
    assert publish(store, writer, SPEC, run_id="r3", batch_size=10).deleted == 0
    _snapshot(store, [_product(0), _product(1)])
    assert publish(store, writer, SPEC, run_id="r4", batch_size=10).updated == 1, (
        "a returning record is reactivated"
    )


def test_dry_run_writes_nothing(store: TenantStore) -> None:
    writer = RecordingWriter()
    _snapshot(store, [_product(i) for i in range(3)])
    result = publish(store, writer, SPEC, run_id="r1", batch_size=10, dry_run=True)
    assert [p.action for p in result.plan] == ["create"] * 3
    assert writer.upserts == [] and store.count_mappings("product") == 0


def test_single_record_scope(store: TenantStore) -> None:
    writer = RecordingWriter()
    _snapshot(store, [_product(i) for i in range(3)])
    result = publish(store, writer, SPEC, run_id="r1", batch_size=10, keys={"p001"})
    assert result.created == 1 and writer.upserts == [["p001"]]


# --- writes that die unanswered ---------------------------------------------------------------------------


@dataclass
class LinkingWriter(RecordingWriter):
    """Links each record to the ids its name lists (``"a b"`` -> a, b), as a target keeps associations; marks
    records before they are sent, and can die after a write landed, before the answer."""

    dies: bool = False
    held: dict[str, set[str]] = field(default_factory=dict)
    unlinked: list[str] = field(default_factory=list)

    def intents(self, items: Sequence[PublishItem]) -> list[MappingRow]:
        return [in_flight(i, f"id-{i.key}", {"links": _links(i)}) for i in items]

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        for item in items:
            before = set((item.published.extra or {}).get("links", [])) if item.published else set()
            stale = before - set(_links(item))
            self.unlinked.extend(sorted(stale))
            self.held[item.key] = (self.held.get(item.key, set()) - stale) | set(_links(item))
        if self.dies:
            raise RuntimeError("the run died before the target's answer came")
        return WriteOutcome(
            confirmed=[MappingRow(i.key, f"id-{i.key}", i.content_hash, {"links": _links(i)}) for i in items]
        )


def _links(item: PublishItem) -> list[str]:
    return sorted(Product.model_validate(item.payload).texts["de"].name.split())


def test_an_update_that_landed_unanswered_is_sent_again_whatever_the_source_says(store: TenantStore) -> None:
    writer = LinkingWriter()
    assert isinstance(writer, DeclaresIntents)
    _snapshot(store, [_product(0, "a")])
    assert publish(store, writer, SPEC, run_id="r1", batch_size=10).created == 1

    _snapshot(store, [_product(0, "a b")])
    writer.dies = True
    with pytest.raises(RuntimeError):
        publish(store, writer, SPEC, run_id="r2", batch_size=10)
    assert writer.held["p000"] == {"a", "b"}, "the write landed"
    row = store.mappings("product")["p000"]
    assert row.content_hash == UNCONFIRMED and row.extra == {"links": ["a", "b"]}

    writer.dies = False
    _snapshot(store, [_product(0, "a")])  # back to the version the target held before
    result = publish(store, writer, SPEC, run_id="r3", batch_size=10)
    assert (result.updated, result.unchanged) == (1, 0), "sent again, though the source is as first published"
    assert writer.held["p000"] == {"a"} and writer.unlinked == ["b"], "what the lost write linked went"
    assert store.mappings("product")["p000"].extra == {"links": ["a"]}


def test_a_create_in_flight_is_pending_with_its_links(store: TenantStore) -> None:
    writer = LinkingWriter(dies=True)
    _snapshot(store, [_product(0, "a b")])
    with pytest.raises(RuntimeError):
        publish(store, writer, SPEC, run_id="r1", batch_size=10)
    row = store.mappings("product")["p000"]
    assert (row.target_id, row.content_hash, row.extra) == ("id-p000", PENDING, {"links": ["a", "b"]})


def test_a_stream_stops_when_its_writer_cannot_mark_a_batch(store: TenantStore) -> None:
    """Marking builds the batch's payloads: a bug there stops a tolerant stream, as a failed write does,
    and the records wait for the publication after the read."""

    class Broken(LinkingWriter):
        def intents(self, items: Sequence[PublishItem]) -> list[MappingRow]:
            raise KeyError("a payload the writer cannot build")

    writer = Broken()
    records = [(p.key, p.key, p) for p in (_product(0, "a"), _product(1, "b"))]
    with StreamPublisher(store, writer, SPEC, run_id="r1", batch_size=1, tolerant=True) as stream:
        stream.send(records)
    assert stream.stopped is not None and "a payload the writer cannot build" in stream.stopped
    assert writer.held == {} and store.count_mappings("product") == 0, "nothing sent, nothing marked"


def test_extras_merge_into_everything_either_version_links() -> None:
    old: JsonValue = {"categories": ["c1", "c2"], "children": {"v1": ["o1"], "v2": ["o2"]}, "n": 1}
    new: JsonValue = {
        "categories": ["c2", "c3"],
        "children": {"v1": ["o3"]},
        "n": 2,
        "files": {"f": {"url": "u"}},
    }
    assert merge_extra(old, new) == {
        "categories": ["c1", "c2", "c3"],
        "children": {"v1": ["o1", "o3"], "v2": ["o2"]},
        "n": 2,
        "files": {"f": {"url": "u"}},
    }
    assert merge_extra(None, new) == new and merge_extra(old, None) == old


# --- plans: old and new values ----------------------------------------------------------------------------


def test_a_plan_shows_each_changed_field_with_its_old_and_new_value() -> None:
    before = {"stock": 3, "price": [{"gross": 9.99}], "translations": {"fr": {"name": "Sac"}}, "same": 1}
    after = {"stock": 4242, "price": [{"gross": 12.5}], "translations": {"fr": {"name": None}}, "same": 1}
    assert field_changes(before, after) == (
        FieldChange("price", '[{"gross":9.99}]', '[{"gross":12.5}]'),
        FieldChange("stock", "3", "4242"),
        FieldChange("translations.fr.name", "Sac", None),
    )
    entry = PlanEntry("p1", "update", "P-1", field_changes(before, after))
    assert entry.changed_fields == ("price", "stock", "translations.fr.name")
    assert entry.as_json()["changes"] == [
        {"field": "price", "old": '[{"gross":9.99}]', "new": '[{"gross":12.5}]'},
        {"field": "stock", "old": "3", "new": "4242"},
        {"field": "translations.fr.name", "old": "Sac", "new": None},
    ]
    assert "stock: 3 -> 4242" in preview_markdown([entry])


def test_plan_values_are_cut_and_never_show_secrets() -> None:
    long = FieldChange.of("description", None, "x" * 500)
    assert long.new is not None and len(long.new) == PLAN_VALUE_CHARS and long.new.endswith("…")
    assert FieldChange.of("settings.api_key", "old-key-1", "new-key-2") == FieldChange(
        "settings.api_key", MASK, MASK
    )
    assert FieldChange.of("clientSecret", None, "s3cr3t-value") == FieldChange("clientSecret", None, MASK)
    register_secrets(["hunter2-token-value"])
    leaked = FieldChange.of("description", "see hunter2-token-value", "plain")
    assert leaked.old == f"see {MASK}"


def test_streams_keep_the_heap_they_found_out_of_garbage_collection_until_the_last_ends() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with gc_for_streams():
        assert gc.get_freeze_count() > frozen and gc.get_threshold()[0] >= STREAM_GC_YOUNG
        with gc_for_streams():  # a publication inside a read
            pass
        assert gc.get_freeze_count() > frozen, "the outer stream still holds it"
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0, "handed back, to be collected as ever"

"""The generic snapshot and publish engine, with a recording writer standing in for a target API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from connector_pipelines.catalog.models import Product, Texts
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PlanEntry,
    PublishItem,
    PublishSpec,
    RecordFailure,
    WriteOutcome,
    preview_markdown,
    publish,
)
from connector_pipelines.sync.snapshot import update_snapshot
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

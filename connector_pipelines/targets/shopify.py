"""Canonical catalog -> Shopify: the writer that applies a diff through the Admin GraphQL API (contract
``shopify.md``), with the payloads of ``shopify_payloads.py`` and the plans of ``shopify_plan.py``.

Products are matched by SKU. A published product's mapping keeps its product GID (``target_id``) and SKU ->
variant GID (``extra["variants"]``); a product never published is looked up by its SKUs, in batches, so that a
shop already holding it (or a run that died before storing the mapping) gets an update, not a twin.

Images go as productSet ``files`` (by URL) only when they changed since the product was last confirmed: the
mapping keeps a digest of them (``extra["media"]``), and productSet leaves media alone when ``files`` is left
out. Stock goes per location (``inventoryQuantities``): the locations the mapping names (GIDs, or names
looked up once per run), else the ``location_id`` setting.

Many changes go through one bulk mutation (a staged JSONL file of productSet variables), few through direct
productSet calls. The products a failed bulk operation never ran are sent once more (bulk or direct, by
their number); any still not run are left for the next run, neither confirmed nor failed: the operation
failed, not the records, so they count no attempt towards a dead letter. Both ways are written to the
connector database before they are sent: a killed run's successor adopts what they did
(:meth:`ShopifyWriter.adopt`) instead of sending the lines again, and a product created by a call whose answer
never came is mapped, so it is deleted there if the source drops it, never orphaned.
An update marks its product's mapping ``UNCONFIRMED`` before it is sent: one that landed unanswered is sent
again, even after the source went back to the version the mapping named.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import orjson
from pydantic import BaseModel, ConfigDict

from connector_pipelines.catalog.models import Product
from connector_pipelines.clients.http import ApiError, JsonValue
from connector_pipelines.clients.shopify import (
    BULK_PRODUCT_DELETE,
    BULK_PRODUCT_SET,
    BulkOperationInProgress,
    ShopifyClient,
    ShopifyGraphQLError,
)
from connector_pipelines.clients.shopify_models import (
    BulkOperation,
    BulkResultLine,
    UserError,
    VariantRef,
    product_set_variables,
)
from connector_pipelines.errors import PayloadError
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PENDING,
    UNCONFIRMED,
    Action,
    PlanEntry,
    PublishItem,
    RecordFailure,
    WriteOutcome,
    field_changes,
    in_flight,
    new_fields,
)
from connector_pipelines.targets.shopify_payloads import (
    Purpose,
    describe_errors,
    media_digest,
    payload_skus,
    product_input,
    removal_variables,
)
from connector_pipelines.targets.shopify_plan import (
    PLAN_BATCH,
    PLAN_COST_BUDGET,
    PLAN_PRODUCTS,
    PLAN_VARIANTS,
    comparable_current,
    comparable_input,
    variant_details,
)
from connector_pipelines.tenants.systems import ShopifySettings

log = logging.getLogger(__name__)

PENDING_KIND = "shopify_bulk_operations"
STALE_CODES = frozenset({"PRODUCT_DOES_NOT_EXIST", "PRODUCT_VARIANT_DOES_NOT_EXIST"})
SUBMIT_ATTEMPTS = 3

LOCATIONS = """
query Locations($after: String) {
  locations(first: 250, after: $after) { nodes { id name } pageInfo { hasNextPage endCursor } }
}"""
"""The shop's active locations, to resolve the location names a mapping uses."""

AMBIGUOUS = "?"  # a location name several locations share


# --- pending bulk operations --------------------------------------------------------------------------------


class PendingLine(BaseModel):
    """What one line of a submitted bulk operation was about: enough to confirm or record its result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    content_hash: str
    skus: tuple[str, ...] = ()
    target_id: str | None = None
    extra: dict[str, JsonValue] | None = None


class PendingOperation(BaseModel):
    """Lines sent, or about to be, whose outcome is not stored yet: a bulk operation (``id`` once Shopify
    named it; until then found by its ``submission`` marker) or a batch of direct productSet calls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    submission: str
    id: str | None = None
    direct: bool = False
    purpose: Purpose
    lines: list[PendingLine]


class BulkLedger:
    """Writes sent and not yet settled, in the tenant's ``sync_state`` (one JSON list)."""

    def __init__(self, store: TenantStore, kind: str = PENDING_KIND) -> None:
        self.store = store
        self.kind = kind
        self._lock = threading.Lock()

    def pending(self) -> list[PendingOperation]:
        raw = self.store.get_cursor(self.kind)
        return [PendingOperation.model_validate(op) for op in orjson.loads(raw)] if raw else []

    def add(self, operation: PendingOperation) -> None:
        with self._lock:
            self._save([*self.pending(), operation])

    def identify(self, submission: str, operation_id: str) -> None:
        with self._lock:
            self._save(
                [
                    op.model_copy(update={"id": operation_id}) if op.submission == submission else op
                    for op in self.pending()
                ]
            )

    def settle(self, submission: str) -> None:
        with self._lock:
            self._save([op for op in self.pending() if op.submission != submission])

    def _save(self, operations: list[PendingOperation]) -> None:
        self.store.set_cursor(
            self.kind, orjson.dumps([op.model_dump(mode="json") for op in operations]).decode()
        )


# --- the writer ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a product goes in Shopify: its product GID (None = create), known variant GIDs by SKU, and the
    digest of the images it was last confirmed with (None: none, or unknown)."""

    product_id: str | None
    variant_ids: Mapping[str, str] = field(default_factory=dict)
    media: str | None = None


@dataclass(frozen=True)
class _Line:
    """One product to send: ``body`` is its serialized variables (a batch keeps bytes, not dicts)."""

    key: str
    content_hash: str
    skus: tuple[str, ...]
    body: bytes = b""
    target_id: str | None = None
    extra: dict[str, JsonValue] | None = None

    def variables(self) -> dict[str, JsonValue]:
        doc: dict[str, JsonValue] = orjson.loads(self.body)
        return doc

    def pending(self) -> PendingLine:
        return PendingLine(
            key=self.key,
            content_hash=self.content_hash,
            skus=self.skus,
            target_id=self.target_id,
            extra=self.extra,
        )


@dataclass(frozen=True)
class _Answer:
    """Shopify's answer to one line, from a direct call or a bulk result line."""

    product_id: str | None
    variant_ids: dict[str, str]
    user_errors: list[UserError]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return self.product_id is not None and not self.user_errors and not self.errors

    @property
    def not_found(self) -> bool:
        return any(
            e.code == "PRODUCT_DOES_NOT_EXIST" or "does not exist" in e.message.lower()
            for e in self.user_errors
        )


def _bulk_answer(line: BulkResultLine) -> _Answer:
    payload = line.payload or {}
    product = payload.get("product") or {}
    nodes = (product.get("variants") or {}).get("nodes") or []
    product_id = product.get("id") or payload.get("deletedProductId")
    return _Answer(
        str(product_id) if product_id else None,
        {str(n["sku"]): str(n["id"]) for n in nodes if n.get("sku")},
        line.user_errors,
        [e.message for e in line.errors],
    )


@dataclass
class _Result:
    confirmed: MappingRow | None = None
    failure: RecordFailure | None = None
    stale: bool = False  # failed because a stored GID no longer exists in Shopify
    # Never run: the bulk operation failed before this line (neither confirmed nor failed).
    not_run: bool = False


@dataclass(frozen=True)
class Adopted:
    """Writes of an earlier run (a bulk operation, or direct calls: then ``operation_id`` is the submission),
    settled by this one."""

    operation_id: str
    purpose: Purpose
    outcome: WriteOutcome


@dataclass
class WriterStats:
    bulk_operations: list[str] = field(default_factory=list)
    bulk_lines: int = 0
    direct_calls: int = 0
    adopted_operations: int = 0
    skus_looked_up: int = 0
    matched_by_sku: int = 0
    stale_retries: int = 0
    bulk_lines_not_run: int = 0  # lines failed bulk operations never ran (sent again, or left for a run)

    def metadata(self) -> dict[str, int | list[str]]:
        return {
            "bulk_operations": len(self.bulk_operations),
            "bulk_operation_ids": list(self.bulk_operations),
            "bulk_lines": self.bulk_lines,
            "direct_calls": self.direct_calls,
            "adopted_operations": self.adopted_operations,
            "skus_looked_up": self.skus_looked_up,
            "matched_by_sku": self.matched_by_sku,
            "stale_retries": self.stale_retries,
            "bulk_lines_not_run": self.bulk_lines_not_run,
        }


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ShopifyWriter:
    """The publish engine's :class:`~connector_pipelines.sync.publish.TargetWriter` for Shopify products.

    Thread-safe as the engine needs it (two batches in flight): shared state is the ledger and the statistics,
    both behind locks; the client serializes nothing but tolerates concurrent calls."""

    def __init__(
        self,
        client: ShopifyClient,
        settings: ShopifySettings,
        store: TenantStore,
        *,
        mapping_kind: str,
        language: str | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.mapping_kind = mapping_kind
        self.language = language
        self.ledger = BulkLedger(store)
        self.stats = WriterStats()
        self._lock = threading.Lock()
        self._shop_empty: bool | None = None
        self._claimed: dict[str, str] = {}  # product GID -> the record it was confirmed for in this run
        self._locations: dict[str, str] | None = None  # location name (and casefolded) -> GID

    # --- adoption -------------------------------------------------------------------------------------

    def adopt(self) -> Iterator[Adopted]:
        """Settle the writes an earlier run sent but never saw answered: wait for its bulk operations, and
        map the products its direct calls created. Each entry leaves the ledger only when the consumer asks
        for the next one, that is after it stored what the entry confirmed: a failure (or a kill) in between
        leaves it for the next run."""
        for operation in self.ledger.pending():
            lines = [
                _Line(p.key, p.content_hash, p.skus, target_id=p.target_id, extra=p.extra)
                for p in operation.lines
            ]
            if operation.direct:
                log.info("shopify: adopting %d direct calls of an earlier run", len(lines))
                operation_id: str | None = operation.submission
                results = self._created(lines)
            else:
                operation_id = operation.id or self._submitted(operation.submission)
                results = self._adopt_bulk(operation_id, operation.purpose, lines) if operation_id else []
            if operation_id is not None:
                with self._lock:
                    self.stats.adopted_operations += 1
                yield Adopted(operation_id, operation.purpose, self._outcome(results, []))
            self.ledger.settle(operation.submission)

    def _submitted(self, submission: str) -> str | None:
        found = self.client.find_submission(submission)
        if found is None:
            log.info("shopify: a bulk submission of an earlier run never started; its records are sent again")
        return found.id if found else None

    def _adopt_bulk(self, operation_id: str, purpose: Purpose, lines: Sequence[_Line]) -> list[_Result]:
        log.info("shopify: adopting bulk operation %s of an earlier run", operation_id)
        try:
            return self._collect(operation_id, purpose, lines)
        except ApiError as exc:
            if exc.status != 200 or "not found" not in exc.detail:
                raise
            # Gone (expired, another shop): its records are unconfirmed, so the diff sends them again.
            log.warning(
                "shopify: bulk operation %s no longer exists; its records will be sent again", operation_id
            )
            return []

    def _created(self, lines: Sequence[_Line]) -> list[_Result]:
        """The products direct calls of an earlier run wrote, found by their SKUs. Whether a call's changes
        all landed is unknown: the mapping is stored as PENDING, so the diff sends the record again (as an
        update of that product), or deletes the product if the source dropped the record."""
        found = self.client.variants_by_sku([sku for line in lines for sku in line.skus])
        results = []
        for line in lines:
            target = choose_target(line.skus, found)
            if target.product_id is not None:
                extra: dict[str, JsonValue] = {"variants": dict(target.variant_ids)}
                results.append(_Result(confirmed=MappingRow(line.key, target.product_id, PENDING, extra)))
        return results

    # --- TargetWriter ---------------------------------------------------------------------------------

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        lines, failures = self._lines(items, self._targets(items, use_mappings=True))
        self._mark_updates(items, lines)
        results = self._run("upsert", lines)
        stale = {r.failure.key for r in results if r.stale and r.failure is not None}
        unrun = {line.key for line, r in zip(lines, results, strict=True) if r.not_run}
        if stale or unrun:
            # Sent once more, their SKUs looked up afresh: a product or variant deleted in Shopify since it
            # was mapped, and the lines a failed bulk operation never ran (a create that ran unreported is
            # then updated, not twinned). Lines still not run are left for the next run.
            retry = [item for item in items if item.key in stale | unrun]
            with self._lock:
                self.stats.stale_retries += len(stale)
            retry_lines, retry_failures = self._lines(retry, self._targets(retry, use_mappings=False))
            results = [r for r in results if not (r.stale or r.not_run)] + self._run("upsert", retry_lines)
            failures += retry_failures
        return self._outcome(results, failures)

    def _mark_updates(self, items: Sequence[PublishItem], lines: Sequence[_Line]) -> None:
        """The mappings of the products about to be updated, ``UNCONFIRMED`` (as Shopware's and Webflow's
        are): an update that lands unanswered then leaves no mapping naming the version before, which a
        source going back to it would match, so that the record is sent again whatever comes next."""
        sent = {line.key for line in lines}
        rows = [
            in_flight(item, item.published.target_id, None)
            for item in items
            if item.key in sent
            and item.published is not None
            and item.published.content_hash not in (PENDING, UNCONFIRMED)
        ]
        if rows:
            self.store.put_mappings(self.mapping_kind, rows)

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        action: Purpose = self.settings.missing_sku_action
        leaving = {m.source_key for m in mappings}
        claimed = self._claimed | {
            m.target_id: key
            for key, m in self.store.mappings(self.mapping_kind).items()
            if key not in leaving and m.content_hash != DEACTIVATED
        }
        # A product another record now owns (its SKUs moved to a new key) is not deleted with the old key.
        handed_over = [m for m in mappings if claimed.get(m.target_id, m.source_key) != m.source_key]
        lines = [
            _Line(
                m.source_key,
                m.content_hash,
                tuple((m.extra or {}).get("variants") or ()),
                orjson.dumps(removal_variables(action, m.target_id)),
                m.target_id,
                m.extra,
            )
            for m in mappings
            if claimed.get(m.target_id, m.source_key) == m.source_key
        ]
        outcome = self._outcome(self._run(action, lines), [])
        outcome.confirmed.extend(handed_over)
        return outcome

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        targets = self._targets(items, use_mappings=True)
        current = self._current([t.product_id for t in targets.values() if t.product_id])
        entries: list[PlanEntry] = []
        # Updates are compared once their variants' details are read (one query for many): their entries
        # keep their place meanwhile.
        updates: list[tuple[int, PublishItem, str, dict[str, JsonValue], dict[str, JsonValue]]] = []
        for item in items:
            target = targets[item.key]
            try:
                doc, digest = self._input(item, target)
            except PayloadError as exc:
                entries.append(PlanEntry(item.key, item.action, f"cannot be sent: {exc}"))
                continue
            skus = payload_skus(item.payload)
            label = f"{skus[0] if skus else ''} {doc['title']}".strip()
            node = current.get(target.product_id or "")
            if node is None:
                entries.append(PlanEntry(item.key, "create", label, new_fields(doc)))
                continue
            updates.append((len(entries), item, label, comparable_input(doc, media=digest), node))
            entries.append(PlanEntry(item.key, "update", label))
        details = self._variant_details([(ours, node) for _, _, _, ours, node in updates])
        for position, item, label, ours, node in updates:
            theirs = comparable_current(node, ours, variant_details=details, media=targets[item.key].media)
            entries[position] = PlanEntry(item.key, "update", label, field_changes(theirs, ours))
        action: Action = "delete" if self.settings.missing_sku_action == "delete" else "deactivate"
        entries += [PlanEntry(m.source_key, action, m.target_id) for m in removals]
        return entries

    # --- building -------------------------------------------------------------------------------------

    def _input(self, item: PublishItem, target: Target) -> tuple[dict[str, JsonValue], str | None]:
        """The product's productSet input, and the digest of its images (sent only when they changed)."""
        product = Product.model_validate(item.payload)
        digest = media_digest(product)
        doc = product_input(
            product,
            language=self.language,
            location_id=self.settings.location_id,
            variant_ids=target.variant_ids,
            files=digest != target.media,
            locations=self._location,
        )
        return doc, digest

    def _location(self, location: str) -> str:
        """A location's GID: given as one, or looked up by name among the shop's locations (once a run)."""
        if location.startswith("gid://shopify/Location/"):
            return location
        found = self._shop_locations().get(location) or self._shop_locations().get(location.casefold())
        if found is None:
            raise PayloadError(f"the shop has no active location named {location!r}")
        if found == AMBIGUOUS:
            raise PayloadError(f"the shop has several locations named {location!r}; name it by its GID")
        return found

    def _shop_locations(self) -> dict[str, str]:
        with self._lock:
            if self._locations is None:
                names: dict[str, str] = {}
                after: str | None = None
                while True:
                    data = self.client.graphql(LOCATIONS, {"after": after})
                    page = data["locations"]
                    for node in page["nodes"]:
                        for name in dict.fromkeys((str(node["name"]), str(node["name"]).casefold())):
                            names[name] = AMBIGUOUS if name in names else str(node["id"])
                    if not page["pageInfo"]["hasNextPage"]:
                        break
                    after = page["pageInfo"]["endCursor"]
                self._locations = names
            return self._locations

    def _variant_details(
        self, pairs: Sequence[tuple[Mapping[str, JsonValue], Mapping[str, JsonValue]]]
    ) -> dict[str, dict[str, JsonValue]]:
        """SKU -> current metafields and stock per location of the variants whose input sets them."""
        ids: list[str] = []
        keys: set[str] = set()
        locations = 0
        for ours, node in pairs:
            for variant in node["variants"]["nodes"]:
                mine = ours["variants"].get(str(variant.get("sku") or "")) or {}
                if "inventory" in mine or "metafields" in mine:
                    ids.append(str(variant["id"]))
                    keys.update(mine.get("metafields") or ())
                    locations = max(locations, len(mine.get("inventory") or ()))
        if not ids:
            return {}
        if locations:
            # Every location the variant may be stocked at, so that ours are among those read.
            locations = min(max(locations, len(set(self._shop_locations().values()) - {AMBIGUOUS})), 250)
        variables: dict[str, JsonValue] = {"metafields": len(keys), "keys": sorted(keys), "levels": locations}
        per_variant = 6 + len(keys) + 3 * locations  # Shopify's cost rules: connections 2 + n x node
        details: dict[str, dict[str, JsonValue]] = {}
        for batch in _chunks(ids, max(1, min(250, PLAN_COST_BUDGET // per_variant))):
            data = self.client.graphql(PLAN_VARIANTS, {**variables, "ids": list(batch)})
            for node in data["nodes"]:
                if isinstance(node, dict) and node.get("sku"):
                    details[str(node["sku"])] = variant_details(node)
        return details

    def _lines(
        self, items: Sequence[PublishItem], targets: Mapping[str, Target]
    ) -> tuple[list[_Line], list[RecordFailure]]:
        lines, failures = [], []
        for item in items:
            target = targets[item.key]
            skus = payload_skus(item.payload)
            try:
                doc, digest = self._input(item, target)
            except PayloadError as exc:
                failures.append(RecordFailure(item.key, str(exc), {"skus": list(skus[:20])}))
                continue
            identifier = {"id": target.product_id} if target.product_id else None
            body = orjson.dumps(product_set_variables(doc, identifier))
            # The images' digest rides with the line (and the ledger) into the mapping once confirmed.
            extra: dict[str, JsonValue] | None = {"media": digest} if digest else None
            lines.append(_Line(item.key, item.content_hash, skus, body, extra=extra))
        return lines, failures

    def _targets(self, items: Sequence[PublishItem], *, use_mappings: bool) -> dict[str, Target]:
        targets: dict[str, Target] = {}
        unknown: list[PublishItem] = []
        for item in items:
            mapping = item.published if use_mappings else None
            if mapping is None:
                unknown.append(item)
                continue
            extra = mapping.extra or {}
            variants = extra.get("variants") or {}
            media = extra.get("media")
            targets[item.key] = Target(
                mapping.target_id,
                {str(k): str(v) for k, v in variants.items()},
                str(media) if media else None,
            )
        if unknown:
            skus = [sku for item in unknown for sku in payload_skus(item.payload)]
            found = self._lookup(skus, trust_empty_shop=use_mappings)
            for item in unknown:
                targets[item.key] = choose_target(payload_skus(item.payload), found)
            matched = sum(1 for item in unknown if targets[item.key].product_id is not None)
            with self._lock:
                self.stats.matched_by_sku += matched
        return targets

    def _lookup(self, skus: Sequence[str], *, trust_empty_shop: bool) -> dict[str, VariantRef]:
        if trust_empty_shop and self._is_shop_empty():
            return {}
        with self._lock:
            self.stats.skus_looked_up += len(skus)
        return self.client.variants_by_sku(skus)

    def _is_shop_empty(self) -> bool:
        """Whether the shop had no product when this writer first looked: then no SKU of a record never
        published can exist (a file holds each SKU once), and onboarding needs no look-ups."""
        with self._lock:
            if self._shop_empty is None:
                self._shop_empty = next(iter(self.client.iter_products(page_size=1)), None) is None
            return self._shop_empty

    def _current(self, product_ids: Sequence[str]) -> dict[str, dict[str, JsonValue]]:
        current: dict[str, dict[str, JsonValue]] = {}
        for batch in _chunks(list(dict.fromkeys(product_ids)), PLAN_BATCH):
            data = self.client.graphql(PLAN_PRODUCTS, {"ids": list(batch)})
            for node in data["nodes"]:
                if isinstance(node, dict) and node.get("id"):
                    current[str(node["id"])] = node
        return current

    # --- sending --------------------------------------------------------------------------------------

    def _run(self, purpose: Purpose, lines: Sequence[_Line]) -> list[_Result]:
        """Send ``lines`` (bulk from ``bulk_threshold`` on); the results in the order of the lines."""
        if not lines:
            return []
        if len(lines) >= self.settings.bulk_threshold:
            return self._bulk(purpose, lines)
        if purpose != "upsert":  # a removal's mapping stays until it is confirmed: nothing to write down
            return [self._direct(purpose, line) for line in lines]
        submission = f"direct-{uuid.uuid4()}"
        # Written before sending: a product created by a call whose answer never arrives gets mapped next run.
        self.ledger.add(
            PendingOperation(
                submission=submission, direct=True, purpose=purpose, lines=[line.pending() for line in lines]
            )
        )
        results = [self._direct(purpose, line) for line in lines]
        self.ledger.settle(submission)
        return results

    def _direct(self, purpose: Purpose, line: _Line) -> _Result:
        variables = line.variables()
        with self._lock:
            self.stats.direct_calls += 1
        try:
            if purpose == "delete":
                deleted = self.client.product_delete(str(line.target_id))
                answer = _Answer(deleted.deleted_product_id, {}, deleted.user_errors, [])
            else:
                result = self.client.product_set(variables["input"], variables.get("identifier"))
                product = result.product
                answer = _Answer(
                    product.id if product else None,
                    {v.sku: v.id for v in product.variants if v.sku} if product else {},
                    result.user_errors,
                    [],
                )
        except ShopifyGraphQLError as exc:
            # A document error for this record only (its variables failed validation): record it, go on.
            answer = _Answer(None, {}, [], [e.message for e in exc.errors])
        return self._settle(purpose, line, answer)

    def _bulk(self, purpose: Purpose, lines: Sequence[_Line]) -> list[_Result]:
        mutation = BULK_PRODUCT_DELETE if purpose == "delete" else BULK_PRODUCT_SET
        submission = str(uuid.uuid4())
        # Written before submitting: if this process dies while the submission is in flight or the operation
        # runs, the next run finds the operation by its submission marker and adopts it (or learns that it
        # never started).
        self.ledger.add(
            PendingOperation(submission=submission, purpose=purpose, lines=[line.pending() for line in lines])
        )
        operation = self._submit(mutation, lines, submission)
        self.ledger.identify(submission, operation.id)
        with self._lock:
            self.stats.bulk_operations.append(operation.id)
            self.stats.bulk_lines += len(lines)
        results = self._collect(operation.id, purpose, lines)
        self.ledger.settle(submission)
        return results

    def _submit(self, mutation: str, lines: Sequence[_Line], submission: str) -> BulkOperation:
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                return self.client.run_bulk_mutation(
                    mutation, (line.variables() for line in lines), submission=submission
                )
            except BulkOperationInProgress as exc:
                if attempt == SUBMIT_ATTEMPTS:
                    raise
                running = exc.running_id
                log.info("shopify: the shop runs its limit of bulk mutations (%s); waiting", running or "?")
                if running:
                    self.client.wait_for_bulk_operation(
                        running, self.settings.bulk_poll_interval_s, self.settings.bulk_timeout_s
                    )
                else:
                    self.client.wait(self.settings.bulk_poll_interval_s * 4, rate_limit=False)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _collect(self, operation_id: str, purpose: Purpose, lines: Sequence[_Line]) -> list[_Result]:
        operation = self.client.wait_for_bulk_operation(
            operation_id, self.settings.bulk_poll_interval_s, self.settings.bulk_timeout_s
        )
        answers: dict[int, BulkResultLine] = {}
        url = operation.url or operation.partial_data_url
        if url:
            for result_line in self.client.iter_bulk_results(url):
                answers[result_line.line_number] = result_line
        if not operation.succeeded:
            log.warning(
                "shopify: bulk operation %s ended %s (%s) after %d of %d lines",
                operation_id,
                operation.status,
                operation.error_code or "no error code",
                len(answers),
                len(lines),
            )
        results = [
            self._settle(purpose, line, _bulk_answer(answers[number]))
            if number in answers
            else _Result(not_run=True)
            for number, line in enumerate(lines)
        ]
        with self._lock:
            self.stats.bulk_lines_not_run += sum(1 for r in results if r.not_run)
        return results

    def _settle(self, purpose: Purpose, line: _Line, answer: _Answer) -> _Result:
        if purpose == "upsert":
            if answer.ok and answer.product_id is not None:
                with self._lock:
                    self._claimed[answer.product_id] = line.key
                extra: dict[str, JsonValue] = {**(line.extra or {}), "variants": answer.variant_ids}
                return _Result(confirmed=MappingRow(line.key, answer.product_id, line.content_hash, extra))
            stale = any(e.code in STALE_CODES for e in answer.user_errors)
            reason = describe_errors(answer.user_errors, answer.errors, line.skus)
            return _Result(
                failure=RecordFailure(line.key, reason, {"skus": list(line.skus[:20])}), stale=stale
            )
        gone = answer.not_found
        if answer.ok or gone:
            # A product already gone counts as removed: its mapping goes, whatever the policy.
            kept = purpose != "delete" and not gone
            confirmed = MappingRow(
                line.key, str(line.target_id), DEACTIVATED if kept else line.content_hash, line.extra
            )
            return _Result(confirmed=confirmed)
        reason = describe_errors(answer.user_errors, answer.errors, line.skus)
        return _Result(failure=RecordFailure(line.key, reason, {"product_id": line.target_id}))

    @staticmethod
    def _outcome(results: Sequence[_Result], failures: Sequence[RecordFailure]) -> WriteOutcome:
        outcome = WriteOutcome(failed=list(failures))
        for result in results:
            if result.confirmed is not None:
                outcome.confirmed.append(result.confirmed)
            elif result.failure is not None:
                outcome.failed.append(result.failure)
        return outcome


def choose_target(skus: Sequence[str], found: Mapping[str, VariantRef]) -> Target:
    """The Shopify product holding most of these SKUs (lowest id on a tie), with its variants' GIDs."""
    refs = [found[sku] for sku in skus if sku in found]
    if not refs:
        return Target(None)
    counts = Counter(ref.product_id for ref in refs)
    best = max(counts.values())
    product_id = min((pid for pid, n in counts.items() if n == best), key=lambda pid: (len(pid), pid))
    return Target(product_id, {str(r.sku): r.id for r in refs if r.product_id == product_id})

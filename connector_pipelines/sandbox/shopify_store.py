"""In-memory state of emulated Shopify shops: products, variants, media, bulk operations, uploads, cost
bucket."""

from __future__ import annotations

import base64
import bisect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson

from connector_pipelines.sandbox.shopify_commerce import Change, Commerce, Event
from connector_pipelines.sandbox.shopify_gql import FieldError, Json
from connector_pipelines.sandbox.shopify_search import Search, SearchField, exact_values, parse_query
from connector_pipelines.sandbox.shopify_settings import ShopifySettings

if TYPE_CHECKING:
    from connector_pipelines.sandbox.shopify_webhooks import Subscription

T = TypeVar("T")
GID_PREFIX = "gid://shopify/"


def gid(kind: str, number: int) -> str:
    return f"{GID_PREFIX}{kind}/{number}"


def parse_gid(value: object, kind: str | None = None) -> tuple[str, int] | None:
    """``gid://shopify/Product/12`` -> ("Product", 12); None when malformed or of another kind."""
    if not isinstance(value, str) or not value.startswith(GID_PREFIX):
        return None
    parts = value[len(GID_PREFIX) :].split("/")
    if len(parts) != 2 or not parts[1].isdigit() or (kind is not None and parts[0] != kind):
        return None
    return parts[0], int(parts[1])


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- records ----------------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class OptionValue:
    id: int
    name: str


@dataclass(eq=False, slots=True)
class Option:
    id: int
    name: str
    position: int
    values: list[OptionValue]


@dataclass(eq=False, slots=True)
class Metafield:
    id: int
    namespace: str
    key: str
    type: str
    value: str
    owner_type: str
    created_at: str
    updated_at: str
    owner: Product | Variant | None = None


@dataclass(eq=False, slots=True)
class MediaImage:
    """An image file of the shop (``files``), shown as media by the products and variants that use it."""

    id: int
    source: str  # the originalSource it was created from (an external or staged upload URL)
    alt: str
    filename: str
    created_at: str
    updated_at: str
    status: str = "READY"  # the emulator does not fetch images: they are ready at once


@dataclass(eq=False, slots=True)
class InventoryItem:
    id: int
    tracked: bool = True
    requires_shipping: bool = True
    cost: str | None = None
    harmonized_system_code: str | None = None
    country_code_of_origin: str | None = None
    variant: Variant | None = None


@dataclass(eq=False, slots=True)
class Variant:
    id: int
    product: Product
    position: int
    option_values: list[OptionValue]
    inventory_item: InventoryItem
    created_at: str
    updated_at: str
    price: str = "0.00"
    compare_at_price: str | None = None
    sku: str | None = None
    barcode: str | None = None
    inventory_policy: str = "DENY"
    taxable: bool = True
    tax_code: str | None = None
    show_unit_price: bool = False
    requires_components: bool = False
    quantities: dict[int, dict[str, int]] = field(default_factory=dict)  # location -> name -> quantity
    metafields: list[Metafield] = field(default_factory=list)
    media: list[MediaImage] = field(default_factory=list)
    # What the search index shows: the SKU before the last write until ``indexed_at`` (index lag).
    previous_sku: str | None = None
    indexed_at: float = 0.0

    @property
    def title(self) -> str:
        return " / ".join(v.name for v in self.option_values) or "Default Title"

    @property
    def inventory_quantity(self) -> int:
        return sum(q.get("available", 0) for q in self.quantities.values())

    def searchable_sku(self, now: float) -> str | None:
        return self.sku if now >= self.indexed_at else self.previous_sku

    def stocked_at(self, primary: int | None) -> set[int]:
        """Locations the variant is stocked at: those with quantities, else the shop's primary location."""
        if self.quantities:
            return set(self.quantities)
        return {primary} if primary is not None else set()


@dataclass(eq=False, slots=True)
class Product:
    id: int
    title: str
    handle: str
    created_at: str
    updated_at: str
    description_html: str = ""
    vendor: str = ""
    product_type: str = ""
    status: str = "ACTIVE"
    tags: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    metafields: list[Metafield] = field(default_factory=list)
    template_suffix: str | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    gift_card: bool = False
    requires_selling_plan: bool = False
    collections: list[str] = field(default_factory=list)
    category: str | None = None
    media: list[MediaImage] = field(default_factory=list)


@dataclass(eq=False)
class ProductOperationRecord:
    """``productSet``/``productDelete`` with ``synchronous: false``: done at once, shown as an operation."""

    id: int
    kind: str  # "ProductSetOperation" | "ProductDeleteOperation"
    product: Product | None
    user_errors: list[dict[str, Json]]
    deleted_product_id: str | None = None
    status: str = "COMPLETE"


@dataclass(eq=False)
class BulkOperationRecord:
    id: int
    type: str  # MUTATION | QUERY
    query: str
    created_at: str
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    result: bytes | None = None
    result_path: str | None = None  # a bulk query's JSONL, written to a file as it is produced
    partial: bool = False
    client_identifier: str | None = None
    cancel_requested: bool = False
    completed_monotonic: float | None = None  # result URLs expire a while after completion


@dataclass(eq=False)
class StagedUpload:
    key: str
    resource: str
    http_method: str  # the upload must use it (POST form or PUT body)
    signature: str
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class Location:
    id: int
    name: str


# --- pagination -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class PageInfoLike(Protocol):
    """What ``pageInfo`` answers from: a :class:`PageInfo`, or one that computes a field when asked."""

    @property
    def has_next_page(self) -> bool: ...
    @property
    def has_previous_page(self) -> bool: ...
    @property
    def start_cursor(self) -> str | None: ...
    @property
    def end_cursor(self) -> str | None: ...


@dataclass(slots=True)
class Edge:
    cursor: str
    node: object


@dataclass(slots=True)
class Connection:
    nodes: list[Any]
    cursors: list[str]
    page_info: PageInfoLike

    @property
    def edges(self) -> list[Edge]:
        return [Edge(c, n) for c, n in zip(self.cursors, self.nodes, strict=True)]


SortKey = tuple[Any, int]


def encode_cursor(key: SortKey) -> str:
    return base64.b64encode(orjson.dumps({"last_id": key[1], "last_value": key[0]})).decode()


def decode_cursor(cursor: str) -> SortKey:
    try:
        data = orjson.loads(base64.b64decode(cursor, validate=True))
        return (data["last_value"], int(data["last_id"]))
    except (ValueError, KeyError, TypeError):
        raise FieldError("Invalid cursor for current pagination sort.") from None


def paginate(
    items: Sequence[T], key_of: Callable[[T], SortKey], args: dict[str, Json], max_page: int
) -> Connection:
    """Cursor pagination over ``items`` sorted ascending by ``key_of`` (bisection: O(page + log n))."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise FieldError("you must provide one of first or last")
    for name, count in (("first", first), ("last", last)):
        if count is not None and not 0 <= count <= max_page:
            raise FieldError(f"The {name} argument must be between 0 and {max_page}.")
    reverse = bool(args.get("reverse"))
    lo, hi = 0, len(items)
    try:
        # Bounds in ascending order; with reverse, "after" means smaller keys.
        if args.get("after") is not None:
            key = decode_cursor(args["after"])
            if reverse:
                hi = bisect.bisect_left(items, key, key=key_of)
            else:
                lo = bisect.bisect_right(items, key, key=key_of)
        if args.get("before") is not None:
            key = decode_cursor(args["before"])
            if reverse:
                lo = max(lo, bisect.bisect_right(items, key, key=key_of))
            else:
                hi = min(hi, bisect.bisect_left(items, key, key=key_of))
    except TypeError:  # a cursor made for another sort key
        raise FieldError("Invalid cursor for current pagination sort.") from None
    hi = max(hi, lo)
    if reverse:
        top, bottom = hi, lo
        if first is not None:
            bottom = max(bottom, top - first)
        if last is not None:
            top = min(top, bottom + last)
        positions = range(top - 1, bottom - 1, -1)
    else:
        start, stop = lo, hi
        if first is not None:
            stop = min(stop, start + first)
        if last is not None:
            start = max(start, stop - last)
        positions = range(start, stop)
    if positions:
        low, high = min(positions), max(positions)
        more_high, more_low = high < len(items) - 1, low > 0
        has_next, has_previous = (more_low, more_high) if reverse else (more_high, more_low)
    else:
        has_next, has_previous = False, lo > 0
    nodes = [items[p] for p in positions]
    cursors = [encode_cursor(key_of(node)) for node in nodes]
    page = PageInfo(has_next, has_previous, cursors[0] if cursors else None, cursors[-1] if cursors else None)
    return Connection(nodes, cursors, page)


# --- cost bucket ------------------------------------------------------------------------------------------


class LeakyBucket:
    """Shopify's cost bucket (contract §9): refills at ``rate`` points/s up to ``capacity``."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._available = capacity
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.capacity, self._available + (now - self._at) * self.rate)
        self._at = now

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def charge(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = max(0.0, self._available - points)


# --- a shop -----------------------------------------------------------------------------------------------


def variant_search(now: float) -> Search[Variant]:
    """Variant filters; ``sku`` reads the search index, which may still show an older SKU (index lag)."""
    return Search(
        {
            "sku": SearchField("text", lambda v: (v.searchable_sku(now),)),
            "barcode": SearchField("text", lambda v: (v.barcode,)),
            "id": SearchField("id", lambda v: (v.id,)),
            "product_id": SearchField("id", lambda v: (v.product.id,)),
            "product_ids": SearchField("id", lambda v: (v.product.id,), comma_list=True),
            "title": SearchField("text", lambda v: (v.title,)),
            "product_status": SearchField("text", lambda v: (v.product.status,), comma_list=True),
            "product_type": SearchField("text", lambda v: (v.product.product_type,), comma_list=True),
            "vendor": SearchField("text", lambda v: (v.product.vendor,)),
            "tag": SearchField("text", lambda v: v.product.tags),
            "taxable": SearchField("bool", lambda v: (v.taxable,)),
            "inventory_quantity": SearchField("number", lambda v: (v.inventory_quantity,)),
            "option1": SearchField("text", lambda v: [o.name for o in v.option_values[0:1]]),
            "option2": SearchField("text", lambda v: [o.name for o in v.option_values[1:2]]),
            "option3": SearchField("text", lambda v: [o.name for o in v.option_values[2:3]]),
            "updated_at": SearchField("time", lambda v: (v.updated_at,)),
        },
        lambda v: (v.searchable_sku(now), v.barcode, v.title, v.product.title),
    )


def _product_search() -> Search[Product]:
    return Search(
        {
            "title": SearchField("text", lambda p: (p.title,)),
            "handle": SearchField("text", lambda p: (p.handle,), comma_list=True),
            "id": SearchField("id", lambda p: (p.id,)),
            "sku": SearchField("text", lambda p: [v.sku for v in p.variants]),
            "barcode": SearchField("text", lambda p: [v.barcode for v in p.variants]),
            "variant_id": SearchField("id", lambda p: [v.id for v in p.variants]),
            "status": SearchField("text", lambda p: (p.status,), comma_list=True),
            "vendor": SearchField("text", lambda p: (p.vendor,)),
            "product_type": SearchField("text", lambda p: (p.product_type,), comma_list=True),
            "tag": SearchField("text", lambda p: p.tags),
            "tag_not": SearchField("text", lambda p: p.tags, negated=True),
            "gift_card": SearchField("bool", lambda p: (p.gift_card,)),
            "created_at": SearchField("time", lambda p: (p.created_at,)),
            "updated_at": SearchField("time", lambda p: (p.updated_at,)),
            "inventory_total": SearchField(
                "number", lambda p: (sum(v.inventory_quantity for v in p.variants),)
            ),
        },
        lambda p: (p.title, p.vendor, p.product_type, *p.tags),
    )


PRODUCT_SEARCH = _product_search()


class _Ids:
    def __init__(self, start: int) -> None:
        self._next = start
        self._lock = threading.Lock()

    def take(self, count: int) -> int:
        with self._lock:
            first = self._next
            self._next += count
            return first


_ids = _Ids(1_000_001)


def next_id() -> int:
    """Ids are unique across every shop and kind of record, like Shopify's."""
    return _ids.take(1)


def reserve_ids(count: int) -> range:
    """``count`` consecutive fresh ids (seeding takes them in one step)."""
    first = _ids.take(count)
    return range(first, first + count)


class ShopState:
    """One shop. ``lock`` guards every read and write: the server thread and bulk threads share it."""

    def __init__(self, name: str, settings: ShopifySettings) -> None:
        self.name = name
        self.number = next_id()  # the shop's numeric id (gid://shopify/Shop/<number>)
        self.settings = settings
        self.lock = threading.RLock()
        self.products: dict[int, Product] = {}
        self.handles: dict[str, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.sku_index: dict[str, set[int]] = {}
        self.inventory_items: dict[int, InventoryItem] = {}
        self.operations: dict[int, ProductOperationRecord] = {}
        self.bulk_operations: dict[int, BulkOperationRecord] = {}
        self.staged: dict[str, StagedUpload] = {}
        self.files: dict[int, MediaImage] = {}
        self.locations = [Location(i, n) for i, n in sorted(settings.location_names.items())]
        self.bucket = LeakyBucket(settings.bucket_capacity, settings.restore_rate)
        self.commerce = Commerce()
        self.webhooks: dict[int, Subscription] = {}
        # @idempotent keys of inventory mutations -> (fingerprint of the input, the payload answered)
        self.idempotency: dict[str, tuple[bytes, dict[str, Json]]] = {}
        self.created_at = time.time()
        # Called with every change (under the lock): the webhook service listens here.
        self.listeners: list[Callable[[ShopState, Change], None]] = []

    def changed(self, change: Change) -> None:
        """Record ``change`` as an event and tell the listeners (webhooks); call with the lock held."""
        commerce = self.commerce
        commerce.touch()
        commerce.record(
            Event(next_id(), change.at, change.subject_type, change.subject_id, change.action, change.message)
        )
        for listener in self.listeners:
            listener(self, change)

    # products and variants -------------------------------------------------------------------------------

    def add_product(self, product: Product) -> None:
        self.products[product.id] = product
        self.handles[product.handle] = product

    def remove_product(self, product: Product) -> None:
        for variant in product.variants:
            self.unindex_variant(variant)
        del self.products[product.id]
        if self.handles.get(product.handle) is product:
            del self.handles[product.handle]
        self.forget_unused_files(product.media)

    def rename_handle(self, product: Product, handle: str) -> None:
        if self.handles.get(product.handle) is product:
            del self.handles[product.handle]
        product.handle = handle
        self.handles[handle] = product

    def index_variant(self, variant: Variant, old_sku: str | None, is_new: bool, now: float) -> None:
        """Register a written variant; its new SKU becomes searchable ``sku_index_lag_s`` after ``now``."""
        self.variants[variant.id] = variant
        self.inventory_items[variant.inventory_item.id] = variant.inventory_item
        if is_new:
            variant.previous_sku = None
        elif old_sku != variant.sku:
            variant.previous_sku = old_sku if now >= variant.indexed_at else variant.previous_sku
        variant.indexed_at = now + self.settings.sku_index_lag_s
        if old_sku and old_sku != variant.sku and self.settings.sku_index_lag_s <= 0:
            self._unindex_sku(old_sku, variant.id)
        if variant.sku:
            self.sku_index.setdefault(variant.sku.casefold(), set()).add(variant.id)

    def unindex_variant(self, variant: Variant) -> None:
        self.variants.pop(variant.id, None)
        self.inventory_items.pop(variant.inventory_item.id, None)
        for sku in (variant.sku, variant.previous_sku):
            if sku:
                self._unindex_sku(sku, variant.id)

    def _unindex_sku(self, sku: str, variant_id: int) -> None:
        ids = self.sku_index.get(sku.casefold())
        if ids is not None:
            ids.discard(variant_id)
            if not ids:
                del self.sku_index[sku.casefold()]

    def product(self, value: object) -> Product | None:
        parsed = parse_gid(value, "Product")
        return self.products.get(parsed[1]) if parsed else None

    def variant(self, value: object) -> Variant | None:
        parsed = parse_gid(value, "ProductVariant")
        return self.variants.get(parsed[1]) if parsed else None

    def location(self, value: object) -> Location | None:
        parsed = parse_gid(value, "Location")
        return next((loc for loc in self.locations if parsed and loc.id == parsed[1]), None)

    @property
    def primary_location(self) -> int | None:
        return self.locations[0].id if self.locations else None

    def media_file(self, value: object) -> MediaImage | None:
        parsed = parse_gid(value, "MediaImage")
        return self.files.get(parsed[1]) if parsed else None

    def forget_unused_files(self, candidates: list[MediaImage]) -> None:
        """Media a product dropped are deleted unless another product still shows them (as Shopify deletes
        a product's media with it)."""
        used = {id(m) for p in self.products.values() for m in p.media}
        for media in candidates:
            if id(media) not in used:
                self.files.pop(media.id, None)

    # searching ---------------------------------------------------------------------------------------------

    def search_variants(self, query: str | None, warnings: list[dict[str, str]], now: float) -> list[Variant]:
        """Variants matching ``query`` in id order; SKU terms are answered from the SKU index."""
        node = parse_query(query) if query else None
        if node is None:
            return list(self.variants.values())
        predicate = variant_search(now).compile(node, warnings)
        skus = exact_values(node, "sku")
        if skus is None:
            return [v for v in self.variants.values() if predicate(v)]
        ids = sorted({i for s in skus for i in self.sku_index.get(s, ())})
        return [v for v in (self.variants.get(i) for i in ids) if v is not None and predicate(v)]

    def search_products(self, query: str | None, warnings: list[dict[str, str]]) -> list[Product]:
        node = parse_query(query) if query else None
        if node is None:
            return list(self.products.values())
        predicate = PRODUCT_SEARCH.compile(node, warnings)
        return [p for p in self.products.values() if predicate(p)]

    def iter_bulk(self, kind: str | None = None) -> Iterator[BulkOperationRecord]:
        return (op for op in self.bulk_operations.values() if kind is None or op.type == kind)

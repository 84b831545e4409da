"""Reading a shop out through the Admin GraphQL API (contract §3, §8, §9): bulk query exports, paged queries,
counts and deletion events, for customers (with addresses), orders (with line items) and products (with
variants).

A bulk export is submitted with ``bulkOperationRunQuery``, polled through ``node(id:)`` and its JSONL result
downloaded to a temporary file, streamed (resumed with ``Range`` after a dropped connection). From 2026-01
nested objects are not promised to follow their parent (``groupObjects`` defaults to false), so the file is
joined in two passes: the first notes where each line is and which parent each nested line names, in a
temporary SQLite file; the second reads the lines back, each parent with its children. Memory stays flat
whatever the shop's size.

:class:`ShopifyExportClient` is the GraphQL client of ``clients/shopify.py`` (cost-based throttling, retries
on THROTTLED, 429, 5xx and dropped connections for every call: bulk submission and polls included) with one
difference: the cost bucket it paces against is shared by every client of the same shop and token in the
process (and so are the operations' learned costs), so that the steps of a run, each with a client of its own,
start from what the previous one learned.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import tempfile
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO, Literal, Unpack

import httpx
import orjson
from pydantic import SecretStr

from connector_pipelines.clients.http import ApiError, ClientOptions, JsonValue, TransientError
from connector_pipelines.clients.shopify import (
    _BULK_OPERATION_FIELDS,
    SHOPIFY_API_VERSION,
    BulkOperationInProgress,
    ShopifyClient,
    ShopifyUserErrors,
    _Bucket,
)
from connector_pipelines.clients.shopify_models import BulkOperation, UserError

ObjectName = Literal["customers", "orders", "products"]
_PARENT_KEY = b'"__parentId":"'

# --- what each object selects -------------------------------------------------------------------------------

CUSTOMER_FIELDS = """id createdAt updatedAt state verifiedEmail taxExempt tags firstName lastName
      defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } defaultAddress { id }"""
ADDRESS_FIELDS = "id firstName lastName company address1 address2 city province provinceCode zip country \
countryCodeV2 phone"
ORDER_FIELDS = """id name createdAt updatedAt processedAt cancelledAt currencyCode test tags
      displayFinancialStatus displayFulfillmentStatus customer { id }
      totalPriceSet { shopMoney { amount currencyCode } } subtotalPriceSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } } totalDiscountsSet { shopMoney { amount } }"""
LINE_FIELDS = """id title quantity sku variantTitle vendor product { id } variant { id }
      originalUnitPriceSet { shopMoney { amount } } totalDiscountSet { shopMoney { amount } }"""
PRODUCT_FIELDS = "id title handle status vendor productType tags createdAt updatedAt"
VARIANT_FIELDS = """id title sku barcode price compareAtPrice inventoryQuantity position updatedAt
      selectedOptions { name value }"""

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"


def _page_document(operation: str, root: str, fields: str, child: str, child_fields: str, nested: int) -> str:
    return f"""
query {operation}($first: Int!, $after: String, $query: String) {{
  {root}(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      {fields}
      {child}(first: {nested}) {{ nodes {{ {child_fields} }} {_PAGE_INFO} }}
    }}
    {_PAGE_INFO}
  }}
}}"""


def _children_document(operation: str, root: str, child: str, child_fields: str) -> str:
    return f"""
query {operation}($id: ID!, $after: String) {{
  {root}(id: $id) {{ {child}(first: 100, after: $after) {{ nodes {{ {child_fields} }} {_PAGE_INFO} }} }}
}}"""


def _count_document(operation: str, root: str) -> str:
    return f"""
query {operation}($query: String) {{ {root}(query: $query, limit: null) {{ count precision }} }}"""


@dataclass(frozen=True)
class ExportObject:
    """How one object is read: its connection, fields, nested connection and the documents of each read.

    ``page_size`` keeps a page's requested cost below the single-query limit (1000 points): a nested
    connection of ``nested`` nodes costs about ``2 + nested x node`` for each parent on the page."""

    name: ObjectName
    subject: str  # its EventSubjectType
    root: str  # the QueryRoot connection
    single: str  # the QueryRoot field answering one by id
    fields: str
    child: str  # the nested connection
    child_fields: str
    page_size: int
    nested: int
    page: str
    children: str
    count: str
    count_root: str

    def bulk_query(self, search: str | None) -> str:
        """The inner query of a bulk export; ``search`` filters like the connection's ``query`` argument."""
        arguments = f"(query: {orjson.dumps(search).decode()})" if search else ""
        return (
            f"{{ {self.root}{arguments} {{ edges {{ node {{ {self.fields} "
            f"{self.child} {{ edges {{ node {{ {self.child_fields} }} }} }} }} }} }} }}"
        )


def _object(
    name: ObjectName,
    single: str,
    fields: str,
    child: str,
    child_fields: str,
    page_size: int,
    nested: int,
) -> ExportObject:
    title = name.capitalize()
    return ExportObject(
        name=name,
        subject=single.upper(),
        root=name,
        single=single,
        fields=fields,
        child=child,
        child_fields=child_fields,
        page_size=page_size,
        nested=nested,
        page=_page_document(f"{title}Page", name, fields, child, child_fields, nested),
        children=_children_document(f"{title}Children", single, child, child_fields),
        count=_count_document(f"{title}Count", f"{name}Count"),
        count_root=f"{name}Count",
    )


CUSTOMERS = _object("customers", "customer", CUSTOMER_FIELDS, "addressesV2", ADDRESS_FIELDS, 40, 10)
ORDERS = _object("orders", "order", ORDER_FIELDS, "lineItems", LINE_FIELDS, 8, 10)
PRODUCTS = _object("products", "product", PRODUCT_FIELDS, "variants", VARIANT_FIELDS, 12, 25)
OBJECTS: dict[ObjectName, ExportObject] = {o.name: o for o in (CUSTOMERS, ORDERS, PRODUCTS)}

DESTROY_EVENTS = """
query DestroyEvents($first: Int!, $after: String, $query: String) {
  events(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    nodes { id createdAt action ... on BasicEvent { subjectId subjectType } }
    pageInfo { hasNextPage endCursor }
  }
}"""

BULK_EXPORT = (
    """
mutation BulkExport($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { ...BulkOperationFields }
    userErrors { code field message }
  }
}"""
    + _BULK_OPERATION_FIELDS
)

DOCUMENTS: dict[str, str] = {
    "DestroyEvents": DESTROY_EVENTS,
    "BulkExport": BULK_EXPORT,
    **{f"{o.name.capitalize()}Page": o.page for o in OBJECTS.values()},
    **{f"{o.name.capitalize()}Children": o.children for o in OBJECTS.values()},
    **{f"{o.name.capitalize()}Count": o.count for o in OBJECTS.values()},
}
"""Every document this client sends, by operation name (validated against the vendored schema in tests)."""


def search_since(
    since: datetime | None, until: datetime | None = None, *, field: str = "updated_at"
) -> str | None:
    """``updated_at:>='2026-01-01T00:00:00Z' AND updated_at:<'...'`` (quoted: the values hold colons)."""
    parts: list[str] = []
    if since is not None:
        parts.append(f"{field}:>='{_instant(since)}'")
    if until is not None:
        parts.append(f"{field}:<'{_instant(until)}'")
    return " AND ".join(parts) or None


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the shared cost bucket ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopBudget:
    """What the clients of one shop learn of its cost budget: the bucket as last reported, and each
    operation's requested cost (what a call must find in the bucket before it is sent)."""

    bucket: _Bucket
    estimates: dict[str, float]


_BUCKETS: dict[tuple[str, str], ShopBudget] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_budget(base_url: str, token: str) -> ShopBudget:
    """One cost budget per shop and app (token) in this process. The token is hashed: the registry never
    holds a credential."""
    key = (base_url.rstrip("/"), hashlib.sha256(token.encode()).hexdigest())
    with _BUCKETS_LOCK:
        budget = _BUCKETS.get(key)
        if budget is None:
            budget = _BUCKETS[key] = ShopBudget(_Bucket(), {})
        return budget


# --- what an export yields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """One top-level object with its nested objects, as the API answered them: the raw JSON of bulk lines, or
    the decoded nodes of a page."""

    node: bytes | dict[str, JsonValue]
    children: list[bytes] | list[dict[str, JsonValue]]


class BulkResultFile:
    """A downloaded bulk result, joined: each top-level line with its nested lines, in file order.

    A first pass reads the file once and notes, per top-level line, its id, and per run of nested lines
    naming the same parent, that parent and how many lines it has (numbers in arrays: a few bytes a line).
    When the runs name their parents in the parents' order, each parent's lines together (Shopify writes
    them so, whether right after each parent or all after the last one), two sequential readers join the
    file, one over the parents and one over the nested lines. Otherwise (``groupObjects: false`` does not
    promise that order) an index (a temporary SQLite file next to the result, holding offsets and parent
    ids, never the data) joins it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.parents = 0
        self._index = path.with_suffix(".index.sqlite")

    def __iter__(self) -> Iterator[Exported]:
        scan = self._scan()
        if scan is not None and _follows(scan[0], scan[1]):
            yield from self._merged(scan)
        else:
            yield from self._indexed()

    def _scan(self) -> tuple[array[int], array[int], array[int]] | None:
        """(parent ids in file order, the parent of each run of nested lines, each run's length); None when
        the ids are not all numbers of one kind of GID (such a file is joined through the index)."""
        self.lines = self.parents = 0
        parents, runs, sizes = array("q"), array("q"), array("q")
        prefix: bytes | None = None
        with self.path.open("rb", buffering=_BUFFER) as stream:
            for line in stream:
                body = line.rstrip(b"\r\n")
                if not body:
                    continue
                self.lines += 1
                at = body.rfind(_PARENT_KEY)
                if at >= 0:
                    start = at + len(_PARENT_KEY)
                    parent = body[start : body.index(b'"', start)]
                    number = _gid_number(parent, prefix)
                    if number is None:
                        return None
                    if runs and runs[-1] == number:
                        sizes[-1] += 1
                    else:
                        runs.append(number)
                        sizes.append(1)
                    continue
                gid = orjson.loads(body).get("id")
                if not isinstance(gid, str):
                    raise ValueError(f"line {self.lines} of the bulk result has no id")
                raw = gid.encode()
                prefix = prefix or raw[: raw.rfind(b"/") + 1]
                number = _gid_number(raw, prefix)
                if number is None:
                    return None
                parents.append(number)
                self.parents += 1
        return parents, runs, sizes

    def _merged(self, scan: tuple[array[int], array[int], array[int]]) -> Iterator[Exported]:
        parents, runs, sizes = scan
        with (
            self.path.open("rb", buffering=_BUFFER) as parent_stream,
            self.path.open("rb", buffering=_BUFFER) as child_stream,
        ):
            nested = (
                body
                for body in (line.rstrip(b"\r\n") for line in child_stream)
                if body and body.rfind(_PARENT_KEY) >= 0
            )
            tops = (
                body
                for body in (line.rstrip(b"\r\n") for line in parent_stream)
                if body and body.rfind(_PARENT_KEY) < 0
            )
            run = 0
            for number, node in zip(parents, tops, strict=True):
                children: list[bytes] = []
                if run < len(runs) and runs[run] == number:
                    children = [next(nested) for _ in range(sizes[run])]
                    run += 1
                yield Exported(node, children)

    def _build_index(self) -> sqlite3.Connection:
        self._index.unlink(missing_ok=True)
        # One thread at a time uses it; a reader abandoned half-way is closed by whichever thread collects it.
        db = sqlite3.connect(self._index, check_same_thread=False)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(
            "CREATE TABLE parents (seq INTEGER PRIMARY KEY, gid TEXT NOT NULL, off INTEGER, len INTEGER)"
        )
        db.execute("CREATE TABLE children (parent TEXT NOT NULL, off INTEGER, len INTEGER)")
        parents: list[tuple[int, str, int, int]] = []
        children: list[tuple[str, int, int]] = []
        offset = 0
        self.lines = self.parents = 0
        with self.path.open("rb", buffering=_BUFFER) as stream:
            for line in stream:
                size = len(line)
                body = line.rstrip(b"\r\n")
                if body:
                    self.lines += 1
                    at = body.rfind(_PARENT_KEY)
                    if at >= 0:
                        start = at + len(_PARENT_KEY)
                        parent = body[start : body.index(b'"', start)].decode()
                        children.append((parent, offset, len(body)))
                    else:
                        gid = orjson.loads(body).get("id")
                        if not isinstance(gid, str):
                            raise ValueError(f"line {self.lines} of the bulk result has no id")
                        parents.append((self.parents, gid, offset, len(body)))
                        self.parents += 1
                    if len(children) >= 10_000:
                        db.executemany("INSERT INTO children VALUES (?, ?, ?)", children)
                        children.clear()
                    if len(parents) >= 10_000:
                        db.executemany("INSERT INTO parents VALUES (?, ?, ?, ?)", parents)
                        parents.clear()
                offset += size
        db.executemany("INSERT INTO children VALUES (?, ?, ?)", children)
        db.executemany("INSERT INTO parents VALUES (?, ?, ?, ?)", parents)
        db.execute("CREATE INDEX children_parent ON children (parent, off)")
        db.execute("CREATE INDEX parents_gid ON parents (gid)")
        db.commit()
        return db

    def _indexed(self) -> Iterator[Exported]:
        db = self._build_index()
        # Parents and children are each read in file order, mostly: two buffered readers (one per kind)
        # read on without a system call per line, where a read at an offset would make one.
        parents_file = self.path.open("rb", buffering=_BUFFER)
        children_file = self.path.open("rb", buffering=_BUFFER)
        try:
            orphans = db.execute(
                "SELECT count(*) FROM children c "
                "WHERE NOT EXISTS (SELECT 1 FROM parents p WHERE p.gid = c.parent)"
            ).fetchone()[0]
            if orphans:
                raise ValueError(
                    f"{orphans} nested line(s) of the bulk result name a parent it does not hold"
                )
            rows = db.execute(
                "SELECT p.seq, p.off, p.len, c.off, c.len FROM parents p "
                "LEFT JOIN children c ON c.parent = p.gid ORDER BY p.seq, c.off"
            )
            current: int | None = None
            node = b""
            children: list[bytes] = []
            for seq, off, size, child_off, child_size in rows:
                if seq != current:
                    if current is not None:
                        yield Exported(node, children)
                    current, node, children = seq, _read_at(parents_file, off, size), []
                if child_off is not None:
                    children.append(_read_at(children_file, child_off, child_size))
            if current is not None:
                yield Exported(node, children)
        finally:
            parents_file.close()
            children_file.close()
            db.close()
            self._index.unlink(missing_ok=True)


_BUFFER = 1 << 16


def _gid_number(gid: bytes, prefix: bytes | None) -> int | None:
    """``gid://shopify/Order/123`` -> 123 when the GID starts with ``prefix`` and ends in a plain number."""
    if prefix is None or not gid.startswith(prefix):
        return None
    digits = gid[len(prefix) :]
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


def _follows(parents: array[int], runs: array[int]) -> bool:
    """Each run names a parent, in the parents' order, none twice: the runs join by reading on."""
    at, count = 0, len(parents)
    for number in runs:
        while at < count and parents[at] != number:
            at += 1
        if at == count:
            return False
        at += 1
    return True


def _read_at(stream: BinaryIO, offset: int, size: int) -> bytes:
    if stream.tell() != offset:
        stream.seek(offset)
    return stream.read(size)


# --- client -------------------------------------------------------------------------------------------------


class ShopifyExportClient(ShopifyClient):
    """The shop's Admin GraphQL API for reading everything out of it."""

    def __init__(
        self,
        shop_url: str,
        access_token: str | SecretStr,
        *,
        api_version: str = SHOPIFY_API_VERSION,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(shop_url, access_token, api_version=api_version, **options)
        token = access_token.get_secret_value() if isinstance(access_token, SecretStr) else access_token
        budget = shared_budget(self.base_url, token)
        self._bucket, self._estimates = budget.bucket, budget.estimates

    # --- counts and events ------------------------------------------------------------------------------

    def count(self, obj: ExportObject, search: str | None = None) -> int:
        """How many records the shop holds (matching ``search``), exactly."""
        with self._reading(obj.count_root):
            answer = self.graphql(obj.count, {"query": search})[obj.count_root]
            if answer["precision"] != "EXACT":
                raise ApiError(
                    self.system, "POST", self.graphql_path, 200, f"{obj.count_root} is not exact: {answer}"
                )
            return int(answer["count"])

    def destroy_events(self, obj: ExportObject, since: datetime | None) -> Iterator[dict[str, JsonValue]]:
        """The ``destroy`` events of the object's records since ``since`` (all the shop keeps without it)."""
        search = f"action:destroy AND subject_type:{obj.subject}"
        if since is not None:
            search += f" AND {search_since(since, field='created_at')}"
        yield from self._paginate(DESTROY_EVENTS, "events", {"query": search}, 250)

    # --- paged reads ----------------------------------------------------------------------------------------

    def read_pages(self, obj: ExportObject, search: str | None) -> Iterator[Exported]:
        """The records matching ``search``, page by page, each with all its nested records (a nested page that
        has more is completed through the record's own connection)."""
        with self._reading(obj.page):
            for node in self._paginate(obj.page, obj.root, {"query": search}, obj.page_size):
                nested = node.pop(obj.child)
                children: list[dict[str, JsonValue]] = list(nested["nodes"])
                page = nested["pageInfo"]
                while page["hasNextPage"]:
                    more = self.graphql(obj.children, {"id": node["id"], "after": page["endCursor"]})
                    holder = more[obj.single]
                    if holder is None:  # deleted meanwhile: what was read is what it had
                        break
                    children.extend(holder[obj.child]["nodes"])
                    page = holder[obj.child]["pageInfo"]
                yield Exported(node, children)

    # --- bulk exports -------------------------------------------------------------------------------------

    def start_export(self, obj: ExportObject, search: str | None) -> BulkOperation:
        """Submit the object's bulk export; :class:`BulkOperationInProgress` (transient) when the shop runs
        as many bulk queries as it may."""
        data = self.graphql(BULK_EXPORT, {"query": obj.bulk_query(search)})
        with self._reading("BulkExport"):
            payload = data["bulkOperationRunQuery"]
            errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
            if errors:
                busy = {"OPERATION_IN_PROGRESS", "LIMIT_REACHED"}
                error_type = (
                    BulkOperationInProgress if any(e.code in busy for e in errors) else ShopifyUserErrors
                )
                raise error_type("BulkExport", self.graphql_path, errors)
            return BulkOperation.model_validate(payload["bulkOperation"])

    def download(self, url: str, into: IO[bytes]) -> int:
        """Stream a result file into ``into``; a dropped transfer resumes where it stopped (``Range``), a 429
        or 5xx is retried like any call. The signed URL is not logged and no token is sent with it."""
        target = httpx.URL(url)
        bare, params = str(target.copy_with(query=None)), dict(target.params)
        attempt = 0
        while True:
            attempt += 1
            done = into.tell()
            headers = {"Range": f"bytes={done}-"} if done else {}
            self.stats.calls += 1
            status: int | None = None
            delay: float | None = None
            try:
                with self._http.stream("GET", bare, params=params, headers=headers) as response:
                    status = response.status_code
                    self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                    if status in (200, 206):
                        if status == 200 and done:  # the server started over: so do we
                            into.seek(0)
                            into.truncate()
                        for chunk in response.iter_bytes():
                            into.write(chunk)
                        return into.tell()
                    if status == 416 and done:  # nothing left past what we hold
                        return done
                    response.read()
                    if not self.is_retryable(response):
                        detail = self.redact(self.describe_error(response))
                        raise ApiError(self.system, "GET", target.path, status, f"bulk result: {detail}")
                    delay = self.retry_delay(response)
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_attempts:
                    raise TransientError(
                        self.system,
                        "GET",
                        target.path,
                        None,
                        f"{type(exc).__name__} after {attempt} attempts",
                    ) from None
            else:
                if attempt >= self.retry.max_attempts:
                    raise TransientError(
                        self.system, "GET", target.path, status, f"still failing after {attempt} attempts"
                    )
            self.stats.retries += 1
            self.wait(delay if delay is not None else self.backoff_delay(attempt), rate_limit=status == 429)

    @contextlib.contextmanager
    def bulk_result(self, operation: BulkOperation) -> Iterator[Iterator[Exported]]:
        """The completed operation's records, each with its nested records, from a temporary copy of its
        result (removed afterwards). An operation that produced nothing has no URL: no records."""
        if not operation.succeeded:
            raise ApiError(
                self.system,
                "POST",
                self.graphql_path,
                200,
                f"bulk operation {operation.id} ended {operation.status} "
                f"({operation.error_code or 'no code'})",
            )
        if not operation.url:
            yield iter(())
            return
        with tempfile.TemporaryDirectory(prefix="shopify-export-") as folder:
            path = Path(folder) / "result.jsonl"
            with path.open("wb") as out:
                self.download(operation.url, out)
            yield iter(BulkResultFile(path))

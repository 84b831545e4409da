"""Shopify Admin GraphQL client (contract ``shopify.md``): productSet/productDelete, SKU lookups, pagination
and bulk mutations (staged upload -> ``bulkOperationRunMutation`` -> poll -> JSONL results).

Throttling is cost-based: every answer reports the bucket in ``extensions.cost.throttleStatus``; before a call
the client waits until the bucket holds the call's estimated cost (learned from ``requestedQueryCost``) beyond
what calls in flight on other threads hold, and a THROTTLED answer (HTTP 200 or 429) is retried after
``(requested - available) / restoreRate`` seconds. Every GraphQL document the client sends is a module
constant listed in :data:`DOCUMENTS` and validated against the vendored schema by the tests. The access token
never appears in errors, reprs or logs.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Unpack

import httpx
import orjson
from pydantic import SecretStr, ValidationError

from connector_pipelines import errors
from connector_pipelines.clients.http import ApiClient, ApiError, AuthError, ClientOptions, JsonValue
from connector_pipelines.clients.shopify_models import (
    BulkOperation,
    BulkResultLine,
    GraphQLErrorInfo,
    IdentifierLike,
    ProductDeleteResult,
    ProductInputLike,
    ProductSetResult,
    ProductSummary,
    UserError,
    VariantRef,
    product_set_variables,
)

log = logging.getLogger(__name__)

SHOPIFY_API_VERSION = "2026-07"
MAX_PAGE_SIZE = 250
_DEFAULT_COST = 10.0  # a mutation's cost; replaced by the server's requestedQueryCost after the first call

# --- GraphQL documents --------------------------------------------------------------------------------------

_BULK_OPERATION_FIELDS = """
fragment BulkOperationFields on BulkOperation {
  id status errorCode type createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl query
}"""

PRODUCT_SET = """
mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product {
      id handle title status
      variants(first: 250) {
        nodes { id sku price compareAtPrice barcode selectedOptions { name value } }
        pageInfo { hasNextPage }
      }
    }
    userErrors { code field message }
  }
}"""

PRODUCT_DELETE = """
mutation ProductDelete($id: ID!) {
  productDelete(input: {id: $id}) { deletedProductId userErrors { field message } }
}"""

PRODUCT_VARIANTS = """
query ProductVariants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { id sku price barcode product { id handle status } }
    pageInfo { hasNextPage endCursor }
  }
}"""

PRODUCTS = """
query Products($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query) {
    nodes { id handle title status vendor productType tags createdAt updatedAt variantsCount { count } }
    pageInfo { hasNextPage endCursor }
  }
}"""

STAGED_UPLOADS_CREATE = """
mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}"""

BULK_OPERATION_RUN_MUTATION = (
    """
mutation BulkOperationRunMutation($mutation: String!, $stagedUploadPath: String!, $clientIdentifier: String) {
  bulkOperationRunMutation(
    mutation: $mutation, stagedUploadPath: $stagedUploadPath, clientIdentifier: $clientIdentifier
  ) {
    bulkOperation { ...BulkOperationFields }
    userErrors { code field message }
  }
}"""
    + _BULK_OPERATION_FIELDS
)

BULK_OPERATION = (
    """
query BulkOperation($id: ID!) {
  node(id: $id) { ...BulkOperationFields }
}"""
    + _BULK_OPERATION_FIELDS
)

RECENT_BULK_MUTATIONS = (
    """
query RecentBulkMutations {
  bulkOperations(first: 10, query: "operation_type:mutation", sortKey: CREATED_AT, reverse: true) {
    nodes { ...BulkOperationFields }
  }
}"""
    + _BULK_OPERATION_FIELDS
)

BULK_OPERATION_CANCEL = (
    """
mutation BulkOperationCancel($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { ...BulkOperationFields } userErrors { field message } }
}"""
    + _BULK_OPERATION_FIELDS
)

BULK_PRODUCT_SET = """
mutation ProductSetBulk($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id handle variants(first: 250) { nodes { id sku } } }
    userErrors { code field message }
  }
}"""
"""The mutation for :meth:`ShopifyClient.run_bulk_mutation` with lines from :func:`product_set_variables`."""

BULK_PRODUCT_DELETE = """
mutation ProductDeleteBulk($input: ProductDeleteInput!) {
  productDelete(input: $input) { deletedProductId userErrors { field message } }
}"""
"""The bulk mutation deleting products; each line is ``{"input": {"id": <product gid>}}``."""

DOCUMENTS: dict[str, str] = {
    "ProductSet": PRODUCT_SET,
    "ProductDelete": PRODUCT_DELETE,
    "ProductVariants": PRODUCT_VARIANTS,
    "Products": PRODUCTS,
    "StagedUploadsCreate": STAGED_UPLOADS_CREATE,
    "BulkOperationRunMutation": BULK_OPERATION_RUN_MUTATION,
    "BulkOperation": BULK_OPERATION,
    "RecentBulkMutations": RECENT_BULK_MUTATIONS,
    "BulkOperationCancel": BULK_OPERATION_CANCEL,
    "ProductSetBulk": BULK_PRODUCT_SET,
    "ProductDeleteBulk": BULK_PRODUCT_DELETE,
}
"""Every document the client can send, by operation name."""

_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)", re.MULTILINE)


def operation_name(document: str) -> str:
    match = _OPERATION.search(document)
    if match is None:
        raise ValueError("documents sent by the client are named operations")
    return match.group(1)


# --- errors -------------------------------------------------------------------------------------------------


class ShopifyGraphQLError(ApiError):
    """The answer carried top-level ``errors`` (invalid document, MAX_COST_EXCEEDED, ...)."""

    def __init__(self, operation: str, path: str, errors: list[GraphQLErrorInfo]) -> None:
        self.operation = operation
        self.errors = errors
        summary = "; ".join(f"{e.message}" + (f" [{e.code}]" if e.code else "") for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(ShopifyClient.system, "POST", path, 200, f"{operation}: {summary}{more}")

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors if e.code]


class ShopifyUserErrors(ApiError):
    """A mutation answered ``userErrors`` where the client cannot go on (staging, bulk submission)."""

    def __init__(self, operation: str, path: str, user_errors: list[UserError]) -> None:
        self.operation = operation
        self.user_errors = user_errors
        summary = "; ".join(f"{e.message}" + (f" [{e.code}]" if e.code else "") for e in user_errors)
        super().__init__(ShopifyClient.system, "POST", path, 200, f"{operation}: {summary}")

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.user_errors if e.code]


class BulkOperationInProgress(ShopifyUserErrors, errors.TransientError):
    """Another bulk mutation runs in this shop (transient: it ends); ``running_id`` names it, if known."""

    @property
    def running_id(self) -> str | None:
        for error in self.user_errors:
            match = re.search(r"gid://shopify/BulkOperation/\d+", error.message)
            if match:
                return match.group(0)
        return None


class BulkOperationTimeout(ApiError, errors.TransientError):
    """A bulk operation did not finish in time; it may still be running (the next attempt adopts it)."""


# --- throttle -----------------------------------------------------------------------------------------------


class _Bucket:
    """The server's cost bucket as last reported, projected forward at the restore rate (unknown until the
    first report: then nothing waits). A call about to be sent holds its cost until its answer is in, and
    calls wait their turn in arrival order, so that threads sharing the client (two batches in flight) queue
    behind each other: small calls cannot starve a large one by spending the points it waits for."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._queue: deque[object] = deque()
        self.maximum = self.available = self.restore_rate = self.observed_at = 0.0
        self.held = 0.0

    def observe(self, maximum: float, available: float, restore_rate: float, now: float) -> None:
        with self._changed:
            self.maximum, self.available, self.restore_rate = maximum, available, restore_rate
            self.observed_at = now
            self._changed.notify_all()

    def _free(self, now: float) -> float:
        projected = min(self.maximum, self.available + (now - self.observed_at) * self.restore_rate)
        return projected - self.held

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until the bucket holds ``cost`` beyond what calls in flight hold, at the restore rate."""
        with self._changed:
            if self.restore_rate <= 0:
                return 0.0
            return max(0.0, (min(cost, self.maximum) - self._free(now)) / self.restore_rate)

    def hold(self, cost: float, clock: Callable[[], float]) -> tuple[float, float]:
        """Block until this call is first in line and the bucket holds ``cost`` beyond what others hold, then
        hold it: (seconds waited, points held). A release or a new report wakes the waiters early."""
        with self._changed:
            started = clock()
            ticket = object()
            self._queue.append(ticket)
            try:
                while True:
                    needed = min(cost, self.maximum)  # the maximum may change with any report
                    if self._queue[0] is ticket:
                        if self.restore_rate <= 0 or (free := self._free(clock())) >= needed:
                            break
                        self._changed.wait((needed - free) / self.restore_rate)
                    else:
                        self._changed.wait()
                self.held += needed
                return clock() - started, needed
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()

    def release(self, points: float) -> None:
        with self._changed:
            self.held = max(0.0, self.held - points)
            self._changed.notify_all()


class _CallState(threading.local):
    """What the call in progress on this thread knows: its operation, estimated cost and parsed answer."""

    def __init__(self) -> None:
        self.operation = ""
        self.cost = _DEFAULT_COST
        self.parsed: tuple[httpx.Response, JsonValue] | None = None
        self.costed: httpx.Response | None = None  # the last answer that reported the cost bucket
        self.held = 0.0  # points this call holds in the bucket while it is in flight


def shop_base_url(shop: str) -> str:
    """``acme``, ``acme.myshopify.com`` or a full URL (emulator, proxy) -> base URL."""
    if "://" in shop:
        return shop.rstrip("/")
    host = shop if "." in shop else f"{shop}.myshopify.com"
    return f"https://{host}"


def _search_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _submission_marker(submission: str) -> str:
    return f"# submission {submission}"


def _is_throttled(body: JsonValue) -> bool:
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    )


# --- client -------------------------------------------------------------------------------------------------


class ShopifyClient(ApiClient):
    """Client of one shop's Admin GraphQL API with an Admin API access token."""

    system = "shopify"

    def __init__(
        self,
        shop_url: str,
        access_token: str | SecretStr,
        *,
        api_version: str = SHOPIFY_API_VERSION,
        sku_batch_size: int = 50,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(shop_base_url(shop_url), **options)
        self._token = access_token if isinstance(access_token, SecretStr) else SecretStr(access_token)
        self.add_secret(self._token)
        self.api_version = api_version
        self.graphql_path = f"/admin/api/{api_version}/graphql.json"
        self.sku_batch_size = sku_batch_size
        self._bucket = _Bucket()
        self._estimates: dict[str, float] = {}
        self._call = _CallState()

    # --- hooks ----------------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self._token.get_secret_value()}

    def reauthenticate(self) -> None:
        # An Admin API token cannot be renewed by the client: a 401 is final.
        raise AuthError(self.system, "POST", self.graphql_path, 401, "the access token was refused")

    def before_request(self, method: str, path: str) -> None:
        call = self._call
        if path != self.graphql_path:
            return
        self._release()
        waited, call.held = self._bucket.hold(call.cost, self.clock)
        self.count_wait(waited, rate_limit=True)

    def _release(self) -> None:
        if self._call.held:
            self._bucket.release(self._call.held)
        self._call.held = 0.0

    def after_response(self, response: httpx.Response) -> None:
        if not response.request.url.path.endswith(self.graphql_path):
            return
        # Answered: the call no longer holds points (a reported bucket includes what it spent), nor does it
        # while it sleeps before a retry.
        self._release()
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return
        call = self._call
        call.parsed = (response, body)
        call.costed = None
        cost = (body.get("extensions") or {}).get("cost") if isinstance(body, dict) else None
        if not isinstance(cost, dict):
            return
        status = cost.get("throttleStatus") or {}
        try:
            report = (
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]),
                float(status["restoreRate"]),
                self.clock(),
            )
        except (KeyError, TypeError, ValueError):
            return
        self._bucket.observe(*report)
        call.costed = response
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float) and call.operation:
            self._estimates[call.operation] = call.cost = float(requested)

    def is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        return bool(
            response.request.url.path.endswith(self.graphql_path) and _is_throttled(self._body(response))
        )

    def retry_delay(self, response: httpx.Response) -> float | None:
        asked = super().retry_delay(response)
        if asked is None and self._call.costed is response and _is_throttled(self._body(response)):
            # A THROTTLED answer reports the bucket: wait exactly until it holds the call again.
            return self._bucket.wait_for(self._call.cost, self.clock())
        return asked

    def describe_error(self, response: httpx.Response) -> str:
        try:
            errors = orjson.loads(response.content).get("errors")
        except (orjson.JSONDecodeError, AttributeError):
            return super().describe_error(response)
        if isinstance(errors, str):
            return errors
        if isinstance(errors, list):
            return "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
        if isinstance(errors, dict):
            return "; ".join(f"{k}: {v}" for k, v in errors.items())
        return super().describe_error(response)

    def _body(self, response: httpx.Response) -> JsonValue:
        parsed = self._call.parsed
        if parsed is not None and parsed[0] is response:
            return parsed[1]
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return None

    # --- GraphQL --------------------------------------------------------------------------------------

    @contextmanager
    def _reading(self, operation: str) -> Iterator[None]:
        """An answer of the wrong shape (a field missing, of another type, a record that does not validate)
        becomes an ApiError naming the operation and the fields, never a bare KeyError or TypeError."""
        try:
            yield
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()
            )
            raise ApiError(
                self.system, "POST", self.graphql_path, None, f"{operation}: unexpected answer: {detail}"
            ) from None
        except (
            KeyError,
            IndexError,
            TypeError,
            AttributeError,
            StopIteration,
            orjson.JSONDecodeError,
        ) as exc:
            raise ApiError(
                self.system,
                "POST",
                self.graphql_path,
                None,
                f"{operation}: unexpected answer ({type(exc).__name__}: {exc})",
            ) from None

    def graphql(
        self, document: str, variables: Mapping[str, JsonValue] | None = None
    ) -> dict[str, JsonValue]:
        """Run one named operation; top-level ``errors`` raise :class:`ShopifyGraphQLError`."""
        name = operation_name(document)
        self._call.operation, self._call.cost = name, self._estimates.get(name, _DEFAULT_COST)
        try:
            response = self.request(
                "POST",
                self.graphql_path,
                json={"query": document, "variables": dict(variables or {}), "operationName": name},
            )
        finally:
            self._release()  # a call that failed without an answer holds nothing any more
        body = self._body(response)
        if not isinstance(body, dict):
            raise ApiError(self.system, "POST", self.graphql_path, response.status_code, "answer is not JSON")
        if body.get("errors"):
            with self._reading(name):
                errors = [GraphQLErrorInfo.model_validate(e) for e in body["errors"] if isinstance(e, dict)]
            raise ShopifyGraphQLError(name, self.graphql_path, errors)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ApiError(self.system, "POST", self.graphql_path, response.status_code, f"{name}: no data")
        return data

    def _paginate(
        self, document: str, root: str, variables: Mapping[str, JsonValue], page_size: int
    ) -> Iterator[dict[str, JsonValue]]:
        with self._reading("a page of a connection"):
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
            after: str | None = None
            while True:
                data = self.graphql(document, {**variables, "first": page_size, "after": after})
                connection = data[root]
                yield from connection["nodes"]
                page = connection["pageInfo"]
                if not page["hasNextPage"]:
                    return
                after = page["endCursor"]

    # --- products -------------------------------------------------------------------------------------

    def product_set(
        self, input: ProductInputLike, identifier: IdentifierLike | None = None
    ) -> ProductSetResult:
        """Create or update one product (synchronous productSet); ``userErrors`` come back in the result."""
        with self._reading("ProductSet"):
            data = self.graphql(PRODUCT_SET, product_set_variables(input, identifier))
            return ProductSetResult.model_validate(data["productSet"])

    def product_delete(self, product_id: str) -> ProductDeleteResult:
        with self._reading("ProductDelete"):
            data = self.graphql(PRODUCT_DELETE, {"id": product_id})
            return ProductDeleteResult.model_validate(data["productDelete"])

    def variants_by_sku(self, skus: Sequence[str]) -> dict[str, VariantRef]:
        """SKU -> variant, for the SKUs that exist. SKUs are batched into ``sku:"A" OR sku:"B"`` searches.

        SKUs are not unique in Shopify; for a duplicated SKU the variant with the lowest id wins (logged).
        The search index lags writes by a few seconds, so a SKU written just now may be missing.
        """
        with self._reading("ProductVariants"):
            wanted = list(dict.fromkeys(s for s in skus if s))
            found: dict[str, VariantRef] = {}
            duplicates = 0
            for start in range(0, len(wanted), self.sku_batch_size):
                batch = wanted[start : start + self.sku_batch_size]
                members = set(batch)
                query = " OR ".join(f"sku:{_search_quote(s)}" for s in batch)
                # Room for a few duplicates in one page; the requested cost (what must fit the bucket)
                # stays low.
                page_size = min(MAX_PAGE_SIZE, 2 * len(batch))
                for node in self._paginate(PRODUCT_VARIANTS, "productVariants", {"query": query}, page_size):
                    ref = VariantRef.model_validate(node)
                    # The search is case-insensitive; SKUs are not.
                    if ref.sku not in members:
                        continue
                    if ref.sku in found:
                        duplicates += 1
                        continue
                    found[ref.sku] = ref
            if duplicates:
                log.warning(
                    "shopify: %d variants share a SKU with another variant; the lowest id was used",
                    duplicates,
                )
            return found

    def iter_variants(self, query: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[VariantRef]:
        with self._reading("ProductVariants"):
            for node in self._paginate(PRODUCT_VARIANTS, "productVariants", {"query": query}, page_size):
                yield VariantRef.model_validate(node)

    def iter_products(
        self, query: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[ProductSummary]:
        """Products page by page (streaming); ``query`` uses Shopify's search syntax."""
        with self._reading("Products"):
            for node in self._paginate(PRODUCTS, "products", {"query": query}, page_size):
                yield ProductSummary.model_validate(node)

    # --- bulk -----------------------------------------------------------------------------------------

    def run_bulk_mutation(
        self,
        mutation: str,
        lines: Iterable[Mapping[str, JsonValue]],
        *,
        client_identifier: str | None = None,
        submission: str | None = None,
    ) -> BulkOperation:
        """Stage ``lines`` (the variables of each run) as JSONL, upload and start the bulk mutation.

        Returns at once with the CREATED operation; store its id and poll with
        :meth:`wait_for_bulk_operation`. Raises :class:`BulkOperationInProgress` when the shop runs its limit
        of bulk mutations already. ``submission`` (default: a new UUID) marks the operation, so that
        :meth:`find_submission` finds it even if the answer that named it was lost.
        """
        with tempfile.TemporaryFile(prefix="shopify-bulk-", suffix=".jsonl") as spool:
            count = 0
            for line in lines:
                spool.write(orjson.dumps(line))
                spool.write(b"\n")
                count += 1
            if count == 0:
                raise ValueError("a bulk mutation needs at least one line")
            size = spool.tell()
            target = self._stage(size)
            spool.seek(0)
            self._upload(target, spool.read())
        with self._reading("StagedUploadsCreate"):
            key = next(p["value"] for p in target["parameters"] if p["name"] == "key")
        log.info("shopify: staged %d bulk lines (%d bytes)", count, size)
        return self._submit(mutation, key, client_identifier, submission or str(uuid.uuid4()))

    def _stage(self, size: int) -> dict[str, JsonValue]:
        with self._reading("StagedUploadsCreate"):
            data = self.graphql(
                STAGED_UPLOADS_CREATE,
                {
                    "input": [
                        {
                            "resource": "BULK_MUTATION_VARIABLES",
                            "filename": "bulk_op_vars.jsonl",
                            "mimeType": "text/jsonl",
                            "httpMethod": "POST",
                            "fileSize": str(size),
                        }
                    ]
                },
            )
            payload = data["stagedUploadsCreate"]
            errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
            if errors or not payload.get("stagedTargets"):
                raise ShopifyUserErrors("StagedUploadsCreate", self.graphql_path, errors)
            target: dict[str, JsonValue] = payload["stagedTargets"][0]
            return target

    def _upload(self, target: Mapping[str, JsonValue], data: bytes) -> None:
        # Form fields in the order given, the file last and named "file" (contract §7.2). No token is sent.
        with self._reading("StagedUploadsCreate"):
            boundary = uuid.uuid4().hex
            parts: list[bytes] = []
            for parameter in target["parameters"]:
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{parameter["name"]}"\r\n\r\n'
                    f"{parameter['value']}\r\n".encode()
                )
            parts.append(
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="file"; filename="bulk_op_vars.jsonl"\r\n'
                "Content-Type: text/jsonl\r\n\r\n".encode()
            )
            parts.extend((data, f"\r\n--{boundary}--\r\n".encode()))
            url = httpx.URL(str(target["url"]))
            self.request(
                "POST",
                str(url.copy_with(query=None)),
                params=dict(url.params),
                content=b"".join(parts),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                authenticated=False,
            )

    def _submit(
        self, mutation: str, staged_path: str, client_identifier: str | None, submission: str
    ) -> BulkOperation:
        # A comment naming this submission lets a retried call recognise an operation its lost first attempt
        # started (the operation's `query` echoes the text).
        marker = _submission_marker(submission)
        text = f"{marker}\n{mutation.strip()}"
        retries_before = self.stats.retries
        data = self.graphql(
            BULK_OPERATION_RUN_MUTATION,
            {"mutation": text, "stagedUploadPath": staged_path, "clientIdentifier": client_identifier},
        )
        with self._reading("BulkOperationRunMutation"):
            payload = data["bulkOperationRunMutation"]
            errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
        retried = self.stats.retries > retries_before
        if errors:
            ours = self._ours(marker) if retried else []
            if ours:
                return ours[0]
            error_type = (
                BulkOperationInProgress
                if any(e.code == "OPERATION_IN_PROGRESS" for e in errors)
                else ShopifyUserErrors
            )
            raise error_type("BulkOperationRunMutation", self.graphql_path, errors)
        with self._reading("BulkOperationRunMutation"):
            operation = BulkOperation.model_validate(payload["bulkOperation"])
        if retried:
            for duplicate in self._ours(marker):
                if duplicate.id != operation.id and not duplicate.finished:
                    log.warning("shopify: canceling duplicate bulk operation %s", duplicate.id)
                    self.cancel_bulk_operation(duplicate.id)
        return operation

    def find_submission(self, submission: str) -> BulkOperation | None:
        """The bulk mutation started by ``submission`` (among the shop's recent ones), if it started."""
        return next(iter(self._ours(_submission_marker(submission))), None)

    def _ours(self, marker: str) -> list[BulkOperation]:
        with self._reading("RecentBulkMutations"):
            data = self.graphql(RECENT_BULK_MUTATIONS)
            nodes = data["bulkOperations"]["nodes"]
            return [
                op for op in (BulkOperation.model_validate(n) for n in nodes) if op.query.startswith(marker)
            ]

    def bulk_operation(self, operation_id: str) -> BulkOperation:
        with self._reading("BulkOperation"):
            data = self.graphql(BULK_OPERATION, {"id": operation_id})
            if not data.get("node"):
                raise ApiError(
                    self.system, "POST", self.graphql_path, 200, f"bulk operation {operation_id} not found"
                )
            return BulkOperation.model_validate(data["node"])

    def cancel_bulk_operation(self, operation_id: str) -> BulkOperation:
        with self._reading("BulkOperationCancel"):
            data = self.graphql(BULK_OPERATION_CANCEL, {"id": operation_id})
            payload = data["bulkOperationCancel"]
            errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
            if errors or not payload.get("bulkOperation"):
                raise ShopifyUserErrors("BulkOperationCancel", self.graphql_path, errors)
            return BulkOperation.model_validate(payload["bulkOperation"])

    def wait_for_bulk_operation(
        self, operation_id: str, poll_interval_s: float = 1.0, timeout_s: float = 3600.0
    ) -> BulkOperation:
        """Poll until the operation is COMPLETED, FAILED, CANCELED or EXPIRED; check ``succeeded``."""
        deadline = self.clock() + timeout_s
        while True:
            operation = self.bulk_operation(operation_id)
            if operation.finished:
                return operation
            if self.clock() >= deadline:
                raise BulkOperationTimeout(
                    self.system,
                    "POST",
                    self.graphql_path,
                    None,
                    f"bulk operation {operation_id} still {operation.status} after {timeout_s:.0f}s",
                )
            self.wait(poll_interval_s, rate_limit=False)

    def iter_bulk_results(self, url: str) -> Iterator[BulkResultLine]:
        """Lines of a bulk result file as they appear (Shopify may reorder them: sort by ``line_number``)."""
        with self._reading("a bulk result line"):
            target = httpx.URL(url)
            # The signature travels as params so it stays out of logged paths.
            response = self.request(
                "GET", str(target.copy_with(query=None)), params=dict(target.params), authenticated=False
            )
            content = memoryview(response.content)
            start = 0
            while start < len(content):
                end = response.content.find(b"\n", start)
                if end < 0:
                    end = len(content)
                if end > start:
                    yield BulkResultLine.model_validate(orjson.loads(content[start:end]))
                start = end + 1

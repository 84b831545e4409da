"""Bulk import for the Shopify emulator: staged uploads, ``bulkOperationRunMutation`` and its JSONL results.

Any mutation of the schema runs in bulk, as on Shopify, except the bulk operation mutations themselves (no
recursive bulk operations); the mutation may select at most one connection field (contract §7.3). The
document is parsed and validated once when the operation starts; each JSONL line then only has its variables
coerced (compiled coercers) and the mutation executed, so 10,000 lines take a second or two. Operations run
on their own thread, one line at a time under the shop lock (contract §7).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import orjson
from graphql import GraphQLSchema, TypeInfo, TypeInfoVisitor, get_named_type, visit
from graphql.language import FieldNode, OperationDefinitionNode, OperationType, Visitor

from connector_pipelines.sandbox.shopify_gql import (
    DocumentCache,
    Executor,
    InputCoercion,
    Json,
    Prepared,
    coerce_variables,
    literal_value,
)
from connector_pipelines.sandbox.shopify_settings import ShopifySettings
from connector_pipelines.sandbox.shopify_store import (
    BulkOperationRecord,
    ShopState,
    StagedUpload,
    gid,
    iso,
    next_id,
)

if TYPE_CHECKING:
    from connector_pipelines.sandbox.shopify_bulk_query import BulkExports

RECURSIVE_PREFIX = "bulkOperation"  # bulkOperationRunMutation, bulkOperationRunQuery, bulkOperationCancel
ACTIVE = frozenset({"CREATED", "RUNNING", "CANCELING"})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
INTERNAL_ERROR = "Internal error. Looks like something went wrong on our end."
LinePredicate = Callable[[int, Json], bool]


@dataclass
class RequestContext:
    """What resolvers see of one request (or one bulk line)."""

    shop: ShopState
    settings: ShopifySettings
    bulk: BulkService
    base_url: str
    api_version: str
    now: float = field(default_factory=time.time)
    monotonic: float = field(default_factory=time.monotonic)
    search: list[dict[str, Json]] = field(default_factory=list)
    exports: BulkExports | None = None  # bulk queries (None inside a bulk mutation's lines)
    listing: bool = False  # a bulk export: connections list every item, without cursors
    # @idempotent(key:) of root fields, by response key
    idempotency_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class _FailNext:
    error_code: str
    after_lines: int


@dataclass
class BulkFaults:
    """Injected bulk failures: fail the next operation, or fail chosen lines of every operation; and a gate
    that holds new operations in CREATED until it opens (tests of concurrency limits and polling)."""

    fail_next: _FailNext | None = None
    fail_lines: LinePredicate | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def take_fail_next(self) -> _FailNext | None:
        with self._lock:
            taken, self.fail_next = self.fail_next, None
            return taken

    def clear(self) -> None:
        with self._lock:
            self.fail_next = None
            self.fail_lines = None
        self.gate.set()


class UploadError(Exception):
    """A storage error answer (GCS style XML)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def xml(self) -> bytes:
        return (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code>"
            f"<Message>{self.message}</Message></Error>"
        ).encode()


@dataclass
class BulkCounters:
    operations: int = 0
    lines: int = 0
    uploads: int = 0
    downloads: int = 0


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str | None, bytes]]:
    """``multipart/form-data`` -> [(name, filename, content)] in order (python-multipart is not installed)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise UploadError(400, "InvalidArgument", "Expected multipart/form-data with a boundary.")
    delimiter = b"--" + match.group(1).encode()
    parts: list[tuple[str, str | None, bytes]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise UploadError(400, "InvalidArgument", "Malformed multipart part.")
        disposition = next(
            (
                line
                for line in head.decode("utf-8", "replace").split("\r\n")
                if line.lower().startswith("content-disposition")
            ),
            "",
        )
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name is None:
            raise UploadError(400, "InvalidArgument", "A multipart part has no name.")
        parts.append((name.group(1), filename.group(1) if filename else None, content.removesuffix(b"\r\n")))
    return parts


class BulkService:
    """Staged uploads and bulk mutations of every shop of one emulator."""

    def __init__(
        self,
        settings: ShopifySettings,
        schema: GraphQLSchema,
        docs: DocumentCache,
        coercion: InputCoercion,
        executor: Executor[RequestContext],
        faults: BulkFaults,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.docs = docs
        self.coercion = coercion
        self.executor = executor
        self.faults = faults
        self.counters = BulkCounters()
        self._secret = secrets.token_bytes(16)
        self._uploads: dict[str, StagedUpload] = {}  # by key, across shops
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:32]

    # staged uploads ------------------------------------------------------------------------------------

    def stage(self, shop: ShopState, inputs: list[dict[str, Json]], base_url: str) -> list[dict[str, Json]]:
        targets: list[dict[str, Json]] = []
        for item in inputs:
            key = f"tmp/{shop.number}/bulk/{uuid.uuid4()}/{item['filename']}"
            method = item.get("httpMethod") or "PUT"
            upload = StagedUpload(key, item["resource"], method, self.sign(key))
            with self._lock:
                self._uploads[key] = upload
            shop.staged[key] = upload
            if method == "POST":
                url = f"{base_url}/__staged-uploads/"
                parameters = [
                    {"name": "key", "value": key},
                    {"name": "Content-Type", "value": item["mimeType"]},
                    {"name": "success_action_status", "value": "201"},
                    {"name": "acl", "value": "private"},
                    {"name": "policy", "value": self.sign(f"policy:{key}")},
                    {
                        "name": "x-goog-credential",
                        "value": "merchant-assets@shopify-emulator/auto/storage/goog4_request",
                    },
                    {"name": "x-goog-algorithm", "value": "GOOG4-RSA-SHA256"},
                    {"name": "x-goog-date", "value": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())},
                    {"name": "x-goog-signature", "value": upload.signature},
                ]
            else:
                url = f"{base_url}/__staged-uploads/{key}?X-Goog-Signature={upload.signature}"
                parameters = [
                    {"name": "content_type", "value": item["mimeType"]},
                    {"name": "acl", "value": "private"},
                ]
            resource_url = (
                None
                if item["resource"] == "BULK_MUTATION_VARIABLES"
                else f"{base_url}/__staged-uploads/{key}"
            )
            targets.append({"url": url, "resourceUrl": resource_url, "parameters": parameters})
        return targets

    def upload_form(self, body: bytes, content_type: str) -> tuple[str, bool]:
        """A POST upload; returns the key and whether the form asked for a 201 answer."""
        parts = parse_multipart(body, content_type)
        fields = {
            name: content.decode("utf-8", "replace") for name, filename, content in parts if filename is None
        }
        files = [(name, content) for name, filename, content in parts if filename is not None]
        if not files or files[-1][0] != "file" or parts[-1][0] != "file":
            raise UploadError(
                400, "InvalidArgument", "The file must be the last field of the form, named 'file'."
            )
        for required in ("key", "policy", "x-goog-signature"):
            if not fields.get(required):
                raise UploadError(400, "InvalidArgument", f"Missing form field '{required}'.")
        upload = self._upload(fields["key"], fields["x-goog-signature"], "POST")
        self._store(upload, files[-1][1])
        return upload.key, fields.get("success_action_status") == "201"

    def upload_put(self, key: str, signature: str, body: bytes) -> None:
        self._store(self._upload(key, signature, "PUT"), body)

    def _upload(self, key: str, signature: str, method: str) -> StagedUpload:
        with self._lock:
            found = self._uploads.get(key)
        valid = found is not None and hmac.compare_digest(found.signature, signature)
        if found is None or not valid or found.http_method != method:
            raise UploadError(403, "AccessDenied", "Invalid or expired upload signature.")
        return found

    def _store(self, upload: StagedUpload, data: bytes) -> None:
        cap = self.settings.bulk_jsonl_max_bytes
        if len(data) > cap:
            raise UploadError(
                400,
                "EntityTooLarge",
                "Your proposed upload is larger than the maximum object size specified in your Policy "
                f"Document ({cap} bytes).",
            )
        upload.data = data
        self.counters.uploads += 1

    # bulk mutations ------------------------------------------------------------------------------------

    def concurrency(self, api_version: str) -> int:
        if self.settings.bulk_mutation_concurrency is not None:
            return self.settings.bulk_mutation_concurrency
        return 5 if api_version == "unstable" or api_version >= "2026-01" else 1

    def start_mutation(
        self,
        ctx: RequestContext,
        mutation: str,
        staged_path: str,
        client_identifier: str | None,
    ) -> tuple[BulkOperationRecord | None, list[dict[str, Json]]]:
        shop = ctx.shop
        running = [op for op in shop.iter_bulk("MUTATION") if op.status in ACTIVE]
        if len(running) >= self.concurrency(ctx.api_version):
            return None, [
                _error(
                    None,
                    "A bulk mutation operation for this app and shop is already in progress: "
                    f"{gid('BulkOperation', running[-1].id)}.",
                    "OPERATION_IN_PROGRESS",
                )
            ]
        prepared = self.docs.get(mutation)
        problem = self._mutation_problem(prepared)
        if problem is not None:
            return None, [_error(["mutation"], problem, "INVALID_MUTATION")]
        upload = shop.staged.get(staged_path)
        if upload is not None and upload.data is not None and upload.resource != "BULK_MUTATION_VARIABLES":
            return None, [
                _error(
                    ["stagedUploadPath"],
                    "The staged upload was not created for BULK_MUTATION_VARIABLES.",
                    "INVALID_STAGED_UPLOAD_FILE",
                )
            ]
        if upload is None or upload.data is None:
            return None, [
                _error(
                    ["stagedUploadPath"],
                    "The JSONL file could not be found. Try uploading the file again, and check that you've "
                    "entered the URL correctly for the stagedUploadPath mutation argument.",
                    "NO_SUCH_FILE",
                )
            ]
        operation = next(iter(prepared.operations.values()))
        op = BulkOperationRecord(
            next_id(), "MUTATION", mutation, iso(time.time()), client_identifier=client_identifier
        )
        shop.bulk_operations[op.id] = op
        self.counters.operations += 1
        thread = threading.Thread(
            target=self._run,
            args=(shop, op, prepared, operation, upload.data, ctx.base_url, ctx.api_version),
            name=f"shopify-bulk-{op.id}",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return op, []

    def _mutation_problem(self, prepared: Prepared) -> str | None:
        if prepared.errors:
            return "Invalid mutation: " + "; ".join(str(e["message"]) for e in prepared.errors)
        if len(prepared.operations) != 1:
            return "The mutation must contain exactly one operation."
        operation = next(iter(prepared.operations.values()))
        if operation.operation != OperationType.MUTATION:
            return "The bulk mutation must be a mutation operation."
        roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        if len(roots) != 1 or len(operation.selection_set.selections) != 1:
            return "The bulk mutation must contain exactly one top-level field."
        if roots[0].name.value.startswith(RECURSIVE_PREFIX):
            return "Bulk mutations cannot run other bulk operations."
        if _connections(self.schema, prepared) > 1:
            return "Bulk mutations cannot contain more than 1 connection."
        return None

    def cancel(self, op: BulkOperationRecord) -> list[dict[str, Json]]:
        if op.status not in ACTIVE:
            return [
                _error(
                    None,
                    f"A bulk operation cannot be canceled when it is {op.status.lower()}",
                    None,
                )
            ]
        op.cancel_requested = True
        op.status = "CANCELING"
        return []

    def _run(
        self,
        shop: ShopState,
        op: BulkOperationRecord,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        data: bytes,
        base_url: str,
        api_version: str,
    ) -> None:
        if self.settings.bulk_start_delay_s:
            time.sleep(self.settings.bulk_start_delay_s)
        self.faults.gate.wait()
        fail = self.faults.take_fail_next()
        with shop.lock:
            if op.cancel_requested:
                self._finish(shop, op, [], "CANCELED")
                return
            op.status = "RUNNING"
        ctx = RequestContext(shop, self.settings, self, base_url, api_version)
        results: list[bytes] = []
        failing = self.faults.fail_lines
        for number, raw in enumerate(data.split(b"\n")):
            if not raw.strip():
                continue
            if op.cancel_requested:
                self._finish(shop, op, results, "CANCELED")
                return
            if fail is not None and len(results) >= fail.after_lines:
                self._finish(shop, op, results, "FAILED", fail.error_code)
                return
            results.append(orjson.dumps(self._line(shop, ctx, prepared, operation, number, raw, failing)))
            op.object_count = len(results)
        self._finish(shop, op, results, "COMPLETED")

    def _line(
        self,
        shop: ShopState,
        ctx: RequestContext,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        number: int,
        raw: bytes,
        failing: LinePredicate | None,
    ) -> dict[str, Json]:
        try:
            variables = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return {
                "errors": [{"message": f"Invalid JSON on line {number + 1}: {exc}"}],
                "__lineNumber": number,
            }
        if not isinstance(variables, dict):
            return {
                "errors": [{"message": "Each line must be a JSON object of variables."}],
                "__lineNumber": number,
            }
        if failing is not None and failing(number, variables):
            return {
                "errors": [{"message": INTERNAL_ERROR, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
                "__lineNumber": number,
            }
        coerced, errors = coerce_variables(self.schema, self.coercion, operation, variables)
        if errors:
            return {"errors": errors, "__lineNumber": number}
        ctx.now, ctx.monotonic = time.time(), time.monotonic()
        ctx.idempotency_keys = idempotency_keys(operation, coerced)  # a line is one request
        with shop.lock:
            result, errors = self.executor.execute(prepared, operation, coerced, ctx)
        line: dict[str, Json] = {"data": result, "__lineNumber": number}
        if errors:
            line["errors"] = errors
        with self._lock:
            self.counters.lines += 1
        return line

    def _finish(
        self,
        shop: ShopState,
        op: BulkOperationRecord,
        results: list[bytes],
        status: str,
        error_code: str | None = None,
    ) -> None:
        if self.settings.bulk_result_order == "shuffled":
            random.Random(self.settings.seed + op.id).shuffle(results)
        with shop.lock:
            op.object_count = op.root_object_count = len(results)
            op.result = b"".join(line + b"\n" for line in results) if results else None
            op.file_size = len(op.result) if op.result else None
            op.partial = status != "COMPLETED"
            op.error_code = error_code
            op.completed_at = iso(time.time())
            op.completed_monotonic = time.monotonic()
            op.status = status

    def result_url(
        self, base_url: str, shop: ShopState, op: BulkOperationRecord, *, partial: bool
    ) -> str | None:
        """``url`` of a completed operation, or ``partialDataUrl`` of a failed or canceled one with lines.

        Like Shopify's signed storage URLs it names the file to save as (``response-content-disposition``).
        """
        has_data = op.result is not None or op.result_path is not None
        if partial:
            available = op.partial and has_data
        else:
            empty_ok = not self.settings.bulk_url_null_when_empty
            available = op.status == "COMPLETED" and (has_data or empty_ok)
        if not available:
            return None
        path = f"{shop.name}/{op.id}"
        name = f"bulk-{op.id}.jsonl"
        query = urlencode(
            {
                "X-Goog-Algorithm": "GOOG4-RSA-SHA256",
                "X-Goog-Expires": str(int(self.settings.bulk_result_ttl_s)),
                "response-content-disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}",
                "response-content-type": "application/jsonl",
                "sig": self.sign(path),
            }
        )
        return f"{base_url}/__bulk-results/{path}.jsonl?{query}"

    def result(self, shop: ShopState, op_id: int, signature: str) -> bytes | str:
        """The result of an operation: its bytes, or the path of its file (bulk queries)."""
        if not hmac.compare_digest(self.sign(f"{shop.name}/{op_id}"), signature):
            raise UploadError(403, "AccessDenied", "Invalid or expired signature.")
        op = shop.bulk_operations.get(op_id)
        if op is None or op.status not in TERMINAL:
            raise UploadError(404, "NoSuchKey", "The specified key does not exist.")
        expired = (
            op.completed_monotonic is not None
            and time.monotonic() - op.completed_monotonic > self.settings.bulk_result_ttl_s
        )
        if expired:
            raise UploadError(400, "ExpiredToken", "The provided token has expired.")
        self.counters.downloads += 1
        return op.result_path or op.result or b""

    def forget_uploads(self) -> None:
        with self._lock:
            self._uploads.clear()

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for running operations (tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))


def idempotency_keys(operation: OperationDefinitionNode, variables: Mapping[str, Json]) -> dict[str, str]:
    """``@idempotent(key:)`` of the root fields, by response key."""
    keys: dict[str, str] = {}
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        for directive in selection.directives:
            if directive.name.value != "idempotent":
                continue
            for argument in directive.arguments:
                if argument.name.value == "key":
                    value = literal_value(argument.value, variables)
                    if isinstance(value, str):
                        keys[(selection.alias or selection.name).value] = value
    return keys


class _ConnectionCounter(Visitor):
    def __init__(self, types: TypeInfo) -> None:
        super().__init__()
        self.types = types
        self.count = 0

    def enter_field(self, *_: object) -> None:
        named = get_named_type(self.types.get_type())
        if named is not None and named.name.endswith("Connection"):
            self.count += 1


def _connections(schema: GraphQLSchema, prepared: Prepared) -> int:
    """Connection fields the document selects (fragments included: each spread is counted where defined)."""
    assert prepared.document is not None
    types = TypeInfo(schema)
    counter = _ConnectionCounter(types)
    visit(prepared.document, TypeInfoVisitor(types, counter))
    return counter.count


def _error(path: list[str] | None, message: str, code: str | None) -> dict[str, Json]:
    return {"field": path, "message": message, "code": code}


def line_predicate(lines: Iterable[int] | LinePredicate) -> LinePredicate:
    if callable(lines):
        return lines
    chosen = frozenset(lines)
    return lambda number, _variables: number in chosen

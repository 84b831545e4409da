"""Bulk export for the Shopify emulator: ``bulkOperationRunQuery`` (contract §8).

The query is validated against the schema, then planned: its top-level connection yields one JSONL line
per record; each connection nested in a node (up to two levels, five connections in all) yields one line
per child with ``__parentId``, the parent's GID. Pagination arguments are ignored; ``query:`` filters are
honoured. With ``groupObjects: true`` a parent's children follow it; otherwise (the default from 2026-01)
they come after all parents (setting ``bulk_children_last``), as Shopify does not promise more.

Objects are rendered through a plan compiled once per query (resolver, arguments and serialiser per field),
not through the general executor, and lines are written to a file as they are produced, in chunks taken
under the shop's lock: 100,000 orders with their lines export in seconds without holding them in memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)
from graphql.language import FieldNode, OperationType, SelectionSetNode

from connector_pipelines.sandbox.shopify_bulk import ACTIVE, BulkFaults, RequestContext
from connector_pipelines.sandbox.shopify_commerce_resolvers import customer_matcher, order_matcher
from connector_pipelines.sandbox.shopify_gql import (
    OUTPUT_SCALARS,
    DocumentCache,
    Execution,
    Executor,
    FieldError,
    Json,
    Prepared,
    TypeNamer,
    is_connection,
)
from connector_pipelines.sandbox.shopify_search import Warning
from connector_pipelines.sandbox.shopify_settings import ShopifySettings
from connector_pipelines.sandbox.shopify_store import BulkOperationRecord, ShopState, gid, iso, next_id

MAX_CONNECTIONS = 5
MAX_NESTING = 2  # connections below the top-level one
CHUNK = 500  # records rendered per hold of the shop lock
UNBOUNDED = 1 << 31
Render = Callable[[Any], Json]


class PlanError(ValueError):
    pass


@dataclass
class Plan:
    """One connection of a bulk query: how to list its records and render each as a line."""

    key: str  # the field's response key in its parent
    name: str  # the field's name
    arguments: dict[str, Json]
    node_type: GraphQLObjectType
    selection: SelectionSetNode  # the node's selection without nested connections
    children: list[Plan] = field(default_factory=list)
    render: Render | None = None  # compiled when the export starts


def _node_selection(node: FieldNode) -> SelectionSetNode | None:
    """The selection on the node of a connection field: ``edges { node { … } }`` or ``nodes { … }``."""
    if node.selection_set is None:
        return None
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.selection_set is None:
            continue
        if selection.name.value == "nodes":
            return selection.selection_set
        if selection.name.value == "edges":
            for inner in selection.selection_set.selections:
                if isinstance(inner, FieldNode) and inner.name.value == "node" and inner.selection_set:
                    return inner.selection_set
    return None


class Planner:
    def __init__(self, schema: GraphQLSchema, executor: Executor[RequestContext]) -> None:
        self.schema = schema
        self.executor = executor
        self.connections = 0

    def plan(self, prepared: Prepared, run: Execution[RequestContext]) -> Plan:
        operations = list(prepared.operations.values())
        if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
            raise PlanError("Bulk queries must contain exactly one query operation.")
        root = self.schema.query_type
        assert root is not None
        fields = self.executor.collect(run, root, operations[0].selection_set)
        if len(fields) != 1:
            raise PlanError("Bulk queries must have exactly one top-level field.")
        [(key, nodes)] = fields.items()
        return self._connection(run, root, key, nodes[0], 0)

    def _connection(
        self, run: Execution[RequestContext], parent: GraphQLObjectType, key: str, node: FieldNode, depth: int
    ) -> Plan:
        field_def = parent.fields[node.name.value]
        named = get_named_type(field_def.type)
        if not is_connection(named):
            raise PlanError("Bulk queries must contain at least one connection.")
        self.connections += 1
        if self.connections > MAX_CONNECTIONS:
            raise PlanError(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
        if depth > MAX_NESTING:
            raise PlanError(
                f"Bulk queries cannot contain connections nested more than {MAX_NESTING} levels deep."
            )
        assert isinstance(named, GraphQLObjectType)
        node_type = get_named_type(named.fields["nodes"].type)
        selection = _node_selection(node)
        if not isinstance(node_type, GraphQLObjectType) or selection is None:
            raise PlanError(f"The connection '{key}' must select fields of its nodes (edges.node or nodes).")
        arguments = self.executor.arguments(run, field_def.args, node) if field_def.args else {}
        kept: list[Any] = []
        children: list[Plan] = []
        for selection_node in selection.selections:
            if isinstance(selection_node, FieldNode) and selection_node.name.value in node_type.fields:
                child_type = get_named_type(node_type.fields[selection_node.name.value].type)
                if is_connection(child_type):
                    child_key = (selection_node.alias or selection_node.name).value
                    children.append(self._connection(run, node_type, child_key, selection_node, depth + 1))
                    continue
            kept.append(selection_node)
        plan_selection = SelectionSetNode(selections=tuple(kept))
        return Plan(key, node.name.value, arguments, node_type, plan_selection, children)


class Renderer:
    """Compiles (type, selection) into functions that render a record as JSON-ready data."""

    def __init__(
        self, schema: GraphQLSchema, executor: Executor[RequestContext], type_name_of: TypeNamer
    ) -> None:
        self.schema = schema
        self.executor = executor
        self.type_name_of = type_name_of
        self._cache: dict[tuple[str, tuple[int, ...]], Render] = {}

    def selection(
        self, run: Execution[RequestContext], type_: GraphQLObjectType, selection: SelectionSetNode
    ) -> Render:
        return self._object(run, type_, [selection])

    def _object(
        self, run: Execution[RequestContext], type_: GraphQLObjectType, selections: Sequence[SelectionSetNode]
    ) -> Render:
        cache_key = (type_.name, tuple(id(s) for s in selections))
        found = self._cache.get(cache_key)
        if found is not None:
            return found
        fields: dict[str, list[FieldNode]] = {}
        for selection in selections:
            for key, nodes in self.executor.collect(run, type_, selection).items():
                fields.setdefault(key, []).extend(nodes)
        steps: list[tuple[str, Callable[[Any], Any], Callable[[Any], Json]]] = []
        # A dict source is data already shaped like the type (money, addresses): its keys answer directly.
        keyed: list[tuple[str, str, Callable[[Any], Json]]] = []

        def render(source: Any) -> Json:
            if type(source) is dict:
                return {key: complete(source.get(name)) for key, name, complete in keyed}
            return {key: complete(get(source)) for key, get, complete in steps}

        self._cache[cache_key] = render  # before the fields: a type may select itself
        resolvers = self.executor.resolvers.get(type_.name, {})
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                steps.append((key, _constant(type_.name), _identity))
                keyed.append((key, "__typename", _or(type_.name)))
                continue
            field_def = type_.fields[name]
            args = self.executor.arguments(run, field_def.args, nodes[0]) if field_def.args else {}
            getter = self._getter(run.context, name, resolvers.get(name), args, field_def.type)
            complete = self._completer(run, field_def.type, nodes)
            steps.append((key, getter, complete))
            keyed.append((key, name, complete))
        return render

    @staticmethod
    def _getter(
        ctx: RequestContext,
        name: str,
        resolver: Any,
        args: dict[str, Json],
        field_type: GraphQLOutputType,
    ) -> Callable[[Any], Any]:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        leaf = is_leaf_type(get_named_type(field_type))

        def get(source: Any) -> Any:
            if resolver is not None:
                try:
                    return resolver(source, args, ctx, None)
                except FieldError:
                    return None
            return getattr(source, snake, None) if leaf else None

        return get

    def _completer(
        self, run: Execution[RequestContext], type_: GraphQLOutputType, nodes: list[FieldNode]
    ) -> Callable[[Any], Json]:
        if isinstance(type_, GraphQLNonNull):
            return self._completer(run, type_.of_type, nodes)
        if isinstance(type_, GraphQLList):
            inner = self._completer(run, type_.of_type, nodes)
            return lambda value: None if value is None else [inner(v) for v in value]
        if isinstance(type_, GraphQLScalarType):
            serialize = OUTPUT_SCALARS.get(type_.name)
            if serialize is None:
                return _identity
            return lambda value: None if value is None else serialize(value)
        if isinstance(type_, GraphQLEnumType):
            return _identity
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
        if isinstance(type_, GraphQLObjectType):
            object_type = type_
            compiled: list[Render] = []  # compiled on first use: types may refer to themselves

            def concrete(value: Any) -> Json:
                if value is None:
                    return None
                if not compiled:
                    compiled.append(self._object(run, object_type, selections))
                return compiled[0](value)

            return concrete
        assert isinstance(type_, GraphQLInterfaceType | GraphQLUnionType)

        def abstract(value: Any) -> Json:
            if value is None:
                return None
            resolved = self.schema.get_type(self.type_name_of(value))
            assert isinstance(resolved, GraphQLObjectType)
            return self._object(run, resolved, selections)(value)

        return abstract


def _identity(value: Any) -> Json:
    return value


def _constant(value: str) -> Callable[[Any], str]:
    return lambda _source: value


def _or(default: str) -> Callable[[Any], Json]:
    return lambda value: value or default


# --- running ----------------------------------------------------------------------------------------------


class BulkExports:
    """Bulk queries of every shop of one emulator; results are files in a directory of their own."""

    def __init__(
        self,
        settings: ShopifySettings,
        schema: GraphQLSchema,
        docs: DocumentCache,
        executor: Executor[RequestContext],
        type_name_of: TypeNamer,
        faults: BulkFaults,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.docs = docs
        self.executor = executor
        self.type_name_of = type_name_of
        self.faults = faults
        self.directory = tempfile.mkdtemp(prefix="shopify-bulk-")
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)
        self._threads: list[threading.Thread] = []
        # Children of bulk contexts are listed whole: pagination arguments are ignored.
        self._unbounded = settings.model_copy(update={"max_page_size": UNBOUNDED})

    def concurrency(self, api_version: str) -> int:
        if self.settings.bulk_query_concurrency is not None:
            return self.settings.bulk_query_concurrency
        return 5 if api_version == "unstable" or api_version >= "2026-01" else 1

    def start(
        self, ctx: RequestContext, query: str, group_objects: bool
    ) -> tuple[BulkOperationRecord | None, list[dict[str, Json]]]:
        shop = ctx.shop
        running = [op for op in shop.iter_bulk("QUERY") if op.status in ACTIVE]
        limit = self.concurrency(ctx.api_version)
        if len(running) >= limit:
            if limit == 1:
                message = (
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{gid('BulkOperation', running[-1].id)}."
                )
                return None, [_error(None, message, "OPERATION_IN_PROGRESS")]
            message = (
                f"A maximum of {limit} bulk query operations can run at the same time per app and shop; "
                "wait for one to finish."
            )
            return None, [_error(None, message, "LIMIT_REACHED")]
        prepared = self.docs.get(query)
        if prepared.errors:
            message = "Invalid bulk query: " + "; ".join(str(e["message"]) for e in prepared.errors)
            return None, [_error(["query"], message, "INVALID")]
        bulk_ctx = RequestContext(
            shop, self._unbounded, ctx.bulk, ctx.base_url, ctx.api_version, listing=True
        )
        run: Execution[RequestContext] = Execution(prepared, {}, bulk_ctx)
        try:
            plan = Planner(self.schema, self.executor).plan(prepared, run)
        except PlanError as exc:
            return None, [_error(["query"], str(exc), "INVALID")]
        op = BulkOperationRecord(next_id(), "QUERY", query, iso(time.time()))
        shop.bulk_operations[op.id] = op
        ctx.bulk.counters.operations += 1
        grouped = group_objects or not self.settings.bulk_children_last
        thread = threading.Thread(
            target=self._run, args=(op, plan, run, grouped), name=f"shopify-export-{op.id}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return op, []

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def forget(self, ops: Sequence[BulkOperationRecord]) -> None:
        for op in ops:
            if op.result_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(op.result_path)

    # the export itself ------------------------------------------------------------------------------------

    def _run(
        self, op: BulkOperationRecord, plan: Plan, run: Execution[RequestContext], grouped: bool
    ) -> None:
        shop = run.context.shop
        if self.settings.bulk_start_delay_s:
            time.sleep(self.settings.bulk_start_delay_s)
        self.faults.gate.wait()
        fail = self.faults.take_fail_next()
        with shop.lock:
            if op.cancel_requested:
                self._finish(shop, op, "CANCELED", None, 0)
                return
            op.status = "RUNNING"
        path = os.path.join(self.directory, f"{shop.name}-{op.id}.jsonl")
        renderer = Renderer(self.schema, self.executor, self.type_name_of)
        writer = _Writer(path, None if grouped else path + ".children")
        status, error_code = "COMPLETED", None
        try:
            with shop.lock:
                records = self._roots(run.context, plan)
            for start in range(0, len(records), CHUNK):
                if op.cancel_requested:
                    status = "CANCELED"
                    break
                with shop.lock:
                    for record in records[start : start + CHUNK]:
                        if fail is not None and writer.lines >= fail.after_lines:
                            status, error_code = "FAILED", fail.error_code
                            break
                        self._emit(run, renderer, plan, record, None, writer)
                op.object_count = writer.lines
                op.root_object_count = writer.roots
                if status == "FAILED":
                    break
        finally:
            size = writer.close()
        with shop.lock:
            op.object_count, op.root_object_count = writer.lines, writer.roots
            op.result_path = path if writer.lines else None
            if not writer.lines:
                os.unlink(path)
            self._finish(shop, op, status, error_code, size)

    def _roots(self, ctx: RequestContext, plan: Plan) -> list[Any]:
        """The top-level records the query lists, filtered by its ``query:`` argument."""
        shop = ctx.shop
        warnings: list[Warning] = []
        args = plan.arguments
        test: Callable[[Any], bool] | None
        if plan.name == "customers":
            test = customer_matcher(ctx, args, None)
            items: list[Any] = list(shop.commerce.customers.values())
        elif plan.name == "orders":
            test = order_matcher(ctx, args, None)
            items = list(shop.commerce.orders.values())
        elif plan.name == "products":
            return shop.search_products(args.get("query"), warnings)
        elif plan.name == "productVariants":
            return shop.search_variants(args.get("query"), warnings, time.monotonic())
        else:
            return self._children(ctx, plan, None)
        return items if test is None else [r for r in items if test(r)]

    def _children(self, ctx: RequestContext, plan: Plan, parent: Any) -> list[Any]:
        owner = "QueryRoot" if parent is None else self.type_name_of(parent)
        resolver = self.executor.resolvers.get(owner, {}).get(plan.name)
        if resolver is None:
            raise FieldError(f"{owner}.{plan.name} is not implemented by the Shopify emulator")
        connection = resolver(parent, {**plan.arguments, "first": UNBOUNDED, "last": None}, ctx, None)
        return list(connection.nodes)

    def _emit(
        self,
        run: Execution[RequestContext],
        renderer: Renderer,
        plan: Plan,
        record: Any,
        parent_id: str | None,
        writer: _Writer,
    ) -> None:
        render = plan.render
        if render is None:
            render = plan.render = renderer.selection(run, plan.node_type, plan.selection)
        line = render(record)
        assert isinstance(line, dict)
        if parent_id is not None:
            line["__parentId"] = parent_id
        writer.write(orjson.dumps(line), child=parent_id is not None)
        if not plan.children:
            return
        own_id = self._gid(run, plan.node_type, record)
        for child in plan.children:
            try:
                items = self._children(run.context, child, record)
            except FieldError:
                continue
            for item in items:
                self._emit(run, renderer, child, item, own_id, writer)

    def _gid(self, run: Execution[RequestContext], type_: GraphQLObjectType, record: Any) -> str:
        if type(record) is dict:
            return str(record.get("id"))
        resolver = self.executor.resolvers.get(type_.name, {}).get("id")
        if resolver is not None:
            return str(resolver(record, {}, run.context, None))
        return gid(type_.name, record.id)

    def _finish(
        self, shop: ShopState, op: BulkOperationRecord, status: str, error_code: str | None, size: int
    ) -> None:
        op.file_size = size or None
        op.partial = status != "COMPLETED"
        op.error_code = error_code
        op.completed_at = iso(time.time())
        op.completed_monotonic = time.monotonic()
        op.status = status


class _Writer:
    """Lines to the result file; children to a second file appended at the end when not grouped."""

    def __init__(self, path: str, children_path: str | None) -> None:
        self.file: BinaryIO = open(path, "wb")  # noqa: SIM115  # closed by close()
        self.children_path = children_path
        self.children: BinaryIO | None = open(children_path, "wb") if children_path else None  # noqa: SIM115
        self.lines = 0
        self.roots = 0

    def write(self, line: bytes, *, child: bool) -> None:
        target = self.children if child and self.children is not None else self.file
        target.write(line)
        target.write(b"\n")
        self.lines += 1
        if not child:
            self.roots += 1

    def close(self) -> int:
        if self.children is not None and self.children_path is not None:
            self.children.close()
            with open(self.children_path, "rb") as children:
                shutil.copyfileobj(children, self.file)
            os.unlink(self.children_path)
        size = self.file.tell()
        self.file.close()
        return size


def _error(path: list[str] | None, message: str, code: str) -> dict[str, Json]:
    return {"field": path, "message": message, "code": code}

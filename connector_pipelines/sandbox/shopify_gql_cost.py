"""Query cost of the Shopify emulator's GraphQL, requested and actual, by Shopify's rules (contract §9)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import GraphQLNamedType, GraphQLSchema, get_named_type, is_leaf_type
from graphql.language import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from connector_pipelines.sandbox.shopify_gql import MISSING, Json, Prepared, is_connection, literal_value


def _free_object(type_name: str) -> bool:
    # Edges and page info are wrappers: only the nodes inside a connection cost a point each.
    return type_name == "PageInfo" or type_name.endswith("Edge")


class CostCalculator:
    """Shopify's cost rules (contract §9): leaves 0, objects 1, connections ``2 + n x node``, mutations 10.

    Requested cost takes ``n`` from ``first``/``last``; actual cost walks the response and counts what was
    returned. Fragments on abstract types are all counted (an upper bound, as Shopify does).
    """

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def cost(
        self,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Json],
        data: Mapping[str, Json] | None = None,
        *,
        actual: bool = False,
    ) -> int:
        mutation = operation.operation == OperationType.MUTATION
        root = self.schema.mutation_type if mutation else self.schema.query_type
        assert root is not None
        return round(
            self._selection(
                prepared, root, [operation.selection_set], variables, data, actual, mutation=mutation
            )
        )

    def _fields(
        self, prepared: Prepared, type_: GraphQLNamedType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, tuple[Any, list[FieldNode]]]:
        out: dict[str, tuple[Any, list[FieldNode]]] = {}
        seen: set[str] = set()
        stack: list[tuple[GraphQLNamedType, SelectionSetNode]] = [(type_, s) for s in selection_sets]
        while stack:
            owner, selection_set = stack.pop()
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    field_def = getattr(owner, "fields", {}).get(selection.name.value)
                    if field_def is not None:
                        key = (selection.alias or selection.name).value
                        out.setdefault(key, (field_def, []))[1].append(selection)
                    continue
                if isinstance(selection, InlineFragmentNode):
                    condition, inner = selection.type_condition, selection.selection_set
                else:
                    assert isinstance(selection, FragmentSpreadNode)
                    fragment = prepared.fragments.get(selection.name.value)
                    if fragment is None or fragment.name.value in seen:
                        continue
                    seen.add(fragment.name.value)
                    condition, inner = fragment.type_condition, fragment.selection_set
                # Fields inside a fragment on a concrete type are looked up on that type.
                target = self.schema.get_type(condition.name.value) if condition is not None else owner
                stack.append((target or owner, inner))
        return out

    def _selection(
        self,
        prepared: Prepared,
        type_: GraphQLNamedType,
        selection_sets: list[SelectionSetNode],
        variables: Mapping[str, Json],
        data: Mapping[str, Json] | None,
        actual: bool,
        *,
        mutation: bool = False,
    ) -> float:
        total = 0.0
        for key, (field_def, nodes) in self._fields(prepared, type_, selection_sets).items():
            named = get_named_type(field_def.type)
            if is_leaf_type(named):
                continue
            subs = [n.selection_set for n in nodes if n.selection_set is not None]
            value = data.get(key) if data is not None else None
            if actual and value is None:
                continue
            if mutation:
                total += 10 + self._selection(prepared, named, subs, variables, value, actual)
            elif is_connection(named):
                total += 2 + self._connection(prepared, named, subs, nodes[0], variables, value, actual)
            else:
                total += self._objects(prepared, named, subs, nodes[0], variables, value, actual)
        return total

    def _objects(
        self,
        prepared: Prepared,
        named: GraphQLNamedType,
        subs: list[SelectionSetNode],
        node: FieldNode,
        variables: Mapping[str, Json],
        value: Json,
        actual: bool,
    ) -> float:
        own = 0 if _free_object(named.name) else 1
        if actual:
            items = value if isinstance(value, list) else [value]
            costs = [own + self._selection(prepared, named, subs, variables, v, actual) for v in items if v]
            if not costs:
                return 0.0
            return sum(costs) if _has_ids(node) else max(costs)
        count = 1
        if _has_ids(node):
            ids = _argument(node, "ids", variables)
            count = len(ids) if isinstance(ids, list) else 1
        return count * (own + self._selection(prepared, named, subs, variables, None, actual))

    def _connection(
        self,
        prepared: Prepared,
        named: GraphQLNamedType,
        subs: list[SelectionSetNode],
        node: FieldNode,
        variables: Mapping[str, Json],
        value: Json,
        actual: bool,
    ) -> float:
        if actual:
            if not isinstance(value, dict):
                return 0.0
            items: list[dict[str, Json]] = []
            # Each returned node is counted once, from whichever of edges/nodes the query selected.
            per_key = {k: v for k, v in value.items() if isinstance(v, list)}
            if not per_key:
                return 0.0
            length = max(len(v) for v in per_key.values())
            for i in range(length):
                items.append({k: v[i] for k, v in per_key.items() if i < len(v)})
            return sum(self._selection(prepared, named, subs, variables, item, actual) for item in items)
        first = _argument(node, "first", variables)
        last = _argument(node, "last", variables)
        count = first if isinstance(first, int) else last if isinstance(last, int) else 0
        return count * self._selection(prepared, named, subs, variables, None, actual)


def _has_ids(node: FieldNode) -> bool:
    return any(a.name.value == "ids" for a in node.arguments)


def _argument(node: FieldNode, name: str, variables: Mapping[str, Json]) -> Json:
    for arg in node.arguments:
        if arg.name.value == name:
            value = literal_value(arg.value, variables)
            return None if value is MISSING else value
    return None

"""GraphQL for the Shopify emulator: prepared documents, Shopify-style input coercion and an executor.

graphql-core parses and validates each document once (cached by text). Execution is our own small executor
over the validated AST: it coerces inputs with compiled per-type coercers, resolves fields through a resolver
table and reports errors the way Shopify (graphql-ruby) does. graphql-core's own executor spends most of its
time re-coercing variables, which a 10,000-line bulk mutation cannot afford.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSyntaxError,
    GraphQLUnionType,
    Undefined,
    execute_sync,
    get_named_type,
    is_leaf_type,
    parse,
    specified_rules,
    type_from_ast,
    validate,
)
from graphql.language import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    print_ast,
)
from graphql.validation import ValidationRule

from connector_pipelines.sandbox.shopify_gql_errors import (
    ErrorDict,
    format_syntax_error,
    format_validation_error,
)
from connector_pipelines.sandbox.shopify_gql_scalars import INPUT_SCALARS, ScalarError, any_value, json_text
from connector_pipelines.schemas import is_one_of

C = TypeVar("C")
Json = Any  # decoded JSON


def _serialize_unsigned(value: Json) -> str:
    return str(value)


OUTPUT_SCALARS: dict[str, Callable[[Json], Json]] = {
    "String": str,
    "Int": int,
    "Float": float,
    "Boolean": bool,
    "ID": str,
    "UnsignedInt64": _serialize_unsigned,  # a string on the wire (contract §3)
    "Money": str,
    "Decimal": str,
}

# --- input coercion ----------------------------------------------------------------------------------------

Problem = dict[str, Any]  # {"path": [...], "explanation": "..."}
PathLink = tuple[Any, str | int] | None  # (parent link, key); materialised only when a problem is recorded
Coercer = Callable[[Json, PathLink, list[Problem]], Json]

MISSING: Any = object()


def _path_list(link: PathLink) -> list[str | int]:
    keys: list[str | int] = []
    while link is not None:
        link, key = link
        keys.append(key)
    keys.reverse()
    return keys


class InputCoercion:
    """Compiled coercers for input types, the graphql-ruby way (problems with paths and explanations)."""

    def __init__(self) -> None:
        self._cache: dict[str, Coercer] = {}
        self._lock = threading.RLock()  # compiling a type compiles the types it contains

    def coercer(self, type_: GraphQLInputType) -> Coercer:
        key = str(type_)
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                found = self._cache.get(key) or self._compile(type_)
                self._cache[key] = found
        return found

    def _compile(self, type_: GraphQLInputType) -> Coercer:
        if isinstance(type_, GraphQLNonNull):
            return self._non_null(type_.of_type)
        if isinstance(type_, GraphQLList):
            return self._list(type_.of_type)
        if isinstance(type_, GraphQLInputObjectType):
            return self._input_object(type_)
        if isinstance(type_, GraphQLEnumType):
            return self._enum(type_)
        if isinstance(type_, GraphQLScalarType):
            return self._scalar(type_)
        raise TypeError(f"not an input type: {type_}")

    def _non_null(self, inner_type: GraphQLInputType) -> Coercer:
        inner = self.coercer(inner_type)

        def coerce(value: Json, path: PathLink, problems: list[Problem]) -> Json:
            if value is None:
                problems.append({"path": _path_list(path), "explanation": "Expected value to not be null"})
                return None
            return inner(value, path, problems)

        return coerce

    def _list(self, item_type: GraphQLInputType) -> Coercer:
        item = self.coercer(item_type)

        def coerce(value: Json, path: PathLink, problems: list[Problem]) -> Json:
            if value is None:
                return None
            if not isinstance(value, list):
                return [item(value, path, problems)]  # a single value stands for a list of one
            return [item(v, (path, i), problems) for i, v in enumerate(value)]

        return coerce

    def _input_object(self, type_: GraphQLInputObjectType) -> Coercer:
        name = type_.name
        one_of = is_one_of(type_)
        fields: dict[str, Coercer] = {}
        required: list[str] = []
        defaults: dict[str, Json] = {}
        compiled = False

        def compile_fields() -> None:
            # Deferred: input types may refer to themselves.
            for field_name, field_def in type_.fields.items():
                fields[field_name] = self.coercer(field_def.type)
                if field_def.default_value is not Undefined:
                    defaults[field_name] = field_def.default_value
                elif isinstance(field_def.type, GraphQLNonNull):
                    required.append(field_name)

        def coerce(value: Json, path: PathLink, problems: list[Problem]) -> Json:
            nonlocal compiled
            if value is None:
                return None
            if not compiled:
                compile_fields()
                compiled = True
            if not isinstance(value, dict):
                problems.append(
                    {
                        "path": _path_list(path),
                        "explanation": f"Expected {json_text(value)} to be a key-value object.",
                    }
                )
                return None
            out: dict[str, Json] = {}
            for key, item in value.items():
                field_coercer = fields.get(key)
                if field_coercer is None:
                    problems.append(
                        {"path": _path_list((path, key)), "explanation": f"Field is not defined on {name}"}
                    )
                    continue
                out[key] = field_coercer(item, (path, key), problems)
            for key in required:
                if key not in value:
                    problems.append(
                        {"path": _path_list((path, key)), "explanation": "Expected value to not be null"}
                    )
            for key, default in defaults.items():
                if key not in value:
                    out[key] = default
            if one_of:
                given = [k for k, v in value.items() if v is not None]
                if len(value) != 1 or len(given) != 1:
                    problems.append(
                        {
                            "path": _path_list(path),
                            "explanation": f"`{name}` is a OneOf type, so only one argument may be given "
                            f"(instead of {len(given)})",
                        }
                    )
            return out

        return coerce

    def _enum(self, type_: GraphQLEnumType) -> Coercer:
        names = frozenset(type_.values)
        listing = ", ".join(type_.values)

        def coerce(value: Json, path: PathLink, problems: list[Problem]) -> Json:
            if value is None:
                return None
            if isinstance(value, str) and value in names:
                return value
            problems.append(
                {
                    "path": _path_list(path),
                    "explanation": f"Expected {json_text(value)} to be one of: {listing}",
                }
            )
            return None

        return coerce

    def _scalar(self, type_: GraphQLScalarType) -> Coercer:
        convert = INPUT_SCALARS.get(type_.name, any_value)
        name = type_.name

        def coerce(value: Json, path: PathLink, problems: list[Problem]) -> Json:
            if value is None:
                return None
            try:
                return convert(value)
            except ScalarError:
                problems.append(
                    {
                        "path": _path_list(path),
                        "explanation": f"Could not coerce value {json_text(value)} to {name}",
                    }
                )
                return None

        return coerce


def literal_value(node: ValueNode, variables: Mapping[str, Json]) -> Json:
    """A literal as plain JSON-like data; variables that were not given leave their key out (``MISSING``)."""
    if isinstance(node, VariableNode):
        return variables.get(node.name.value, MISSING)
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, ListValueNode):
        items = [literal_value(v, variables) for v in node.values]
        return [None if v is MISSING else v for v in items]
    if isinstance(node, ObjectValueNode):
        out = {f.name.value: literal_value(f.value, variables) for f in node.fields}
        return {k: v for k, v in out.items() if v is not MISSING}
    raise TypeError(f"unexpected value node {node.kind}")


# --- validation rules graphql-core 3.2 lacks --------------------------------------------------------------


class OneOfLiteralsRule(ValidationRule):
    """``@oneOf`` input objects written as literals carry exactly one non-null field."""

    def enter_object_value(self, node: ObjectValueNode, *_args: object) -> None:
        input_type = get_named_type(self.context.get_input_type())
        if not isinstance(input_type, GraphQLInputObjectType) or not is_one_of(input_type):
            return
        given = [f for f in node.fields if not isinstance(f.value, NullValueNode)]
        if len(node.fields) != 1 or len(given) != 1:
            self.report_error(
                GraphQLError(
                    f"`{input_type.name}` is a OneOf type, so only one argument may be given "
                    f"(instead of {len(given)})",
                    node,
                    extensions={"code": "invalidOneOfInputObject", "inputObjectType": input_type.name},
                )
            )


class StrictScalarLiteralsRule(ValidationRule):
    """Shopify's custom scalars (Money, DateTime, ...) reject bad literals; a client schema accepts any."""

    def _check(self, node: ValueNode) -> None:
        named = get_named_type(self.context.get_input_type())
        if not isinstance(named, GraphQLScalarType) or named.name not in INPUT_SCALARS:
            return
        if named.name in ("String", "Int", "Float", "Boolean", "ID"):
            return  # graphql-core checks these itself
        try:
            INPUT_SCALARS[named.name](literal_value(node, {}))
        except ScalarError:
            self.report_error(
                GraphQLError(
                    f"Expected value of type '{named.name}', found {json_text(literal_value(node, {}))}.",
                    node,
                )
            )

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        self._check(node)

    def enter_int_value(self, node: IntValueNode, *_args: object) -> None:
        self._check(node)

    def enter_float_value(self, node: FloatValueNode, *_args: object) -> None:
        self._check(node)

    def enter_boolean_value(self, node: BooleanValueNode, *_args: object) -> None:
        self._check(node)


_RULES = [*specified_rules, OneOfLiteralsRule, StrictScalarLiteralsRule]


# --- prepared documents -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Prepared:
    """A parsed and validated document (or its errors), reused for every request with the same text."""

    text: str
    document: DocumentNode | None
    errors: list[ErrorDict]
    operations: dict[str | None, OperationDefinitionNode] = field(default_factory=dict)
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    variable_directives: bool = False
    fields_cache: dict[tuple[int, str], dict[str, list[FieldNode]]] = field(default_factory=dict)
    literal_args: dict[int, dict[str, Json]] = field(default_factory=dict)

    def operation(self, name: str | None) -> OperationDefinitionNode | ErrorDict:
        if name:
            found = self.operations.get(name)
            return found if found is not None else {"message": f'No operation named "{name}"'}
        if len(self.operations) == 1:
            return next(iter(self.operations.values()))
        return {"message": "An operation name is required"}


class DocumentCache:
    """Parse + validate once per distinct text (LRU); safe to share between the server and bulk threads."""

    def __init__(self, schema: GraphQLSchema, style: str, size: int = 512) -> None:
        self.schema = schema
        self.style = style
        self.size = size
        self._items: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Prepared:
        with self._lock:
            found = self._items.get(text)
            if found is not None:
                self._items.move_to_end(text)
                return found
        prepared = self._prepare(text)
        with self._lock:
            self._items[text] = prepared
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return prepared

    def _prepare(self, text: str) -> Prepared:
        try:
            document = parse(text)
        except GraphQLSyntaxError as exc:
            return Prepared(text, None, [format_syntax_error(exc, text, self.style)])
        errors = validate(self.schema, document, _RULES)
        if errors:
            return Prepared(
                text,
                document,
                [format_validation_error(e, self.schema, document, self.style) for e in errors],
            )
        prepared = Prepared(text, document, [])
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                prepared.operations[definition.name.value if definition.name else None] = definition
            elif isinstance(definition, FragmentDefinitionNode):
                prepared.fragments[definition.name.value] = definition
        prepared.variable_directives = "$" in text and ("@skip" in text or "@include" in text)
        return prepared


# --- variables --------------------------------------------------------------------------------------------


def _type_signature(node: VariableDefinitionNode) -> str:
    return print_ast(node.type)


def coerce_variables(
    schema: GraphQLSchema,
    coercion: InputCoercion,
    operation: OperationDefinitionNode,
    raw: Mapping[str, Json],
) -> tuple[dict[str, Json], list[ErrorDict]]:
    """Coerce request variables; errors are graphql-ruby's ``VariableValidationError`` documents."""
    values: dict[str, Json] = {}
    errors: list[ErrorDict] = []
    for definition in operation.variable_definitions:
        name = definition.variable.name.value
        var_type = type_from_ast(schema, definition.type)
        problems: list[Problem] = []
        coerce = coercion.coercer(var_type)  # type: ignore[arg-type]  # validated: an input type
        if name in raw:
            value = raw[name]
            coerced = coerce(value, None, problems)
        elif definition.default_value is not None:
            value = literal_value(definition.default_value, {})
            coerced = coerce(value, None, problems)
        elif isinstance(var_type, GraphQLNonNull):
            value = None
            coerced = coerce(None, None, problems)
        else:
            continue
        if problems:
            fields = [
                f"{'.'.join(str(k) for k in p['path'])} ({p['explanation']})" for p in problems if p["path"]
            ]
            message = f"Variable ${name} of type {_type_signature(definition)} was provided invalid value"
            if fields:
                message += " for " + ", ".join(fields)
            loc = definition.loc
            error: ErrorDict = {"message": message, "extensions": {"value": value, "problems": problems}}
            if loc is not None and loc.source is not None:
                position = loc.source.get_location(loc.start)
                error["locations"] = [{"line": position.line, "column": position.column}]
            errors.append(error)
        else:
            values[name] = coerced
    return values, errors


# --- execution --------------------------------------------------------------------------------------------


class FieldError(Exception):
    """Raised by a resolver: the field becomes null and an error with this message is reported."""

    def __init__(self, message: str, extensions: dict[str, Json] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class _Bubble(Exception):
    """A null reached a non-null position: propagate to the nearest nullable parent."""


Resolver = Callable[[Any, dict[str, Json], C, PathLink], Any]
TypeNamer = Callable[[object], str]


@dataclass
class Execution(Generic[C]):
    prepared: Prepared
    variables: dict[str, Json]
    context: C
    errors: list[ErrorDict] = field(default_factory=list)


class Executor(Generic[C]):
    """Executes validated operations over Python objects through a (type, field) -> resolver table.

    Fields without a resolver read the attribute of the same name in snake_case, for leaf types only: object
    fields always need a resolver, so an internal list is never served where a connection is expected.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        coercion: InputCoercion,
        resolvers: Mapping[str, Mapping[str, Resolver[C]]],
        type_name_of: TypeNamer,
    ) -> None:
        self.schema = schema
        self.coercion = coercion
        self.resolvers = resolvers
        self.type_name_of = type_name_of
        self._snake: dict[str, str] = {}

    def execute(
        self, prepared: Prepared, operation: OperationDefinitionNode, variables: dict[str, Json], context: C
    ) -> tuple[dict[str, Json] | None, list[ErrorDict]]:
        run = Execution(prepared, variables, context)
        if operation.operation == OperationType.MUTATION:
            root = self.schema.mutation_type
        else:
            root = self.schema.query_type
        assert root is not None
        fields = self._collect(run, root, operation.selection_set)
        data: dict[str, Json] | None
        try:
            data = self._object_fields(run, root, None, fields, None)
        except _Bubble:
            data = None
        intro = [k for k, nodes in fields.items() if nodes[0].name.value in ("__schema", "__type")]
        if intro and data is not None:
            data.update(self._introspect(prepared, operation, variables, intro, fields))
        return data, run.errors

    def _introspect(
        self,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        variables: dict[str, Json],
        keys: list[str],
        fields: dict[str, list[FieldNode]],
    ) -> dict[str, Json]:
        # Introspection is graphql-core's job: run just those root fields through its executor.
        selections = tuple(node for key in keys for node in fields[key])
        op = OperationDefinitionNode(
            operation=OperationType.QUERY,
            selection_set=SelectionSetNode(selections=selections),
            variable_definitions=operation.variable_definitions,
            directives=(),
        )
        document = DocumentNode(definitions=(op, *prepared.fragments.values()))
        result = execute_sync(self.schema, document, variable_values=variables)
        return dict(result.data or {})

    # selection sets -------------------------------------------------------------------------------------

    def collect(
        self, run: Execution[C], type_: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> dict[str, list[FieldNode]]:
        """The fields ``selection_set`` selects on ``type_`` by response key (fragments applied)."""
        return self._collect(run, type_, selection_set)

    def _collect(
        self, run: Execution[C], type_: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> dict[str, list[FieldNode]]:
        prepared = run.prepared
        cache_key = (id(selection_set), type_.name)
        if not prepared.variable_directives:
            cached = prepared.fields_cache.get(cache_key)
            if cached is not None:
                return cached
        fields: dict[str, list[FieldNode]] = {}
        self._collect_into(run, type_, selection_set, fields, set())
        if not prepared.variable_directives:
            prepared.fields_cache[cache_key] = fields
        return fields

    def _collect_into(
        self,
        run: Execution[C],
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if selection.directives and not self._included(run, selection.directives):
                continue
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, type_):
                    self._collect_into(run, type_, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = run.prepared.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition.name.value, type_):
                    self._collect_into(run, type_, fragment.selection_set, fields, visited)

    def _included(self, run: Execution[C], directives: Iterable[DirectiveNode]) -> bool:
        for directive in directives:
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            value = False
            for arg in directive.arguments:
                if arg.name.value == "if":
                    value = bool(literal_value(arg.value, run.variables))
            if (name == "skip" and value) or (name == "include" and not value):
                return False
        return True

    def _applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        if condition == type_.name:
            return True
        abstract = self.schema.get_type(condition)
        if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.is_sub_type(abstract, type_)
        return False

    # fields ----------------------------------------------------------------------------------------------

    def arguments(
        self, run: Execution[C], field_def_args: Mapping[str, Any], node: FieldNode
    ) -> dict[str, Json]:
        cached = run.prepared.literal_args.get(id(node))
        if cached is not None:
            return cached
        args: dict[str, Json] = {}
        given = {a.name.value: a.value for a in node.arguments}
        uses_variables = False
        for name, arg_def in field_def_args.items():
            value_node = given.get(name)
            if value_node is None:
                if arg_def.default_value is not Undefined:
                    args[name] = arg_def.default_value
                continue
            if isinstance(value_node, VariableNode):
                uses_variables = True
                var = value_node.name.value
                if var in run.variables:
                    args[name] = run.variables[var]
                elif arg_def.default_value is not Undefined:
                    args[name] = arg_def.default_value
                continue
            raw = literal_value(value_node, run.variables)
            uses_variables = uses_variables or _has_variable(value_node)
            problems: list[Problem] = []
            args[name] = self.coercion.coercer(arg_def.type)(raw, None, problems)
        if not uses_variables:
            run.prepared.literal_args[id(node)] = args
        return args

    def _object_fields(
        self,
        run: Execution[C],
        type_: GraphQLObjectType,
        source: Any,
        fields: dict[str, list[FieldNode]],
        path: PathLink,
    ) -> dict[str, Json]:
        result: dict[str, Json] = {}
        # A dict is data already shaped like the type: its keys answer, not the type's resolvers.
        type_resolvers = {} if isinstance(source, dict) else self.resolvers.get(type_.name, {})
        type_fields = type_.fields
        for key, nodes in fields.items():
            node = nodes[0]
            name = node.name.value
            if name == "__typename":
                result[key] = type_.name
                continue
            if name in ("__schema", "__type"):
                continue
            field_def = type_fields[name]
            field_path = (path, key)
            try:
                args = self.arguments(run, field_def.args, node) if field_def.args else {}
                resolver = type_resolvers.get(name)
                if resolver is not None:
                    value = resolver(source, args, run.context, field_path)
                else:
                    value = self._default(type_, name, field_def.type, source)
            except FieldError as exc:
                self._error(run, exc.message, nodes, field_path, exc.extensions)
                if isinstance(field_def.type, GraphQLNonNull):
                    raise _Bubble from None
                result[key] = None
                continue
            try:
                result[key] = self._complete(run, field_def.type, nodes, value, field_path, type_.name, name)
            except _Bubble:
                if isinstance(field_def.type, GraphQLNonNull):
                    raise
                result[key] = None
        return result

    def _default(
        self, type_: GraphQLObjectType, name: str, field_type: GraphQLOutputType, source: Any
    ) -> Any:
        snake = self._snake.get(name)
        if snake is None:
            snake = self._snake[name] = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        if isinstance(source, dict) and (name in source or not isinstance(field_type, GraphQLNonNull)):
            return source.get(name)
        if source is None or isinstance(source, dict):  # a root field without a resolver, or a missing key
            raise FieldError(
                f"{type_.name}.{name} is not implemented by the Shopify emulator", {"code": "NOT_IMPLEMENTED"}
            )
        value = getattr(source, snake, MISSING) if is_leaf_type(get_named_type(field_type)) else MISSING
        if value is MISSING:
            if isinstance(field_type, GraphQLNonNull):
                raise FieldError(
                    f"{type_.name}.{name} is not implemented by the Shopify emulator",
                    {"code": "NOT_IMPLEMENTED"},
                )
            return None
        return value

    def _error(
        self,
        run: Execution[C],
        message: str,
        nodes: list[FieldNode],
        path: PathLink,
        extensions: dict[str, Json] | None = None,
    ) -> None:
        error: ErrorDict = {"message": message}
        loc = nodes[0].loc
        if loc is not None and loc.source is not None:
            position = loc.source.get_location(loc.start)
            error["locations"] = [{"line": position.line, "column": position.column}]
        error["path"] = _path_list(path)
        if extensions:
            error["extensions"] = extensions
        run.errors.append(error)

    def _complete(
        self,
        run: Execution[C],
        type_: GraphQLOutputType,
        nodes: list[FieldNode],
        value: Any,
        path: PathLink,
        parent_name: str,
        field_name: str,
    ) -> Json:
        if isinstance(type_, GraphQLNonNull):
            completed = self._complete(run, type_.of_type, nodes, value, path, parent_name, field_name)
            if completed is None:
                self._error(
                    run, f"Cannot return null for non-nullable field {parent_name}.{field_name}", nodes, path
                )
                raise _Bubble
            return completed
        if value is None:
            return None
        if isinstance(type_, GraphQLList):
            item_type = type_.of_type
            return [
                self._complete(run, item_type, nodes, item, (path, i), parent_name, field_name)
                for i, item in enumerate(value)
            ]
        if isinstance(type_, GraphQLScalarType):
            serialize = OUTPUT_SCALARS.get(type_.name)
            return serialize(value) if serialize is not None else value
        if isinstance(type_, GraphQLEnumType):
            return value
        if isinstance(type_, GraphQLObjectType):
            object_type = type_
        else:
            resolved = self.schema.get_type(self.type_name_of(value))
            assert isinstance(resolved, GraphQLObjectType)
            object_type = resolved
        if len(nodes) == 1:
            selection = nodes[0].selection_set
            assert selection is not None
            fields = self._collect(run, object_type, selection)
        else:
            fields = {}
            for node in nodes:
                if node.selection_set is not None:
                    for key, more in self._collect(run, object_type, node.selection_set).items():
                        fields.setdefault(key, []).extend(more)
        return self._object_fields(run, object_type, value, fields, path)


def is_connection(type_: GraphQLNamedType) -> bool:
    return (
        type_.name.endswith("Connection")
        and isinstance(type_, GraphQLObjectType)
        and "pageInfo" in type_.fields
    )


def _has_variable(node: ValueNode) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(_has_variable(v) for v in node.values)
    if isinstance(node, ObjectValueNode):
        return any(_has_variable(f.value) for f in node.fields)
    return False

"""Shopify's GraphQL error shapes: graphql-core's parse and validation errors rewritten the graphql-ruby way.

Shopify runs graphql-ruby, so a bad document is answered with ruby's wording, a ``path`` that starts with
the operation (``["query Foo", "product", "nonExistingField"]``) and ``extensions.code`` (``undefinedField``).
The wording is UNVERIFIED (contract §3, §14); ``error_style="graphql-core"`` keeps graphql-core's messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSchema, GraphQLSyntaxError, Source, get_named_type
from graphql.language import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    Lexer,
    Node,
    ObjectFieldNode,
    OperationDefinitionNode,
    TokenKind,
    Visitor,
    print_ast,
    visit,
)
from graphql.utilities import TypeInfo, TypeInfoVisitor

ErrorDict = dict[str, Any]

_RUBY_TOKENS = {
    TokenKind.BRACE_L: "LCURLY",
    TokenKind.BRACE_R: "RCURLY",
    TokenKind.PAREN_L: "LPAREN",
    TokenKind.PAREN_R: "RPAREN",
    TokenKind.BRACKET_L: "LBRACKET",
    TokenKind.BRACKET_R: "RBRACKET",
    TokenKind.COLON: "COLON",
    TokenKind.EQUALS: "EQUALS",
    TokenKind.AT: "DIR_SIGN",
    TokenKind.DOLLAR: "VAR_SIGN",
    TokenKind.BANG: "BANG",
    TokenKind.PIPE: "PIPE",
    TokenKind.AMP: "AMP",
    TokenKind.SPREAD: "ELLIPSIS",
    TokenKind.INT: "INT",
    TokenKind.FLOAT: "FLOAT",
    TokenKind.STRING: "STRING",
    TokenKind.BLOCK_STRING: "STRING",
}
_RUBY_KEYWORDS = frozenset(
    {
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "true",
        "false",
        "null",
        "schema",
        "type",
        "input",
    }
)


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or ()]


def format_syntax_error(error: GraphQLSyntaxError, query: str, style: str) -> ErrorDict:
    locations = _locations(error)
    if style != "shopify":
        return {"message": error.message, "locations": locations}
    position = next(iter(error.positions or ()), len(query))
    loc = locations[0] if locations else {"line": 1, "column": 1}
    token = _token_at(query, position)
    if token is None:
        message = "Unexpected end of document"
    else:
        kind, value = token
        message = (
            f"Parse error on {orjson.dumps(value).decode()} ({kind}) at [{loc['line']}, {loc['column']}]"
        )
    return {"message": message, "locations": locations}


def _token_at(query: str, position: int) -> tuple[str, str] | None:
    """The offending token as graphql-ruby names it, or None at the end of the document."""
    lexer = Lexer(Source(query))
    try:
        token = lexer.advance()
        while token.kind != TokenKind.EOF and token.end <= position:
            token = lexer.advance()
    except GraphQLSyntaxError:
        return ("UNKNOWN_CHAR", query[position : position + 1])
    if token.kind == TokenKind.EOF:
        return None
    text = query[token.start : token.end]
    if token.kind == TokenKind.NAME:
        return (text.upper() if text in _RUBY_KEYWORDS else "IDENTIFIER", text)
    return (_RUBY_TOKENS.get(token.kind, token.kind.name), text)


@dataclass
class _Where:
    """Where an error node sits: its ancestors and, for values, the input types around it."""

    chain: list[Node]
    input_type: str | None = None
    parent_input_type: str | None = None


class _Finder(Visitor):
    """Finds the ancestors of one node (by identity) and the input types TypeInfo knows there."""

    def __init__(self, target: Node, type_info: TypeInfo) -> None:
        super().__init__()
        self.target = target
        self.type_info = type_info
        self.found: _Where | None = None

    def enter(
        self, node: Node, key: object, parent: object, path: object, ancestors: Sequence[Any]
    ) -> object:
        if self.found is not None:
            return self.BREAK
        if node is self.target:
            input_type = self.type_info.get_input_type()
            parent_type = self.type_info.get_parent_input_type()
            # ``ancestors`` stops above the parent; the parent may be a node or a list of nodes.
            chain = [a for a in (*ancestors, parent) if isinstance(a, Node)]
            self.found = _Where(
                [*chain, node],
                str(input_type) if input_type else None,
                str(get_named_type(parent_type)) if parent_type else None,
            )
            return self.BREAK
        return None


def _where(schema: GraphQLSchema, document: DocumentNode, node: Node | None) -> _Where:
    if node is None:
        return _Where([])
    type_info = TypeInfo(schema)
    finder = _Finder(node, type_info)
    visit(document, TypeInfoVisitor(type_info, finder))
    return finder.found or _Where([node])


def _operation_label(node: OperationDefinitionNode) -> str:
    op = node.operation.value
    return f"{op} {node.name.value}" if node.name else op


def _ruby_path(chain: Sequence[Node]) -> list[str]:
    path: list[str] = []
    for node in chain:
        if isinstance(node, OperationDefinitionNode):
            path.append(_operation_label(node))
        elif isinstance(node, FragmentDefinitionNode):
            path.append(f"fragment {node.name.value}")
        elif isinstance(node, FieldNode):
            path.append((node.alias or node.name).value)
        elif isinstance(node, InlineFragmentNode):
            path.append(f"... on {node.type_condition.name.value}" if node.type_condition else "...")
        elif isinstance(node, FragmentSpreadNode):
            path.append(f"... {node.name.value}")
        elif isinstance(node, ArgumentNode | ObjectFieldNode):
            path.append(node.name.value)
    return path


def _operation_name(chain: Sequence[Node]) -> str:
    for node in chain:
        if isinstance(node, OperationDefinitionNode):
            return node.name.value if node.name else f"anonymous {node.operation.value}"
        if isinstance(node, FragmentDefinitionNode):
            return node.name.value
    return "anonymous query"


def _enclosing(chain: Sequence[Node], kinds: tuple[type[Node], ...]) -> Node | None:
    for node in reversed(chain[:-1]):
        if isinstance(node, kinds):
            return node
    return None


_Rewrite = Callable[[re.Match[str], _Where], tuple[str, dict[str, Any]]]


def _undefined_field(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    field, type_name = m.group(1), m.group(2)
    return f"Field '{field}' doesn't exist on type '{type_name}'", {
        "code": "undefinedField",
        "typeName": type_name,
        "fieldName": field,
    }


def _unknown_argument(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    arg, owner_kind, owner = m.group(1), m.group(2), m.group(3)
    name = owner.split(".")[-1].lstrip("@")
    kind = "Directive" if owner_kind == "directive" else "Field"
    return f"{kind} '{name}' doesn't accept argument '{arg}'", {
        "code": "argumentNotAccepted",
        "name": name,
        "typeName": kind,
        "argumentName": arg,
    }


def _missing_argument(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    kind = "Directive" if m.group(1) == "Directive" else "Field"
    name, arg = m.group(2).lstrip("@"), m.group(3)
    return f"{kind} '{name}' is missing required arguments: {arg}", {
        "code": "missingRequiredArguments",
        "className": kind,
        "name": name,
        "arguments": arg,
    }


def _no_selection(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    field, type_name = m.group(1), m.group(2).rstrip("!]").lstrip("[")
    message = (
        f"Field must have selections (field '{field}' returns {type_name} but has no selections. "
        f"Did you mean '{field} {{ ... }}'?)"
    )
    return message, {"code": "selectionMismatch", "nodeName": f"field '{field}'", "typeName": type_name}


def _scalar_selection(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    field, type_name = m.group(1), m.group(2).rstrip("!]").lstrip("[")
    node = at.chain[-1] if at.chain else None
    selections: list[str] = []
    if isinstance(node, FieldNode) and node.selection_set:
        selections = [s.name.value for s in node.selection_set.selections if isinstance(s, FieldNode)]
    message = (
        f"Selections can't be made on scalars (field '{field}' returns {type_name} "
        f"but has selections [{', '.join(selections)}])"
    )
    return message, {"code": "selectionMismatch", "nodeName": f"field '{field}'", "typeName": type_name}


def _unknown_type(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    type_name = m.group(1)
    if any(isinstance(n, InlineFragmentNode | FragmentDefinitionNode) for n in at.chain[-2:]):
        return f"No such type {type_name}, so it can't be a fragment condition", {
            "code": "undefinedType",
            "typeName": type_name,
        }
    return f"{type_name} isn't a defined input type", {
        "code": "variableRequiresValidType",
        "typeName": type_name,
    }


def _undefined_variable(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    name = m.group(1)
    return f"Variable ${name} is used by {_operation_name(at.chain)} but not declared", {
        "code": "variableNotDefined",
        "variableName": name,
    }


def _unused_variable(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    name = m.group(1)
    return f"Variable ${name} is declared by {_operation_name(at.chain)} but not used", {
        "code": "variableNotUsed",
        "variableName": name,
    }


def _variable_position(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    name, var_type, expected = m.group(1), m.group(2), m.group(3)
    owner = _enclosing(at.chain, (ArgumentNode, ObjectFieldNode))
    arg = owner.name.value if isinstance(owner, ArgumentNode | ObjectFieldNode) else name
    kind = "Nullability" if var_type.rstrip("!") == expected.rstrip("!") else "Type"
    return f"{kind} mismatch on variable ${name} and argument {arg} ({var_type} / {expected})", {
        "code": "variableMismatch",
        "variableName": name,
        "typeName": var_type,
        "argumentName": arg,
    }


def _non_input_variable(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    name, type_name = m.group(1), m.group(2)
    return f"{type_name} isn't a valid input type (on ${name})", {
        "code": "variableRequiresValidType",
        "typeName": type_name,
        "variableName": name,
    }


def _invalid_literal(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    owner = _enclosing(at.chain, (ArgumentNode, ObjectFieldNode))
    printed = print_ast(at.chain[-1]) if at.chain else "?"
    expected = at.input_type or "?"
    if isinstance(owner, ObjectFieldNode):
        name = owner.name.value
        return (
            f"Argument '{name}' on InputObject '{at.parent_input_type}' has an invalid value ({printed}). "
            f"Expected type '{expected}'.",
            {"code": "argumentLiteralsIncompatible", "typeName": "InputObject", "argumentName": name},
        )
    field = _enclosing(at.chain, (FieldNode,))
    arg = owner.name.value if isinstance(owner, ArgumentNode) else "?"
    field_name = field.name.value if isinstance(field, FieldNode) else "?"
    return (
        f"Argument '{arg}' on Field '{field_name}' has an invalid value ({printed}). "
        f"Expected type '{expected}'.",
        {"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": arg},
    )


def _unknown_input_field(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    field, type_name = m.group(1), m.group(2)
    return f"InputObject '{type_name}' doesn't accept argument '{field}'", {
        "code": "argumentNotAccepted",
        "name": type_name,
        "typeName": "InputObject",
        "argumentName": field,
    }


def _missing_input_field(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    type_name, field = m.group(1), m.group(2)
    return f"Argument '{field}' on InputObject '{type_name}' is required. Expected type {m.group(3)}", {
        "code": "missingRequiredInputObjectAttribute",
        "argumentName": field,
        "argumentType": m.group(3),
        "inputObjectType": type_name,
    }


def _fragment_condition(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    type_name = m.group(1)
    return f"Invalid fragment on type {type_name} (must be Union, Interface or Object)", {
        "code": "fragmentOnNonCompositeType",
        "typeName": type_name,
    }


def _fragment_spread(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    parent, frag = m.group(1), m.group(2)
    return f"Fragment on {frag} can't be spread inside {parent}", {
        "code": "cannotSpreadFragment",
        "typeName": frag,
        "parentName": parent,
    }


def _unknown_fragment(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f"Fragment {m.group(1)} was used, but not defined", {
        "code": "useAndDefineFragment",
        "fragmentName": m.group(1),
    }


def _unused_fragment(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f"Fragment {m.group(1)} was defined, but not used", {
        "code": "useAndDefineFragment",
        "fragmentName": m.group(1),
    }


def _unknown_directive(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f"Directive @{m.group(1)} is not defined", {
        "code": "undefinedDirective",
        "directiveName": m.group(1),
    }


def _conflict(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f"Field '{m.group(1)}' has a field conflict: {m.group(2)}", {
        "code": "fieldConflict",
        "fieldName": m.group(1),
        "conflicts": m.group(2),
    }


def _duplicate_operation(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f'Operation name "{m.group(1)}" must be unique', {
        "code": "uniquelyNamedOperations",
        "operationName": m.group(1),
    }


def _anonymous_operation(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return "Operation name is required when multiple operations are present", {
        "code": "uniquelyNamedOperations"
    }


def _duplicate_variable(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f'There can only be one variable named "{m.group(1)}"', {
        "code": "variableNotUnique",
        "variableName": m.group(1),
    }


def _duplicate_argument(m: re.Match[str], at: _Where) -> tuple[str, dict[str, Any]]:
    return f'There can be only one argument named "{m.group(1)}"', {
        "code": "argumentNotUnique",
        "name": m.group(1),
    }


_REWRITES: list[tuple[re.Pattern[str], _Rewrite]] = [
    (re.compile(r"^Cannot query field '(\w+)' on type '(\w+)'\."), _undefined_field),
    (re.compile(r"^Unknown argument '(\w+)' on (field|directive) '([\w.@]+)'\."), _unknown_argument),
    (
        re.compile(r"^(Field|Directive) '([\w@]+)' argument '(\w+)' of type '[^']+' is required"),
        _missing_argument,
    ),
    (re.compile(r"^Field '(\w+)' of type '([^']+)' must have a selection of subfields"), _no_selection),
    (re.compile(r"^Field '(\w+)' must not have a selection since type '([^']+)'"), _scalar_selection),
    (re.compile(r"^Unknown type '(\w+)'\."), _unknown_type),
    (re.compile(r"^Variable '\$(\w+)' is not defined"), _undefined_variable),
    (re.compile(r"^Variable '\$(\w+)' is never used"), _unused_variable),
    (
        re.compile(r"^Variable '\$(\w+)' of type '([^']+)' used in position expecting type '([^']+)'\."),
        _variable_position,
    ),
    (re.compile(r"^Variable '\$(\w+)' cannot be non-input type '([^']+)'\."), _non_input_variable),
    (re.compile(r"^Field '(\w+)' is not defined by type '(\w+)'\."), _unknown_input_field),
    (
        re.compile(r"^Field '(\w+)\.(\w+)' of required type '([^']+)' was not provided\."),
        _missing_input_field,
    ),
    (re.compile(r"^Expected value of type '([^']+)', found "), _invalid_literal),
    (re.compile(r"^\w+ cannot represent "), _invalid_literal),
    (re.compile(r"^Value '[^']*' does not exist in '\w+' enum\."), _invalid_literal),
    (
        re.compile(r"^Fragment (?:'\w+' )?cannot condition on non composite type '(\w+)'\."),
        _fragment_condition,
    ),
    (
        re.compile(
            r"^Fragment (?:'\w+' )?cannot be spread here as objects of type '(\w+)' "
            r"can never be of type '(\w+)'"
        ),
        _fragment_spread,
    ),
    (re.compile(r"^Unknown fragment '(\w+)'\."), _unknown_fragment),
    (re.compile(r"^Fragment '(\w+)' is never used\."), _unused_fragment),
    (re.compile(r"^Unknown directive '@(\w+)'\."), _unknown_directive),
    (re.compile(r"^Fields '(\w+)' conflict because (.*?)\. Use different aliases"), _conflict),
    (re.compile(r"^There can be only one operation named '(\w+)'\."), _duplicate_operation),
    (re.compile(r"^This anonymous operation must be the only defined operation\."), _anonymous_operation),
    (re.compile(r"^There can be only one variable named '\$(\w+)'\."), _duplicate_variable),
    (re.compile(r"^There can be only one argument named '(\w+)'\."), _duplicate_argument),
]


def format_validation_error(
    error: GraphQLError, schema: GraphQLSchema, document: DocumentNode, style: str
) -> ErrorDict:
    """One graphql-core validation error as Shopify renders it."""
    result: ErrorDict = {"message": error.message, "locations": _locations(error)}
    if style != "shopify":
        return result
    at = _where(schema, document, error.nodes[0] if error.nodes else None)
    result["path"] = _ruby_path(at.chain)
    preset = error.extensions or {}
    if "code" in preset:
        result["extensions"] = dict(preset)
        return result
    for pattern, rewrite in _REWRITES:
        match = pattern.match(error.message)
        if match:
            message, extensions = rewrite(match, at)
            result["message"] = message
            result["extensions"] = extensions
            return result
    result["extensions"] = {"code": "validationError"}
    return result

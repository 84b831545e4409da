"""Vendored API schemas.

``shopify-admin-2026-07.json.gz`` is Shopify's own Admin GraphQL introspection result (ISC licence, see
``README.md`` in this folder). Both the Shopify emulator and the Shopify client validate documents against it.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

import orjson
from graphql import GraphQLInputObjectType, GraphQLSchema, build_client_schema

SHOPIFY_ADMIN_VERSION = "2026-07"
_SHOPIFY_FILE = "shopify-admin-2026-07.json.gz"
_ONE_OF = "isOneOf"


def load_shopify_schema() -> GraphQLSchema:
    """Build a fresh schema object from the vendored file (about half a second).

    ``assume_valid=True`` is required: Shopify's schema deprecates implementations of non-deprecated interface
    fields, which graphql-core's schema check rejects on first use. graphql-core 3.2 also drops the
    introspection flag ``isOneOf``; it is copied into each input type's ``extensions`` (:func:`is_one_of`).
    """
    with resources.files(__package__).joinpath(_SHOPIFY_FILE).open("rb") as fh:
        data = orjson.loads(gzip.decompress(fh.read()))["data"]
    one_of = {t["name"] for t in data["__schema"]["types"] if t.get(_ONE_OF)}
    schema = build_client_schema(data, assume_valid=True)
    for name in one_of:
        input_type = schema.get_type(name)
        if isinstance(input_type, GraphQLInputObjectType):
            input_type.extensions = {**(input_type.extensions or {}), _ONE_OF: True}
    return schema


@functools.cache
def shopify_schema() -> GraphQLSchema:
    """The Shopify Admin 2026-07 schema, built once per process. Treat it as read-only."""
    return load_shopify_schema()


def is_one_of(input_type: GraphQLInputObjectType) -> bool:
    """Whether the input type is ``@oneOf`` (exactly one field, not null)."""
    return bool((input_type.extensions or {}).get(_ONE_OF))

"""Content hashes over the canonical form: equal content, equal hash, whatever the field order."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import BaseModel


def canonical_json(value: BaseModel | Any) -> bytes:
    doc = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def content_hash(value: BaseModel | Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()

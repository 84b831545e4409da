"""Checking a values file against a Helm chart's ``values.schema.json`` the way Helm does, offline.

Helm validates the chart's defaults with the given values merged over them (mappings merge key by key; lists
and scalars replace). Without the chart's defaults at hand, a ``required`` key of a mapping that the values
file reaches only through mappings is one the defaults provide, so such errors are left out; inside a list
item (which replaces the default's whole list) every ``required`` counts. Every other keyword counts
everywhere: types, enums, ``additionalProperties: false``, the conditionals on ``type``.

The Dagster chart's schema delegates Kubernetes objects (resources, probes, env vars, volumes) to external
``$ref``s of Kubernetes' own JSON schema, which cannot be fetched here: those refs are dropped, and the
chart's own constraints beside them (``type: object``, ``additionalProperties``) still apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict

JSON = dict[str, Any] | list[Any] | str | int | float | bool | None


class SchemaProblem(BaseModel):
    """One way the values break the schema, where (a path of keys and list indexes) and why."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str


def external_refs(node: JSON) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ref
        for value in node.values():
            yield from external_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from external_refs(value)


def without_external_refs(node: JSON) -> JSON:
    if isinstance(node, dict):
        return {
            k: without_external_refs(v)
            for k, v in node.items()
            if not (k == "$ref" and isinstance(v, str) and not v.startswith("#"))
        }
    if isinstance(node, list):
        return [without_external_refs(v) for v in node]
    return node


def _path(error: ValidationError) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "."


def _filled_by_defaults(error: ValidationError) -> bool:
    """A missing key of a mapping reached through mappings only: the chart's defaults merge it in."""
    return error.validator == "required" and not any(isinstance(p, int) for p in error.absolute_path)


def _counts(error: ValidationError) -> bool:
    """Whether Helm, with the chart's defaults merged in, would still report this error. An ``anyOf`` or
    ``oneOf`` holds when one of its branches failed only on keys the defaults provide."""
    if _filled_by_defaults(error):
        return False
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[int | str, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        if any(not any(_counts(sub) for sub in subs) for subs in branches.values()):
            return False
    return True


def problems(schema: dict[str, Any], values: dict[str, Any]) -> list[SchemaProblem]:
    local = without_external_refs(schema)
    if not isinstance(local, dict):
        raise TypeError("a values schema is a JSON object")
    # The draft the schema names; without one, draft 7 (what the chart's older schemas were written for).
    validator = validator_for(local, default=Draft7Validator)(local)
    found = [
        SchemaProblem(path=_path(error), message=error.message)
        for error in validator.iter_errors(values)
        if _counts(error)
    ]
    return sorted(found, key=lambda p: (p.path, p.message))

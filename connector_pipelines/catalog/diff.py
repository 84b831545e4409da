"""What to do with each record, from source hashes against what the target last confirmed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Diff:
    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "create": len(self.create),
            "update": len(self.update),
            "unchanged": len(self.unchanged),
            "delete": len(self.delete),
        }


def diff_hashes(
    source: Mapping[str, str],
    published: Mapping[str, str],
    *,
    complete: bool,
) -> Diff:
    """Compare source key -> hash with target key -> published hash.

    ``complete`` says the source side is the whole catalog (a full read): only then may keys missing from it
    be deleted. A partial read (a delta, or a full read that failed half-way) never deletes.
    """
    result = Diff()
    for key, digest in source.items():
        previous = published.get(key)
        if previous is None:
            result.create.append(key)
        elif previous != digest:
            result.update.append(key)
        else:
            result.unchanged.append(key)
    if complete:
        result.delete = sorted(set(published) - set(source))
    return result


def changed_values(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """(dotted path, old value, new value) of every leaf that differs between two JSON documents (plans)."""
    changes: list[tuple[str, Any, Any]] = []
    for name in sorted(set(before) | set(after)):
        path = f"{prefix}{name}"
        old, new = before.get(name), after.get(name)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changes.extend(changed_values(old, new, f"{path}."))
        elif old != new:
            changes.append((path, old, new))
    return changes


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between two JSON documents (for plans and previews)."""
    return [path for path, _, _ in changed_values(before, after, prefix)]

"""Roles and tenant scopes of the service's tokens (no web framework here: the CLI imports it)."""

from __future__ import annotations

from enum import StrEnum

ALL_TENANTS = "*"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
        return order.index(self) >= order.index(needed)

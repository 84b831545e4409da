"""Settings and statistics of the Webflow Data API v2 emulator.

Every point ``shared/contracts/webflow.md`` marks UNVERIFIED (and every limit we could not find in the
OpenAPI spec ``webflow/openapi-spec`` ``openapi/v2.yml`` or the ``webflow`` 2.0.0 SDK) is a field here.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from typing import Literal, Self

from pydantic import BaseModel, Field, field_validator

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
# The scopes a site token needs for what the emulator serves (spec ``components.securitySchemes.OAuth2``).
ALL_SCOPES = (
    "sites:read",
    "sites:write",
    "cms:read",
    "cms:write",
    "ecommerce:read",
    "ecommerce:write",
)
# Rate-limit headers still go out when the limit is off; this value makes a pacing client never wait.
UNLIMITED = 1_000_000

_COUNTER = itertools.count(int.from_bytes(os.urandom(3)))


def object_id() -> str:
    """A fresh 24-hex id shaped like a MongoDB ObjectId (4-byte time, 5 random bytes, 3-byte counter)."""
    return f"{int(time.time()):08x}{secrets.token_hex(5)}{next(_COUNTER) & 0xFFFFFF:06x}"


class CmsField(BaseModel):
    """A field of an emulated CMS collection (``GET /collections/{id}`` ``fields``)."""

    slug: str
    display_name: str
    type: str = "PlainText"
    required: bool = False
    reference_to: str | None = Field(
        None, description="slug of the collection a Reference/MultiReference field points at"
    )


class CmsCollection(BaseModel):
    """A plain CMS collection of the site besides the e-commerce ones. ``name`` and ``slug`` fields are
    always there (Webflow creates them with every collection)."""

    display_name: str
    singular_name: str
    slug: str
    fields: list[CmsField] = []


class WebflowSettings(BaseModel):
    # A site API token is 64 hex characters; tests read the generated one from here.
    token: str = Field(default_factory=lambda: secrets.token_hex(32))
    scopes: list[str] = Field(default_factory=lambda: list(ALL_SCOPES))
    extra_tokens: dict[str, list[str]] = Field(
        default_factory=dict, description="more tokens and their scopes (each has its own rate window)"
    )
    write_implies_read: bool = Field(
        True, description="UNVERIFIED: whether x:write also grants x:read (the spec lists both separately)"
    )

    site_id: str = Field(default_factory=object_id)
    site_name: str = "Sandbox Store"
    workspace_id: str = Field(default_factory=object_id)
    custom_domains: list[str] = Field(default_factory=lambda: ["shop.example.com"])
    time_zone: str = "Europe/Berlin"

    rate_limit_per_minute: int | None = Field(
        None,
        ge=1,
        description="requests per token in a rolling 60 s window; None = off. Docs (rate-limits): 60 on "
        "Starter/Basic, 120 on CMS/eCommerce/Business plans (contract §5: plan limit UNVERIFIED)",
    )
    publish_per_minute: int = Field(1, ge=1, description="successful site publishes per minute (spec note)")

    ecommerce_enabled: bool = True
    default_currency: str = "USD"
    keep_caller_ids: bool = Field(
        True,
        description="contract §2.3 UNVERIFIED: keep caller-chosen sku-property/enum ids; False = replace "
        "every id the product does not already have with a generated 32-hex id",
    )
    max_sku_properties: int = Field(
        3, ge=1, description="UNVERIFIED: product options per product (not in the spec or SDK)"
    )
    max_enum_values: int = Field(
        100, ge=1, description="UNVERIFIED: values per product option (not in the spec or SDK)"
    )
    max_skus_per_request: int = Field(
        100, ge=1, description="UNVERIFIED: SKUs in one POST .../skus (the spec gives no limit)"
    )
    max_items_per_request: int = Field(
        100, ge=1, description="spec: PATCH /items and POST /items/bulk take at most 100 items"
    )
    duplicate_slug_status: Literal[400, 409] = Field(
        400,
        description="UNVERIFIED: a slug already used in the collection: 400 validation_error or "
        "409 conflict ('Conflict: Resource already exists')",
    )
    strict_slugs: bool = Field(
        True, description="UNVERIFIED: slugs must be lowercase letters, digits, '-' and '_'"
    )
    enforce_currency: bool = Field(
        True, description="UNVERIFIED: price.unit (and currency) must be the store's default currency"
    )
    whole_minor_units: bool = Field(
        True,
        description="UNVERIFIED: price.value must be a whole number of minor units (2499.0 is accepted, "
        "24.99 is not: the usual dollars-for-cents mistake)",
    )
    cms_delete_products: bool = Field(
        False,
        description="contract §2 UNVERIFIED: DELETE /collections/{products}/items/{id} deletes the product "
        "(False: 400 validation_error, archive it instead)",
    )
    unknown_method_status: Literal[404, 405] = Field(
        404, description="answer to a method the spec does not define on a path (e.g. DELETE a product)"
    )
    extra_collections: list[CmsCollection] = []

    @field_validator("site_id", "workspace_id")
    @classmethod
    def _object_id(cls, value: str) -> str:
        if not OBJECT_ID.match(value):
            raise ValueError("must be 24 lowercase hex characters")
        return value

    @classmethod
    def realistic(cls, per_minute: int = 60, **overrides: object) -> Self:
        """A plan's rate limit switched on (60: Starter/Basic; 120: CMS/eCommerce/Business)."""
        return cls.model_validate({"rate_limit_per_minute": per_minute, **overrides})

    def tokens(self) -> dict[str, frozenset[str]]:
        scopes = {self.token: frozenset(s.lower() for s in self.scopes)}
        scopes.update({t: frozenset(s.lower() for s in granted) for t, granted in self.extra_tokens.items()})
        return scopes


class WebflowStats(BaseModel):
    calls: dict[str, int] = Field(
        default_factory=dict, description='per route template, e.g. "POST /v2/sites/{site_id}/products"'
    )
    writes: int = Field(0, description="successful POST/PATCH/DELETE calls (site publishes included)")
    too_many: int = Field(0, description="429 answers of the per-token rate limit")
    publish_too_many: int = Field(0, description="429 answers of the one-publish-per-minute limit")
    publishes: int = Field(0, description="successful site publishes")
    by_status: dict[str, int] = Field(default_factory=dict)
    handler_seconds: float = Field(0.0, description="time spent in route handlers (server time)")

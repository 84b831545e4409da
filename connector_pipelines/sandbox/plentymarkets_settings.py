"""Settings of the Plentymarkets emulator, and the route paths its per-route settings are keyed by.

Every point `shared/contracts/plentymarkets.md` marks as inferred or unverified is a :class:`PlentySettings`
field, with the contract's suggested default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

R_LOGIN = "/rest/login"
R_REFRESH = "/rest/login/refresh"
R_LOGOUT = "/rest/logout"
R_ITEMS = "/rest/items"
R_VARIATIONS = "/rest/items/variations"
R_VARIATION_SALES_PRICES = "/rest/items/variations/variation_sales_prices"
R_ATTRIBUTES = "/rest/items/attributes"
R_ATTRIBUTE_VALUES = "/rest/items/attributes/{attributeId}/values"
R_SALES_PRICES = "/rest/items/sales_prices"
R_MANUFACTURERS = "/rest/items/manufacturers"
R_UNITS = "/rest/items/units"
R_BARCODES = "/rest/items/barcodes"
R_PROPERTIES = "/rest/items/properties"
R_VARIATION_STOCK = "/rest/items/{itemId}/variations/{variationId}/stock"
R_ITEM = "/rest/items/{itemId}"
R_ITEM_VARIATIONS = "/rest/items/{itemId}/variations"
R_ITEM_VARIATION = "/rest/items/{itemId}/variations/{variationId}"
R_ITEM_IMAGES = "/rest/items/{itemId}/images"
R_VARIATION_LIST = "/rest/items/{itemId}/variations/{variationId}/{list}"
R_CATEGORIES = "/rest/categories"
R_STOCK = "/rest/stockmanagement/stock"
R_WAREHOUSES = "/rest/stockmanagement/warehouses"
R_WEBSTORES = "/rest/webstores"
R_VAT = "/rest/vat"
R_VAT_STANDARD = "/rest/vat/standard"
R_UNKNOWN = "/rest/{path:path}"  # everything else under /rest: 404 after auth


class RateWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1)
    period_s: float = Field(gt=0)


class PlentySettings(BaseModel):
    """Everything the contract leaves open, with the contract's suggested defaults."""

    model_config = ConfigDict(extra="forbid")

    username: str = "sandbox"
    password: str = "sandbox-password"  # noqa: S105 -- the emulator's own test credential
    token_ttl_s: float = Field(86400.0, gt=0, description="access token lifetime; shrink it in tests")
    refresh_token_ttl_s: float = Field(30 * 86400.0, gt=0)
    max_sessions: int = Field(40, ge=1, description="concurrent sessions of the user (max_current_sessions)")
    session_overflow: Literal["evict_oldest", "reject"] = "evict_oldest"
    login_encodings: list[Literal["json", "form", "query"]] = ["json", "form", "query"]
    refresh_sources: list[Literal["json", "form", "bearer"]] = ["json", "form", "bearer"]
    refresh_body_keys: Literal["camel", "both"] = Field(
        "camel", description="TokenData is camelCase; 'both' adds the snake_case keys of the login body"
    )
    logout_routes: list[Literal["post_logout", "delete_login"]] = Field(
        ["post_logout"],  # pydantic copies list defaults per instance
        description="POST /rest/logout is Plenty's; DELETE /rest/login is only a client library's guess",
    )
    login_error_style: Literal["oauth", "contract"] = Field(
        "oauth",
        description='failed login: the OAuth library\'s {"error","message"} (401 bad credentials, 400 '
        "missing ones) or the contract's error envelope (401)",
    )

    default_items_per_page: int = Field(50, ge=1)
    max_items_per_page: int = Field(250, ge=1)
    items_per_page_caps: dict[str, int] = Field(
        default_factory=dict, description="route path -> its own itemsPerPage cap (e.g. 100)"
    )
    items_per_page_as_string: bool | list[str] = Field(
        False, description="answer itemsPerPage as a string: everywhere (True) or on these route paths"
    )
    out_of_range_page: Literal["clamp", "empty"] = Field(
        "clamp", description="clamp: answer the last page with its own page number; empty: no entries"
    )
    bare_array_routes: list[str] = Field(
        default_factory=lambda: [R_WEBSTORES, R_WAREHOUSES, R_VARIATION_STOCK],
        description="list routes answered as a bare JSON array instead of the page envelope",
    )

    rate_limits: bool = Field(False, description="enforce the windows (off by default for speed)")
    rate_limit_scope: Literal["token", "user", "global"] = "token"
    short_window: RateWindow = RateWindow(limit=200, period_s=20)
    long_window: RateWindow = RateWindow(limit=166_000, period_s=29_770)
    route_window: RateWindow = RateWindow(limit=200, period_s=20)
    route_windows: dict[str, RateWindow] = Field(default_factory=dict, description="route path -> window")
    route_costs: dict[str, int] = Field(
        default_factory=lambda: {R_VARIATIONS: 2}, description="short-window units a call costs (default 1)"
    )

    error_style: Literal["nested", "flat"] = Field(
        "nested", description='nested: {"error":{"code","message"}}; flat: {"code","message"}'
    )
    validation_errors_in: Literal["error", "top"] = "error"
    accept_plus_as_space: bool = Field(True, description="read '... 01:00' as '+01:00' (unencoded '+')")
    accept_open_between: bool = Field(True, description="'start' without ',end' means up to now")

    timezone: str = "Europe/Berlin"
    system_language: Literal["de", "en"] = "de"
    prices_gross: bool = Field(True, description="sales prices are gross; False renders them net of VAT")
    catalog_anchor: datetime = Field(
        datetime(2025, 6, 1, 8, 0, tzinfo=UTC), description="generated timestamps lie before this instant"
    )

    @classmethod
    def realistic(cls, **overrides: object) -> PlentySettings:
        """Live-tenant rate limits switched on (short 200/20 s, long 166,000/~8 h, variations cost 2)."""
        return cls.model_validate({"rate_limits": True, **overrides})

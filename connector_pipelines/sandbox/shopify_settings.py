"""Settings of the Shopify emulator: every point the contract leaves open is a field here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OptionErrorCode = Literal[
    "OPTION_VALUE_DOES_NOT_EXIST",
    "PRODUCT_OPTIONS_INPUT_MISSING",
    "OPTION_VALUES_MISSING",
    "INVALID_VARIANT",
]

DEFAULT_SCOPES = (
    "read_products",
    "write_products",
    "read_inventory",
    "write_inventory",
    "read_customers",
    "read_orders",
    "read_all_orders",
    "read_fulfillments",
    "write_fulfillments",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "read_locations",
    "write_files",
)
# Compressed stand-in for Shopify's "8 retries over 4 hours" (contract §12.5): the same shape, in seconds.
COMPRESSED_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)
REALISTIC_RETRIES = (60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)

SUPPORTED_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10", "unstable")


class ShopifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shops: dict[str, str] = Field(
        default_factory=lambda: {"sandbox": "shpat_sandbox_token"},
        description="shop name -> Admin API access token; the token picks the shop (tokens must differ)",
    )
    supported_versions: tuple[str, ...] = Field(
        SUPPORTED_VERSIONS, description="all are served with the 2026-07 schema (the only one vendored)"
    )
    unsupported_version: Literal["fall_forward", "not_found"] = Field(
        "fall_forward",
        description="older YYYY-MM versions: fall forward to the oldest supported one (UNVERIFIED) or 404",
    )
    error_style: Literal["shopify", "graphql-core"] = Field(
        "shopify", description="parse/validation error wording: graphql-ruby's (Shopify) or graphql-core's"
    )

    throttle_enabled: bool = Field(False, description="leaky-bucket throttling; off keeps tests fast")
    bucket_capacity: float = Field(2000.0, gt=0)
    restore_rate: float = Field(100.0, gt=0, description="points per second")
    max_query_cost: int = Field(1000, gt=0, description="single-query limit -> MAX_COST_EXCEEDED")
    throttled_status: Literal[200, 429] = Field(
        200, description="HTTP status of a THROTTLED answer (UNVERIFIED)"
    )

    max_page_size: int = Field(250, gt=0)
    max_array_input: int = Field(250, gt=0, description="e.g. nodes(ids:)")
    max_variants_per_product: int = Field(2048, gt=0)
    max_options: int = Field(3, gt=0)
    sku_precedence: Literal["variant", "inventory_item", "reject_conflict"] = Field(
        "variant",
        description="variants[].sku vs inventoryItem.sku when both are sent and differ (UNVERIFIED)",
    )
    unknown_option_value_code: OptionErrorCode = "OPTION_VALUE_DOES_NOT_EXIST"
    missing_option_value_code: OptionErrorCode = "PRODUCT_OPTIONS_INPUT_MISSING"
    sku_index_lag_s: float = Field(
        0.0, ge=0, description="seconds before a written SKU is found by productVariants(query:)"
    )
    location_names: dict[int, str] = Field(
        default_factory=lambda: {1: "Main warehouse"},
        description="location id -> name (active locations); the lowest id is the primary location",
    )
    unstocked_location: Literal["reject", "stock"] = Field(
        "reject",
        description="productSet quantities of an existing variant at a location it is not stocked at: "
        "rejected, as the schema's description of inventoryQuantities says (the error code is UNVERIFIED), "
        "or stocked there",
    )
    max_inventory_quantities: int = Field(
        50_000, gt=0, description="inventoryQuantities across all variants of one productSet"
    )
    max_media_per_product: int = Field(250, gt=0)
    app_id: int = Field(1, description="owner of the $app metafield namespace (app--<id>)")

    bulk_jsonl_max_bytes: int = Field(
        100 * 1024 * 1024, gt=0, description="staged upload size cap (20 MB in older docs, 100 MB in newer)"
    )
    bulk_mutation_concurrency: int | None = Field(
        None, ge=1, description="None: 1 per shop before 2026-01, 5 from 2026-01 (contract §2)"
    )
    bulk_start_delay_s: float = Field(0.0, ge=0, description="time an operation stays CREATED")
    bulk_result_order: Literal["input", "shuffled"] = Field(
        "shuffled", description="result lines may come back out of order (contract §7.5)"
    )
    bulk_url_null_when_empty: bool = Field(True, description="url is null when no objects were produced")
    bulk_query_concurrency: int | None = Field(
        None, ge=1, description="None: 1 per shop before 2026-01, 5 from 2026-01 (contract §2)"
    )
    bulk_children_last: bool = Field(
        True,
        description="with groupObjects false (the default from 2026-01) nested lines come after all parents, "
        "as Shopify does not promise they follow their parent (contract §8); false keeps them grouped",
    )
    bulk_result_ttl_s: float = Field(7 * 24 * 3600.0, gt=0, description="result URLs expire (7 days)")
    seed: int = 0

    # the shop as apps read it (shop, shop.json, access_scopes.json)
    currency_code: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="the shop's currency (2 decimals)")
    shop_email: str = "owner@example.com"
    plan_name: str = "Advanced"
    access_scopes: tuple[str, ...] = Field(DEFAULT_SCOPES, description="what the app's token was granted")
    seed_start: float = Field(
        1_767_225_600.0, description="epoch seconds seeded records start from (2026-01-01T00:00:00Z)"
    )
    seed_span_days: int = Field(300, gt=0, description="seeded created/updated times spread over these days")

    # idempotency of inventory mutations (2026-04 changelog: the @idempotent directive becomes mandatory)
    idempotency: Literal["by_version", "optional"] = Field(
        "by_version",
        description="inventorySetQuantities / inventoryAdjustQuantities without @idempotent: an error from "
        "2026-04 (by_version), or accepted (optional)",
    )

    # webhooks (contract §12)
    app_secret: str = Field("shpss_sandbox_app_secret", description="signs X-Shopify-Hmac-Sha256")
    webhook_api_version: str = Field("2026-07", description="the app's webhook API version")
    webhook_retry_delays_s: tuple[float, ...] = Field(
        COMPRESSED_RETRIES, description="delays before each retry (Shopify: 8 over 4 hours)"
    )
    webhook_timeout_s: float = Field(5.0, gt=0, description="no answer within this counts as a failure")
    webhook_connect_timeout_s: float = Field(1.0, gt=0)
    webhook_delete_after_failures: int | None = Field(
        8, ge=1, description="consecutive failed deliveries after which a subscription is deleted"
    )
    webhook_duplicate_rate: float = Field(0.0, ge=0, le=1, description="deliveries sent twice")
    webhook_reorder: bool = Field(False, description="deliver queued webhooks in shuffled order")
    webhook_queue_size: int = Field(10_000, gt=0, description="pending deliveries before changes block")
    webhook_allow_http_loopback: bool = Field(
        True, description="accept http:// subscription addresses on this machine (Shopify wants https)"
    )

    # REST Admin (contract §11)
    rest_bucket_size: int = Field(40, gt=0)
    rest_leak_rate: float = Field(2.0, gt=0, description="requests per second")
    rest_throttle_enabled: bool = Field(False, description="the REST leaky bucket (429 + Retry-After)")

    @model_validator(mode="after")
    def _distinct_tokens(self) -> ShopifySettings:
        if not self.shops:
            raise ValueError("at least one shop is required")
        if len(set(self.shops.values())) != len(self.shops):
            raise ValueError("access tokens must differ between shops")
        return self

    @classmethod
    def realistic(cls, **overrides: object) -> ShopifySettings:
        """Throttling on with the contract's buckets (GraphQL 2000 points at 100/s, REST 40 at 2/s)."""
        return cls.model_validate({"throttle_enabled": True, "rest_throttle_enabled": True, **overrides})

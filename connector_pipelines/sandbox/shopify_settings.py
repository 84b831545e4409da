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
    seed: int = 0

    @model_validator(mode="after")
    def _distinct_tokens(self) -> ShopifySettings:
        if not self.shops:
            raise ValueError("at least one shop is required")
        if len(set(self.shops.values())) != len(self.shops):
            raise ValueError("access tokens must differ between shops")
        return self

    @classmethod
    def realistic(cls, **overrides: object) -> ShopifySettings:
        """Throttling on with the contract's default bucket (2000 points, 100/s)."""
        return cls.model_validate({"throttle_enabled": True, **overrides})

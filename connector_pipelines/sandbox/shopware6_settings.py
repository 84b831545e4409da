"""Settings of the Shopware 6 emulator and the rule that makes chosen sync records fail validation.

Each setting marked [inferred] / [unverified] in ``shared/contracts/shopware6.md`` §12 is a field here.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from connector_pipelines.sandbox.shopware6_errors import NOT_BLANK


class ShopwareSettings(BaseModel):
    # Credentials: an integration (client_credentials) and an admin user (password grant).
    client_id: str = "SWIAEMULATORACCESSKEY00001"
    # Well-known sandbox credentials, not secrets: every test and client config uses them.
    client_secret: str = "emulator-integration-secret"  # noqa: S105
    admin_client_id: str = "administration"
    admin_username: str = "admin"
    admin_password: str = "shopware"  # noqa: S105
    token_ttl_s: int = Field(
        600, ge=1, description="expires_in of access tokens (code default PT10M; docs show 3600)"
    )
    refresh_token_ttl_s: int = Field(604800, ge=1, description="P1W")
    shopware_version: str = "6.6.10.4"

    accept_required: bool = Field(
        True,
        description="[inferred] no Accept header -> 415 on factory-rendered routes; False: treat as JSON",
    )
    max_limit: int = Field(500, ge=1, description="shopware.api.max_limit; also the default search limit")
    unknown_fk_status: int = Field(
        500, description="status of an unknown FK uuid (SQL error, no clean handler)"
    )
    unique_violation_status: int = Field(
        500, description="status of a duplicate unique key other than productNumber"
    )
    resolver_missing_status: int = Field(400, description="unresolvable product.number FK: 400 (code) or 404")
    criteria_delete_mapping_only: bool = Field(
        False, description="True: 6.5/6.6 behaviour, delete by criteria only on mapping entities"
    )

    oauth_throttle: bool = Field(
        False, description="time-backoff limiter on the token endpoint (10/10s, 15/30s, 20/60s)"
    )
    saas_rate_limits: bool = Field(
        False, description="SaaS limits: token 10/min/IP, indexing 1/hour/IP, 429 + Retry-After"
    )
    saas_token_limit_per_minute: int = Field(10, ge=1)
    saas_indexing_limit_per_hour: int = Field(1, ge=1)

    media_fetch_timeout_s: float = Field(10.0, gt=0)
    keep_media_bytes: bool = Field(True, description="keep uploaded files so GET /media/... can serve them")


class RejectRule(BaseModel):
    """Makes a sync record matching ``match_field == match_value`` fail validation with one violation."""

    entity: str = "product"
    match_field: str = "productNumber"
    match_value: str
    field: str = Field("productNumber", description="the field the violation points at")
    message: str = "This value should not be blank."
    code: str = NOT_BLANK
    remaining: int | None = Field(
        None, ge=1, description="requests to reject before the rule expires; None = always"
    )

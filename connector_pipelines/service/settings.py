"""The service's configuration, from environment variables (read when the app is built, never at import)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector_pipelines import config

DAGSTER_URL_VAR = "CONNECTOR_DAGSTER_URL"
DAGSTER_LOCATION_VAR = "CONNECTOR_DAGSTER_LOCATION"
PUBLIC_URL_VAR = "CONNECTOR_SERVICE_PUBLIC_URL"
WEBHOOK_MAX_BYTES_VAR = "CONNECTOR_WEBHOOK_MAX_BYTES"
WEBHOOK_RATE_VAR = "CONNECTOR_WEBHOOK_RATE_PER_S"
WEBHOOK_BURST_VAR = "CONNECTOR_WEBHOOK_BURST"
DEAD_LETTER_VAR = "CONNECTOR_DEAD_LETTER_ATTEMPTS"
BACKLOG_VAR = "CONNECTOR_INBOX_BACKLOG_MAX"
HEARTBEAT_VAR = "CONNECTOR_DAEMON_HEARTBEAT_MAX_AGE_S"
INBOX_WRITERS_VAR = "CONNECTOR_INBOX_WRITERS"


class ServiceSettings(BaseModel):
    """Everything the service is told from outside; tests build one directly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str
    dagster_url: str = Field("http://127.0.0.1:3000", description="the Dagster webserver (its GraphQL API)")
    dagster_location: str = Field("connector_pipelines", description="the code location of the pipelines")
    public_url: str | None = Field(
        None, description="where Shopify reaches this service: the default callback of new subscriptions"
    )
    webhook_max_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="a larger webhook body is refused")
    webhook_rate_per_s: float = Field(100.0, gt=0, description="verified webhooks per second and tenant")
    webhook_burst: int = Field(500, ge=1, description="webhooks a tenant may send at once above its rate")
    webhook_tolerance_s: int = Field(300, ge=1, description="how old an ERP webhook's timestamp may be")
    dead_letter_attempts: int = Field(5, ge=1, description="a record failing this often is a dead letter")
    inbox_backlog_max: int = Field(10_000, ge=1, description="/health/ready fails above this backlog")
    daemon_heartbeat_max_age_s: float = Field(120.0, gt=0, description="older daemon heartbeats are stale")
    secrets_ttl_s: float = Field(30.0, ge=0, description="how long webhook secrets stay cached")
    inbox_writers: int | None = Field(None, ge=1, le=16, description="default: 1 on SQLite, 2 on PostgreSQL")
    inbox_batch: int = Field(500, ge=1, le=5000, description="deliveries per inbox transaction at most")

    @field_validator("dagster_url", "public_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value is not None else None

    @classmethod
    def from_env(cls) -> ServiceSettings:
        values: dict[str, str] = {}
        for field, variable in (
            ("dagster_url", DAGSTER_URL_VAR),
            ("dagster_location", DAGSTER_LOCATION_VAR),
            ("public_url", PUBLIC_URL_VAR),
            ("webhook_max_bytes", WEBHOOK_MAX_BYTES_VAR),
            ("webhook_rate_per_s", WEBHOOK_RATE_VAR),
            ("webhook_burst", WEBHOOK_BURST_VAR),
            ("dead_letter_attempts", DEAD_LETTER_VAR),
            ("inbox_backlog_max", BACKLOG_VAR),
            ("daemon_heartbeat_max_age_s", HEARTBEAT_VAR),
            ("inbox_writers", INBOX_WRITERS_VAR),
        ):
            if os.environ.get(variable):
                values[field] = os.environ[variable]
        return cls.model_validate({"database_url": config.database_url(), **values})

"""A tenant's Shopify webhook subscriptions, through its Shopify client: list, register, remove. The
callback defaults to this service's ``/webhooks/shopify`` at ``CONNECTOR_SERVICE_PUBLIC_URL``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector_pipelines.service.api.common import answers
from connector_pipelines.service.auth import Admin, Viewer
from connector_pipelines.service.context import Ctx, Services
from connector_pipelines.service.problems import ApiError

router = APIRouter(prefix="/api/tenants/{tenant}/webhook-subscriptions", tags=["webhook subscriptions"])

_FIELDS = "id topic uri format"
CREATE = f"""
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {{
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {{
    webhookSubscription {{ {_FIELDS} }}
    userErrors {{ field message }}
  }}
}}"""
DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""
LIST = f"""
query WebhookSubscriptions($first: Int!, $after: String) {{
  webhookSubscriptions(first: $first, after: $after) {{
    nodes {{ {_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
_GID = "gid://shopify/WebhookSubscription/"


class Subscription(BaseModel):
    id: str
    topic: str
    uri: str | None = None
    format: str | None = None


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$", description="e.g. PRODUCTS_UPDATE, ORDERS_CREATE")
    uri: str | None = Field(
        None, pattern=r"^https://", description="default: this service's /webhooks/shopify"
    )


class _UserError(BaseModel):
    field: list[str] | None = None
    message: str


def _shopify(services: Services, tenant: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    from connector_pipelines.tenants.connections import SHOPIFY

    with answers(), services.registry.connect(tenant, SHOPIFY, max_timeout_s=30) as client:
        return dict(client.graphql(document, variables))


def _refused(errors: object) -> None:
    try:
        found = [_UserError.model_validate(e) for e in errors] if isinstance(errors, list) else []
    except ValidationError:
        found = []
    if found:
        raise ApiError(422, "Shopify refused: " + "; ".join(e.message for e in found))


@router.get("", response_model=list[Subscription], summary="The shop's webhook subscriptions")
def list_subscriptions(services: Ctx, caller: Viewer) -> list[Subscription]:
    found: list[Subscription] = []
    after: str | None = None
    while True:
        data = _shopify(services, caller.tenant, LIST, {"first": 100, "after": after})["webhookSubscriptions"]
        found += [Subscription.model_validate(n) for n in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            return found
        after = data["pageInfo"]["endCursor"]


@router.post("", response_model=Subscription, status_code=201, summary="Subscribe the shop to a topic")
def register_subscription(services: Ctx, caller: Admin, body: SubscriptionIn) -> Subscription:
    uri = body.uri or (
        f"{services.settings.public_url}/webhooks/shopify" if services.settings.public_url else None
    )
    if uri is None:
        raise ApiError(422, "give uri, or set CONNECTOR_SERVICE_PUBLIC_URL to this service's public address")
    variables = {"topic": body.topic, "sub": {"uri": uri, "format": "JSON"}}
    outcome = _shopify(services, caller.tenant, CREATE, variables)["webhookSubscriptionCreate"]
    _refused(outcome.get("userErrors"))
    return Subscription.model_validate(outcome["webhookSubscription"])


@router.delete("/{subscription_id}", status_code=204, summary="Remove a subscription")
def remove_subscription(services: Ctx, caller: Admin, subscription_id: str) -> Response:
    if not subscription_id.isdigit():
        raise ApiError(404, f"no subscription {subscription_id}")
    outcome = _shopify(services, caller.tenant, DELETE, {"id": _GID + subscription_id})[
        "webhookSubscriptionDelete"
    ]
    _refused(outcome.get("userErrors"))
    return Response(status_code=204)

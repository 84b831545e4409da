"""Shopify Admin GraphQL documents and answer models the ERP gateway needs beyond
:mod:`connector_pipelines.clients.shopify`: the shop's tax setting, variants with their inventory at a
location, ``inventorySetQuantities`` (``@idempotent``, mandatory from 2026-04), ``productVariantsBulkUpdate``
for prices, paid orders with lines, taxes, shipping and addresses, and ``fulfillmentCreate`` on an order's
fulfillment orders. Every document is a named operation of the 2026-07 schema; :func:`read` turns an
answer of the wrong shape into an :class:`~connector_pipelines.clients.http.ApiError` naming the fields.

Costs: a connection costs about ``2 + first x node``; the page sizes here keep each query under the
single-query limit of 1000 points (variants 100 a page, orders 10 with 15 lines each; an order with more
lines is read on).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from connector_pipelines.clients.http import ApiError, JsonValue
from connector_pipelines.clients.shopify import BulkOperationInProgress, ShopifyClient, ShopifyUserErrors
from connector_pipelines.clients.shopify_models import BulkOperation, UserError

__all__ = [
    "BULK_QUERY",
    "FULFILLMENT_CREATE",
    "INVENTORY_SET_QUANTITIES",
    "MAX_QUANTITIES_PER_CALL",
    "ORDERS_BY_NAME",
    "ORDER_LINE_ITEMS",
    "PAID_ORDERS",
    "SHOP_TAXES",
    "VARIANTS_BULK_UPDATE",
    "VARIANTS_BULK_UPDATE_LINE",
    "VARIANT_STOCK",
    "FulfillmentCreateResult",
    "InventorySetResult",
    "ShopSettings",
    "ShopifyFulfillmentOrder",
    "ShopifyLineItem",
    "ShopifyOrder",
    "ShopifyOrderFulfillment",
    "StockVariant",
    "TaxLine",
    "VariantsBulkUpdateResult",
    "iter_jsonl",
    "page_of",
    "read",
    "run_bulk_query",
    "search_quote",
    "variant_stock_bulk_query",
]

MAX_QUANTITIES_PER_CALL = 250  # array inputs hold at most 250 items (contract §6)
VARIANT_PAGE_SIZE = 100
ORDER_PAGE_SIZE = 10
LINES_PER_ORDER = 15

SHOP_TAXES = """
query GatewayShop { shop { currencyCode taxesIncluded } }"""

VARIANT_STOCK = """
query GatewayVariantStock($first: Int!, $after: String, $query: String, $location: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      id sku price
      product { id }
      inventoryItem {
        id tracked
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

BULK_QUERY = """
mutation GatewayBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status errorCode type createdAt completedAt objectCount rootObjectCount url query }
    userErrors { code field message }
  }
}"""
"""A bulk export: no rate-limit bucket, no cost limit; the result is a JSONL file of flattened objects."""

INVENTORY_SET_QUANTITIES = """
mutation GatewayInventorySet($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""

_VARIANTS_BULK_UPDATE_BODY = """
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: true) {
    productVariants { id price }
    userErrors { code field message }
  }"""

VARIANTS_BULK_UPDATE = (
    "mutation GatewayVariantPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {"
    + _VARIANTS_BULK_UPDATE_BODY
    + "\n}"
)
VARIANTS_BULK_UPDATE_LINE = (
    "mutation call($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {"
    + _VARIANTS_BULK_UPDATE_BODY
    + "\n}"
)
"""The same mutation as one line of a bulk mutation (its variables come from the staged JSONL)."""

_MONEY = "shopMoney { amount currencyCode }"
_ADDRESS = "firstName lastName company address1 address2 city province provinceCode zip countryCodeV2 phone"
_LINES = f"""
      nodes {{
        id sku name quantity currentQuantity
        discountedUnitPriceAfterAllDiscountsSet {{ {_MONEY} }}
        taxLines {{ ratePercentage }}
      }}
      pageInfo {{ hasNextPage endCursor }}"""

PAID_ORDERS = f"""
query GatewayPaidOrders($first: Int!, $after: String, $query: String!, $lines: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      id name createdAt processedAt updatedAt cancelledAt currencyCode taxesIncluded note email phone
      displayFinancialStatus
      customer {{ id firstName lastName defaultEmailAddress {{ emailAddress }} }}
      billingAddress {{ {_ADDRESS} }}
      shippingAddress {{ {_ADDRESS} }}
      currentTotalPriceSet {{ {_MONEY} }}
      shippingLine {{ discountedPriceSet {{ {_MONEY} }} taxLines {{ ratePercentage }} }}
      lineItems(first: $lines) {{{_LINES}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

ORDER_LINE_ITEMS = f"""
query GatewayOrderLines($id: ID!, $after: String) {{
  node(id: $id) {{
    ... on Order {{
      lineItems(first: 100, after: $after) {{{_LINES}
      }}
    }}
  }}
}}"""
"""The lines of one order past the first page."""

ORDERS_BY_NAME = """
query GatewayOrdersByName($query: String!, $first: Int!) {
  orders(first: $first, query: $query) {
    nodes {
      id name cancelledAt displayFulfillmentStatus
      fulfillmentOrders(first: 5) { nodes { id status assignedLocation { location { id } } } }
    }
  }
}"""

FULFILLMENT_CREATE = """
mutation GatewayFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""


# --- answers ----------------------------------------------------------------------------------------------


class _Read(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="ignore", frozen=True)


class ShopSettings(_Read):
    currency_code: str
    taxes_included: bool


class _Quantity(_Read):
    name: str
    quantity: int


class _Level(_Read):
    quantities: list[_Quantity] = []


class _InventoryItem(_Read):
    id: str
    tracked: bool = True
    inventory_level: _Level | None = None


class _Ref(_Read):
    id: str


class StockVariant(_Read):
    id: str
    sku: str | None
    price: Decimal
    product: _Ref
    inventory_item: _InventoryItem

    @property
    def available(self) -> int | None:
        """Available at the location asked about; None when not tracked or not stocked there."""
        item = self.inventory_item
        if not item.tracked or item.inventory_level is None:
            return None
        return next((q.quantity for q in item.inventory_level.quantities if q.name == "available"), None)


class _TypedUserError(_Read):
    code: str | None = None
    field: list[str] | None = None
    message: str

    @property
    def index(self) -> int | None:
        """The position of the input record it names (``["input", "quantities", "3", ...]``)."""
        for part in self.field or []:
            if part.isdigit():
                return int(part)
        return None


class InventorySetResult(_Read):
    inventory_adjustment_group: _Ref | None = None
    user_errors: list[_TypedUserError] = []


class VariantsBulkUpdateResult(_Read):
    product_variants: list[_Ref] | None = None
    user_errors: list[_TypedUserError] = []


class _Money(_Read):
    amount: Decimal
    currency_code: str


class _MoneyBag(_Read):
    shop_money: _Money


class TaxLine(_Read):
    rate_percentage: Decimal | None = None


class ShopifyLineItem(_Read):
    id: str
    sku: str | None = None
    name: str = ""
    quantity: int
    current_quantity: int
    discounted_unit_price_after_all_discounts_set: _MoneyBag
    tax_lines: list[TaxLine] = []


class _PageInfo(_Read):
    has_next_page: bool
    end_cursor: str | None = None


class _Lines(_Read):
    nodes: list[ShopifyLineItem]
    page_info: _PageInfo


class _ShippingLine(_Read):
    discounted_price_set: _MoneyBag
    tax_lines: list[TaxLine] = []


class _Email(_Read):
    email_address: str | None = None


class _Customer(_Read):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    default_email_address: _Email | None = None


class ShopifyAddress(_Read):
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code_v2: str | None = Field(None, alias="countryCodeV2")
    phone: str | None = None


class ShopifyOrder(_Read):
    id: str
    name: str
    created_at: datetime
    processed_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    currency_code: str
    taxes_included: bool
    note: str | None = None
    email: str | None = None
    phone: str | None = None
    display_financial_status: str | None = None
    customer: _Customer | None = None
    billing_address: ShopifyAddress | None = None
    shipping_address: ShopifyAddress | None = None
    current_total_price_set: _MoneyBag
    shipping_line: _ShippingLine | None = Field(None, description="all shipping costs, summed")
    line_items: _Lines


class _Location(_Read):
    location: _Ref | None = None


class ShopifyFulfillmentOrder(_Read):
    id: str
    status: str
    assigned_location: _Location | None = None

    @property
    def location_id(self) -> str | None:
        return (
            self.assigned_location.location.id
            if self.assigned_location and self.assigned_location.location
            else None
        )


class _FulfillmentOrders(_Read):
    nodes: list[ShopifyFulfillmentOrder]


class ShopifyOrderFulfillment(_Read):
    """An order as the shipment look-up reads it: its fulfillment orders and their states."""

    id: str
    name: str
    cancelled_at: datetime | None = None
    display_fulfillment_status: str
    fulfillment_orders: _FulfillmentOrders


class FulfillmentCreateResult(_Read):
    fulfillment: _Ref | None = None
    user_errors: list[UserError] = []


# --- reading -----------------------------------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=BaseModel)


def read(client: ShopifyClient, operation: str, model: type[ModelT], value: JsonValue) -> ModelT:
    """``value`` validated into ``model``; an answer of another shape is an ApiError naming the fields."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(
            client.system, "POST", client.graphql_path, None, f"{operation}: unexpected answer: {detail}"
        ) from None


def variant_stock_bulk_query(location_id: str) -> str:
    """Every variant with its price and stock at ``location_id``, as a bulk export's inner query (no
    variables there: the location is a literal)."""
    location = orjson.dumps(location_id).decode()
    return (
        "{ productVariants { edges { node { id sku price product { id } inventoryItem { id tracked "
        f'inventoryLevel(locationId: {location}) {{ quantities(names: ["available"]) {{ name quantity }} }} '
        "} } } } }"
    )


def run_bulk_query(client: ShopifyClient, query: str) -> BulkOperation:
    """Start a bulk export; raises :class:`BulkOperationInProgress` when the shop runs its limit of them."""
    data = client.graphql(BULK_QUERY, {"query": query})
    payload = data.get("bulkOperationRunQuery")
    if not isinstance(payload, dict):
        raise ApiError(client.system, "POST", client.graphql_path, None, "GatewayBulkQuery: no payload")
    errors = [read(client, "GatewayBulkQuery", UserError, e) for e in payload.get("userErrors") or []]
    if errors:
        busy = any(e.code in ("OPERATION_IN_PROGRESS", "LIMIT_REACHED") for e in errors)
        raise (BulkOperationInProgress if busy else ShopifyUserErrors)(
            "GatewayBulkQuery", client.graphql_path, errors
        )
    return read(client, "GatewayBulkQuery", BulkOperation, payload.get("bulkOperation"))


def iter_jsonl(client: ShopifyClient, url: str) -> Iterator[dict[str, JsonValue]]:
    """The objects of a bulk export's result file, line by line."""
    target = httpx.URL(url)
    # The signature travels as params so it stays out of logged paths.
    response = client.request(
        "GET", str(target.copy_with(query=None)), params=dict(target.params), authenticated=False
    )
    for raw in response.content.splitlines():
        if raw.strip():
            value = orjson.loads(raw)
            if isinstance(value, dict):
                yield value


def search_quote(value: str) -> str:
    """A value of Shopify's search syntax in double quotes (spaces, colons and quotes kept literal)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def page_of(
    client: ShopifyClient, operation: str, data: Mapping[str, JsonValue], root: str
) -> tuple[list[JsonValue], str | None]:
    """The nodes of a connection and the cursor of the next page (None on the last)."""
    connection = data.get(root)
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    if not isinstance(connection, dict) or not isinstance(nodes, list):
        raise ApiError(client.system, "POST", client.graphql_path, None, f"{operation}: no {root} connection")
    info = connection.get("pageInfo") or {}
    return nodes, (info.get("endCursor") if info.get("hasNextPage") else None)

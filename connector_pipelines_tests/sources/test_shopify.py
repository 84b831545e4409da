"""Shopify records -> canonical commerce records: a record read through GraphQL (bulk line or page) and the
same record delivered by a webhook (REST JSON) become equal canonical records; unreadable ones are named
without their values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector_pipelines.catalog.commerce import Deletion
from connector_pipelines.sources.shopify import (
    EventNode,
    UnreadableRecord,
    customer_from_webhook,
    customer_record,
    deletion_from_webhook,
    event_deletion,
    legacy_id,
    order_from_webhook,
    order_record,
    product_from_webhook,
    product_record,
)

EMAIL = "vera.kraus@example.com"

CUSTOMER_NODE: dict[str, object] = {
    "id": "gid://shopify/Customer/42",
    "createdAt": "2026-05-10T21:20:51Z",
    "updatedAt": "2026-08-22T22:51:12Z",
    "state": "ENABLED",
    "verifiedEmail": True,
    "taxExempt": False,
    "tags": ["vip", "newsletter"],
    "firstName": "Vera",
    "lastName": "Kraus",
    "defaultEmailAddress": {"emailAddress": EMAIL},
    "defaultPhoneNumber": {"phoneNumber": "+4915100000002"},
    "defaultAddress": {"id": "gid://shopify/MailingAddress/45?model_name=CustomerAddress"},
}
ADDRESS_NODE: dict[str, object] = {
    "id": "gid://shopify/MailingAddress/45?model_name=CustomerAddress",
    "firstName": "Vera",
    "lastName": "Kraus",
    "company": None,
    "address1": "Main Street 193",
    "address2": None,
    "city": "Vienna",
    "province": "Vienna",
    "provinceCode": "9",
    "zip": "1010",
    "country": "Austria",
    "countryCodeV2": "AT",
    "phone": "+4915100000002",
}
CUSTOMER_WEBHOOK = {
    "id": 42,
    "admin_graphql_api_id": "gid://shopify/Customer/42",
    "email": EMAIL,
    "first_name": "Vera",
    "last_name": "Kraus",
    "phone": "+4915100000002",
    "state": "enabled",
    "verified_email": True,
    "tax_exempt": False,
    "tags": "newsletter, vip",
    "created_at": "2026-05-10T23:20:51+02:00",
    "updated_at": "2026-08-23T00:51:12+02:00",
    "addresses": [
        {
            "id": 45,
            "customer_id": 42,
            "first_name": "Vera",
            "last_name": "Kraus",
            "company": None,
            "address1": "Main Street 193",
            "address2": None,
            "city": "Vienna",
            "province": "Vienna",
            "province_code": "9",
            "zip": "1010",
            "country": "Austria",
            "country_code": "AT",
            "phone": "+4915100000002",
            "default": True,
        }
    ],
}

ORDER_NODE: dict[str, object] = {
    "id": "gid://shopify/Order/1001",
    "name": "#1001",
    "createdAt": "2026-01-02T17:27:55Z",
    "updatedAt": "2026-02-15T08:07:23Z",
    "processedAt": "2026-01-02T17:27:55Z",
    "cancelledAt": None,
    "currencyCode": "EUR",
    "test": False,
    "tags": [],
    "displayFinancialStatus": "PAID",
    "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
    "customer": {"id": "gid://shopify/Customer/42"},
    "totalPriceSet": {"shopMoney": {"amount": "45.41", "currencyCode": "EUR"}},
    "subtotalPriceSet": {"shopMoney": {"amount": "39.58"}},
    "totalTaxSet": {"shopMoney": {"amount": "7.52"}},
    "totalDiscountsSet": {"shopMoney": {"amount": "1.69"}},
}


def _line_node(ident: int, quantity: int) -> dict[str, object]:
    return {
        "id": f"gid://shopify/LineItem/{ident}",
        "title": "Tee",
        "quantity": quantity,
        "sku": f"TEE-{ident}",
        "variantTitle": "M",
        "vendor": "Acme",
        "product": {"id": "gid://shopify/Product/7"},
        "variant": {"id": f"gid://shopify/ProductVariant/{ident + 100}"},
        "originalUnitPriceSet": {"shopMoney": {"amount": "19.79"}},
        "totalDiscountSet": {"shopMoney": {"amount": "0.00"}},
        "__parentId": "gid://shopify/Order/1001",
    }


def _line_rest(ident: int, quantity: int) -> dict[str, object]:
    return {
        "id": ident,
        "title": "Tee",
        "quantity": quantity,
        "price": "19.79",
        "total_discount": "0.00",
        "sku": f"TEE-{ident}",
        "variant_title": "M",
        "vendor": "Acme",
        "product_id": 7,
        "variant_id": ident + 100,
    }


ORDER_WEBHOOK = {
    "id": 1001,
    "admin_graphql_api_id": "gid://shopify/Order/1001",
    "name": "#1001",
    "email": EMAIL,
    "created_at": "2026-01-02T17:27:55Z",
    "updated_at": "2026-02-15T08:07:23Z",
    "processed_at": "2026-01-02T17:27:55Z",
    "cancelled_at": None,
    "currency": "EUR",
    "total_price": "45.41",
    "subtotal_price": "39.58",
    "total_tax": "7.52",
    "total_discounts": "1.69",
    "financial_status": "paid",
    "fulfillment_status": "partial",
    "test": False,
    "tags": "",
    "customer": {"id": 42, "email": EMAIL},
    # Another order of lines than the GraphQL answer: the canonical order sorts them.
    "line_items": [_line_rest(502, 1), _line_rest(501, 2)],
}

PRODUCT_NODE: dict[str, object] = {
    "id": "gid://shopify/Product/7",
    "title": "Tee",
    "handle": "tee",
    "status": "ACTIVE",
    "vendor": "Acme",
    "productType": "Shirts",
    "tags": ["cotton"],
    "createdAt": "2026-03-13T04:03:14Z",
    "updatedAt": "2026-05-15T00:17:09Z",
}


def _variant_node(ident: int, size: str, position: int, price: str = "29.99") -> dict[str, object]:
    return {
        "id": f"gid://shopify/ProductVariant/{ident}",
        "title": size,
        "sku": f"TEE-{size}",
        "barcode": None,
        "price": price,
        "compareAtPrice": None,
        "inventoryQuantity": 3,
        "position": position,
        "updatedAt": "2026-05-15T00:17:09Z",
        "selectedOptions": [{"name": "Size", "value": size}],
    }


PRODUCT_WEBHOOK = {
    "id": 7,
    "title": "Tee",
    "handle": "tee",
    "status": "active",
    "vendor": "Acme",
    "product_type": "Shirts",
    "tags": "cotton",
    "created_at": "2026-03-13T04:03:14Z",
    "updated_at": "2026-05-14T19:17:09-05:00",
    "options": [{"name": "Size", "position": 1, "values": ["S", "M"]}],
    "variants": [
        {
            "id": 12,
            "title": "M",
            "sku": "TEE-M",
            "price": "29.99",
            "inventory_quantity": 3,
            "position": 2,
            "option1": "M",
            "updated_at": "2026-05-15T00:17:09Z",
        },
        {
            "id": 11,
            "title": "S",
            "sku": "TEE-S",
            "price": "29.99",
            "inventory_quantity": 3,
            "position": 1,
            "option1": "S",
            "updated_at": "2026-05-15T00:17:09Z",
        },
    ],
}


def test_gids_become_numeric_ids() -> None:
    assert legacy_id("gid://shopify/Order/1001") == 1001
    assert legacy_id("gid://shopify/MailingAddress/45?model_name=CustomerAddress") == 45
    for bad in ("1001", "gid://shopify/Order/", "gid://other/Order/1", "gid://shopify/Order/12a"):
        with pytest.raises(ValueError, match="not a Shopify GID"):
            legacy_id(bad)


def test_a_customer_read_through_graphql_equals_its_webhook() -> None:
    read = customer_record(CUSTOMER_NODE, [ADDRESS_NODE])
    delivered = customer_from_webhook(CUSTOMER_WEBHOOK)
    assert read == delivered
    assert read.id == 42 and read.pii.email == EMAIL and read.tags == ("newsletter", "vip")
    assert read.updated_at == datetime(2026, 8, 22, 22, 51, 12, tzinfo=UTC)
    assert read.addresses[0].default and read.addresses[0].country_code == "AT"


def test_an_order_read_through_graphql_equals_its_webhook() -> None:
    read = order_record(ORDER_NODE, [_line_node(501, 2), _line_node(502, 1)])
    assert read == order_from_webhook(ORDER_WEBHOOK)
    assert read.customer_id == 42 and read.total_price == Decimal("45.41")
    assert read.fulfillment_status == "PARTIALLY_FULFILLED" and read.financial_status == "PAID"
    assert [line.id for line in read.lines] == [501, 502]
    assert read.lines[0].variant_id == 601


def test_a_product_read_through_graphql_equals_its_webhook() -> None:
    variants = [_variant_node(12, "M", 2), _variant_node(11, "S", 1)]
    read = product_record(PRODUCT_NODE, variants)
    assert read == product_from_webhook(PRODUCT_WEBHOOK)
    assert [(v.id, v.options[0].value) for v in read.variants] == [(11, "S"), (12, "M")]


def test_an_unreadable_record_is_named_without_its_values() -> None:
    with pytest.raises(UnreadableRecord) as negative:
        product_record(PRODUCT_NODE, [_variant_node(11, "S", 1, price="-1.00")])
    assert negative.value.key == "shopify:product:7"
    assert "variants.0.price" in negative.value.reason and "-1.00" not in negative.value.reason

    with pytest.raises(UnreadableRecord) as missing:
        customer_record({k: v for k, v in CUSTOMER_NODE.items() if k != "updatedAt"}, [])
    assert missing.value.key == "shopify:customer:42" and "updatedAt" in missing.value.reason

    bad_country = {**ADDRESS_NODE, "countryCodeV2": "Austria"}
    with pytest.raises(UnreadableRecord) as invalid:
        customer_record(CUSTOMER_NODE, [bad_country])
    assert EMAIL not in str(invalid.value) and "Austria" not in str(invalid.value)

    with pytest.raises(UnreadableRecord) as webhook:
        order_from_webhook({**ORDER_WEBHOOK, "total_price": "lots"})
    assert webhook.value.key == "shopify:order:1001" and EMAIL not in str(webhook.value)


def test_deletions_come_from_delete_webhooks_and_destroy_events() -> None:
    fired = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert deletion_from_webhook("order", {"id": 1001}, fired) == Deletion(id=1001, deleted_at=fired)
    event = EventNode.model_validate(
        {
            "id": "gid://shopify/BasicEvent/9",
            "createdAt": "2026-03-01T12:00:00Z",
            "action": "destroy",
            "subjectId": "gid://shopify/Order/1001",
            "subjectType": "ORDER",
        }
    )
    assert event_deletion(event) == Deletion(id=1001, deleted_at=fired)
    with pytest.raises(UnreadableRecord):
        deletion_from_webhook("order", {"title": "no id"}, fired)

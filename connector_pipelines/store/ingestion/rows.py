"""Canonical records <-> table rows. Personal data goes in sealed (``Customer.pii``, ``Address.pii``) and
comes out opened; everything else maps column for column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import RowMapping

from connector_pipelines.catalog.commerce import (
    Address,
    AddressPii,
    Customer,
    CustomerPii,
    Order,
    OrderLine,
    ProductRecord,
    SelectedOption,
    VariantRecord,
)
from connector_pipelines.store.ingestion.keys import PiiCipher

Row = tuple[object, ...]

# Column order of the rows built below (the writer copies rows in this order).
CUSTOMER_COLUMNS = (
    "tenant",
    "shopify_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "redacted_at",
    "state",
    "verified_email",
    "tax_exempt",
    "tags",
    "email_hash",
    "pii",
    "content_hash",
    "synced_at",
)
ADDRESS_COLUMNS = (
    "tenant",
    "customer_id",
    "position",
    "address_id",
    "is_default",
    "country_code",
    "province_code",
    "pii",
)
ORDER_COLUMNS = (
    "tenant",
    "shopify_id",
    "name",
    "customer_id",
    "currency",
    "total_price",
    "subtotal_price",
    "total_tax",
    "total_discounts",
    "financial_status",
    "fulfillment_status",
    "test",
    "tags",
    "created_at",
    "processed_at",
    "cancelled_at",
    "updated_at",
    "deleted_at",
    "content_hash",
    "synced_at",
)
LINE_COLUMNS = (
    "tenant",
    "shopify_id",
    "order_id",
    "title",
    "variant_title",
    "sku",
    "vendor",
    "product_id",
    "variant_id",
    "quantity",
    "unit_price",
    "total_discount",
)
PRODUCT_COLUMNS = (
    "tenant",
    "shopify_id",
    "title",
    "handle",
    "status",
    "vendor",
    "product_type",
    "tags",
    "created_at",
    "updated_at",
    "deleted_at",
    "content_hash",
    "synced_at",
)
VARIANT_COLUMNS = (
    "tenant",
    "shopify_id",
    "product_id",
    "title",
    "sku",
    "barcode",
    "price",
    "compare_at_price",
    "inventory_quantity",
    "position",
    "options",
    "updated_at",
)


@dataclass
class RowSet:
    """One parent row and the child rows that replace its children (child table name -> rows)."""

    parent: Row
    children: dict[str, list[Row]] = field(default_factory=dict)


def customer_record(customer_id: int) -> str:
    """What a customer's ciphertext is bound to (with the tenant)."""
    return f"customer:{customer_id}"


def address_record(customer_id: int, position: int) -> str:
    return f"customer:{customer_id}:address:{position}"


# The builders take records free of U+0000 (the writer replaces it first: PostgreSQL cannot store it in text).


def customer_rows(cipher: PiiCipher, c: Customer, content_hash: bytes, now: datetime) -> RowSet:
    tenant = cipher.tenant
    pii = c.pii
    parent = (
        tenant,
        c.id,
        c.created_at,
        c.updated_at,
        None,
        None,
        c.state,
        c.verified_email,
        c.tax_exempt,
        list(c.tags),
        cipher.email_hash(pii.email) if pii.email else None,
        cipher.seal(pii.model_dump_json(exclude_none=True).encode(), customer_record(c.id)),
        content_hash,
        now,
    )
    addresses: list[Row] = [
        (
            tenant,
            c.id,
            position,
            a.id,
            a.default,
            a.country_code,
            a.province_code,
            cipher.seal(a.pii.model_dump_json(exclude_none=True).encode(), address_record(c.id, position)),
        )
        for position, a in enumerate(c.addresses)
    ]
    return RowSet(parent, {"shopify_customer_addresses": addresses})


def order_rows(tenant: str, o: Order, content_hash: bytes, now: datetime) -> RowSet:
    parent = (
        tenant,
        o.id,
        o.name,
        o.customer_id,
        o.currency,
        o.total_price,
        o.subtotal_price,
        o.total_tax,
        o.total_discounts,
        o.financial_status,
        o.fulfillment_status,
        o.test,
        list(o.tags),
        o.created_at,
        o.processed_at,
        o.cancelled_at,
        o.updated_at,
        None,
        content_hash,
        now,
    )
    lines: list[Row] = [
        (
            tenant,
            line.id,
            o.id,
            line.title,
            line.variant_title,
            line.sku,
            line.vendor,
            line.product_id,
            line.variant_id,
            line.quantity,
            line.unit_price,
            line.total_discount,
        )
        for line in o.lines
    ]
    return RowSet(parent, {"shopify_order_lines": lines})


def product_rows(tenant: str, p: ProductRecord, content_hash: bytes, now: datetime) -> RowSet:
    parent = (
        tenant,
        p.id,
        p.title,
        p.handle,
        p.status,
        p.vendor,
        p.product_type,
        list(p.tags),
        p.created_at,
        p.updated_at,
        None,
        content_hash,
        now,
    )
    variants: list[Row] = [
        (
            tenant,
            v.id,
            p.id,
            v.title,
            v.sku,
            v.barcode,
            v.price,
            v.compare_at_price,
            v.inventory_quantity,
            v.position,
            [{"name": o.name, "value": o.value} for o in v.options],
            v.updated_at,
        )
        for v in p.variants
    ]
    return RowSet(parent, {"shopify_variants": variants})


def open_customer(cipher: PiiCipher, row: RowMapping, addresses: Sequence[RowMapping]) -> Customer:
    """The canonical customer of a stored row, personal data opened (raises PiiUnavailableError)."""
    customer_id = int(row["shopify_id"])
    pii = (
        CustomerPii.model_validate_json(cipher.open(row["pii"], customer_record(customer_id)))
        if row["pii"] is not None
        else CustomerPii()
    )
    return Customer(
        id=customer_id,
        created_at=row["created_at"] or row["updated_at"],
        updated_at=row["updated_at"],
        state=row["state"] or "ENABLED",
        verified_email=bool(row["verified_email"]),
        tax_exempt=bool(row["tax_exempt"]),
        tags=tuple(row["tags"] or ()),
        pii=pii,
        addresses=tuple(
            Address(
                id=a["address_id"],
                default=a["is_default"],
                country_code=a["country_code"],
                province_code=a["province_code"],
                pii=AddressPii.model_validate_json(
                    cipher.open(a["pii"], address_record(customer_id, a["position"]))
                )
                if a["pii"] is not None
                else AddressPii(),
            )
            for a in addresses
        ),
    )


def _money(value: Decimal | float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def stored_order(row: RowMapping, lines: Sequence[RowMapping]) -> Order:
    """The canonical order of a stored row (not a tombstone: those have no name)."""
    return Order(
        id=row["shopify_id"],
        name=row["name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        processed_at=row["processed_at"],
        currency=row["currency"],
        total_price=_money(row["total_price"]),
        subtotal_price=_money(row["subtotal_price"]),
        total_tax=_money(row["total_tax"]),
        total_discounts=_money(row["total_discounts"]),
        financial_status=row["financial_status"],
        fulfillment_status=row["fulfillment_status"],
        cancelled_at=row["cancelled_at"],
        customer_id=row["customer_id"],
        test=bool(row["test"]),
        tags=tuple(row["tags"] or ()),
        lines=tuple(
            OrderLine(
                id=line["shopify_id"],
                title=line["title"],
                quantity=line["quantity"],
                unit_price=_money(line["unit_price"]),
                total_discount=_money(line["total_discount"]),
                sku=line["sku"],
                variant_title=line["variant_title"],
                vendor=line["vendor"],
                product_id=line["product_id"],
                variant_id=line["variant_id"],
            )
            for line in lines
        ),
    )


def stored_product(row: RowMapping, variants: Sequence[RowMapping]) -> ProductRecord:
    return ProductRecord(
        id=row["shopify_id"],
        title=row["title"],
        handle=row["handle"],
        status=row["status"],
        vendor=row["vendor"],
        product_type=row["product_type"],
        tags=tuple(row["tags"] or ()),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        variants=tuple(
            VariantRecord(
                id=v["shopify_id"],
                title=v["title"],
                sku=v["sku"],
                barcode=v["barcode"],
                price=_money(v["price"]),
                compare_at_price=_money(v["compare_at_price"]),
                inventory_quantity=v["inventory_quantity"],
                position=v["position"],
                options=tuple(SelectedOption(**o) for o in v["options"] or ()),
                updated_at=v["updated_at"],
            )
            for v in variants
        ),
    )

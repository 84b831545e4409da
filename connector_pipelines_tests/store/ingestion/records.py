"""Canonical commerce records for the ingestion tests, with personal data distinctive enough to grep for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

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

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def customer(
    customer_id: int, *, updated: int = 0, email: str | None = None, first_name: str = "Zelda"
) -> Customer:
    return Customer(
        id=customer_id,
        created_at=T0,
        updated_at=at(updated),
        tags=("vip",),
        pii=CustomerPii(
            email=email or f"zelda.quux{customer_id}@example.org",
            first_name=first_name,
            last_name=f"Quuxington{customer_id}",
            phone=f"+49301234{customer_id:04d}",
        ),
        addresses=(
            Address(
                id=customer_id * 10,
                default=True,
                country_code="DE",
                province_code="BE",
                pii=AddressPii(
                    first_name=first_name,
                    last_name=f"Quuxington{customer_id}",
                    address1=f"Frobozzstrasse {customer_id}",
                    city="Xyzzyburg",
                    zip="10999",
                    country="Germany",
                ),
            ),
            Address(
                id=customer_id * 10 + 1,
                country_code="AT",
                pii=AddressPii(address1=f"Plughgasse {customer_id}", city="Wien-Plugh"),
            ),
        ),
    )


def order(
    order_id: int,
    *,
    updated: int = 0,
    lines: tuple[int, ...] | None = None,
    customer_id: int | None = 1,
    total: str = "30.00",
    currency: str = "EUR",
    sold: datetime | None = None,
    cancelled: bool = False,
    test: bool = False,
) -> Order:
    line_ids = lines if lines is not None else (order_id * 10 + 1, order_id * 10 + 2)
    return Order(
        id=order_id,
        name=f"#{1000 + order_id}",
        created_at=sold or T0,
        processed_at=sold,
        updated_at=at(updated),
        currency=currency,
        total_price=Decimal(total),
        subtotal_price=Decimal(total),
        financial_status="PAID",
        cancelled_at=at(updated) if cancelled else None,
        customer_id=customer_id,
        test=test,
        tags=("web",),
        lines=tuple(
            OrderLine(
                id=line_id,
                title=f"Line {line_id}",
                quantity=1,
                unit_price=Decimal("15.00"),
                sku=f"SKU-{line_id}",
                product_id=1,
                variant_id=11,
            )
            for line_id in line_ids
        ),
    )


def product(
    product_id: int, *, updated: int = 0, variants: tuple[int, ...] | None = None, title: str = "Tee"
) -> ProductRecord:
    variant_ids = variants if variants is not None else (product_id * 10 + 1, product_id * 10 + 2)
    return ProductRecord(
        id=product_id,
        title=title,
        handle=f"tee-{product_id}",
        vendor="ACME",
        product_type="Shirts",
        tags=("cotton",),
        created_at=T0,
        updated_at=at(updated),
        variants=tuple(
            VariantRecord(
                id=variant_id,
                title=f"Size {position}",
                sku=f"TEE-{variant_id}",
                price=Decimal("19.99"),
                inventory_quantity=position,
                position=position,
                options=(SelectedOption(name="Size", value=str(position)),),
            )
            for position, variant_id in enumerate(variant_ids)
        ),
    )

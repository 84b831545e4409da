"""The Shopify emulator's test controls for commerce data: seeding and the changes a merchant or a buyer
makes (each records an event and is offered to webhooks). Mixed into :class:`ShopifyEmulator`; every method
takes ``shop=`` (default: the first shop) and returns GIDs, so tests talk in the API's ids."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from connector_pipelines.sandbox import shopify_changes as changes
from connector_pipelines.sandbox.shopify_seed import seed_customers, seed_orders, seed_products
from connector_pipelines.sandbox.shopify_store import ShopState, gid


class SeedRequest(BaseModel):
    """What to seed (also the body of ``POST /__sandbox/seed``)."""

    products: int = Field(0, ge=0)
    variants: int = Field(5, ge=1, le=100, description="per product")
    customers: int = Field(0, ge=0)
    orders: int = Field(0, ge=0)
    lines: int = Field(3, ge=1, le=250, description="per order")
    seed: int = 0
    sku_format: str = "SKU-{product:06d}-{variant:02d}"


class SeedCounts(BaseModel):
    products: int
    variants: int
    customers: int
    orders: int
    line_items: int


class CommerceControls:
    """Seeding and changes over the host's ``shops``."""

    shops: dict[str, ShopState]

    def shop(self, name: str | None = None) -> ShopState:
        return self.shops[name] if name is not None else next(iter(self.shops.values()))

    def seed(
        self, request: SeedRequest | None = None, *, shop: str | None = None, **fields: object
    ) -> SeedCounts:
        """Seed products (with variants), customers and orders, in that order (orders use the others).

        ``emulator.seed(products=10_000, variants=5, customers=50_000, orders=100_000, lines=3)``.
        """
        wanted = request or SeedRequest.model_validate(fields)
        state = self.shop(shop)
        with state.lock:
            if wanted.products:
                seed_products(
                    state, wanted.products, wanted.variants, seed=wanted.seed, sku_format=wanted.sku_format
                )
            if wanted.customers:
                seed_customers(state, wanted.customers, seed=wanted.seed)
            if wanted.orders:
                seed_orders(state, wanted.orders, wanted.lines, seed=wanted.seed)
            return self.counts(shop)

    def counts(self, shop: str | None = None) -> SeedCounts:
        state = self.shop(shop)
        with state.lock:
            commerce = state.commerce
            return SeedCounts(
                products=len(state.products),
                variants=len(state.variants),
                customers=len(commerce.customers),
                orders=len(commerce.orders),
                line_items=sum(o.line_count for o in commerce.orders.values()),
            )

    # customers ------------------------------------------------------------------------------------------

    def create_customer(
        self,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
        tags: Sequence[str] = (),
        address: Mapping[str, str | None] | None = None,
        shop: str | None = None,
    ) -> str:
        state = self.shop(shop)
        with state.lock:
            made = changes.create_customer(
                state,
                time.time(),
                email=email,
                first_name=first_name,
                last_name=last_name,
                phone=phone,
                tags=tags,
                address=address,
            )
            return gid("Customer", made.id)

    def update_customer(self, customer: str, *, shop: str | None = None, **fields: object) -> None:
        """Change any of email, first_name, last_name, phone, tags, state, note, address (a mapping)."""
        state = self.shop(shop)
        with state.lock:
            changes.update_customer(state, customer, time.time(), fields)

    def delete_customer(self, customer: str, *, shop: str | None = None) -> None:
        state = self.shop(shop)
        with state.lock:
            changes.delete_customer(state, customer, time.time())

    # orders ---------------------------------------------------------------------------------------------

    def create_order(
        self,
        lines: Sequence[tuple[str | int, int]],
        *,
        customer: str | None = None,
        email: str | None = None,
        financial_status: Literal["PAID", "PENDING", "AUTHORIZED"] = "PAID",
        shipping: str = "0.00",
        tags: Sequence[str] = (),
        shop: str | None = None,
    ) -> str:
        """An order of ``lines`` ``(SKU or variant GID, quantity)`` at current prices."""
        state = self.shop(shop)
        with state.lock:
            made = changes.create_order(
                state,
                time.time(),
                lines,
                customer=customer,
                email=email,
                financial_status=financial_status,
                shipping=shipping,
                tags=tags,
            )
            return gid("Order", made.id)

    def pay_order(self, order: str, *, shop: str | None = None) -> None:
        state = self.shop(shop)
        with state.lock:
            changes.pay_order(state, order, time.time())

    def cancel_order(self, order: str, *, reason: str = "CUSTOMER", shop: str | None = None) -> None:
        state = self.shop(shop)
        with state.lock:
            changes.cancel_order(state, order, time.time(), reason)

    def close_order(self, order: str, *, shop: str | None = None) -> None:
        state = self.shop(shop)
        with state.lock:
            changes.close_order(state, order, time.time())

    def fulfil_order(
        self,
        order: str,
        *,
        tracking_number: str | None = None,
        tracking_company: str | None = None,
        tracking_url: str | None = None,
        shop: str | None = None,
    ) -> str:
        """Fulfil what remains of an order; returns the fulfilment's GID."""
        state = self.shop(shop)
        with state.lock:
            done = changes.fulfil_order(
                state,
                order,
                time.time(),
                tracking_number=tracking_number,
                tracking_company=tracking_company,
                tracking_url=tracking_url,
            )
            return gid("Fulfillment", done.id)

    def delete_order(self, order: str, *, shop: str | None = None) -> None:
        state = self.shop(shop)
        with state.lock:
            changes.delete_order(state, order, time.time())

    # products -------------------------------------------------------------------------------------------

    def update_product(
        self,
        product: str,
        *,
        title: str | None = None,
        price: str | None = None,
        status: str | None = None,
        shop: str | None = None,
    ) -> None:
        """Change a product's title or status, or the price of all its variants (fires products/update)."""
        state = self.shop(shop)
        with state.lock:
            changes.update_product(state, product, time.time(), title=title, price=price, status=status)

    def delete_product(self, product: str, *, shop: str | None = None) -> None:
        state = self.shop(shop)
        with state.lock:
            changes.delete_product(state, product, time.time())

    def change_sample(
        self, kind: changes.ChangeKind, fraction: float, *, seed: int = 0, shop: str | None = None
    ) -> list[str]:
        """Update a deterministic fraction of customers, orders or products; returns their GIDs."""
        state = self.shop(shop)
        with state.lock:
            return changes.change_sample(state, kind, fraction, seed, time.time())

"""Orders in the Shopware 6 emulator: state transitions as ``StateMachineRegistry`` makes them, and seeding.

Transitions (``OrderActionController`` and ``StateMachineActionController`` at ``cfc087d``): the entity's
current state is looked up, the machine's transitions are searched in ``actionName`` order for the requested
action; one that would lead to the state the entity is in already is *unnecessary* and answers that state
without changing anything (so repeating ``ship`` is harmless); one from the current state is taken; anything
else is 400 ``SYSTEM__ILLEGAL_STATE_TRANSITION`` naming the possible actions. Before 6.7, ``cancel`` is
allowed from every state. The answer is the target ``state_machine_state`` as ``jsonSerialize`` renders it.

Seeding (:class:`SandboxOrder`): a checkout-like order with customer, addresses, product lines, shipping
costs, one delivery and one payment, priced consistently for tax status ``gross``, ``net`` or ``tax-free``
(the totals and taxes Shopware's cart calculation would store), written through the emulator's own sync
validation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector_pipelines.sandbox.shopware6_errors import ShopwareError, fail
from connector_pipelines.sandbox.shopware6_fields import SYSTEM_LANGUAGE_ID, seed_id
from connector_pipelines.sandbox.shopware6_order_schema import (
    DELIVERY_STATE,
    MACHINES,
    ORDER_STATE,
    TRANSACTION_STATE,
    Machine,
    country_id,
)
from connector_pipelines.sandbox.shopware6_read import ReadContext
from connector_pipelines.sandbox.shopware6_render import Renderer
from connector_pipelines.sandbox.shopware6_schema import SCHEMA, STOREFRONT_SALES_CHANNEL_ID
from connector_pipelines.sandbox.shopware6_store import Store, now_iso, unpack

CENT = Decimal("0.01")
INVOICE_PAYMENT_METHOD_ID = seed_id("payment-method:invoice")
STANDARD_SHIPPING_METHOD_ID = seed_id("shipping-method:standard")
TaxStatus = Literal["gross", "net", "tax-free"]


# -- state transitions ------------------------------------------------------------------------------------


class StateMachines:
    """State transitions of the entities that carry a ``StateMachineStateField``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def transition(
        self, entity: str, entity_id: str, action: str, state_field: str = "stateId"
    ) -> dict[str, Any]:
        """Take ``action`` from the entity's current state; returns the state reached (``toPlace``)."""
        with self.store.lock:
            machine, row = self._subject(entity, entity_id, state_field)
            current = str(row[state_field])
            if not action:
                raise _illegal(current, action, self._possible(machine, current))
            target = self._destination(machine, current, action)
            if target != current:
                self.store.put(entity, entity_id, {**row, state_field: target, "updatedAt": now_iso()})
            return self._render_state(target)

    def available(self, entity: str, entity_id: str, state_field: str = "stateId") -> list[dict[str, Any]]:
        """``GET /api/_action/state-machine/{entity}/{id}/state``: transitions open from the current state."""
        with self.store.lock:
            machine, row = self._subject(entity, entity_id, state_field)
            states = self.store.rows["state_machine_state"]
            out = []
            for action, source, target in sorted(machine.transitions):
                if machine.state_id(source) != row[state_field]:
                    continue
                to_state = states[machine.state_id(target)]
                out.append(
                    {
                        "name": unpack(to_state.get(f"name|{SYSTEM_LANGUAGE_ID}")),
                        "technicalName": target,
                        "actionName": action,
                        "fromStateName": source,
                        "toStateName": target,
                        "url": f"/api/_action/state-machine/{entity}/{entity_id}/state/{action}",
                    }
                )
            return out

    def _subject(self, entity: str, entity_id: str, state_field: str) -> tuple[Machine, dict[str, Any]]:
        ent = SCHEMA.get(entity)
        if ent is None:
            raise fail(
                500,
                "FRAMEWORK__DEFINITION_NOT_FOUND",
                'Definition for entity "{{ entityName }}" does not exist.',
                {"entityName": entity},
            )
        fd = ent.fields.get(state_field)
        if fd is None or fd.kind != "state" or fd.machine is None:
            raise fail(
                400,
                "SYSTEM__STATE_MACHINE_INVALID_STATE_FIELD",
                'Field "{{ fieldName }}" does not exists or isn\'t of type StateMachineStateField.',
                {"fieldName": state_field},
            )
        row = self.store.rows[entity].get(entity_id.lower())
        if row is None:
            raise fail(
                400,
                "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID",
                'Unable to read entity "{{ entityName }}" with id "{{ entityId }}".',
                {"entityName": entity, "entityId": entity_id},
            )
        return MACHINES[fd.machine], row

    @staticmethod
    def _possible(machine: Machine, current: str) -> list[str]:
        return [a for a, source, _ in sorted(machine.transitions) if machine.state_id(source) == current]

    def _destination(self, machine: Machine, current: str, action: str) -> str:
        for name, source, target in sorted(machine.transitions, key=lambda t: t[0]):
            target_id = machine.state_id(target)
            if name == "cancel" and action == "cancel":
                return target_id  # "Always allow to cancel a payment whether it's a valid transition or not"
            if name != action:
                continue
            if target_id == current:
                return current  # unnecessary: already there
            if machine.state_id(source) == current:
                return target_id
        raise _illegal(current, action, self._possible(machine, current))

    def _render_state(self, state_id: str) -> dict[str, Any]:
        row = self.store.rows["state_machine_state"][state_id]
        rendered = Renderer(self.store, ReadContext(SYSTEM_LANGUAGE_ID)).entity(
            SCHEMA["state_machine_state"], state_id, row
        )
        rendered.pop("apiAlias", None)  # jsonSerialize() of the entity, not the API encoder's output
        return rendered


def _illegal(current: str, action: str, possible: list[str]) -> ShopwareError:
    return fail(
        400,
        "SYSTEM__ILLEGAL_STATE_TRANSITION",
        'Illegal transition "{{ transition }}" from state "{{ currentState }}". '
        "Possible transitions are: {{ possibleTransitionsString }}",
        {
            "transition": action,
            "currentState": current,
            "possibleTransitionsString": ", ".join(possible),
            "possibleTransitions": possible,
        },
    )


# -- seeding ---------------------------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SandboxAddress(_Spec):
    first_name: str = "Erika"
    last_name: str = "Mustermann"
    street: str = "Hauptstr. 1"
    zipcode: str | None = "10115"
    city: str = "Berlin"
    country_iso: str = "DE"
    company: str | None = None
    phone_number: str | None = None
    vat_id: str | None = None
    additional_address_line1: str | None = None


class SandboxCustomer(_Spec):
    email: str = "erika@example.com"
    first_name: str = "Erika"
    last_name: str = "Mustermann"
    company: str | None = None
    customer_id: str | None = Field(None, description="the shop customer's id; None: a guest order")
    customer_number: str | None = None
    vat_ids: tuple[str, ...] = ()


class SandboxLine(_Spec):
    product_number: str
    quantity: int = Field(1, ge=1)
    unit_price: Decimal = Field(description="gross for tax status gross, else net")
    tax_rate: Decimal = Decimal(19)
    label: str | None = None


class SandboxOrder(_Spec):
    order_number: str | None = None
    customer: SandboxCustomer = SandboxCustomer()
    billing: SandboxAddress = SandboxAddress()
    shipping: SandboxAddress | None = Field(None, description="None: ship to the billing address")
    lines: tuple[SandboxLine, ...] = Field(min_length=1)
    currency_iso: str = "EUR"
    tax_status: TaxStatus = "gross"
    shipping_cost: Decimal = Decimal("4.90")
    shipping_tax_rate: Decimal = Decimal(19)
    paid: bool = True
    customer_comment: str | None = None
    ordered_at: datetime | None = Field(None, description="also the order's createdAt; None: now")


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class _Taxes:
    """Taxes per rate, summed the way the cart sums them."""

    def __init__(self, status: TaxStatus) -> None:
        self.status = status
        self.by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}  # rate -> (tax, taxed price)

    def price(self, unit: Decimal, quantity: int, rate: Decimal) -> dict[str, Any]:
        """A CalculatedPrice of ``quantity`` at ``unit``; records its tax."""
        total = _round(unit * quantity)
        if self.status == "tax-free":
            tax, rate = Decimal(0), Decimal(0)
        elif self.status == "gross":
            tax = _round(total - total / (1 + rate / 100))
        else:
            tax = _round(total * rate / 100)
        old_tax, old_price = self.by_rate.get(rate, (Decimal(0), Decimal(0)))
        self.by_rate[rate] = (old_tax + tax, old_price + total)
        return {
            "unitPrice": float(unit),
            "quantity": quantity,
            "totalPrice": float(total),
            "calculatedTaxes": [
                {"tax": float(tax), "taxRate": float(rate), "price": float(total), "extensions": []}
            ],
            "taxRules": [{"taxRate": float(rate), "percentage": 100.0, "extensions": []}],
            "referencePrice": None,
            "listPrice": None,
            "regulationPrice": None,
        }

    def calculated(self) -> list[dict[str, Any]]:
        return [
            {"tax": float(tax), "taxRate": float(rate), "price": float(price), "extensions": []}
            for rate, (tax, price) in sorted(self.by_rate.items())
        ]

    def rules(self) -> list[dict[str, Any]]:
        whole = sum((price for _, price in self.by_rate.values()), Decimal(0)) or Decimal(1)
        return [
            {"taxRate": float(rate), "percentage": float(_round(price / whole * 100)), "extensions": []}
            for rate, (_, price) in sorted(self.by_rate.items())
        ]

    @property
    def tax(self) -> Decimal:
        return sum((tax for tax, _ in self.by_rate.values()), Decimal(0))


def _address(address_id: str, spec: SandboxAddress) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": address_id,
        "countryId": country_id(spec.country_iso),
        "firstName": spec.first_name,
        "lastName": spec.last_name,
        "street": spec.street,
        "zipcode": spec.zipcode,
        "city": spec.city,
    }
    optional = {
        "company": spec.company,
        "phoneNumber": spec.phone_number,
        "vatId": spec.vat_id,
        "additionalAddressLine1": spec.additional_address_line1,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def order_payload(spec: SandboxOrder, store: Store, order_id: str) -> dict[str, Any]:
    """The order as a checkout would write it (``OrderConverter::convertToOrder``), for ``_action/sync``."""
    currency_id = next(
        (k for k, row in store.rows["currency"].items() if row.get("isoCode") == spec.currency_iso), None
    )
    if currency_id is None:
        raise ValueError(f"the sandbox has no currency {spec.currency_iso!r}")
    currency = store.rows["currency"][currency_id]
    taxes = _Taxes(spec.tax_status)
    line_items: list[dict[str, Any]] = []
    position_total = Decimal(0)
    for position, line in enumerate(spec.lines, start=1):
        product_id = store.product_id_by_number(line.product_number)
        item_id = seed_id(f"order-line:{order_id}:{position}")
        price = taxes.price(line.unit_price, line.quantity, line.tax_rate)
        position_total += Decimal(str(price["totalPrice"]))
        line_items.append(
            {
                "id": item_id,
                "identifier": product_id or item_id,
                "referencedId": product_id,
                "productId": product_id,
                "type": "product",
                "label": line.label or line.product_number,
                "quantity": line.quantity,
                "position": position,
                "good": True,
                "removable": True,
                "stackable": True,
                "states": ["is-physical"],
                "payload": {"productNumber": line.product_number},
                "price": price,
                "priceDefinition": {
                    "type": "quantity",
                    "price": float(line.unit_price),
                    "quantity": line.quantity,
                    "isCalculated": True,
                    "taxRules": [{"taxRate": float(line.tax_rate), "percentage": 100.0}],
                },
            }
        )
    shipping = taxes.price(spec.shipping_cost, 1, spec.shipping_tax_rate)
    goods = position_total + spec.shipping_cost
    net, total = (goods - taxes.tax, goods) if spec.tax_status == "gross" else (goods, goods + taxes.tax)
    billing_id = seed_id(f"order-address:{order_id}:billing")
    shipping_id = seed_id(f"order-address:{order_id}:shipping") if spec.shipping else billing_id
    addresses = [_address(billing_id, spec.billing)]
    if spec.shipping is not None:
        addresses.append(_address(shipping_id, spec.shipping))
    customer = spec.customer
    ordered = (spec.ordered_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    order: dict[str, Any] = {
        "id": order_id,
        "orderDateTime": ordered,
        "currencyId": currency_id,
        "currencyFactor": float(currency.get("factor") or 1.0),
        "languageId": SYSTEM_LANGUAGE_ID,
        "salesChannelId": STOREFRONT_SALES_CHANNEL_ID,
        "billingAddressId": billing_id,
        "stateId": MACHINES[ORDER_STATE].state_id("open"),
        "itemRounding": unpack(currency.get("itemRounding")),
        "totalRounding": unpack(currency.get("totalRounding")),
        "price": {
            "netPrice": float(net),
            "totalPrice": float(total),
            "rawTotal": float(total),
            "positionPrice": float(position_total),
            "taxStatus": spec.tax_status,
            "calculatedTaxes": taxes.calculated(),
            "taxRules": taxes.rules(),
        },
        "shippingCosts": shipping,
        "orderCustomer": {
            "id": seed_id(f"order-customer:{order_id}"),
            "customerId": customer.customer_id,
            "email": customer.email,
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "company": customer.company,
            "customerNumber": customer.customer_number,
            "vatIds": list(customer.vat_ids) or None,
        },
        "addresses": addresses,
        "lineItems": line_items,
        "deliveries": [
            {
                "id": seed_id(f"order-delivery:{order_id}"),
                "shippingOrderAddressId": shipping_id,
                "shippingMethodId": STANDARD_SHIPPING_METHOD_ID,
                "stateId": MACHINES[DELIVERY_STATE].state_id("open"),
                "trackingCodes": [],
                "shippingDateEarliest": ordered,
                "shippingDateLatest": ordered,
                "shippingCosts": shipping,
            }
        ],
        "transactions": [
            {
                "id": seed_id(f"order-transaction:{order_id}"),
                "paymentMethodId": INVOICE_PAYMENT_METHOD_ID,
                "stateId": MACHINES[TRANSACTION_STATE].state_id("paid" if spec.paid else "open"),
                "amount": {
                    "unitPrice": float(total),
                    "quantity": 1,
                    "totalPrice": float(total),
                    "calculatedTaxes": taxes.calculated(),
                    "taxRules": taxes.rules(),
                },
            }
        ],
    }
    if spec.order_number is not None:
        order["orderNumber"] = spec.order_number
    if spec.customer_comment is not None:
        order["customerComment"] = spec.customer_comment
    return order


def backdate(store: Store, order_id: str, created_at: datetime) -> None:
    """Set the order's and its parts' ``createdAt`` (a test steering cursors without waiting)."""
    stamp = created_at.astimezone(UTC).isoformat(timespec="milliseconds")
    with store.lock:
        parts = [("order", order_id)]
        for entity in (
            "order_customer",
            "order_address",
            "order_line_item",
            "order_delivery",
            "order_transaction",
        ):
            parts.extend((entity, key) for key in store.referencing(entity, "orderId", order_id))
        for entity, key in parts:
            row = store.rows[entity].get(key)
            if row is not None:
                store.put(entity, key, {**row, "createdAt": stamp})

"""Order entities of the Shopware 6 emulator, their state machines and the countries addresses point at.

Fields follow the DAL definitions at shopware/shopware ``cfc087d`` (``OrderDefinition``,
``OrderCustomerDefinition``, ``OrderAddressDefinition``, ``OrderLineItemDefinition``,
``OrderDeliveryDefinition``, ``OrderTransactionDefinition``, ``StateMachine*Definition``,
``CountryDefinition``). Fields the DB generates from a price JSON (``amountTotal``, ``unitPrice``, ...) are
write-protected and computed on read. Entities the emulator does not store (customer, payment and shipping
methods, salutations, documents, tags) are plain ids or phantoms.

The state machines are those the migrations build (``Migration1536233560BasicData`` and the later ones adding
payment states and delivery transitions): every state and every transition, with deterministic ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector_pipelines.sandbox.shopware6_fields import (
    DEFAULT_CURRENCY_ID,
    EntityDef,
    FieldDef,
    entity,
    fk,
    m2o,
    o2m,
    o2o,
    plain,
    ro,
    seed_id,
    state,
    tr,
    version,
)

ORDER_STATE = "order.state"
DELIVERY_STATE = "order_delivery.state"
TRANSACTION_STATE = "order_transaction.state"


def _sized(name: str, length: int, *, required: bool = False) -> FieldDef:
    return FieldDef(name, "str", required=required, max_length=length)


ORDER_ENTITIES: list[EntityDef] = [
    entity(
        "state_machine",
        [
            plain("technicalName", "str", required=True),
            tr("name"),
            tr("customFields", "json"),
            fk("initialStateId", "state_machine_state", "set_null"),
        ],
        [
            o2m("states", "state_machine_state", "stateMachineId"),
            o2m("transitions", "state_machine_transition", "stateMachineId"),
        ],
        unique=(("technicalName",),),
        many=("historyEntries",),
    ),
    entity(
        "state_machine_state",
        [
            plain("technicalName", "str", required=True),
            tr("name"),
            fk("stateMachineId", "state_machine", "cascade", required=True),
            tr("customFields", "json"),
        ],
        [
            m2o("stateMachine", "state_machine", "stateMachineId"),
            o2m("fromStateMachineTransitions", "state_machine_transition", "fromStateId"),
            o2m("toStateMachineTransitions", "state_machine_transition", "toStateId"),
            o2m("orderTransactions", "order_transaction", "stateId"),
            o2m("orderDeliveries", "order_delivery", "stateId"),
            o2m("orders", "order", "stateId"),
        ],
        unique=(("technicalName", "stateMachineId"),),
        many=(
            "orderTransactionCaptures",
            "orderTransactionCaptureRefunds",
            "toStateMachineHistoryEntries",
            "fromStateMachineHistoryEntries",
        ),
    ),
    entity(
        "state_machine_transition",
        [
            plain("actionName", "str", required=True),
            fk("stateMachineId", "state_machine", "cascade", required=True),
            fk("fromStateId", "state_machine_state", "cascade", required=True),
            fk("toStateId", "state_machine_state", "cascade", required=True),
            plain("customFields", "json"),
        ],
        [
            m2o("stateMachine", "state_machine", "stateMachineId"),
            m2o("fromStateMachineState", "state_machine_state", "fromStateId"),
            m2o("toStateMachineState", "state_machine_state", "toStateId"),
        ],
    ),
    entity(
        "country",
        [
            tr("name"),
            plain("iso", "str"),
            plain("position", "int"),
            plain("active", "bool"),
            plain("shippingAvailable", "bool"),
            plain("iso3", "str"),
            plain("displayStateInRegistration", "bool"),
            plain("forceStateInRegistration", "bool"),
            plain("checkVatIdPattern", "bool"),
            plain("vatIdRequired", "bool"),
            plain("vatIdPattern", "str"),
            tr("customFields", "json"),
            plain("customerTax", "json"),
            plain("companyTax", "json"),
            plain("postalCodeRequired", "bool"),
            plain("checkPostalCodePattern", "bool"),
            plain("checkAdvancedPostalCodePattern", "bool"),
            plain("advancedPostalCodePattern", "str"),
            tr("addressFormat", "json"),
            _sized("defaultPostalCodePattern", 1024),
            plain("isEu", "bool", required=True),
        ],
        [o2m("orderAddresses", "order_address", "countryId")],
        {
            "vatIdRequired": False,
            "postalCodeRequired": False,
            "checkPostalCodePattern": False,
            "checkAdvancedPostalCodePattern": False,
            "customerTax": {"enabled": False, "currencyId": DEFAULT_CURRENCY_ID, "amount": 0},
            "companyTax": {"enabled": False, "currencyId": DEFAULT_CURRENCY_ID, "amount": 0},
            "isEu": False,
        },
        many=(
            "states",
            "customerAddresses",
            "salesChannelDefaultAssignments",
            "salesChannels",
            "taxRules",
            "currencyCountryRoundings",
        ),
    ),
    entity(
        "order",
        [
            version(),
            ro("autoIncrement", "int"),
            plain("orderNumber", "str"),
            # FkField with NoConstraint: the billing address is written in the same request as the order.
            plain("billingAddressId", "uuid", required=True),
            version("billingAddressVersionId"),
            fk("currencyId", "currency", "restrict", required=True),
            fk("languageId", "language", "restrict", required=True),
            fk("salesChannelId", "sales_channel", "restrict", required=True),
            plain("orderDateTime", "date", required=True),
            ro("orderDate", "date"),
            plain("price", "cart_price"),
            ro("amountTotal", "float"),
            ro("amountNet", "float"),
            ro("positionPrice", "float"),
            ro("taxStatus", "str"),
            plain("shippingCosts", "calculated_price"),
            ro("shippingTotal", "float"),
            plain("currencyFactor", "float", required=True),
            plain("deepLinkCode", "str"),
            plain("affiliateCode", "str"),
            plain("campaignCode", "str"),
            plain("customerComment", "text"),
            plain("source", "str"),
            state("stateId", ORDER_STATE),
            plain("ruleIds", "list"),
            plain("customFields", "json"),
            plain("createdById", "uuid"),
            plain("updatedById", "uuid"),
            plain("itemRounding", "json", required=True),
            plain("totalRounding", "json", required=True),
        ],
        [
            m2o("stateMachineState", "state_machine_state", "stateId"),
            o2o("orderCustomer", "order_customer", "orderId"),
            m2o("currency", "currency", "currencyId"),
            m2o("language", "language", "languageId"),
            m2o("salesChannel", "sales_channel", "salesChannelId"),
            o2m("addresses", "order_address", "orderId"),
            m2o("billingAddress", "order_address", "billingAddressId"),
            o2m("deliveries", "order_delivery", "orderId"),
            o2m("lineItems", "order_line_item", "orderId"),
            o2m("transactions", "order_transaction", "orderId"),
        ],
        versioned=True,
        unique=(("deepLinkCode",),),
        many=("documents", "tags"),
        one=("createdBy", "updatedBy"),
    ),
    entity(
        "order_customer",
        [
            version(),
            plain("customerId", "uuid"),
            fk("orderId", "order", "cascade", required=True),
            version("orderVersionId"),
            plain("email", "str", required=True),
            plain("salutationId", "uuid"),
            plain("firstName", "str", required=True),
            plain("lastName", "str", required=True),
            plain("company", "str"),
            plain("title", "str"),
            plain("vatIds", "list"),
            plain("customerNumber", "str"),
            plain("customFields", "json"),
            plain("remoteAddress", "str"),
        ],
        [m2o("order", "order", "orderId")],
        versioned=True,
        one=("customer", "salutation"),
    ),
    entity(
        "order_address",
        [
            version(),
            fk("countryId", "country", "restrict", required=True),
            plain("countryStateId", "uuid"),
            fk("orderId", "order", "cascade", required=True),
            version("orderVersionId"),
            plain("salutationId", "uuid"),
            _sized("firstName", 50, required=True),
            _sized("lastName", 60, required=True),
            plain("street", "str", required=True),
            plain("zipcode", "str"),
            plain("city", "str", required=True),
            plain("company", "str"),
            plain("department", "str"),
            plain("title", "str"),
            plain("vatId", "str"),
            plain("phoneNumber", "str"),
            plain("additionalAddressLine1", "str"),
            plain("additionalAddressLine2", "str"),
            plain("customFields", "json"),
        ],
        [
            m2o("country", "country", "countryId"),
            m2o("order", "order", "orderId"),
            o2m("orderDeliveries", "order_delivery", "shippingOrderAddressId"),
        ],
        versioned=True,
        one=("countryState", "salutation"),
    ),
    entity(
        "order_line_item",
        [
            version(),
            fk("orderId", "order", "cascade", required=True),
            version("orderVersionId"),
            fk("productId", "product", "set_null"),
            version("productVersionId"),
            plain("promotionId", "uuid"),
            fk("parentId", "order_line_item", "cascade"),
            version("parentVersionId"),
            fk("coverId", "media", "set_null"),
            plain("identifier", "str", required=True),
            plain("referencedId", "str"),
            plain("quantity", "int", required=True),
            plain("label", "str", required=True),
            plain("payload", "json"),
            plain("good", "bool"),
            plain("removable", "bool"),
            plain("stackable", "bool"),
            plain("position", "int", required=True),
            plain("states", "list", required=True),
            plain("price", "calculated_price", required=True),
            plain("priceDefinition", "json"),
            # Computed (generated columns over price): rendered, never written.
            ro("unitPrice", "float"),
            ro("totalPrice", "float"),
            plain("description", "text"),
            plain("type", "str"),
            plain("customFields", "json"),
        ],
        [
            m2o("cover", "media", "coverId"),
            m2o("order", "order", "orderId"),
            m2o("product", "product", "productId"),
            m2o("parent", "order_line_item", "parentId"),
            o2m("children", "order_line_item", "parentId"),
        ],
        {"position": 1},
        versioned=True,
        many=("orderDeliveryPositions", "orderTransactionCaptureRefundPositions", "downloads"),
        one=("promotion",),
    ),
    entity(
        "order_delivery",
        [
            version(),
            fk("orderId", "order", "cascade", required=True),
            version("orderVersionId"),
            fk("shippingOrderAddressId", "order_address", "cascade", required=True),
            version("shippingOrderAddressVersionId"),
            plain("shippingMethodId", "uuid", required=True),
            state("stateId", DELIVERY_STATE),
            plain("trackingCodes", "list", required=True),
            plain("shippingDateEarliest", "date", required=True),
            plain("shippingDateLatest", "date", required=True),
            plain("shippingCosts", "calculated_price"),
            plain("customFields", "json"),
        ],
        [
            m2o("stateMachineState", "state_machine_state", "stateId"),
            m2o("order", "order", "orderId"),
            m2o("shippingOrderAddress", "order_address", "shippingOrderAddressId"),
        ],
        {"trackingCodes": []},
        versioned=True,
        many=("positions",),
        one=("shippingMethod",),
    ),
    entity(
        "order_transaction",
        [
            version(),
            fk("orderId", "order", "cascade", required=True),
            version("orderVersionId"),
            plain("paymentMethodId", "uuid", required=True),
            plain("amount", "calculated_price", required=True),
            plain("validationData", "json"),
            state("stateId", TRANSACTION_STATE),
            plain("customFields", "json"),
        ],
        [
            m2o("stateMachineState", "state_machine_state", "stateId"),
            m2o("order", "order", "orderId"),
        ],
        versioned=True,
        many=("captures",),
        one=("paymentMethod",),
    ),
]


# -- seeds: state machines and countries -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Machine:
    technical_name: str
    name: str
    initial: str
    states: dict[str, str]  # technical name -> English name
    transitions: tuple[tuple[str, str, str], ...]  # (action, from, to)

    @property
    def id(self) -> str:
        return seed_id(f"state-machine:{self.technical_name}")

    def state_id(self, technical_name: str) -> str:
        if technical_name not in self.states:
            raise KeyError(f"{self.technical_name} has no state {technical_name!r}")
        return seed_id(f"state:{self.technical_name}:{technical_name}")


def _reopen_all(to: str, *sources: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(("reopen", source, to) for source in sources)


MACHINES: dict[str, Machine] = {
    machine.technical_name: machine
    for machine in (
        Machine(
            ORDER_STATE,
            "Order state",
            "open",
            {"open": "Open", "in_progress": "In progress", "completed": "Done", "cancelled": "Cancelled"},
            (
                ("process", "open", "in_progress"),
                ("cancel", "open", "cancelled"),
                ("cancel", "in_progress", "cancelled"),
                ("complete", "in_progress", "completed"),
                *_reopen_all("open", "cancelled", "completed"),
            ),
        ),
        Machine(
            DELIVERY_STATE,
            "Order state",
            "open",
            {
                "open": "Open",
                "shipped": "Shipped",
                "shipped_partially": "Shipped (partially)",
                "returned": "Returned",
                "returned_partially": "Returned (partially)",
                "cancelled": "Cancelled",
            },
            (
                ("ship", "open", "shipped"),
                ("ship_partially", "open", "shipped_partially"),
                ("cancel", "open", "cancelled"),
                ("retour", "shipped", "returned"),
                ("retour_partially", "shipped", "returned_partially"),
                ("cancel", "shipped", "cancelled"),
                ("retour", "shipped_partially", "returned"),
                ("retour_partially", "shipped_partially", "returned_partially"),
                ("ship", "shipped_partially", "shipped"),
                ("cancel", "shipped_partially", "cancelled"),
                ("retour", "returned_partially", "returned"),
                *_reopen_all(
                    "open", "cancelled", "shipped", "shipped_partially", "returned", "returned_partially"
                ),
            ),
        ),
        Machine(
            TRANSACTION_STATE,
            "Payment state",
            "open",
            {
                "open": "Open",
                "paid": "Paid",
                "paid_partially": "Paid (partially)",
                "refunded": "Refunded",
                "refunded_partially": "Refunded (partially)",
                "cancelled": "Cancelled",
                "reminded": "Reminded",
                "in_progress": "In Progress",
                "failed": "Failed",
                "authorized": "Authorized",
                "chargeback": "Chargeback",
                "unconfirmed": "Unconfirmed",
            },
            (
                ("pay", "open", "paid"),
                ("pay_partially", "open", "paid_partially"),
                ("cancel", "open", "cancelled"),
                ("remind", "open", "reminded"),
                ("pay", "reminded", "paid"),
                ("pay_partially", "reminded", "paid_partially"),
                ("cancel", "reminded", "cancelled"),
                ("remind", "paid_partially", "reminded"),
                ("pay", "paid_partially", "paid"),
                ("refund_partially", "paid_partially", "refunded_partially"),
                ("refund", "paid_partially", "refunded"),
                ("cancel", "paid_partially", "cancelled"),
                ("refund_partially", "paid", "refunded_partially"),
                ("refund", "paid", "refunded"),
                ("cancel", "paid", "cancelled"),
                ("refund", "refunded_partially", "refunded"),
                ("cancel", "refunded_partially", "cancelled"),
                ("reopen", "cancelled", "open"),
                # Migration1580746806AddPaymentStates
                ("reopen", "in_progress", "open"),
                ("fail", "in_progress", "failed"),
                ("cancel", "in_progress", "cancelled"),
                ("paid", "in_progress", "paid"),
                ("paid_partially", "in_progress", "paid_partially"),
                ("pay_partially", "in_progress", "paid_partially"),
                ("reopen", "failed", "open"),
                ("do_pay", "failed", "in_progress"),
                ("pay", "failed", "paid"),
                ("fail", "failed", "failed"),
                ("paid", "failed", "paid"),
                ("paid_partially", "failed", "paid_partially"),
                ("pay_partially", "failed", "paid_partially"),
                ("do_pay", "open", "in_progress"),
                ("fail", "open", "failed"),
                ("reopen", "reminded", "open"),
                ("do_pay", "reminded", "in_progress"),
                ("reopen", "paid_partially", "open"),
                ("do_pay", "paid_partially", "in_progress"),
                ("reopen", "paid", "open"),
                ("reopen", "refunded_partially", "open"),
                # Migration1587461582AddOpenToPaidTransition
                ("paid", "open", "paid"),
                ("paid_partially", "open", "paid_partially"),
                # Migration1591361320ChargebackAndAuthorized
                ("authorize", "open", "authorized"),
                ("authorize", "in_progress", "authorized"),
                ("authorize", "reminded", "authorized"),
                ("paid", "authorized", "paid"),
                ("paid_partially", "authorized", "paid_partially"),
                ("fail", "authorized", "failed"),
                ("cancel", "authorized", "cancelled"),
                ("chargeback", "paid", "chargeback"),
                ("chargeback", "paid_partially", "chargeback"),
                ("paid", "chargeback", "paid"),
                ("paid_partially", "chargeback", "paid_partially"),
                ("cancel", "chargeback", "cancelled"),
                # Migration1600769357AddTransition
                ("paid", "cancelled", "paid"),
                # Migration1628519513AddUnconfirmedTransactionState
                ("process_unconfirmed", "open", "unconfirmed"),
                ("process_unconfirmed", "reminded", "unconfirmed"),
                ("process_unconfirmed", "failed", "unconfirmed"),
                ("process_unconfirmed", "cancelled", "unconfirmed"),
                ("process_unconfirmed", "paid_partially", "unconfirmed"),
                ("paid", "unconfirmed", "paid"),
                ("paid_partially", "unconfirmed", "paid_partially"),
                ("fail", "unconfirmed", "failed"),
                ("cancel", "unconfirmed", "cancelled"),
                ("authorize", "unconfirmed", "authorized"),
                ("reopen", "unconfirmed", "open"),
            ),
        ),
    )
}


def transition_id(machine: Machine, action: str, source: str, target: str) -> str:
    return seed_id(f"transition:{machine.technical_name}:{action}:{source}:{target}")


# (iso, iso3, English name, EU member)
COUNTRIES: tuple[tuple[str, str, str, bool], ...] = (
    ("DE", "DEU", "Germany", True),
    ("AT", "AUT", "Austria", True),
    ("NL", "NLD", "Netherlands", True),
    ("FR", "FRA", "France", True),
    ("CH", "CHE", "Switzerland", False),
    ("GB", "GBR", "United Kingdom", False),
    ("US", "USA", "USA", False),
    ("TR", "TUR", "Türkiye", False),
)


def country_id(iso: str) -> str:
    return seed_id(f"country:{iso}")

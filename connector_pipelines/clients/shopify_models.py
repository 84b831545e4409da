"""Shopify Admin GraphQL payloads the client reads and sends: answers (productSet results, variants, bulk
operations and their JSONL lines) and the typed inputs of productSet, with the variables of one call or
bulk line."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from connector_pipelines.clients.http import JsonValue

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class UserError(_Model):
    field: list[str] | None = None
    message: str
    code: str | None = None


class GraphQLErrorInfo(_Model):
    message: str
    path: list[str | int] | None = None
    extensions: dict[str, JsonValue] | None = None

    @property
    def code(self) -> str | None:
        code = (self.extensions or {}).get("code")
        return code if isinstance(code, str) else None


class SelectedOption(_Model):
    name: str
    value: str


class VariantSummary(_Model):
    id: str
    sku: str | None = None
    price: str | None = None
    compare_at_price: str | None = None
    barcode: str | None = None
    selected_options: list[SelectedOption] = Field(default_factory=list)


class ProductSetProduct(_Model):
    id: str
    handle: str
    title: str
    status: str
    variants: list[VariantSummary]
    variants_truncated: bool = Field(False, description="the product has more than the 250 variants returned")

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("variants"), dict):
            connection = data["variants"]
            more = (connection.get("pageInfo") or {}).get("hasNextPage", False)
            return {**data, "variants": connection.get("nodes", []), "variantsTruncated": more}
        return data


class ProductSetResult(_Model):
    product: ProductSetProduct | None = None
    user_errors: list[UserError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.user_errors and self.product is not None


class ProductDeleteResult(_Model):
    deleted_product_id: str | None = None
    user_errors: list[UserError] = Field(default_factory=list)


class VariantRef(_Model):
    # Nullable, yet required: the document asks for them, so an answer without one breaks the contract.
    id: str
    sku: str | None
    price: str | None
    barcode: str | None
    product_id: str
    product_handle: str
    product_status: str

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("product"), dict):
            product = data["product"]
            return {
                **data,
                "productId": product.get("id"),
                "productHandle": product.get("handle"),
                "productStatus": product.get("status"),
            }
        return data


class ProductSummary(_Model):
    id: str
    handle: str
    title: str
    status: str
    vendor: str
    product_type: str
    tags: list[str]
    created_at: str
    updated_at: str
    variants_count: int

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("variantsCount"), dict):
            return {**data, "variantsCount": data["variantsCount"].get("count")}
        return data


class BulkOperation(_Model):
    id: str
    status: str
    type: str
    created_at: str
    query: str = ""
    error_code: str | None = None
    completed_at: str | None = None
    object_count: int = 0  # UnsignedInt64 arrives as a string
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    partial_data_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "COMPLETED"


class BulkResultLine(_Model):
    """One line of a bulk mutation's result: the data (or errors) of input line ``line_number``."""

    line_number: int = Field(alias="__lineNumber")
    data: dict[str, JsonValue] | None = None
    errors: list[GraphQLErrorInfo] = Field(default_factory=list)

    @property
    def payload(self) -> dict[str, JsonValue] | None:
        """The mutation's payload (``data.<mutation field>``)."""
        if not self.data:
            return None
        value = next(iter(self.data.values()))
        return value if isinstance(value, dict) else None

    @property
    def user_errors(self) -> list[UserError]:
        payload = self.payload or {}
        return [UserError.model_validate(e) for e in payload.get("userErrors") or []]

    @property
    def ok(self) -> bool:
        return not self.errors and self.payload is not None and not self.user_errors


# --- inputs -------------------------------------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_graphql(self) -> dict[str, JsonValue]:
        # exclude_unset: a field set to None explicitly is sent as null (clears it); unset fields stay out.
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class OptionValueInput(_Input):
    id: str | None = None
    name: str | None = None


class OptionInput(_Input):
    id: str | None = None
    name: str | None = None
    position: int | None = None
    values: list[OptionValueInput] | None = None


class VariantOptionValueInput(_Input):
    option_name: str | None = None
    name: str | None = None
    option_id: str | None = None
    id: str | None = None


class InventoryItemInput(_Input):
    tracked: bool | None = None
    cost: Decimal | None = None
    requires_shipping: bool | None = None


class InventoryQuantityInput(_Input):
    location_id: str
    name: Literal["available", "on_hand"] = "available"
    quantity: int


class MetafieldInput(_Input):
    id: str | None = None
    namespace: str | None = None
    key: str | None = None
    type: str | None = None
    value: str | None = None


class VariantInput(_Input):
    option_values: list[VariantOptionValueInput]
    id: str | None = None
    sku: str | None = None
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    barcode: str | None = None
    inventory_policy: Literal["CONTINUE", "DENY"] | None = None
    inventory_item: InventoryItemInput | None = None
    inventory_quantities: list[InventoryQuantityInput] | None = None
    metafields: list[MetafieldInput] | None = None
    position: int | None = None
    taxable: bool | None = None


class ProductInput(_Input):
    """``ProductSetInput``: list fields (options, variants, metafields, tags) replace what the product has."""

    title: str | None = None
    handle: str | None = None
    description_html: str | None = None
    vendor: str | None = None
    product_type: str | None = None
    status: Literal["ACTIVE", "ARCHIVED", "DRAFT", "UNLISTED"] | None = None
    tags: list[str] | None = None
    template_suffix: str | None = None
    product_options: list[OptionInput] | None = None
    variants: list[VariantInput] | None = None
    metafields: list[MetafieldInput] | None = None


class CustomIdInput(_Input):
    key: str
    value: str
    namespace: str | None = None


class ProductIdentifier(_Input):
    """``ProductSetIdentifiers`` (``@oneOf``): exactly one of id, handle, customId."""

    id: str | None = None
    handle: str | None = None
    custom_id: CustomIdInput | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ProductIdentifier:
        if sum(v is not None for v in (self.id, self.handle, self.custom_id)) != 1:
            raise ValueError("give exactly one of id, handle, custom_id")
        return self


ProductInputLike = ProductInput | Mapping[str, JsonValue]
IdentifierLike = ProductIdentifier | Mapping[str, JsonValue]


def _plain(value: _Input | Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    return value.to_graphql() if isinstance(value, _Input) else dict(value)


def product_set_variables(
    product: ProductInputLike, identifier: IdentifierLike | None = None
) -> dict[str, JsonValue]:
    """Variables of :data:`PRODUCT_SET` / :data:`BULK_PRODUCT_SET` (one JSONL line of a bulk productSet)."""
    variables: dict[str, JsonValue] = {"input": _plain(product)}
    if identifier is not None:
        variables["identifier"] = _plain(identifier)
    return variables

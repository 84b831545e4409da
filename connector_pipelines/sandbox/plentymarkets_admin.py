"""Inspection and steering of the Plentymarkets emulator: the admin routes' request bodies (mutations) and
answers (state, request statistics)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from connector_pipelines.sandbox.plentymarkets_records import (
    CatalogSummary,
    Change,
    ItemPatch,
    VariationPatch,
)


class PlentyStats(BaseModel):
    """Requests the emulator answered, per route template (``"GET /rest/items/variations"``)."""

    total: int
    requests: dict[str, int]
    statuses: dict[str, int]
    rate_limited: int
    faults: dict[str, int]


class StatsCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.rate_limited = 0

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[route] += 1
            self.statuses[status] += 1
            if status == 429:
                self.rate_limited += 1

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.rate_limited = 0


# -- admin request bodies --------------------------------------------------------------------------------


class UpdateVariation(BaseModel):
    op: Literal["update_variation"]
    variation_id: int
    patch: VariationPatch


class UpdateItem(BaseModel):
    op: Literal["update_item"]
    item_id: int
    patch: ItemPatch


class SetPrice(BaseModel):
    op: Literal["set_price"]
    variation_id: int
    price: float = Field(ge=0)
    sales_price_id: int = 1


class SetStock(BaseModel):
    op: Literal["set_stock"]
    variation_id: int
    physical_stock: float
    warehouse_id: int = 1


class AddItem(BaseModel):
    op: Literal["add_item"]
    variants: int | None = Field(None, ge=1)


class DeleteItem(BaseModel):
    op: Literal["delete_item"]
    item_id: int


class DeactivateVariation(BaseModel):
    op: Literal["deactivate_variation"]
    variation_id: int


class MoveCategory(BaseModel):
    op: Literal["move_category"]
    category_id: int
    parent_id: int | None


ChangeTarget = Literal["variation", "item", "price", "stock"]


class ChangeRandom(BaseModel):
    op: Literal["change_random"]
    fraction: float = Field(ge=0, le=1)
    seed: int | None = None
    kinds: list[ChangeTarget] = ["variation", "price", "stock"]


Mutation = Annotated[
    UpdateVariation
    | UpdateItem
    | SetPrice
    | SetStock
    | AddItem
    | DeleteItem
    | DeactivateVariation
    | MoveCategory
    | ChangeRandom,
    Field(discriminator="op"),
]
MUTATION = TypeAdapter[Mutation](Mutation)


class MutationResult(BaseModel):
    changes: list[Change]


class PlentyState(BaseModel):
    catalog: CatalogSummary
    sessions: int
    rate_limits: bool

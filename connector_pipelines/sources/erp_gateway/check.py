"""The mapping check of a gateway ERP (``connector-pipelines mapping check TENANT --system logo``): every
item, stock and price row read and mapped, nothing written; per kind the rows, the records mapped, the row
errors (SKU, field, row, reason), the mapping's source fields no row has, and a sample of mapped records.
A read the ERP cannot serve (Logo without its SQL route) is reported with its reason, not raised."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import BaseModel, Field, JsonValue

from connector_pipelines.sources.erp_gateway.base import MappedConnector
from connector_pipelines.sources.erp_gateway.connector import (
    ErpFeatureUnavailableError,
    ErpItem,
    ErpRowError,
    PriceEntry,
    RecordKind,
    StockLevel,
)
from connector_pipelines.sources.erp_gateway.fields import RawRow
from connector_pipelines.sources.erp_mapping.values import root_column

__all__ = ["GatewayMappingReport", "KindReport", "check_mapping"]

MAX_ERRORS = 1000
KINDS: tuple[RecordKind, ...] = ("item", "stock", "price")


class KindReport(BaseModel):
    kind: RecordKind
    rows: int = Field(0, description="rows read (good and bad)")
    mapped: int = 0
    errors: int = 0
    unavailable: str | None = Field(None, description="why the ERP cannot serve this read")
    missing_sources: list[str] = Field(default_factory=list, description="mapped fields no row has")
    samples: list[dict[str, JsonValue]] = Field(default_factory=list)


class GatewayMappingReport(BaseModel):
    system: str
    warehouse_code: str
    price_list_code: str
    kinds: list[KindReport]
    errors: list[ErpRowError] = Field(description=f"the first {MAX_ERRORS} row errors")

    @property
    def error_count(self) -> int:
        return sum(k.errors for k in self.kinds)


class _Counted:
    """Counts the rows passing through and the top-level fields they have."""

    def __init__(self, rows: Iterable[RawRow | ErpRowError]) -> None:
        self.rows = rows
        self.count = 0
        self.fields: set[str] = set()

    def __iter__(self) -> Iterator[RawRow | ErpRowError]:
        for row in self.rows:
            self.count += 1
            if isinstance(row, RawRow):
                self.fields.update(row.data)
            yield row


def check_mapping(
    connector: MappedConnector, warehouse_code: str, price_list_code: str, *, limit: int = 20
) -> GatewayMappingReport:
    errors: list[ErpRowError] = []
    kinds: list[KindReport] = []
    mapper = connector.mapper
    for kind in KINDS:
        report = KindReport(kind=kind)
        kinds.append(report)
        try:
            if kind == "item":
                counted = _Counted(connector.item_rows())
                results: Iterator[ErpItem | StockLevel | PriceEntry | ErpRowError] = mapper.items(counted)
            elif kind == "stock":
                counted = _Counted(connector.stock_rows(warehouse_code, None))
                results = mapper.stock(counted, warehouse_code)
            else:
                counted = _Counted(connector.price_rows(price_list_code, None))
                results = mapper.prices(counted, price_list_code)
            for result in results:
                if isinstance(result, ErpRowError):
                    report.errors += 1
                    if len(errors) < MAX_ERRORS:
                        errors.append(result)
                    continue
                report.mapped += 1
                if len(report.samples) < limit:
                    report.samples.append(result.model_dump(mode="json", exclude_defaults=True))
        except ErpFeatureUnavailableError as exc:
            report.unavailable = str(exc)
            continue
        report.rows = counted.count
        if counted.count:
            report.missing_sources = [s for s in mapper.sources(kind) if root_column(s) not in counted.fields]
    return GatewayMappingReport(
        system=connector.system,
        warehouse_code=warehouse_code,
        price_list_code=price_list_code,
        kinds=kinds,
        errors=errors,
    )

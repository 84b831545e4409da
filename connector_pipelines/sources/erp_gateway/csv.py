"""The generic CSV connector: an ERP without an API that exports stock and price files (CSV, JSON or NDJSON)
to a folder, an FTP, FTPS or SFTP server. The files are read as streams with the ERP file readers (the
newest match of a path or pattern), and their columns mapped with the tenant's field mapping.

Default columns: ``sku``, ``stock`` and ``reserved`` (stock), ``price``, ``currency``, ``includes_vat``,
``valid_from``, ``valid_to`` (prices; currency and VAT inclusion default to the settings), ``name``,
``vat_rate``, ``barcode``, ``unit`` (items). Without a price file the stock file's rows carry the prices,
without an item file its rows are the items. ``since``: a file not modified since then has nothing new.

It cannot take orders: files go one way. The capability is missing (:meth:`lacks` says why), so the
gateway skips the order and shipment flows for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Literal

from connector_pipelines.clients.erp_files import FileSource, open_source
from connector_pipelines.sources.erp_files import RowError, read_records
from connector_pipelines.sources.erp_gateway.base import MappedConnector
from connector_pipelines.sources.erp_gateway.connector import Capability, ErpRowError, RecordKind
from connector_pipelines.sources.erp_gateway.fields import RawRow
from connector_pipelines.tenants.systems import ErpCsvSettings, ErpFieldMapping, ErpFilesCredentials

__all__ = ["CsvConnector", "default_mapping", "open_csv"]

SYSTEM = "erp_csv"
NO_ORDERS = (
    "the generic CSV connector reads stock and price files only; files go one way, so it cannot take orders "
    "or report shipments: the order flow is skipped for this tenant"
)
FileKind = Literal["stock", "prices", "items"]


def default_mapping(currency: str, prices_include_vat: bool) -> ErpFieldMapping:
    code = {"source": "sku", "transforms": ["trim"]}
    return ErpFieldMapping.model_validate(
        {
            "items": {
                "sku": code,
                "name": "name",
                "vat_rate": "vat_rate",
                "barcode": "barcode",
                "unit": "unit",
            },
            "stock": {"sku": code, "on_hand": "stock", "reserved": "reserved"},
            "prices": {
                "sku": code,
                "price": "price",
                "currency": {"source": "currency", "transforms": [{"default": currency}]},
                "includes_vat": {
                    "source": "includes_vat",
                    "transforms": [{"default": str(prices_include_vat).lower()}],
                },
                "valid_from": "valid_from",
                "valid_to": "valid_to",
            },
        }
    )


class CsvConnector(MappedConnector):
    """Stock and price files of one tenant. Each file opens its own connection when first read."""

    system = SYSTEM
    missing = {Capability.ORDERS: NO_ORDERS, Capability.SHIPMENTS: NO_ORDERS}

    def __init__(
        self,
        settings: ErpCsvSettings,
        credentials: ErpFilesCredentials | None = None,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(
            default_mapping(settings.currency, settings.prices_include_vat), settings.mapping, today=today
        )
        self.settings = settings
        self._credentials = credentials
        self._sources: dict[FileKind, FileSource] = {}

    def _source(self, which: FileKind) -> FileSource:
        if which not in self._sources:
            self._sources[which] = open_source(self.settings.file_settings(which), self._credentials)
        return self._sources[which]

    def _files(self) -> list[FileKind]:
        """The files configured, stock first."""
        named: list[FileKind] = ["stock"]
        if self.settings.prices_file:
            named.append("prices")
        if self.settings.items_file:
            named.append("items")
        return named

    def close(self) -> None:
        sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            source.close()

    def test_connection(self) -> str:
        found = []
        for which in self._files():
            info = self._source(which).newest()
            size = f", {info.size} bytes" if info.size is not None else ""
            modified = f", modified {info.mtime:%Y-%m-%d %H:%M} UTC" if info.mtime is not None else ""
            found.append(f"{which} file {info.path}{size}{modified}")
        return f"{self._source('stock').location}: {'; '.join(found)}; {NO_ORDERS}"

    def item_rows(self) -> Iterator[RawRow | ErpRowError]:
        return self._rows("items" if self.settings.items_file else "stock", "item", None)

    def stock_rows(self, warehouse_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        return self._rows("stock", "stock", since)

    def price_rows(self, price_list_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        return self._rows("prices" if self.settings.prices_file else "stock", "price", since)

    def _rows(
        self, which: FileKind, kind: RecordKind, since: datetime | None
    ) -> Iterator[RawRow | ErpRowError]:
        source = self._source(which)
        info = source.newest()
        if since is not None and info.mtime is not None and info.mtime < _utc(since):
            return
        records = read_records(source, info)
        try:
            for record in records:
                where = f"{record.file}:{record.line}"
                if isinstance(record, RowError):
                    yield ErpRowError(
                        kind=kind, sku=None, field=record.column or "row", row=where, reason=record.reason
                    )
                else:
                    yield RawRow(where, record.data)
        finally:
            records.close()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def open_csv(
    settings: ErpCsvSettings, credentials: ErpFilesCredentials | None, cap_s: float | None
) -> CsvConnector:
    """The connector of a tenant's stock and price files; ``cap_s`` caps the file servers' timeouts."""
    if cap_s is not None and settings.stock.timeout_s > cap_s:
        settings = settings.model_copy(
            update={"stock": settings.stock.model_copy(update={"timeout_s": cap_s})}
        )
    return CsvConnector(settings, credentials)

"""The generic CSV ERP in the sandbox: an ERP without an API that exports a stock file and a price file to a
folder, in the default columns of the gateway's CSV connector (``sources/erp_gateway/csv.py``):

    stock.csv   sku,name,vat_rate,stock,reserved
    prices.csv  sku,price

Currency and VAT inclusion of the prices come from the tenant's settings, as an export without those columns
would. Every change rewrites both files at once (written aside, then renamed), as an export job does, so a
reader never sees half a file and the files' modification time moves on.
"""

from __future__ import annotations

import csv
import os
import random
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

__all__ = ["CsvItem", "ErpCsvFolder"]

VAT_RATES = (Decimal(20), Decimal(20), Decimal(10), Decimal(1))


@dataclass
class CsvItem:
    name: str
    vat_rate: Decimal
    stock: Decimal
    reserved: Decimal
    price: Decimal

    @property
    def available(self) -> Decimal:
        return self.stock - self.reserved


class ErpCsvFolder:
    """The two files of one ERP, and the items they are written from."""

    def __init__(self, directory: Path, items: dict[str, CsvItem], *, prefix: str) -> None:
        self.directory = directory
        self.stock_file = directory / "stock.csv"
        self.prices_file = directory / "prices.csv"
        self.items = items
        self.prefix = prefix
        self.lock = threading.Lock()
        self._broken: dict[str, str] = {}  # sku -> stock cell written instead of its number
        self._write()

    @classmethod
    def generate(cls, directory: Path, *, items: int, seed: int) -> ErpCsvFolder:
        rng = random.Random(seed)
        prefix = f"C{seed % 100:02d}-"
        generated = {f"{prefix}{n:05d}": _item(rng, n) for n in range(1, items + 1)}
        return cls(directory, generated, prefix=prefix)

    # --- reading -------------------------------------------------------------------------------------------

    def skus(self) -> list[str]:
        with self.lock:
            return sorted(self.items)

    def available(self) -> dict[str, Decimal]:
        """Stock minus reserved per SKU: what the connector reads as available (rows written broken left
        out)."""
        with self.lock:
            return {sku: item.available for sku, item in self.items.items() if sku not in self._broken}

    def price_levels(self) -> dict[str, Decimal]:
        with self.lock:
            return {sku: item.price for sku, item in self.items.items()}

    # --- changing ------------------------------------------------------------------------------------------

    def set_stock(self, sku: str, quantity: Decimal | int) -> None:
        with self.lock:
            self.items[sku].stock = Decimal(quantity)
            self._write()

    def set_price(self, sku: str, price: Decimal) -> None:
        with self.lock:
            self.items[sku].price = price
            self._write()

    def change(self, fraction: float, seed: int) -> list[str]:
        """New stock and prices for a ``fraction`` of the items; returns their SKUs."""
        rng = random.Random(seed)
        with self.lock:
            chosen = sorted(rng.sample(sorted(self.items), max(1, round(len(self.items) * fraction))))
            for sku in chosen:
                item = self.items[sku]
                item.stock = Decimal(rng.randrange(0, 250))
                item.price = (item.price * Decimal(rng.choice((90, 95, 105, 110)) / 100)).quantize(
                    Decimal("0.01")
                )
            self._write()
        return chosen

    def add_item(self, seed: int) -> str:
        with self.lock:
            number = max((int(s.removeprefix(self.prefix)) for s in self.items), default=0) + 1
            sku = f"{self.prefix}{number:05d}"
            self.items[sku] = _item(random.Random(seed), number)
            self._write()
        return sku

    def delete_item(self, sku: str) -> None:
        with self.lock:
            del self.items[sku]
            self._broken.pop(sku, None)
            self._write()

    def break_stock(self, sku: str, cell: str) -> None:
        """Write ``cell`` instead of the SKU's stock number (a row the mapping cannot read)."""
        with self.lock:
            self._broken[sku] = cell
            self._write()

    def mend(self) -> None:
        with self.lock:
            self._broken.clear()
            self._write()

    # --- files ---------------------------------------------------------------------------------------------

    def _write(self) -> None:
        stock_rows = [
            [sku, item.name, str(item.vat_rate), self._broken.get(sku, str(item.stock)), str(item.reserved)]
            for sku, item in sorted(self.items.items())
        ]
        price_rows = [[sku, str(item.price)] for sku, item in sorted(self.items.items())]
        _replace(self.stock_file, ["sku", "name", "vat_rate", "stock", "reserved"], stock_rows)
        _replace(self.prices_file, ["sku", "price"], price_rows)


def _item(rng: random.Random, number: int) -> CsvItem:
    stock = Decimal(0) if rng.random() < 0.1 else Decimal(rng.randrange(1, 200))
    reserved = Decimal(rng.randrange(1, 4)) if stock and rng.random() < 0.1 else Decimal(0)
    return CsvItem(
        name=f"Ürün {number}",
        vat_rate=rng.choice(VAT_RATES),
        stock=stock,
        reserved=reserved,
        price=Decimal(rng.randrange(1000, 200_000)) / 100,
    )


def _replace(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write the file aside and rename it over the old one; its modification time moves past the old one's
    even within the file system's timestamp granularity."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    aside = path.with_name(f".{path.name}.tmp")
    with aside.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    stamp = max(before + 1_000_000, aside.stat().st_mtime_ns)
    os.utime(aside, ns=(stamp, stamp))
    os.replace(aside, path)

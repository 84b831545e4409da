"""Does a Shopware emulator hold what a Plentymarkets emulator says it should?

Read from the two emulators' own states, never from the pipeline's database, and written from the mapping
rules (PSC's, contract §8.3) rather than from the pipeline's translator, so that it can catch the pipeline
being wrong. Used by integration tests, the chaos test and the benchmark.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Self

from connector_pipelines.sandbox.plentymarkets import PlentyEmulator
from connector_pipelines.sandbox.plentymarkets_catalog import Variation
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator
from connector_pipelines.sandbox.shopware6_schema import DEFAULT_CURRENCY_ID

EUR_DEFAULT_SALES_PRICE = 1
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ExpectedProduct:
    number: str
    parent_number: str | None
    active: bool
    stock: int
    eur_gross: Decimal | None  # None for a parent: it shows its variants' prices


@dataclass
class ConvergenceReport:
    expected: int = 0
    actual: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    # How a report names what it counts, and where.
    unit: ClassVar[str] = "products"
    target: ClassVar[str] = "Shopware"

    @property
    def converged(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated or self.mismatched)

    @classmethod
    def compare(
        cls, expected: Mapping[str, Any], actual: Mapping[str, Any], seen: Counter[str], fields: Sequence[str]
    ) -> Self:
        """Key -> what the target should show against key -> what it shows (``seen``: how often each key
        is there), field by field."""
        report = cls(expected=len(expected), actual=sum(seen.values()))
        report.duplicated = sorted(key for key, count in seen.items() if count > 1)
        report.missing = sorted(set(expected) - set(actual))
        report.unexpected = sorted(set(actual) - set(expected))
        for key in sorted(set(expected) & set(actual)):
            want, have = expected[key], actual[key]
            problems = [
                f"{name} {getattr(have, name)} != {getattr(want, name)}"
                for name in fields
                if getattr(have, name) != getattr(want, name)
            ]
            if problems:
                report.mismatched.append(f"{key}: {', '.join(problems)}")
        return report

    def describe(self, limit: int = 5) -> str:
        if self.converged:
            return f"converged: {self.actual} {self.unit}"
        parts = [f"expected {self.expected} {self.unit}, {self.target} has {self.actual}"]
        for name in ("missing", "unexpected", "duplicated", "mismatched"):
            values: list[str] = getattr(self, name)
            if values:
                parts.append(f"{len(values)} {name} (e.g. {', '.join(values[:limit])})")
        return "; ".join(parts)


def expected_products(plenty: PlentyEmulator) -> dict[str, ExpectedProduct]:
    catalog = plenty.catalog
    with catalog.lock:
        sales_warehouses = {w.id for w in catalog.warehouses.values() if w.type_id == 0}
        special_offers = {
            sp.id
            for sp in catalog.sales_prices.values()
            if sp.type == "specialOffer" and sp.currency == "EUR"
        }
        out: dict[str, ExpectedProduct] = {}
        for item in catalog.items.values():
            variations = [catalog.variations[v] for v in item.variation_ids if v in catalog.variations]
            if not variations:
                continue
            single = len(variations) == 1 and not variations[0].attribute_value_ids
            chosen = variations if len(variations) == 1 else [v for v in variations if v.attribute_value_ids]
            parent = None
            if not single:
                parent = f"P-{item.id}"
                out[parent] = ExpectedProduct(
                    parent,
                    None,
                    any(v.is_active for v in variations),
                    sum(_stock(v, sales_warehouses) for v in chosen),
                    None,
                )
            for v in chosen:
                prices = dict(catalog.prices(v))
                base = Decimal(str(prices[EUR_DEFAULT_SALES_PRICE].price))
                offers = [Decimal(str(row.price)) for sp, row in prices.items() if sp in special_offers]
                gross = min([base, *offers])
                out[v.number] = ExpectedProduct(
                    v.number,
                    parent,
                    v.is_active,
                    _stock(v, sales_warehouses),
                    gross.quantize(CENT, ROUND_HALF_UP),
                )
        return out


def _stock(variation: Variation, sales_warehouses: set[int]) -> int:
    rows = variation.stock
    return max(int(sum(r.physical - r.reserved for r in rows if r.warehouse_id in sales_warehouses)), 0)


def check_convergence(plenty: PlentyEmulator, shopware: Shopware6Emulator) -> ConvergenceReport:
    expected = expected_products(plenty)
    products = shopware.entities("product")
    numbers = Counter(str(p.get("productNumber")) for p in products)
    actual = shopware.products_by_number()
    report = ConvergenceReport(expected=len(expected), actual=len(products))
    report.duplicated = sorted(n for n, count in numbers.items() if count > 1)
    report.missing = sorted(set(expected) - set(actual))
    report.unexpected = sorted(set(actual) - set(expected))
    for number in sorted(set(expected) & set(actual)):
        want, have = expected[number], actual[number]
        problems = []
        if have.get("parentNumber") != want.parent_number:
            problems.append(f"parent {have.get('parentNumber')} != {want.parent_number}")
        if bool(have.get("active", True)) != want.active:
            problems.append(f"active {have.get('active')} != {want.active}")
        if int(have.get("stock") or 0) != want.stock:
            problems.append(f"stock {have.get('stock')} != {want.stock}")
        if want.eur_gross is not None and (eur := _eur_gross(have)) != want.eur_gross:
            problems.append(f"EUR {eur} != {want.eur_gross}")
        if problems:
            report.mismatched.append(f"{number}: {', '.join(problems)}")
    return report


def _eur_gross(product: dict[str, Any]) -> Decimal | None:
    for price in product.get("price") or []:
        if price.get("currencyId") == DEFAULT_CURRENCY_ID:
            return Decimal(str(price["gross"])).quantize(CENT, ROUND_HALF_UP)
    return None

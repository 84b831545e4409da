"""The mapping check (``connector-pipelines mapping check``): every record mapped, nothing written; a sample
of the products in the mapping file's vocabulary, every row error, and the mapping's sources no record has."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pydantic import BaseModel, Field, JsonValue

from connector_pipelines.catalog.models import Metafield, Product
from connector_pipelines.sources.erp_files import Record, RowError, SourceRow
from connector_pipelines.sources.erp_mapping.config import MappingConfig
from connector_pipelines.sources.erp_mapping.products import map_records
from connector_pipelines.sources.erp_mapping.values import plain_decimal, root_column


class RowErrorInfo(BaseModel):
    file: str
    line: int
    column: str
    reason: str
    key: str | None = None


class MappingCheckReport(BaseModel):
    """What ``connector-pipelines mapping check`` shows: a sample of mapped products and every row error."""

    rows: int = Field(description="records read (good and bad)")
    products_mapped: int
    variants_mapped: int
    products: list[dict[str, JsonValue]] = Field(description="the first products, in the mapping's terms")
    errors: list[RowErrorInfo]
    missing_sources: list[str] = Field(description="columns / JSON paths of the mapping that no record has")


def render_product(product: Product) -> dict[str, JsonValue]:
    """A product in the vocabulary of the mapping file (title, descriptionHtml, variant.price, ...)."""
    texts = next(iter(product.texts.values()))
    variants: list[JsonValue] = []
    for variant in product.variants:
        price = variant.prices[0] if variant.prices else None
        entry: dict[str, JsonValue] = {
            "sku": variant.sku,
            "price": plain_decimal(price.gross) if price else None,
            "compareAtPrice": plain_decimal(price.list_gross)
            if price and price.list_gross is not None
            else None,
            "currency": price.currency if price else None,
            "barcode": variant.barcode,
            "weight_kg": plain_decimal(variant.weight_kg) if variant.weight_kg is not None else None,
            "inventory": variant.stock,
            "options": {choice.option_name: choice.value_name for choice in variant.options},
        }
        # Only what the mapping maps: a sample of a simple mapping stays as short as it was.
        if variant.stock_by_location:
            entry["inventory_by_location"] = {s.location: s.quantity for s in variant.stock_by_location}
        if variant.metafields:
            entry["metafields"] = _metafields(variant.metafields)
        if variant.media_keys:
            entry["image"] = variant.media_keys[0]
        variants.append(entry)
    document: dict[str, JsonValue] = {
        "key": product.key,
        "title": texts.name,
        "descriptionHtml": texts.description,
        "vendor": product.vendor,
        "productType": product.product_type,
        "tags": list(product.tags),
        "status": "active" if product.active else "draft",
        "metafields": _metafields(product.metafields),
        "variants": variants,
    }
    if product.media:
        document["images"] = [{"url": m.url, "alt": m.alt} for m in product.media]
    return document


def _metafields(metafields: Sequence[Metafield]) -> list[JsonValue]:
    return [{"namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value} for m in metafields]


def check_mapping(config: MappingConfig, rows: Iterable[Record], limit: int = 20) -> MappingCheckReport:
    """Map every record (nothing is written): the first ``limit`` products, and all row errors."""
    seen_keys: set[str] = set()
    count = 0

    def counted() -> Iterator[Record]:
        nonlocal count
        for record in rows:
            count += 1
            if isinstance(record, SourceRow):
                seen_keys.update(record.data)
            yield record

    sample: list[dict[str, JsonValue]] = []
    errors: list[RowErrorInfo] = []
    products = variants = 0
    for item in map_records(config, counted()):
        if isinstance(item, RowError):
            errors.append(
                RowErrorInfo(
                    file=item.file, line=item.line, column=item.column, reason=item.reason, key=item.key
                )
            )
            continue
        products += 1
        variants += len(item.variants)
        if len(sample) < limit:
            sample.append(render_product(item))
    missing = [s for s in config.sources() if s not in seen_keys and root_column(s) not in seen_keys]
    return MappingCheckReport(
        rows=count,
        products_mapped=products,
        variants_mapped=variants,
        products=sample,
        errors=errors,
        missing_sources=missing if count else [],
    )

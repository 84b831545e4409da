"""Canonical -> Shopware payloads (pure)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from connector_pipelines.catalog.models import (
    Category,
    Media,
    Option,
    OptionChoice,
    OptionValue,
    Price,
    Product,
    Texts,
    Unit,
    Variant,
)
from connector_pipelines.clients.http import ApiError
from connector_pipelines.clients.shopware6 import SYSTEM_LANGUAGE_ID, Shopware6Client, shopware_id
from connector_pipelines.errors import PayloadError
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_RULE_ID,
    GERMAN_LANGUAGE_ID,
    PRODUCT_MEDIA_FOLDER_ID,
)
from connector_pipelines.sync.publish import PublishItem
from connector_pipelines.targets.shopware6 import (
    DEFAULT_CURRENCY_ID,
    MediaFile,
    MediaWriter,
    ProductWriter,
    ShopwareContext,
    advanced_prices,
    load_context,
    media_file,
    product_payload,
    stale_link_operations,
)
from connector_pipelines.targets.shopware6_reference import (
    category_payload,
    property_group_payload,
    unit_payload,
)

CTX = ShopwareContext(
    tenant="acme",
    lang="de",
    sales_channel_id="a" * 32,
    navigation_category_id="b" * 32,
    currency_ids={"EUR": DEFAULT_CURRENCY_ID, "CHF": "c" * 32},
    default_currency="EUR",
    tax_ids={Decimal("19"): "d" * 32},
)
REFS = {
    "category": {"plentymarkets:category:1"},
    "manufacturer": {"plentymarkets:manufacturer:2"},
    "unit": set(),
    "option_value": {"v:red", "v:blue", "v:s"},
}


def _variant(sku: str, options: tuple[str, ...] = (), price: str = "11.90") -> Variant:
    return Variant(
        key=f"plentymarkets:variation:{sku}",
        sku=sku,
        stock=3,
        prices=(
            Price(currency="EUR", gross=Decimal(price), net=Decimal("10.00"), list_gross=Decimal("14.90")),
            Price(currency="CHF", gross=Decimal("12.50"), net=None),
            Price(currency="USD", gross=Decimal("13.00"), net=Decimal("11.00")),
        ),
        options=tuple(OptionChoice(option_key=f"o:{v}", value_key=v) for v in options),
    )


def _product(*variants: Variant, categories: tuple[str, ...] = ("plentymarkets:category:1",)) -> Product:
    return Product(
        key="plentymarkets:item:7",
        texts={"de": Texts(name="Tisch", description="<p>Holz</p>")},
        manufacturer_key="plentymarkets:manufacturer:2",
        tax_rate=Decimal("19.00"),
        category_keys=categories,
        variants=variants,
    )


def test_single_product() -> None:
    payload = product_payload(_product(_variant("T-1")), CTX, REFS)
    parent = payload.parent
    assert parent["id"] == shopware_id("acme", "plentymarkets:item:7") and payload.children == []
    assert parent["productNumber"] == "T-1" and parent["taxId"] == "d" * 32 and parent["stock"] == 3
    assert parent["manufacturerId"] == shopware_id("acme", "plentymarkets:manufacturer:2")
    prices = {p["currencyId"]: p for p in parent["price"]}
    assert set(prices) == {DEFAULT_CURRENCY_ID, "c" * 32}, "currencies the shop lacks are left out"
    assert prices[DEFAULT_CURRENCY_ID]["listPrice"]["gross"] == 14.90
    assert prices["c" * 32]["net"] == 10.50, "net derived from the tax rate when the source has none"
    (visibility,) = parent["visibilities"]
    assert visibility["id"] == shopware_id(parent["id"], "a" * 32) and visibility["visibility"] == 30


def test_variants_with_configurator() -> None:
    payload = product_payload(
        _product(_variant("T-1", ("v:red", "v:s")), _variant("T-2", ("v:blue", "v:s"))), CTX, REFS
    )
    assert payload.parent["productNumber"] == "P-7" and payload.parent["stock"] == 6
    assert [c["productNumber"] for c in payload.children] == ["T-1", "T-2"]
    assert all(c["parentId"] == payload.parent["id"] for c in payload.children)
    option_ids = {s["optionId"] for s in payload.parent["configuratorSettings"]}
    assert option_ids == {shopware_id("acme", v) for v in ("v:red", "v:blue", "v:s")}
    assert set(payload.extra["children"]) == {c["id"] for c in payload.children}


@pytest.mark.parametrize(
    ("product", "message"),
    [
        (
            _product(Variant(key="k", sku="T-9", prices=(Price(currency="CHF", gross=Decimal(1)),))),
            "no price in the shop's default currency EUR",
        ),
        (
            _product(_variant("T-1", ("v:green",)), _variant("T-2", ("v:red",))),
            "option value\\(s\\) v:green not in Shopware yet",
        ),
        (_product(_variant("T-1")).model_copy(update={"tax_rate": Decimal("5")}), "no tax with rate 5%"),
        (
            _product(_variant("T-1")).model_copy(update={"unit_key": "plentymarkets:unit:9"}),
            "unit plentymarkets:unit:9 is not in Shopware yet",
        ),
    ],
)
def test_payload_errors_are_specific(product: Product, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        product_payload(product, CTX, REFS)


def test_unmapped_categories_are_left_out() -> None:
    payload = product_payload(
        _product(_variant("T-1"), categories=("plentymarkets:category:1", "plentymarkets:category:404")),
        CTX,
        REFS,
    )
    assert payload.parent["categories"] == [{"id": shopware_id("acme", "plentymarkets:category:1")}]


def test_stale_links_are_deleted_explicitly() -> None:
    before = product_payload(
        _product(_variant("T-1", ("v:red", "v:s")), _variant("T-2", ("v:blue", "v:s"))), CTX, REFS
    )
    after = product_payload(
        _product(_variant("T-1", ("v:blue", "v:s")), categories=()).model_copy(
            update={"variants": (_variant("T-1", ("v:blue", "v:s")), _variant("T-3", ("v:red", "v:s")))}
        ),
        CTX,
        REFS,
    )
    ops = {op.entity: op for op in stale_link_operations(str(after.parent["id"]), after, before.extra)}
    assert ops["product_category"].payload == [
        {"productId": after.parent["id"], "categoryId": shopware_id("acme", "plentymarkets:category:1")}
    ]
    assert ops["product"].payload == [{"id": shopware_id("acme", "plentymarkets:variation:T-2")}]
    t1 = shopware_id("acme", "plentymarkets:variation:T-1")
    assert ops["product_option"].payload == [{"productId": t1, "optionId": shopware_id("acme", "v:red")}]
    assert "product_configurator_setting" not in ops, "every option is still used"
    assert stale_link_operations(str(after.parent["id"]), after, None) == []


def test_category_under_navigation_root() -> None:
    root = category_payload(Category(key="plentymarkets:category:1", names={"de": "Möbel"}), CTX)
    child = category_payload(
        Category(
            key="plentymarkets:category:2", parent_key="plentymarkets:category:1", names={"en": "Chairs"}
        ),
        CTX,
    )
    assert root["parentId"] == "b" * 32 and root["name"] == "Möbel"
    assert child["parentId"] == root["id"] and child["name"] == "Chairs"


GERMAN, FRENCH = "1" * 32, "2" * 32
TIER_RULE, DEALER_RULE = "3" * 32, "4" * 32
# A shop whose system language is English, with a sales channel in English, German and French.
SHOP = replace(
    CTX,
    system_language="en",
    languages={SYSTEM_LANGUAGE_ID: "en", GERMAN: "de", FRENCH: "fr"},
    rules={"": TIER_RULE, "2": DEALER_RULE},
)


def test_texts_in_every_language_of_the_sales_channel() -> None:
    product = _product(_variant("T-1")).model_copy(
        update={"texts": {"de": Texts(name="Tisch", keywords="holz"), "en": Texts(name="Table")}}
    )
    parent = product_payload(product, SHOP, REFS).parent
    assert parent["name"] == "Table", "the system language gets its own text"
    assert parent["translations"] == {
        GERMAN: {"name": "Tisch", "description": "", "metaDescription": "", "keywords": "holz"}
    }, "no French text: French shows the system language's"
    german_only = product.model_copy(update={"texts": {"de": Texts(name="Tisch")}})
    parent = product_payload(german_only, SHOP, REFS).parent
    assert parent["name"] == "Tisch", "the main language's text when the system language has none"
    assert parent["translations"] == {
        GERMAN: {"name": "Tisch", "description": "", "metaDescription": "", "keywords": ""}
    }
    assert "translations" not in product_payload(product, CTX, REFS).parent, "a shop of one language"
    assert SHOP.text_languages == ("de", "en", "fr")


def test_reference_names_in_every_language() -> None:
    category = category_payload(
        Category(key="plentymarkets:category:1", names={"de": "Möbel", "en": "Furniture", "fr": "Meubles"}),
        SHOP,
    )
    assert category["name"] == "Furniture"
    assert category["translations"] == {GERMAN: {"name": "Möbel"}, FRENCH: {"name": "Meubles"}}
    unit = unit_payload(
        Unit(key="plentymarkets:unit:1", code="C62", names={"de": "Stück", "en": "piece"}), SHOP
    )
    assert (unit["name"], unit["translations"]) == ("piece", {GERMAN: {"name": "Stück", "shortCode": "C62"}})
    group = property_group_payload(
        Option(
            key="o:color",
            names={"de": "Farbe", "en": "Colour"},
            values=(OptionValue(key="v:red", names={"de": "Rot", "en": "Red"}),),
        ),
        SHOP,
    )
    assert group["translations"] == {GERMAN: {"name": "Farbe"}}
    assert group["options"][0]["name"] == "Red" and group["options"][0]["translations"] == {
        GERMAN: {"name": "Rot"}
    }


def _tiered(*tiers: Price) -> Variant:
    return _variant("T-1").model_copy(update={"tier_prices": tiers})


def _tier(gross: str, quantity: int = 1, group: str | None = None, currency: str = "EUR") -> Price:
    return Price(currency=currency, gross=Decimal(gross), min_quantity=quantity, customer_group=group)


def test_quantity_prices_become_advanced_price_ranges() -> None:
    variant = _tiered(_tier("10.90", 10), _tier("9.90", 50), _tier("12.00", 100, currency="CHF"))
    rows = advanced_prices("p" * 32, variant, SHOP, Decimal(19))
    ranges = [(r["ruleId"], r["quantityStart"], r["quantityEnd"]) for r in rows]
    assert ranges == [(TIER_RULE, 1, 9), (TIER_RULE, 10, 49), (TIER_RULE, 50, 99), (TIER_RULE, 100, None)]
    eur = [next(p["gross"] for p in r["price"] if p["currencyId"] == DEFAULT_CURRENCY_ID) for r in rows]
    chf = [next(p["gross"] for p in r["price"] if p["currencyId"] == "c" * 32) for r in rows]
    assert eur == [11.90, 10.90, 9.90, 9.90], "from 1 the regular price, then each tier's"
    assert chf == [12.50, 12.50, 12.50, 12.00]
    assert rows[0]["id"] == shopware_id("p" * 32, TIER_RULE, "1")


def test_a_customer_groups_rule_has_every_price_the_group_gets() -> None:
    variant = _tiered(_tier("10.90", 10), _tier("11.00", 1, group="2"), _tier("5.00", 1, group="9"))
    by_rule: dict[str, list[tuple[object, ...]]] = {}
    for row in advanced_prices("p" * 32, variant, SHOP, Decimal(19)):
        eur = next(p["gross"] for p in row["price"] if p["currencyId"] == DEFAULT_CURRENCY_ID)
        by_rule.setdefault(str(row["ruleId"]), []).append((row["quantityStart"], row["quantityEnd"], eur))
    assert by_rule == {
        TIER_RULE: [(1, 9, 11.90), (10, None, 10.90)],
        # Shopware takes the first matching rule's prices alone: the dealers' include the quantity price
        DEALER_RULE: [(1, 9, 11.00), (10, None, 10.90)],
    }, "group 9 has no rule: its price is not synced"
    assert advanced_prices("p" * 32, _tiered(_tier("20.00", 10)), SHOP, Decimal(19)) == [], "never cheaper"
    assert advanced_prices("p" * 32, _tiered(_tier("9.00", 10)), CTX, Decimal(19)) == [], "no rules"


def test_advanced_prices_go_on_variants_and_single_products() -> None:
    single = product_payload(_product(_tiered(_tier("10.00", 10))), SHOP, REFS)
    assert [p["quantityStart"] for p in single.parent["prices"]] == [1, 10]
    assert single.extra["prices"] == sorted(p["id"] for p in single.parent["prices"])
    variants = product_payload(
        _product(
            _variant("T-1", ("v:red",)).model_copy(update={"tier_prices": (_tier("1.00", 5),)}),
            _variant("T-2", ("v:blue",)),
        ),
        SHOP,
        REFS,
    )
    assert "prices" not in variants.parent and "prices" not in variants.children[1]
    assert [p["quantityStart"] for p in variants.children[0]["prices"]] == [1, 5]


def _image(key: int, checksum: str = "", position: int = 0) -> Media:
    return Media(
        key=f"plentymarkets:image:{key}",
        url=f"https://cdn.example/item/images/7/full/{key}-tisch.JPG",
        alt=f"alt {key}",
        position=position,
        checksum=checksum,
    )


def test_images_are_linked_in_order_with_the_first_as_cover() -> None:
    images = (_image(1, "a" * 32), _image(2, "b" * 32, 1), _image(3, "a" * 32, 2))
    red = _variant("T-1", ("v:red",)).model_copy(update={"media_keys": ("plentymarkets:image:2",)})
    product = _product(red, _variant("T-2", ("v:blue",))).model_copy(update={"media": images})
    ctx = replace(SHOP, media_folder_id="f" * 32)
    payload = product_payload(product, ctx, REFS)
    first, second = media_file(images[0], ctx), media_file(images[1], ctx)
    assert first.key == media_file(images[2], ctx).key, "equal content, one media"
    assert (first.file_name, first.extension) == (f"1-tisch-{'a' * 8}", "jpg")
    assert payload.media == [
        {"id": first.key, "alt": "alt 1", "mediaFolderId": "f" * 32},
        {"id": second.key, "alt": "alt 2", "mediaFolderId": "f" * 32},
    ]
    parent = payload.parent
    assert [(m["mediaId"], m["position"]) for m in parent["media"]] == [(first.key, 0), (second.key, 1)]
    assert parent["coverId"] == parent["media"][0]["id"] == shopware_id(str(parent["id"]), first.key)
    own, inherits = payload.children
    assert [m["mediaId"] for m in own["media"]] == [second.key] and own["coverId"] == own["media"][0]["id"]
    assert "media" not in inherits and inherits["coverId"] is None, "no images of its own: the parent's"
    assert set(payload.extra["media"]) == {
        parent["media"][0]["id"],
        parent["media"][1]["id"],
        own["media"][0]["id"],
    }
    assert payload.extra["files"][first.key] == {
        "url": images[0].url,
        "file_name": first.file_name,
        "extension": "jpg",
    }
    bare = product_payload(_product(_variant("T-1")), ctx, REFS)
    assert bare.parent["coverId"] is None and "media" not in bare.extra and bare.media == []


def test_removed_images_and_prices_are_unlinked() -> None:
    images = (_image(1, "a" * 32), _image(2, "b" * 32, 1))
    before = product_payload(
        _product(_tiered(_tier("9.00", 10))).model_copy(update={"media": images}), SHOP, REFS
    )
    after = product_payload(_product(_variant("T-1")).model_copy(update={"media": images[1:]}), SHOP, REFS)
    ops = {op.entity: op for op in stale_link_operations(str(after.parent["id"]), after, before.extra)}
    assert ops["product_media"].payload == [{"id": before.parent["media"][0]["id"]}]
    assert ops["product_price"].payload == [{"id": i} for i in before.extra["prices"]]


def test_a_product_unit_creates_its_media_before_linking_them() -> None:
    product = _product(_variant("T-1")).model_copy(update={"media": (_image(1, "a" * 32),)})
    item = PublishItem(product.key, "h", product.model_dump(mode="json"), None)
    ((_, _, unit),), failed = ProductWriter(FakeShopware(), SHOP, REFS)._build([item])  # type: ignore[arg-type]
    assert not failed and [(op.entity, op.action) for op in unit.operations] == [
        ("media", "upsert"),
        ("product", "upsert"),
    ]


class FakeShopware:
    """Records uploads; a URL containing ``missing`` answers Shopware's 400 for an unreadable source."""

    def __init__(self) -> None:
        self.uploads: list[tuple[str, str, str, str]] = []

    def upload_media_from_url(self, media_id: str, url: str, file_name: str, extension: str) -> None:
        if "missing" in url:
            raise ApiError("shopware6", "POST", "/api/_action/media/x/upload", 400, "cannot open source")
        self.uploads.append((media_id, url, file_name, extension))


def test_the_media_writer_uploads_one_request_per_file_within_its_deadline() -> None:
    files = [
        MediaFile(key=f"{i:032x}", url=f"https://cdn/{i}.jpg", file_name=f"f{i}", extension="jpg")
        for i in range(4)
    ]
    files[1] = files[1].model_copy(update={"url": "https://cdn/missing.jpg"})
    items = [PublishItem(f.key, "h", f.model_dump(), None) for f in files]
    now = iter([0.0, 0.0, 0.0, 5.0])
    shop = FakeShopware()
    outcome = MediaWriter(shop, deadline=5.0, clock=lambda: next(now)).upsert(items)  # type: ignore[arg-type]
    assert [u[0] for u in shop.uploads] == [files[0].key, files[2].key], "the fourth waits: out of time"
    assert [r.source_key for r in outcome.confirmed] == [files[0].key, files[2].key]
    ((failure),) = outcome.failed
    assert failure.key == files[1].key and "cannot open source" in failure.reason


def test_the_context_names_the_sales_channels_languages_rules_and_product_media_folder() -> None:
    emulator = Shopware6Emulator()
    dealers = emulator.add_rule("Dealer customers")
    settings = emulator.settings
    with (
        emulator.serve() as server,
        Shopware6Client(server.base_url, settings.client_id, settings.client_secret) as client,
    ):
        ctx = load_context(
            client,
            tenant="acme",
            lang="de",
            sales_channel_name="Storefront",
            deletion="delete",
            customer_group_rules={"2": "Dealer customers", "3": "Wholesale"},
            tier_price_rule="Always valid (Default)",
        )
    assert ctx.languages == {SYSTEM_LANGUAGE_ID: "en", GERMAN_LANGUAGE_ID: "de"}
    assert ctx.system_language == "en" and ctx.text_languages == ("de", "en")
    assert ctx.rules == {"2": dealers, "": DEFAULT_RULE_ID}
    assert ctx.missing_rules == ("Wholesale",), "left out, with a warning, not a failed run"
    assert ctx.media_folder_id == PRODUCT_MEDIA_FOLDER_ID
    assert replace(ctx, languages={SYSTEM_LANGUAGE_ID: "en"}).version != ctx.version

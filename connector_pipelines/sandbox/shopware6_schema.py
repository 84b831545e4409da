"""Entity definitions of the Shopware 6 emulator: fields, associations, constraints and the fixed seed ids.

A trimmed copy of the DAL definitions (``src/Core/Content/**/...Definition.php``) covering what a product sync
touches. Field flags mirror Shopware's: ``required`` (``Required``), ``translated`` (``TranslatedField``),
``inherited`` (``Inherited``, parent -> variant) and ``write_protected`` (``WriteProtected``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "fk", "uuid", "str", "text", "int", "float", "bool", "price", "json", "list", "date"]
OnDelete = Literal["cascade", "set_null", "restrict"]
AssocKind = Literal["one_to_many", "many_to_many", "many_to_one"]

DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"
SYSTEM_LANGUAGE_ID = "2fbb5fe2e29a4d70aa5854ce7ce3e20b"
LIVE_VERSION_ID = "0fa91ce3e96a4bc2be4bd9ce752c3425"
STRING_MAX_LENGTH = 255


def seed_id(name: str) -> str:
    """Deterministic id of a seeded record, the way ``Uuid::fromStringToHex`` derives one."""
    return hashlib.md5(f"shopware-sandbox:{name}".encode(), usedforsecurity=False).hexdigest()


GERMAN_LANGUAGE_ID = seed_id("language:de-DE")
ENGLISH_LOCALE_ID = seed_id("locale:en-GB")
GERMAN_LOCALE_ID = seed_id("locale:de-DE")
USD_CURRENCY_ID = seed_id("currency:USD")
CHF_CURRENCY_ID = seed_id("currency:CHF")
GBP_CURRENCY_ID = seed_id("currency:GBP")
TAX_19_ID = seed_id("tax:19")
TAX_7_ID = seed_id("tax:7")
TAX_0_ID = seed_id("tax:0")
STOREFRONT_SALES_CHANNEL_ID = seed_id("sales-channel:storefront")
STOREFRONT_TYPE_ID = "8a243080f92e4c719546314b577cf82b"
NAVIGATION_CATEGORY_ID = seed_id("category:home")
DEFAULT_RULE_ID = seed_id("rule:always-valid")
PRODUCT_MEDIA_FOLDER_ID = seed_id("media-folder:product")
DELIVERY_TIME_IDS = {
    "1-3 days": seed_id("delivery-time:1-3d"),
    "2-5 days": seed_id("delivery-time:2-5d"),
    "1-2 weeks": seed_id("delivery-time:1-2w"),
}


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    kind: Kind
    ref: str | None = None
    required: bool = False
    translated: bool = False
    inherited: bool = False
    write_protected: bool = False
    on_delete: OnDelete = "restrict"
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class AssocDef:
    """``fk``: one_to_many -> column on ``ref`` pointing back; many_to_one -> local column;
    many_to_many -> the mapping column pointing back, with ``mapping_ref`` pointing at ``ref``."""

    name: str
    kind: AssocKind
    ref: str
    fk: str
    mapping: str | None = None
    mapping_ref: str | None = None
    inherited: bool = False


@dataclass(slots=True)
class EntityDef:
    name: str
    fields: dict[str, FieldDef]
    assocs: dict[str, AssocDef]
    defaults: dict[str, object]
    pk: tuple[str, ...] = ("id",)
    versioned: bool = False
    inheritance: bool = False
    unique: tuple[tuple[str, ...], ...] = ()
    translated: frozenset[str] = frozenset()
    required_translated: frozenset[str] = frozenset()
    fks: tuple[FieldDef, ...] = ()
    indexed: tuple[str, ...] = ()
    incoming: list[tuple[str, FieldDef]] = field(default_factory=list)

    @property
    def alias(self) -> str:
        return self.name.replace("_", "-")

    @property
    def is_mapping(self) -> bool:
        return len(self.pk) > 1

    @property
    def id_property(self) -> str:
        """``productId`` for ``product``: the key translation and mapping rows use to point here."""
        head, *rest = self.name.split("_")
        return head + "".join(part.capitalize() for part in rest) + "Id"


def _f(
    name: str,
    kind: Kind,
    *,
    required: bool = False,
    translated: bool = False,
    inherited: bool = False,
    write_protected: bool = False,
) -> FieldDef:
    return FieldDef(
        name,
        kind,
        required=required,
        translated=translated,
        inherited=inherited,
        write_protected=write_protected,
        max_length=STRING_MAX_LENGTH if kind == "str" else None,
    )


def _fk(
    name: str, ref: str, on_delete: OnDelete, *, required: bool = False, inherited: bool = False
) -> FieldDef:
    return FieldDef(name, "fk", ref=ref, on_delete=on_delete, required=required, inherited=inherited)


def _ro(name: str, kind: Kind) -> FieldDef:
    return FieldDef(name, kind, write_protected=True)


def _tr(
    name: str,
    kind: Kind = "str",
    *,
    required: bool = False,
    inherited: bool = False,
    write_protected: bool = False,
) -> FieldDef:
    return _f(
        name, kind, translated=True, required=required, inherited=inherited, write_protected=write_protected
    )


def _o2m(name: str, ref: str, fk: str, *, inherited: bool = False) -> AssocDef:
    return AssocDef(name, "one_to_many", ref, fk, inherited=inherited)


def _m2o(name: str, ref: str, fk: str, *, inherited: bool = False) -> AssocDef:
    return AssocDef(name, "many_to_one", ref, fk, inherited=inherited)


def _m2m(
    name: str, ref: str, mapping: str, fk: str, mapping_ref: str, *, inherited: bool = False
) -> AssocDef:
    return AssocDef(
        name, "many_to_many", ref, fk, mapping=mapping, mapping_ref=mapping_ref, inherited=inherited
    )


def _entity(
    name: str,
    fields: list[FieldDef],
    assocs: list[AssocDef] | None = None,
    defaults: dict[str, object] | None = None,
    *,
    pk: tuple[str, ...] = ("id",),
    versioned: bool = False,
    inheritance: bool = False,
    unique: tuple[tuple[str, ...], ...] = (),
) -> EntityDef:
    all_fields = [FieldDef("id", "id"), *fields] if pk == ("id",) else fields
    return EntityDef(
        name,
        {f.name: f for f in all_fields},
        {a.name: a for a in assocs or []},
        defaults or {},
        pk=pk,
        versioned=versioned,
        inheritance=inheritance,
        unique=unique,
    )


_ENTITIES = [
    _entity(
        "product",
        [
            _ro("versionId", "uuid"),
            _fk("parentId", "product", "cascade"),
            _fk("manufacturerId", "product_manufacturer", "set_null", inherited=True),
            _fk("unitId", "unit", "set_null", inherited=True),
            _fk("taxId", "tax", "restrict", required=True, inherited=True),
            _fk("coverId", "product_media", "set_null", inherited=True),
            _fk("deliveryTimeId", "delivery_time", "set_null", inherited=True),
            _fk("canonicalProductId", "product", "set_null", inherited=True),
            _f("featureSetId", "uuid", inherited=True),
            _f("cmsPageId", "uuid", inherited=True),
            _f("price", "price", required=True, inherited=True),
            _f("productNumber", "str", required=True),
            _f("restockTime", "int", inherited=True),
            _f("active", "bool", inherited=True),
            _ro("available", "bool"),
            _f("isCloseout", "bool", inherited=True),
            _ro("availableStock", "int"),
            _f("stock", "int", required=True),
            _ro("displayGroup", "str"),
            _f("manufacturerNumber", "str", inherited=True),
            _f("ean", "str", inherited=True),
            _f("purchaseSteps", "int", inherited=True),
            _f("maxPurchase", "int", inherited=True),
            _f("minPurchase", "int", inherited=True),
            _f("purchaseUnit", "float", inherited=True),
            _f("referenceUnit", "float", inherited=True),
            _f("shippingFree", "bool", inherited=True),
            _f("purchasePrices", "price", inherited=True),
            _f("markAsTopseller", "bool", inherited=True),
            _f("weight", "float", inherited=True),
            _f("width", "float", inherited=True),
            _f("height", "float", inherited=True),
            _f("length", "float", inherited=True),
            _f("releaseDate", "date", inherited=True),
            _ro("ratingAverage", "float"),
            _ro("categoryTree", "list"),
            _ro("categoryIds", "list"),
            _ro("propertyIds", "list"),
            _ro("optionIds", "list"),
            _f("tagIds", "list", inherited=True),
            _ro("variation", "list"),
            _f("variantListingConfig", "json", inherited=True),
            _ro("childCount", "int"),
            _ro("sales", "int"),
            _tr("metaDescription", inherited=True),
            _tr("name", required=True, inherited=True),
            _tr("keywords", "text", inherited=True),
            _tr("description", "text", inherited=True),
            _tr("metaTitle", inherited=True),
            _tr("packUnit", inherited=True),
            _tr("packUnitPlural", inherited=True),
            _tr("customSearchKeywords", "list", inherited=True),
            _tr("slotConfig", "json", inherited=True),
            _tr("customFields", "json", inherited=True),
        ],
        [
            _m2o("parent", "product", "parentId"),
            _o2m("children", "product", "parentId"),
            _m2o("manufacturer", "product_manufacturer", "manufacturerId", inherited=True),
            _m2o("unit", "unit", "unitId", inherited=True),
            _m2o("tax", "tax", "taxId", inherited=True),
            _m2o("cover", "product_media", "coverId", inherited=True),
            _m2o("deliveryTime", "delivery_time", "deliveryTimeId", inherited=True),
            _o2m("prices", "product_price", "productId", inherited=True),
            _o2m("media", "product_media", "productId", inherited=True),
            _o2m("visibilities", "product_visibility", "productId", inherited=True),
            _o2m("configuratorSettings", "product_configurator_setting", "productId"),
            _m2m("categories", "category", "product_category", "productId", "categoryId", inherited=True),
            _m2m(
                "properties",
                "property_group_option",
                "product_property",
                "productId",
                "optionId",
                inherited=True,
            ),
            _m2m("options", "property_group_option", "product_option", "productId", "optionId"),
        ],
        {
            "active": True,
            "isCloseout": False,
            "minPurchase": 1,
            "purchaseSteps": 1,
            "shippingFree": False,
            "markAsTopseller": False,
        },
        versioned=True,
        inheritance=True,
        unique=(("productNumber",),),
    ),
    _entity(
        "category",
        [
            _ro("versionId", "uuid"),
            _fk("parentId", "category", "cascade"),
            _fk("afterCategoryId", "category", "set_null"),
            _fk("mediaId", "media", "set_null"),
            _f("cmsPageId", "uuid"),
            _f("productStreamId", "uuid"),
            _f("displayNestedProducts", "bool"),
            _f("active", "bool"),
            _f("visible", "bool"),
            _f("type", "str"),
            _f("productAssignmentType", "str"),
            _ro("level", "int"),
            _ro("path", "str"),
            _ro("childCount", "int"),
            _tr("name", required=True),
            _tr("breadcrumb", "list", write_protected=True),
            _tr("linkType"),
            _tr("externalLink", "text"),
            _tr("internalLink", "uuid"),
            _tr("linkNewTab", "bool"),
            _tr("description", "text"),
            _tr("metaTitle", "text"),
            _tr("metaDescription", "text"),
            _tr("keywords", "text"),
            _tr("slotConfig", "json"),
            _tr("customFields", "json"),
        ],
        [
            _m2o("parent", "category", "parentId"),
            _o2m("children", "category", "parentId"),
            _m2o("media", "media", "mediaId"),
            _m2m("products", "product", "product_category", "categoryId", "productId"),
        ],
        {
            "displayNestedProducts": True,
            "active": True,
            "visible": True,
            "type": "page",
            "productAssignmentType": "product",
        },
        versioned=True,
    ),
    _entity(
        "property_group",
        [
            _f("displayType", "str"),
            _f("sortingType", "str"),
            _f("filterable", "bool"),
            _f("visibleOnProductDetailPage", "bool"),
            _tr("name", required=True),
            _tr("description", "text"),
            _tr("position", "int"),
            _tr("customFields", "json"),
        ],
        [_o2m("options", "property_group_option", "groupId")],
        {
            "displayType": "text",
            "sortingType": "alphanumeric",
            "filterable": True,
            "visibleOnProductDetailPage": True,
        },
    ),
    _entity(
        "property_group_option",
        [
            _fk("groupId", "property_group", "cascade", required=True),
            _f("colorHexCode", "str"),
            _fk("mediaId", "media", "set_null"),
            _tr("name", required=True),
            _tr("position", "int"),
            _tr("customFields", "json"),
        ],
        [
            _m2o("group", "property_group", "groupId"),
            _m2o("media", "media", "mediaId"),
            _o2m("productConfiguratorSettings", "product_configurator_setting", "optionId"),
            _m2m("productProperties", "product", "product_property", "optionId", "productId"),
            _m2m("productOptions", "product", "product_option", "optionId", "productId"),
        ],
    ),
    _entity(
        "product_manufacturer",
        [
            _ro("versionId", "uuid"),
            _fk("mediaId", "media", "set_null"),
            _f("link", "text"),
            _tr("name", required=True),
            _tr("description", "text"),
            _tr("customFields", "json"),
        ],
        [_m2o("media", "media", "mediaId"), _o2m("products", "product", "manufacturerId")],
        versioned=True,
    ),
    _entity(
        "unit",
        [_tr("shortCode", required=True), _tr("name", required=True), _tr("customFields", "json")],
        [_o2m("products", "product", "unitId")],
    ),
    _entity(
        "tax",
        [
            _f("taxRate", "float", required=True),
            _f("name", "str", required=True),
            _f("position", "int"),
            _f("customFields", "json"),
        ],
        [_o2m("products", "product", "taxId")],
        {"position": 0},
    ),
    _entity(
        "currency",
        [
            _f("factor", "float", required=True),
            _f("symbol", "str", required=True),
            _f("isoCode", "str", required=True),
            _f("position", "int"),
            _f("taxFreeFrom", "float"),
            _f("itemRounding", "json", required=True),
            _f("totalRounding", "json", required=True),
            _ro("isSystemDefault", "bool"),
            _tr("shortName", required=True),
            _tr("name", required=True),
            _tr("customFields", "json"),
        ],
        [],
        {"position": 1, "taxFreeFrom": 0.0},
    ),
    _entity(
        "locale",
        [_f("code", "str", required=True), _tr("name", required=True), _tr("territory", required=True)],
        [_o2m("languages", "language", "localeId")],
    ),
    _entity(
        "language",
        [
            _fk("parentId", "language", "restrict"),
            _fk("localeId", "locale", "restrict", required=True),
            _fk("translationCodeId", "locale", "set_null"),
            _f("name", "str", required=True),
            _f("active", "bool"),
            _f("customFields", "json"),
        ],
        [
            _m2o("parent", "language", "parentId"),
            _m2o("locale", "locale", "localeId"),
            _m2o("translationCode", "locale", "translationCodeId"),
            _o2m("children", "language", "parentId"),
        ],
        {"active": True},
    ),
    _entity(
        "sales_channel",
        [
            _f("typeId", "uuid", required=True),
            _fk("languageId", "language", "restrict", required=True),
            _f("customerGroupId", "uuid", required=True),
            _fk("currencyId", "currency", "restrict", required=True),
            _f("paymentMethodId", "uuid", required=True),
            _f("shippingMethodId", "uuid", required=True),
            _f("countryId", "uuid", required=True),
            _fk("navigationCategoryId", "category", "restrict", required=True),
            _f("navigationCategoryDepth", "int"),
            _fk("footerCategoryId", "category", "set_null"),
            _fk("serviceCategoryId", "category", "set_null"),
            _f("accessKey", "str", required=True),
            _f("active", "bool"),
            _f("maintenance", "bool"),
            _tr("name", required=True),
            _tr("customFields", "json"),
        ],
        [
            _m2o("language", "language", "languageId"),
            _m2o("currency", "currency", "currencyId"),
            _m2o("navigationCategory", "category", "navigationCategoryId"),
            _o2m("productVisibilities", "product_visibility", "salesChannelId"),
        ],
        {"navigationCategoryDepth": 2, "active": True, "maintenance": False},
    ),
    _entity(
        "media_folder",
        [
            _fk("parentId", "media_folder", "cascade"),
            _f("name", "str", required=True),
            _f("useParentConfiguration", "bool"),
            _f("configurationId", "uuid"),
            _f("defaultFolderId", "uuid"),
            _f("customFields", "json"),
        ],
        [_o2m("media", "media", "mediaFolderId"), _o2m("children", "media_folder", "parentId")],
        {"useParentConfiguration": False},
    ),
    _entity(
        "media",
        [
            _fk("mediaFolderId", "media_folder", "set_null"),
            _f("userId", "uuid"),
            _f("private", "bool"),
            _ro("mimeType", "str"),
            _ro("fileExtension", "str"),
            _ro("fileSize", "int"),
            _ro("fileName", "text"),
            _ro("uploadedAt", "date"),
            _ro("metaData", "json"),
            _ro("mediaType", "json"),
            _ro("path", "text"),
            _ro("url", "text"),
            _ro("hasFile", "bool"),
            _tr("title"),
            _tr("alt", "text"),
            _tr("customFields", "json"),
        ],
        [
            _m2o("mediaFolder", "media_folder", "mediaFolderId"),
            _o2m("productMedia", "product_media", "mediaId"),
        ],
        {"private": False},
    ),
    _entity(
        "delivery_time",
        [
            _tr("name", required=True),
            _f("min", "int", required=True),
            _f("max", "int", required=True),
            _f("unit", "str", required=True),
            _tr("customFields", "json"),
        ],
        [_o2m("products", "product", "deliveryTimeId")],
    ),
    _entity(
        "rule",
        [
            _f("name", "str", required=True),
            _f("priority", "int", required=True),
            _f("description", "text"),
            _f("customFields", "json"),
        ],
        [_o2m("productPrices", "product_price", "ruleId")],
    ),
    _entity(
        "product_media",
        [
            _ro("versionId", "uuid"),
            _fk("productId", "product", "cascade", required=True),
            _fk("mediaId", "media", "cascade", required=True),
            _f("position", "int"),
            _f("customFields", "json"),
        ],
        [_m2o("product", "product", "productId"), _m2o("media", "media", "mediaId")],
        {"position": 1},
        versioned=True,
    ),
    _entity(
        "product_visibility",
        [
            _fk("productId", "product", "cascade", required=True),
            _fk("salesChannelId", "sales_channel", "cascade", required=True),
            _f("visibility", "int", required=True),
        ],
        [_m2o("product", "product", "productId"), _m2o("salesChannel", "sales_channel", "salesChannelId")],
        unique=(("productId", "salesChannelId"),),
    ),
    _entity(
        "product_configurator_setting",
        [
            _ro("versionId", "uuid"),
            _fk("productId", "product", "cascade", required=True),
            _fk("optionId", "property_group_option", "cascade", required=True),
            _fk("mediaId", "media", "set_null"),
            _f("position", "int"),
            _f("price", "price"),
            _f("customFields", "json"),
        ],
        [
            _m2o("product", "product", "productId"),
            _m2o("option", "property_group_option", "optionId"),
            _m2o("media", "media", "mediaId"),
        ],
        {"position": 0},
        versioned=True,
        unique=(("productId", "optionId"),),
    ),
    _entity(
        "product_price",
        [
            _ro("versionId", "uuid"),
            _fk("productId", "product", "cascade", required=True),
            _fk("ruleId", "rule", "cascade", required=True),
            _f("price", "price", required=True),
            _f("quantityStart", "int", required=True),
            _f("quantityEnd", "int"),
            _f("customFields", "json"),
        ],
        [_m2o("product", "product", "productId"), _m2o("rule", "rule", "ruleId")],
        versioned=True,
    ),
    _entity(
        "product_category",
        [
            _fk("productId", "product", "cascade", required=True),
            _fk("categoryId", "category", "cascade", required=True),
        ],
        [_m2o("product", "product", "productId"), _m2o("category", "category", "categoryId")],
        pk=("productId", "categoryId"),
    ),
    _entity(
        "product_property",
        [
            _fk("productId", "product", "cascade", required=True),
            _fk("optionId", "property_group_option", "cascade", required=True),
        ],
        [_m2o("product", "product", "productId"), _m2o("option", "property_group_option", "optionId")],
        pk=("productId", "optionId"),
    ),
    _entity(
        "product_option",
        [
            _fk("productId", "product", "cascade", required=True),
            _fk("optionId", "property_group_option", "cascade", required=True),
        ],
        [_m2o("product", "product", "productId"), _m2o("option", "property_group_option", "optionId")],
        pk=("productId", "optionId"),
    ),
]


def _finish(entities: list[EntityDef]) -> dict[str, EntityDef]:
    by_name = {e.name: e for e in entities}
    for e in entities:
        e.translated = frozenset(f.name for f in e.fields.values() if f.translated)
        e.required_translated = frozenset(f.name for f in e.fields.values() if f.translated and f.required)
        e.fks = tuple(f for f in e.fields.values() if f.kind == "fk" and not f.translated)
        e.indexed = tuple(f.name for f in e.fks)
        for f in e.fks:
            assert f.ref is not None
            by_name[f.ref].incoming.append((e.name, f))
    return by_name


SCHEMA: dict[str, EntityDef] = _finish(_ENTITIES)
BY_ALIAS: dict[str, EntityDef] = {e.alias: e for e in SCHEMA.values()}

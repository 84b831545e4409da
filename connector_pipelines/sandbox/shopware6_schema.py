"""Entity definitions of the Shopware 6 emulator: fields, associations, constraints and the fixed seed ids.

Derived from the DAL definitions (``src/Core/**/...Definition.php``, shopware/shopware ``cfc087d``, the commit
the contract pins): every field of each served entity's ``defineFields`` is listed, since the Admin API
renders them all (``Field::__construct`` makes every field API-aware for the Admin API). Field flags mirror
Shopware's: ``required`` (``Required``), ``translated`` (``TranslatedField``), ``inherited`` (``Inherited``,
parent -> variant) and ``write_protected`` (``WriteProtected``, ``Runtime`` and indexer-kept fields).
``version`` fields (``VersionField``, ``ReferenceVersionField``) always hold the live version. Associations to
entities the emulator does not store are *phantoms*: rendered ``null`` (``[]`` / ``null`` when a criteria
loads them), so the answer has the real shape; ``translations`` is rendered from the stored translations.
Defaults are ``getDefaults()`` plus the column defaults of the migrations.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal[
    "id", "fk", "uuid", "str", "text", "int", "float", "bool", "price", "json", "list", "date", "version"
]
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
    # association name -> to-many; associations to entities not stored here (see the module docstring)
    phantoms: dict[str, bool] = field(default_factory=dict)
    # defaults of translated fields, written into the translation of the language the record is created in
    translated_defaults: dict[str, object] = field(default_factory=dict)
    versions: tuple[str, ...] = ()

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


def _version(name: str = "versionId") -> FieldDef:
    """``VersionField`` / ``ReferenceVersionField``: the emulator only has the live version."""
    return FieldDef(name, "version", write_protected=True)


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
    many: tuple[str, ...] = (),
    one: tuple[str, ...] = (),
) -> EntityDef:
    """``many`` / ``one``: phantom to-many / to-one associations (entities the emulator does not store)."""
    all_fields = [FieldDef("id", "id"), *fields] if pk == ("id",) else fields
    by_name = {f.name: f for f in all_fields}
    plain_defaults = {k: v for k, v in (defaults or {}).items() if not by_name[k].translated}
    return EntityDef(
        name,
        by_name,
        {a.name: a for a in assocs or []},
        plain_defaults,
        pk=pk,
        versioned=versioned,
        inheritance=inheritance,
        unique=unique,
        phantoms={**dict.fromkeys(many, True), **dict.fromkeys(one, False)},
        translated_defaults={k: v for k, v in (defaults or {}).items() if by_name[k].translated},
    )


_TRANSLATION_ASSOCS = (
    "categoryTranslations",
    "countryStateTranslations",
    "countryTranslations",
    "currencyTranslations",
    "customerGroupTranslations",
    "localeTranslations",
    "mediaTranslations",
    "paymentMethodTranslations",
    "productManufacturerTranslations",
    "productTranslations",
    "shippingMethodTranslations",
    "unitTranslations",
    "propertyGroupTranslations",
    "propertyGroupOptionTranslations",
    "salesChannelTranslations",
    "salesChannelTypeTranslations",
    "salutationTranslations",
    "pluginTranslations",
    "productStreamTranslations",
    "stateMachineTranslations",
    "stateMachineStateTranslations",
    "cmsPageTranslations",
    "cmsSlotTranslations",
    "mailTemplateTranslations",
    "mailHeaderFooterTranslations",
    "documentTypeTranslations",
    "numberRangeTypeTranslations",
    "deliveryTimeTranslations",
    "mailTemplateTypeTranslations",
    "promotionTranslations",
    "numberRangeTranslations",
    "taxRuleTypeTranslations",
    "productCrossSellingTranslations",
    "importExportProfileTranslations",
    "productSortingTranslations",
    "productFeatureSetTranslations",
    "appTranslations",
    "actionButtonTranslations",
    "landingPageTranslations",
    "appCmsBlockTranslations",
    "appScriptConditionTranslations",
    "appFlowActionTranslations",
    "taxProviderTranslations",
)

_ENTITIES = [
    _entity(
        "product",
        [
            _version(),
            _fk("parentId", "product", "cascade"),
            _version("parentVersionId"),
            _fk("manufacturerId", "product_manufacturer", "set_null", inherited=True),
            _version("productManufacturerVersionId"),
            _fk("unitId", "unit", "set_null", inherited=True),
            _fk("taxId", "tax", "restrict", required=True, inherited=True),
            _fk("coverId", "product_media", "set_null", inherited=True),
            _version("productMediaVersionId"),
            _fk("deliveryTimeId", "delivery_time", "set_null", inherited=True),
            _f("featureSetId", "uuid", inherited=True),
            _fk("canonicalProductId", "product", "set_null", inherited=True),
            _version("canonicalProductVersionId"),
            _f("cmsPageId", "uuid", inherited=True),
            _version("cmsPageVersionId"),
            _f("price", "price", required=True, inherited=True),
            _f("productNumber", "str", required=True),
            _f("restockTime", "int", inherited=True),
            _ro("autoIncrement", "int"),
            _f("active", "bool", inherited=True),
            _ro("available", "bool"),
            _f("isCloseout", "bool", inherited=True),
            _ro("availableStock", "int"),
            _f("stock", "int", required=True),
            _ro("variation", "list"),
            _ro("displayGroup", "str"),
            _f("variantListingConfig", "json", inherited=True),
            _f("variantRestrictions", "json"),
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
            _ro("propertyIds", "list"),
            _ro("optionIds", "list"),
            _f("streamIds", "list", inherited=True),
            _f("tagIds", "list", inherited=True),
            _ro("categoryIds", "list"),
            _ro("childCount", "int"),
            _f("customFieldSetSelectionActive", "bool", inherited=True),
            _ro("sales", "int"),
            _ro("states", "list"),
            _tr("metaDescription", inherited=True),
            _tr("name", required=True, inherited=True),
            _tr("keywords", "text", inherited=True),
            _tr("description", "text", inherited=True),
            _tr("metaTitle", inherited=True),
            _tr("packUnit", inherited=True),
            _tr("packUnitPlural", inherited=True),
            _tr("customFields", "json", inherited=True),
            _tr("slotConfig", "json", inherited=True),
            _tr("customSearchKeywords", "list", inherited=True),
        ],
        [
            _m2o("parent", "product", "parentId"),
            _o2m("children", "product", "parentId"),
            _m2o("deliveryTime", "delivery_time", "deliveryTimeId", inherited=True),
            _m2o("tax", "tax", "taxId", inherited=True),
            _m2o("manufacturer", "product_manufacturer", "manufacturerId", inherited=True),
            _m2o("unit", "unit", "unitId", inherited=True),
            _m2o("cover", "product_media", "coverId", inherited=True),
            _m2o("canonicalProduct", "product", "canonicalProductId", inherited=True),
            _o2m("prices", "product_price", "productId", inherited=True),
            _o2m("media", "product_media", "productId", inherited=True),
            _o2m("configuratorSettings", "product_configurator_setting", "productId"),
            _o2m("visibilities", "product_visibility", "productId", inherited=True),
            _m2m("options", "property_group_option", "product_option", "productId", "optionId"),
            _m2m(
                "properties",
                "property_group_option",
                "product_property",
                "productId",
                "optionId",
                inherited=True,
            ),
            _m2m("categories", "category", "product_category", "productId", "categoryId", inherited=True),
        ],
        {
            "isCloseout": False,
            "minPurchase": 1,
            "purchaseSteps": 1,
            "shippingFree": False,
            "active": True,
            "markAsTopseller": False,
        },
        versioned=True,
        inheritance=True,
        unique=(("productNumber",),),
        many=(
            "downloads",
            "crossSellings",
            "crossSellingAssignedProducts",
            "searchKeywords",
            "productReviews",
            "mainCategories",
            "seoUrls",
            "orderLineItems",
            "wishlists",
            "streams",
            "categoriesRo",
            "tags",
            "customFieldSets",
        ),
        one=("featureSet", "cmsPage"),
    ),
    _entity(
        "category",
        [
            _version(),
            _fk("parentId", "category", "cascade"),
            _version("parentVersionId"),
            _fk("afterCategoryId", "category", "set_null"),
            _version("afterCategoryVersionId"),
            _fk("mediaId", "media", "set_null"),
            _f("displayNestedProducts", "bool"),
            _ro("autoIncrement", "int"),
            _tr("breadcrumb", "list", write_protected=True),
            _ro("level", "int"),
            _ro("path", "str"),
            _ro("childCount", "int"),
            _f("type", "str"),
            _f("productAssignmentType", "str"),
            _f("visible", "bool"),
            _f("active", "bool"),
            _ro("cmsPageIdSwitched", "bool"),
            _ro("visibleChildCount", "int"),
            _tr("name", required=True),
            _tr("customFields", "json"),
            _tr("slotConfig", "json"),
            _tr("linkType"),
            _tr("internalLink", "uuid"),
            _tr("externalLink", "text"),
            _tr("linkNewTab", "bool"),
            _tr("description", "text"),
            _tr("metaTitle", "text"),
            _tr("metaDescription", "text"),
            _tr("keywords", "text"),
            _f("cmsPageId", "uuid"),
            _version("cmsPageVersionId"),
            _f("productStreamId", "uuid"),
            _f("customEntityTypeId", "uuid"),
        ],
        [
            _m2o("parent", "category", "parentId"),
            _o2m("children", "category", "parentId"),
            _m2o("media", "media", "mediaId"),
            _m2m("products", "product", "product_category", "categoryId", "productId"),
            _o2m("navigationSalesChannels", "sales_channel", "navigationCategoryId"),
            _o2m("footerSalesChannels", "sales_channel", "footerCategoryId"),
            _o2m("serviceSalesChannels", "sales_channel", "serviceCategoryId"),
        ],
        {
            "displayNestedProducts": True,
            "type": "page",
            "productAssignmentType": "product",
            # column defaults (migrations): visible and active are 1
            "visible": True,
            "active": True,
        },
        versioned=True,
        many=("nestedProducts", "tags", "mainCategories", "seoUrls"),
        one=("cmsPage", "productStream"),
    ),
    _entity(
        "property_group",
        [
            _tr("name", required=True),
            _tr("description", "text"),
            _f("displayType", "str"),
            _f("sortingType", "str"),
            _f("filterable", "bool"),
            _f("visibleOnProductDetailPage", "bool"),
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
            _tr("name", required=True),
            _tr("position", "int"),
            _f("colorHexCode", "str"),
            _fk("mediaId", "media", "set_null"),
            _tr("customFields", "json"),
        ],
        [
            _m2o("media", "media", "mediaId"),
            _m2o("group", "property_group", "groupId"),
            _o2m("productConfiguratorSettings", "product_configurator_setting", "optionId"),
            _m2m("productProperties", "product", "product_property", "optionId", "productId"),
            _m2m("productOptions", "product", "product_option", "optionId", "productId"),
        ],
    ),
    _entity(
        "product_manufacturer",
        [
            _version(),
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
        many=("rules", "shippingMethods"),
    ),
    _entity(
        "currency",
        [
            _f("factor", "float", required=True),
            _f("symbol", "str", required=True),
            _f("isoCode", "str", required=True),
            _tr("shortName", required=True),
            _tr("name", required=True),
            _f("position", "int"),
            _ro("isSystemDefault", "bool"),
            _f("taxFreeFrom", "float"),
            _tr("customFields", "json"),
            _f("itemRounding", "json", required=True),
            _f("totalRounding", "json", required=True),
        ],
        [_o2m("salesChannelDefaultAssignments", "sales_channel", "currencyId")],
        {"position": 1, "taxFreeFrom": 0.0},
        many=(
            "orders",
            "salesChannels",
            "salesChannelDomains",
            "promotionDiscountPrices",
            "productExports",
            "countryRoundings",
        ),
    ),
    _entity(
        "locale",
        [
            _f("code", "str", required=True),
            _tr("name", required=True),
            _tr("territory", required=True),
            _tr("customFields", "json"),
        ],
        [_o2m("languages", "language", "localeId")],
        many=("users",),
    ),
    _entity(
        "language",
        [
            _fk("parentId", "language", "restrict"),
            _fk("localeId", "locale", "restrict", required=True),
            _fk("translationCodeId", "locale", "set_null"),
            _f("name", "str", required=True),
            _f("customFields", "json"),
        ],
        [
            _m2o("parent", "language", "parentId"),
            _m2o("locale", "locale", "localeId"),
            _m2o("translationCode", "locale", "translationCodeId"),
            _o2m("children", "language", "parentId"),
            _o2m("salesChannelDefaultAssignments", "sales_channel", "languageId"),
            _m2m("salesChannels", "sales_channel", "sales_channel_language", "languageId", "salesChannelId"),
        ],
        many=(
            "salesChannelDomains",
            "customers",
            "newsletterRecipients",
            "orders",
            *_TRANSLATION_ASSOCS,
            "productSearchKeywords",
            "productKeywordDictionaries",
            "productReviews",
            "seoUrlTranslations",
        ),
        one=("productSearchConfig",),
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
            _f("analyticsId", "uuid"),
            _fk("navigationCategoryId", "category", "restrict", required=True),
            _version("navigationCategoryVersionId"),
            _f("navigationCategoryDepth", "int"),
            _fk("footerCategoryId", "category", "set_null"),
            _version("footerCategoryVersionId"),
            _fk("serviceCategoryId", "category", "set_null"),
            _version("serviceCategoryVersionId"),
            _f("mailHeaderFooterId", "uuid"),
            _f("hreflangDefaultDomainId", "uuid"),
            _tr("name", required=True),
            _f("shortName", "str"),
            _f("taxCalculationType", "str"),
            _f("accessKey", "str", required=True),
            _f("configuration", "json"),
            _f("active", "bool"),
            _f("hreflangActive", "bool"),
            _f("maintenance", "bool"),
            _f("maintenanceIpWhitelist", "list"),
            _tr("customFields", "json"),
            # ManyToManyIdField: kept by an indexer from the paymentMethods association
            _ro("paymentMethodIds", "list"),
            _f("homeCmsPageId", "uuid"),
            _version("homeCmsPageVersionId"),
            _tr("homeSlotConfig", "json"),
            _tr("homeEnabled", "bool"),
            _tr("homeName"),
            _tr("homeMetaTitle"),
            _tr("homeMetaDescription"),
            _tr("homeKeywords"),
        ],
        [
            _m2o("language", "language", "languageId"),
            _m2o("currency", "currency", "currencyId"),
            _m2o("navigationCategory", "category", "navigationCategoryId"),
            _m2o("footerCategory", "category", "footerCategoryId"),
            _m2o("serviceCategory", "category", "serviceCategoryId"),
            _o2m("productVisibilities", "product_visibility", "salesChannelId"),
            _m2m("languages", "language", "sales_channel_language", "salesChannelId", "languageId"),
        ],
        {
            "taxCalculationType": "horizontal",
            "homeEnabled": True,
            # column defaults (migrations)
            "navigationCategoryDepth": 2,
            "active": True,
            "hreflangActive": False,
            "maintenance": False,
        },
        many=(
            "currencies",
            "countries",
            "paymentMethods",
            "shippingMethods",
            "orders",
            "customers",
            "domains",
            "systemConfigs",
            "newsletterRecipients",
            "numberRangeSalesChannels",
            "promotionSalesChannels",
            "documentBaseConfigSalesChannels",
            "productReviews",
            "seoUrls",
            "seoUrlTemplates",
            "mainCategories",
            "productExports",
            "customerGroupsRegistrations",
            "landingPages",
            "boundCustomers",
            "wishlists",
        ),
        one=(
            "type",
            "customerGroup",
            "paymentMethod",
            "shippingMethod",
            "country",
            "homeCmsPage",
            "hreflangDefaultDomain",
            "mailHeaderFooter",
            "analytics",
        ),
    ),
    _entity(
        "media_folder",
        [
            _f("useParentConfiguration", "bool"),
            _f("configurationId", "uuid"),
            _f("defaultFolderId", "uuid"),
            _fk("parentId", "media_folder", "cascade"),
            _ro("childCount", "int"),
            _ro("path", "str"),
            _f("name", "str", required=True),
            _f("customFields", "json"),
        ],
        [
            _m2o("parent", "media_folder", "parentId"),
            _o2m("children", "media_folder", "parentId"),
            _o2m("media", "media", "mediaFolderId"),
        ],
        {"useParentConfiguration": True},
        one=("defaultFolder", "configuration"),
    ),
    _entity(
        "media",
        [
            _f("userId", "uuid"),
            _fk("mediaFolderId", "media_folder", "set_null"),
            _ro("mimeType", "str"),
            _ro("fileExtension", "str"),
            _ro("uploadedAt", "date"),
            _ro("fileName", "text"),
            _ro("fileSize", "int"),
            _ro("metaData", "json"),
            _ro("mediaType", "json"),
            _f("config", "json"),
            _tr("alt", "text"),
            _tr("title"),
            _ro("url", "text"),
            _ro("path", "text"),
            _ro("hasFile", "bool"),
            _f("private", "bool"),
            _tr("customFields", "json"),
        ],
        [
            _m2o("mediaFolder", "media_folder", "mediaFolderId"),
            _o2m("categories", "category", "mediaId"),
            _o2m("productManufacturers", "product_manufacturer", "mediaId"),
            _o2m("productMedia", "product_media", "mediaId"),
            _o2m("propertyGroupOptions", "property_group_option", "mediaId"),
            _o2m("productConfiguratorSettings", "product_configurator_setting", "mediaId"),
        ],
        {"private": False},
        many=(
            "tags",
            "thumbnails",
            "productDownloads",
            "orderLineItemDownloads",
            "avatarUsers",
            "mailTemplateMedia",
            "documentBaseConfigs",
            "shippingMethods",
            "paymentMethods",
            "orderLineItems",
            "cmsBlocks",
            "cmsSections",
            "cmsPages",
            "documents",
            "appPaymentMethods",
            "appShippingMethods",
        ),
        one=("user",),
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
        many=("shippingMethods",),
    ),
    _entity(
        "rule",
        [
            _f("name", "str", required=True),
            _f("priority", "int", required=True),
            _f("description", "text"),
            _ro("invalid", "bool"),
            _ro("areas", "list"),
            _f("customFields", "json"),
            _f("moduleTypes", "json"),
        ],
        [_o2m("productPrices", "product_price", "ruleId")],
        {"invalid": False},
        many=(
            "conditions",
            "shippingMethodPrices",
            "shippingMethodPriceCalculations",
            "shippingMethods",
            "paymentMethods",
            "personaPromotions",
            "flowSequences",
            "taxProviders",
            "tags",
            "orderPromotions",
            "cartPromotions",
            "promotionDiscounts",
            "promotionSetGroups",
        ),
    ),
    _entity(
        "product_media",
        [
            _version(),
            _fk("productId", "product", "cascade", required=True),
            _version("productVersionId"),
            _fk("mediaId", "media", "cascade", required=True),
            _f("position", "int"),
            _f("customFields", "json"),
        ],
        [
            _m2o("product", "product", "productId"),
            _m2o("media", "media", "mediaId"),
            _o2m("coverProducts", "product", "coverId"),
        ],
        {"position": 1},
        versioned=True,
    ),
    _entity(
        "product_visibility",
        [
            _fk("productId", "product", "cascade", required=True),
            _version("productVersionId"),
            _fk("salesChannelId", "sales_channel", "cascade", required=True),
            _f("visibility", "int", required=True),
        ],
        [_m2o("salesChannel", "sales_channel", "salesChannelId"), _m2o("product", "product", "productId")],
        unique=(("productId", "salesChannelId"),),
    ),
    _entity(
        "product_configurator_setting",
        [
            _version(),
            _fk("productId", "product", "cascade", required=True),
            _version("productVersionId"),
            _fk("mediaId", "media", "set_null"),
            _fk("optionId", "property_group_option", "cascade", required=True),
            _f("price", "price"),
            _f("position", "int"),
            _f("customFields", "json"),
        ],
        [
            _m2o("product", "product", "productId"),
            _m2o("media", "media", "mediaId"),
            _m2o("option", "property_group_option", "optionId"),
        ],
        {"position": 0},
        versioned=True,
        unique=(("productId", "optionId"),),
    ),
    _entity(
        "product_price",
        [
            _version(),
            _fk("productId", "product", "cascade", required=True),
            _version("productVersionId"),
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
            _version("productVersionId"),
            _fk("categoryId", "category", "cascade", required=True),
            _version("categoryVersionId"),
        ],
        [_m2o("product", "product", "productId"), _m2o("category", "category", "categoryId")],
        pk=("productId", "categoryId"),
    ),
    _entity(
        "product_property",
        [
            _fk("productId", "product", "cascade", required=True),
            _version("productVersionId"),
            _fk("optionId", "property_group_option", "cascade", required=True),
        ],
        [_m2o("product", "product", "productId"), _m2o("option", "property_group_option", "optionId")],
        pk=("productId", "optionId"),
    ),
    _entity(
        "sales_channel_language",
        [
            _fk("salesChannelId", "sales_channel", "cascade", required=True),
            _fk("languageId", "language", "cascade", required=True),
        ],
        [
            _m2o("salesChannel", "sales_channel", "salesChannelId"),
            _m2o("language", "language", "languageId"),
        ],
        pk=("salesChannelId", "languageId"),
    ),
    _entity(
        "product_option",
        [
            _fk("productId", "product", "cascade", required=True),
            _version("productVersionId"),
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
        e.versions = tuple(f.name for f in e.fields.values() if f.kind == "version")
        if e.translated:
            e.phantoms["translations"] = True  # TranslationsAssociationField; rendered from the rows
        e.required_translated = frozenset(f.name for f in e.fields.values() if f.translated and f.required)
        e.fks = tuple(f for f in e.fields.values() if f.kind == "fk" and not f.translated)
        e.indexed = tuple(f.name for f in e.fks)
        for f in e.fks:
            assert f.ref is not None
            by_name[f.ref].incoming.append((e.name, f))
    return by_name


SCHEMA: dict[str, EntityDef] = _finish(_ENTITIES)
BY_ALIAS: dict[str, EntityDef] = {e.alias: e for e in SCHEMA.values()}

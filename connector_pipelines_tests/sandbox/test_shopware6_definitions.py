"""Shopware 6 emulator answers as the real Admin API does where issue 12 found it did not: unknown sync
entities, the computed ``variation`` field, and every field of Shopware's entity definitions (cfc087d)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    DEFAULT_RULE_ID,
    GERMAN_LANGUAGE_ID,
    LIVE_VERSION_ID,
    NAVIGATION_CATEGORY_ID,
    STOREFRONT_SALES_CHANNEL_ID,
    SYSTEM_LANGUAGE_ID,
    TAX_19_ID,
)


def uid(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


COLOR, SIZE = uid("group:color"), uid("group:size")
RED, SMALL = uid("opt:red"), uid("opt:s")
PARENT, VARIANT = uid("product:TEE"), uid("product:TEE.1")
MEDIA, PRODUCT_MEDIA = uid("media:tee"), uid("product-media:tee")
PRICE = {"currencyId": DEFAULT_CURRENCY_ID, "gross": 19.99, "net": 16.8, "linked": True}


def _names(text: str) -> set[str]:
    return set(text.split())


# Every field of each served entity's defineFields() at shopware/shopware cfc087d, associations included
# (all are API-aware for the Admin API), plus the DAL's own createdAt / updatedAt.
FIELDS: dict[str, set[str]] = {
    "product": _names(
        "id versionId parentId parentVersionId manufacturerId productManufacturerVersionId unitId taxId"
        " coverId productMediaVersionId deliveryTimeId featureSetId canonicalProductId"
        " canonicalProductVersionId cmsPageId cmsPageVersionId price productNumber restockTime autoIncrement"
        " active available isCloseout availableStock stock variation displayGroup variantListingConfig"
        " variantRestrictions manufacturerNumber ean purchaseSteps maxPurchase minPurchase purchaseUnit"
        " referenceUnit shippingFree purchasePrices markAsTopseller weight width height length releaseDate"
        " ratingAverage categoryTree propertyIds optionIds streamIds tagIds categoryIds childCount"
        " customFieldSetSelectionActive sales states downloads metaDescription name keywords description"
        " metaTitle packUnit packUnitPlural customFields slotConfig customSearchKeywords parent children"
        " deliveryTime tax manufacturer unit cover featureSet cmsPage canonicalProduct prices media"
        " crossSellings crossSellingAssignedProducts configuratorSettings visibilities searchKeywords"
        " productReviews mainCategories seoUrls orderLineItems wishlists options properties categories"
        " streams categoriesRo tags customFieldSets translations"
    ),
    "category": _names(
        "id versionId parentId parentVersionId afterCategoryId afterCategoryVersionId mediaId"
        " displayNestedProducts autoIncrement breadcrumb level path childCount type productAssignmentType"
        " visible active cmsPageIdSwitched visibleChildCount name customFields slotConfig linkType"
        " internalLink externalLink linkNewTab description metaTitle metaDescription keywords parent children"
        " media translations products nestedProducts tags cmsPageId cmsPageVersionId cmsPage productStreamId"
        " productStream customEntityTypeId navigationSalesChannels footerSalesChannels serviceSalesChannels"
        " mainCategories seoUrls"
    ),
    "property_group": _names(
        "id name description displayType sortingType filterable visibleOnProductDetailPage position"
        " customFields options translations"
    ),
    "property_group_option": _names(
        "id groupId name position colorHexCode mediaId customFields media group translations"
        " productConfiguratorSettings productProperties productOptions"
    ),
    "product_manufacturer": _names(
        "id versionId mediaId link name description customFields media products translations"
    ),
    "unit": _names("id shortCode name customFields products translations"),
    "tax": _names("id taxRate name position customFields products rules shippingMethods"),
    "currency": _names(
        "id factor symbol isoCode shortName name position isSystemDefault taxFreeFrom customFields"
        " translations salesChannelDefaultAssignments orders salesChannels salesChannelDomains"
        " promotionDiscountPrices productExports itemRounding totalRounding countryRoundings"
    ),
    "locale": _names("id code name territory customFields languages translations users"),
    "language": _names(
        "id parentId localeId translationCodeId name customFields parent locale translationCode children"
        " salesChannels salesChannelDefaultAssignments salesChannelDomains customers newsletterRecipients"
        " orders productTranslations categoryTranslations productSearchKeywords productKeywordDictionaries"
        " productReviews seoUrlTranslations productSearchConfig taxProviderTranslations"
    ),
    "sales_channel": _names(
        "id typeId languageId customerGroupId currencyId paymentMethodId shippingMethodId countryId"
        " analyticsId navigationCategoryId navigationCategoryVersionId navigationCategoryDepth"
        " footerCategoryId footerCategoryVersionId serviceCategoryId serviceCategoryVersionId"
        " mailHeaderFooterId hreflangDefaultDomainId name shortName taxCalculationType accessKey"
        " configuration active hreflangActive maintenance maintenanceIpWhitelist customFields translations"
        " currencies languages countries paymentMethods paymentMethodIds shippingMethods type language"
        " customerGroup currency paymentMethod shippingMethod country orders customers homeCmsPageId"
        " homeCmsPageVersionId homeCmsPage homeSlotConfig homeEnabled homeName homeMetaTitle"
        " homeMetaDescription homeKeywords domains systemConfigs navigationCategory footerCategory"
        " serviceCategory productVisibilities hreflangDefaultDomain mailHeaderFooter newsletterRecipients"
        " numberRangeSalesChannels promotionSalesChannels documentBaseConfigSalesChannels productReviews"
        " seoUrls seoUrlTemplates mainCategories productExports analytics customerGroupsRegistrations"
        " landingPages boundCustomers wishlists"
    ),
    "media_folder": _names(
        "id useParentConfiguration configurationId defaultFolderId parentId parent children childCount path"
        " media defaultFolder configuration name customFields"
    ),
    "media": _names(
        "id userId mediaFolderId mimeType fileExtension uploadedAt fileName fileSize metaData mediaType"
        " config alt title url path hasFile private customFields translations tags thumbnails user categories"
        " productManufacturers productMedia productDownloads orderLineItemDownloads avatarUsers mediaFolder"
        " propertyGroupOptions mailTemplateMedia documentBaseConfigs shippingMethods paymentMethods"
        " productConfiguratorSettings orderLineItems cmsBlocks cmsSections cmsPages documents"
        " appPaymentMethods appShippingMethods"
    ),
    "delivery_time": _names("id name min max unit customFields shippingMethods products translations"),
    "rule": _names(
        "id name priority description invalid areas customFields moduleTypes conditions productPrices"
        " shippingMethodPrices shippingMethodPriceCalculations shippingMethods paymentMethods"
        " personaPromotions flowSequences taxProviders tags orderPromotions cartPromotions promotionDiscounts"
        " promotionSetGroups"
    ),
    "product_media": _names(
        "id versionId productId productVersionId mediaId position product media coverProducts customFields"
    ),
    "product_visibility": _names(
        "id productId productVersionId salesChannelId visibility salesChannel product"
    ),
    "product_configurator_setting": _names(
        "id versionId productId productVersionId mediaId optionId price position product media option"
        " customFields"
    ),
    "product_price": _names(
        "id versionId productId productVersionId ruleId price quantityStart quantityEnd product rule"
        " customFields"
    ),
    "product_category": _names("productId productVersionId categoryId categoryVersionId product category"),
    "product_property": _names("productId productVersionId optionId product option"),
    "product_option": _names("productId productVersionId optionId product option"),
    "sales_channel_language": _names("salesChannelId languageId salesChannel language"),
}
VERSION_FIELDS = {
    "product": ["versionId", "parentVersionId", "productManufacturerVersionId", "cmsPageVersionId"],
    "sales_channel": [
        "navigationCategoryVersionId",
        "footerCategoryVersionId",
        "serviceCategoryVersionId",
        "homeCmsPageVersionId",
    ],
    "product_category": ["productVersionId", "categoryVersionId"],
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Shopware6Emulator, EmulatorServer]]:
    emulator = Shopware6Emulator()
    with emulator.serve() as server:
        yield emulator, server


@pytest.fixture
def api(served: tuple[Shopware6Emulator, EmulatorServer]) -> Iterator[httpx.Client]:
    emulator, server = served
    emulator.reset()
    settings = emulator.settings
    token = httpx.post(
        f"{server.base_url}/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


def catalog(group_positions: tuple[int, int] = (1, 2)) -> dict[str, Any]:
    """Groups, a parent with one variant (Red / S), media, a rule price: a row in every served entity."""
    return {
        "groups": {
            "entity": "property_group",
            "action": "upsert",
            "payload": [
                {
                    "id": SIZE,
                    "name": "Size",
                    "position": group_positions[1],
                    "options": [{"id": SMALL, "name": "S"}],
                },
                {
                    "id": COLOR,
                    "name": "Color",
                    "position": group_positions[0],
                    "options": [{"id": RED, "name": "Red"}],
                },
            ],
        },
        "media": {"entity": "media", "action": "upsert", "payload": [{"id": MEDIA, "title": "Tee"}]},
        "products": {
            "entity": "product",
            "action": "upsert",
            "payload": [
                {
                    "id": PARENT,
                    "productNumber": "TEE",
                    "stock": 0,
                    "taxId": TAX_19_ID,
                    "name": "Tee",
                    "price": [PRICE],
                    "manufacturer": {"id": uid("manufacturer:acme"), "name": "ACME"},
                    "unit": {"id": uid("unit:pc"), "shortCode": "pc", "name": "Piece"},
                    "categories": [{"id": NAVIGATION_CATEGORY_ID}],
                    "properties": [{"id": RED}],
                    "media": [{"id": PRODUCT_MEDIA, "mediaId": MEDIA, "position": 1}],
                    "coverId": PRODUCT_MEDIA,
                    "prices": [
                        {
                            "id": uid("price:tee"),
                            "ruleId": DEFAULT_RULE_ID,
                            "quantityStart": 1,
                            "price": [PRICE],
                        }
                    ],
                    "visibilities": [
                        {
                            "id": uid("visibility:tee"),
                            "salesChannelId": STOREFRONT_SALES_CHANNEL_ID,
                            "visibility": 30,
                        }
                    ],
                    "configuratorSettings": [
                        {"id": uid("cfg:red"), "optionId": RED},
                        {"id": uid("cfg:s"), "optionId": SMALL},
                    ],
                    "children": [
                        {
                            "id": VARIANT,
                            "productNumber": "TEE.1",
                            "stock": 3,
                            "options": [{"id": SMALL}, {"id": RED}],
                        }
                    ],
                }
            ],
        },
    }


def sync(api: httpx.Client, body: Any) -> httpx.Response:
    return api.post("/api/_action/sync", json=body)


def search(api: httpx.Client, alias: str, criteria: dict[str, Any], **headers: str) -> Any:
    response = api.post(f"/api/search/{alias}", json=criteria, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- sync of an unknown entity ---------------------------------------------------------------------------


def test_sync_naming_an_unknown_entity_is_an_uncaught_500(api: httpx.Client) -> None:
    body = {
        "ok": {
            "entity": "product_manufacturer",
            "action": "upsert",
            "payload": [{"id": uid("m"), "name": "M"}],
        },
        "typo": {"entity": "produkt", "action": "upsert", "payload": [{"id": uid("p")}]},
    }
    response = sync(api, body)
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {
                "status": "500",
                "code": "FRAMEWORK__DEFINITION_NOT_FOUND",
                "title": "Internal Server Error",
                "detail": 'Definition for entity "produkt" does not exist.',
                "meta": {"parameters": {"entityName": "produkt"}},
            }
        ]
    }
    assert api.get(f"/api/product-manufacturer/{uid('m')}").status_code == 404  # nothing written
    # The operation's own checks (SyncOperation::validate) come first and stay 400.
    bad_action = sync(api, {"typo": {"entity": "produkt", "action": "replace", "payload": [{}]}})
    assert bad_action.status_code == 400
    assert bad_action.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_SYNC_OPERATION"
    # Delete by criteria on an unknown entity fails the same way.
    by_criteria = sync(
        api,
        [
            {
                "entity": "nope",
                "action": "delete",
                "criteria": [{"type": "equals", "field": "id", "value": "x"}],
            }
        ],
    )
    assert by_criteria.status_code == 500
    assert by_criteria.json()["errors"][0]["code"] == "FRAMEWORK__DEFINITION_NOT_FOUND"


# -- the computed variation field ----------------------------------------------------------------------------


def test_variation_is_empty_unless_options_and_their_groups_are_loaded(api: httpx.Client) -> None:
    assert sync(api, catalog()).status_code == 200
    by_id: dict[str, Any] = {"ids": [VARIANT], "includes": {"product": ["id", "variation"]}}
    plain = search(api, "product", by_id)["data"][0]
    assert plain["variation"] == []
    options_only = search(api, "product", {**by_id, "associations": {"options": {}}})["data"][0]
    assert options_only["variation"] == []
    with_groups = {**by_id, "associations": {"options": {"associations": {"group": {}}}}}
    loaded = search(api, "product", with_groups)["data"][0]
    # Ordered by the group's position (Color 1, Size 2), not by how the options were linked (S, Red).
    assert loaded["variation"] == [{"group": "Color", "option": "Red"}, {"group": "Size", "option": "S"}]
    detail = api.get(
        f"/api/product/{VARIANT}", params={"associations[options][associations][group][]": ""}
    ).json()["data"]
    assert detail["variation"] == loaded["variation"]
    assert api.get(f"/api/product/{VARIANT}").json()["data"]["variation"] == []
    json_api = search(api, "product", with_groups, Accept="application/vnd.api+json")
    assert json_api["data"][0]["attributes"]["variation"] == loaded["variation"]


def test_variation_orders_by_group_position_then_name(api: httpx.Client) -> None:
    assert sync(api, catalog(group_positions=(2, 1))).status_code == 200
    criteria = {"ids": [VARIANT], "associations": {"options": {"associations": {"group": {}}}}}
    assert search(api, "product", criteria)["data"][0]["variation"] == [
        {"group": "Size", "option": "S"},
        {"group": "Color", "option": "Red"},
    ]
    assert sync(api, catalog(group_positions=(1, 1))).status_code == 200
    assert search(api, "product", criteria)["data"][0]["variation"] == [
        {"group": "Color", "option": "Red"},
        {"group": "Size", "option": "S"},
    ]


# -- every field of the entity definitions -------------------------------------------------------------------


def test_sales_channel_carries_every_definition_field_with_its_defaults(api: httpx.Client) -> None:
    channel = api.get(f"/api/sales-channel/{STOREFRONT_SALES_CHANNEL_ID}").json()["data"]
    assert FIELDS["sales_channel"] | {"createdAt", "updatedAt", "translated"} <= set(channel)
    assert channel["homeEnabled"] is True
    assert channel["translated"]["homeEnabled"] is True
    assert channel["taxCalculationType"] == "horizontal"
    assert channel["hreflangActive"] is False
    assert channel["navigationCategoryDepth"] == 2
    assert channel["paymentMethodIds"] == [channel["paymentMethodId"]]
    assert {channel[name] for name in VERSION_FIELDS["sales_channel"]} == {LIVE_VERSION_ID}
    for name in ("shortName", "configuration", "maintenanceIpWhitelist", "homeCmsPageId", "domains"):
        assert channel[name] is None, name
    # A sales channel written through the API gets the defaults too, in every language it is written in.
    new = uid("sales-channel:b2b")
    written = sync(
        api,
        {
            "channels": {
                "entity": "sales_channel",
                "action": "upsert",
                "payload": [
                    {
                        **{
                            k: channel[k]
                            for k in (
                                "typeId",
                                "languageId",
                                "customerGroupId",
                                "currencyId",
                                "paymentMethodId",
                                "shippingMethodId",
                                "countryId",
                                "navigationCategoryId",
                            )
                        },
                        "id": new,
                        "accessKey": "SWSCB2B",
                        "translations": {
                            SYSTEM_LANGUAGE_ID: {"name": "B2B"},
                            GERMAN_LANGUAGE_ID: {"name": "Großhandel", "homeName": "Start"},
                        },
                    }
                ],
            }
        },
    )
    assert written.status_code == 200, written.text
    german = api.get(f"/api/sales-channel/{new}", headers={"sw-language-id": GERMAN_LANGUAGE_ID}).json()[
        "data"
    ]
    assert (german["homeEnabled"], german["homeName"], german["taxCalculationType"]) == (
        True,
        "Start",
        "horizontal",
    )


@pytest.mark.parametrize("entity", sorted(FIELDS))
def test_every_served_entity_carries_its_definition_fields(api: httpx.Client, entity: str) -> None:
    assert sync(api, catalog()).status_code == 200
    rows = search(api, entity.replace("_", "-"), {"limit": 1})["data"]
    assert rows, f"no {entity} row to look at"
    row = rows[0]
    missing = (FIELDS[entity] | {"createdAt", "updatedAt", "apiAlias"}) - set(row)
    assert not missing, f"{entity} lacks {sorted(missing)}"
    for name in VERSION_FIELDS.get(entity, []):
        assert row[name] == LIVE_VERSION_ID, name


def test_computed_fields_follow_the_indexers(api: httpx.Client) -> None:
    assert sync(api, catalog()).status_code == 200
    parent = api.get(f"/api/product/{PARENT}").json()["data"]
    assert parent["states"] == ["is-physical"]
    assert isinstance(parent["autoIncrement"], int)
    assert (parent["variantRestrictions"], parent["streamIds"], parent["restockTime"]) == (None, None, None)
    category = api.get(f"/api/category/{NAVIGATION_CATEGORY_ID}").json()["data"]
    assert (category["cmsPageIdSwitched"], category["visibleChildCount"]) == (False, 0)
    language = api.get(f"/api/language/{SYSTEM_LANGUAGE_ID}").json()["data"]
    assert "active" not in language  # not a field of LanguageDefinition at 6.6
    # Version fields are the DAL's business: a client sending one is not rejected, and it changes nothing.
    patched = api.patch(f"/api/product/{PARENT}", json={"versionId": uid("other"), "stock": 1})
    assert patched.status_code == 204, patched.text
    assert api.get(f"/api/product/{PARENT}").json()["data"]["versionId"] == LIVE_VERSION_ID


def test_translations_and_unstored_associations_when_loaded(api: httpx.Client) -> None:
    assert sync(api, catalog()).status_code == 200
    german = {"translations": {GERMAN_LANGUAGE_ID: {"name": "T-Shirt"}}, "id": PARENT}
    assert sync(api, {"p": {"entity": "product", "action": "upsert", "payload": [german]}}).status_code == 200
    criteria = {"ids": [PARENT], "associations": {"translations": {}, "tags": {}, "cmsPage": {}}}
    product = search(api, "product", criteria)["data"][0]
    names = {t["languageId"]: t["name"] for t in product["translations"]}
    assert names == {SYSTEM_LANGUAGE_ID: "Tee", GERMAN_LANGUAGE_ID: "T-Shirt"}
    assert {t["apiAlias"] for t in product["translations"]} == {"product_translation"}
    assert {t["productId"] for t in product["translations"]} == {PARENT}
    assert (product["tags"], product["cmsPage"], product["seoUrls"]) == ([], None, None)
    unloaded = search(api, "product", {"ids": [PARENT]})["data"][0]
    assert unloaded["translations"] is None
    json_api = search(api, "product", criteria, Accept="application/vnd.api+json")["data"][0]
    assert json_api["relationships"]["tags"]["data"] == []
    assert json_api["relationships"]["seoUrls"]["links"]["related"].endswith(
        f"/api/product/{PARENT}/seo-urls"
    )
    assert "tags" not in json_api["attributes"]
    unknown = api.post("/api/search/product", json={"associations": {"nonsense": {}}})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "FRAMEWORK__ASSOCIATION_NOT_FOUND"


def test_sales_channel_languages_and_rules(
    api: httpx.Client, served: tuple[Shopware6Emulator, EmulatorServer]
) -> None:
    criteria = {
        "ids": [STOREFRONT_SALES_CHANNEL_ID],
        "associations": {"languages": {"associations": {"locale": {}}}},
    }
    (channel,) = search(api, "sales-channel", criteria)["data"]
    assert {(language["id"], language["locale"]["code"]) for language in channel["languages"]} == {
        (SYSTEM_LANGUAGE_ID, "en-GB"),
        (GERMAN_LANGUAGE_ID, "de-DE"),
    }, "an install's storefront: English and German"
    unlink = {
        "entity": "sales_channel_language",
        "action": "delete",
        "payload": [{"salesChannelId": STOREFRONT_SALES_CHANNEL_ID, "languageId": GERMAN_LANGUAGE_ID}],
    }
    assert sync(api, {"unlink": unlink}).status_code == 200
    (channel,) = search(api, "sales-channel", {"associations": {"languages": {}}})["data"]
    assert [language["id"] for language in channel["languages"]] == [SYSTEM_LANGUAGE_ID]

    emulator, _ = served
    rule = emulator.add_rule("Dealer customers", priority=20)
    found = search(
        api, "rule", {"filter": [{"type": "equals", "field": "name", "value": "Dealer customers"}]}
    )
    assert [(r["id"], r["priority"]) for r in found["data"]] == [(rule, 20)]

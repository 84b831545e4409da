"""What every app reads first (``shop``, ``currentAppInstallation { accessScopes }``) and the Product and
ProductVariant fields a products export selects beyond the catalog itself (``images``, ``priceRange``,
publications, selling plans, translations: a shop without those features answers empty)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_gql import Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_media import image_view
from connector_pipelines.sandbox.shopify_resolve import Args, Table, connection, count, iso_time, money
from connector_pipelines.sandbox.shopify_store import Product, ShopState, Variant, encode_cursor, gid

R = Resolver[RequestContext]
SCOPE_TEXT = {
    "read": "Read",
    "write": "Modify",
}


def scope_view(handle: str) -> dict[str, Json]:
    verb, _, subject = handle.partition("_")
    description = f"{SCOPE_TEXT.get(verb, verb.title())} {subject.replace('_', ' ')}"
    return {"handle": handle, "description": description}


def shop_view(shop: ShopState) -> dict[str, Json]:
    """The ``Shop`` object (dict-shaped: its keys answer; unmodelled nullable fields are null)."""
    settings = shop.settings
    domain = f"{shop.name}.myshopify.com"
    with_currency = f"€{{{{amount_with_comma_separator}}}} {settings.currency_code}"
    address = {
        "__typename": "ShopAddress",
        "id": gid("ShopAddress", shop.number),
        "address1": "Hauptstrasse 1",
        "address2": None,
        "city": "Berlin",
        "company": shop.name,
        "country": "Germany",
        "countryCodeV2": "DE",
        "province": "Berlin",
        "provinceCode": "BE",
        "zip": "10115",
        "phone": None,
        "coordinatesValidated": False,
        "formatted": ["Hauptstrasse 1", "10115 Berlin", "Germany"],
        "formattedArea": "Berlin, Germany",
        "latitude": None,
        "longitude": None,
    }
    return {
        "__typename": "Shop",
        "id": gid("Shop", shop.number),
        "name": shop.name,
        "email": settings.shop_email,
        "contactEmail": settings.shop_email,
        "shopOwnerName": "Sandbox Owner",
        "myshopifyDomain": domain,
        "url": f"https://{domain}",
        "primaryDomain": {
            "__typename": "Domain",
            "id": gid("Domain", shop.number),
            "host": domain,
            "url": f"https://{domain}",
            "sslEnabled": True,
            "localization": None,
            "marketWebPresence": None,
        },
        "currencyCode": settings.currency_code,
        "enabledPresentmentCurrencies": [settings.currency_code],
        "currencyFormats": {
            "moneyFormat": "€{{amount_with_comma_separator}}",
            "moneyInEmailsFormat": "€{{amount_with_comma_separator}}",
            "moneyWithCurrencyFormat": with_currency,
            "moneyWithCurrencyInEmailsFormat": with_currency,
        },
        "ianaTimezone": "UTC",
        "timezoneAbbreviation": "UTC",
        "timezoneOffset": "+0000",
        "timezoneOffsetMinutes": 0,
        "weightUnit": "KILOGRAMS",
        "unitSystem": "METRIC_SYSTEM",
        "taxesIncluded": False,
        "taxShipping": False,
        "setupRequired": False,
        "checkoutApiSupported": True,
        "transactionalSmsDisabled": False,
        "marketingSmsConsentEnabledAtCheckout": False,
        "orderNumberFormatPrefix": "#",
        "orderNumberFormatSuffix": "",
        "description": None,
        "plan": {
            "publicDisplayName": settings.plan_name,
            "partnerDevelopment": False,
            "shopifyPlus": settings.plan_name in ("Shopify Plus", "Plus"),
        },
        "billingAddress": address,
        "shopAddress": address,
        "shipsToCountries": ["DE", "AT", "CH", "TR", "GB", "US", "FR", "NL"],
        "createdAt": iso_time(shop.created_at),
        "updatedAt": iso_time(shop.created_at),
        "alerts": [],
        "shopPolicies": [],
        "fulfillmentServices": [],
        "navigationSettings": [],
        "allProductCategoriesList": [],
    }


def _shop(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    return shop_view(ctx.shop)


def app_view(ctx: RequestContext) -> dict[str, Json]:
    settings = ctx.settings
    scopes = [scope_view(s) for s in settings.access_scopes]
    icon = {"__typename": "Image", "id": None, "url": "https://cdn.shopify.com/app-icon.png", "altText": None}
    return {
        "__typename": "App",
        "id": gid("App", settings.app_id),
        "title": "Connector Pipelines",
        "handle": "connector-pipelines",
        "apiKey": f"sandbox-api-key-{settings.app_id}",
        "description": None,
        "developerName": "Sandbox",
        "developerType": "PARTNER",
        "embedded": False,
        "published": False,
        "shopifyDeveloped": False,
        "isPostPurchaseAppInUse": False,
        "previouslyInstalled": False,
        "pricingDetailsSummary": "Free",
        "uninstallMessage": "",
        "webhookApiVersion": settings.webhook_api_version,
        "features": [],
        "failedRequirements": [],
        "screenshots": [],
        "icon": icon,
        "banner": icon,
        "publicCategory": "PRIVATE",
        "requestedAccessScopes": scopes,
        "availableAccessScopes": scopes,
        "optionalAccessScopes": [],
        "installUrl": None,
    }


def _installation(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    app = app_view(ctx)
    installation: dict[str, Json] = {
        "__typename": "AppInstallation",
        "id": gid("AppInstallation", ctx.settings.app_id * 1000 + 1),
        "accessScopes": [scope_view(s) for s in ctx.settings.access_scopes],
        "app": app,
        "activeSubscriptions": [],
        "launchUrl": f"https://admin.shopify.com/store/{ctx.shop.name}/apps/connector-pipelines",
        "uninstallUrl": None,
    }
    app["installation"] = installation
    return installation


QUERY: dict[str, R] = {
    "shop": _shop,
    "currentAppInstallation": _installation,
    "app": lambda _, args, ctx, path: app_view(ctx),
}


# --- Product and ProductVariant extras --------------------------------------------------------------------


def _images(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    positions = {m.id: i for i, m in enumerate(product.media)}
    images = [{**image_view(ctx.shop, m), "_position": positions[m.id], "_id": m.id} for m in product.media]
    return connection(images, args, ctx, lambda i: (i["_position"], i["_id"]))


def _price_range(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    prices = sorted(Decimal(v.price) for v in product.variants) or [Decimal(0)]
    currency = ctx.settings.currency_code
    return {
        "minVariantPrice": money(int(prices[0] * 100), currency),
        "maxVariantPrice": money(int(prices[-1] * 100), currency),
    }


def _storefront_id(kind: str) -> R:
    return lambda record, args, ctx, path: base64.b64encode(gid(kind, record.id).encode()).decode()


def _product_events(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    mine = [e for e in ctx.shop.commerce.events if e.subject_type == "PRODUCT" and e.subject_id == product.id]
    return connection(mine, args, ctx)


def _collections(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    views = [
        {"__typename": "Collection", "id": value, "_id": int(value.rsplit("/", 1)[-1] or 0)}
        for value in product.collections
        if value.rsplit("/", 1)[-1].isdigit()
    ]
    return connection(views, args, ctx, lambda c: (0, c["_id"]))


def _empty(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    return connection([], args, ctx)


def _none_list(_: object, args: Args, ctx: RequestContext, path: PathLink) -> list[Json]:
    return []


def _default_cursor(record: Product | Variant, args: Args, ctx: RequestContext, path: PathLink) -> str:
    return encode_cursor((0, record.id))


def _in_collection(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> bool:
    return args["id"] in product.collections


_SHARED: dict[str, R] = {
    "translations": _none_list,
    "sellingPlanGroups": _empty,
    "sellingPlanGroupsCount": lambda r, args, ctx, path: count(0),
    "sellingPlanGroupCount": lambda r, args, ctx, path: 0,
    "resourcePublications": _empty,
    "resourcePublicationsV2": _empty,
    "resourcePublicationsCount": lambda r, args, ctx, path: count(0),
    "unpublishedPublications": _empty,
    "unpublishedChannels": _empty,
    "availablePublicationsCount": lambda r, args, ctx, path: count(0),
    "publicationCount": lambda r, args, ctx, path: 0,
    "publishedOnCurrentPublication": lambda r, args, ctx, path: False,
    "publishedOnCurrentChannel": lambda r, args, ctx, path: False,
    "publishedOnPublication": lambda r, args, ctx, path: False,
    "publishedOnChannel": lambda r, args, ctx, path: False,
    "productParents": _empty,
    "defaultCursor": _default_cursor,
    "metafieldDefinitions": _empty,
}

PRODUCT: dict[str, R] = {
    **_SHARED,
    "images": _images,
    "priceRange": _price_range,
    "bodyHtml": lambda p, args, ctx, path: p.description_html,
    "descriptionPlainSummary": lambda p, args, ctx, path: " ".join(p.description_html.split())[:150],
    "storefrontId": _storefront_id("Product"),
    "events": _product_events,
    "collections": _collections,
    "inCollection": _in_collection,
    "bundleComponents": _empty,
    "productComponents": _empty,
    "productComponentsCount": lambda p, args, ctx, path: count(0),
    "hasVariantsThatRequiresComponents": lambda p, args, ctx, path: any(
        v.requires_components for v in p.variants
    ),
    "onlineStorePreviewUrl": lambda p, args, ctx, path: (
        f"https://{ctx.shop.name}.myshopify.com/products/{p.handle}"
    ),
    "category": lambda p, args, ctx, path: _category(p.category),
}


def _category(value: str | None) -> Json:
    if value is None:
        return None
    name = value.rsplit("/", 1)[-1]
    return {"__typename": "TaxonomyCategory", "id": value, "name": name, "fullName": name}


VARIANT: dict[str, R] = {
    **_SHARED,
    "storefrontId": _storefront_id("ProductVariant"),
    "events": _empty,
    "productVariantComponents": _empty,
    "presentmentPrices": _empty,
}


def shop_table() -> Table:
    return {
        "QueryRoot": QUERY,
        "Product": PRODUCT,
        "ProductVariant": VARIANT,
    }

"""`systems [NAME]`: the systems a tenant can connect, their settings and credentials, with examples."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from pydantic import BaseModel

from connector_pipelines.cli.base import main, user_errors

if TYPE_CHECKING:
    pass


# An example of each system's settings and credentials, as `tenants add --settings-file` and `tenants
# set-credentials` take them (checked against the models by the tests; docs/examples/ holds the same).
SYSTEM_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "plentymarkets": {
        "settings": {
            "base_url": "https://p12345.my.plentysystems.com",
            "lang": "de",
            "plenty_id": 12345,
            "default_sales_price_id": 1,
            "warehouse_ids": [1],
        },
        "credentials": {"username": "rest-api-user", "password": "<the REST user's password>"},
    },
    "shopware6": {
        "settings": {
            "base_url": "https://shop.example.com",
            "sales_channel_name": "Storefront",
            "language_locale": "de-DE",
            "deletion": "delete",
        },
        "credentials": {
            "client_id": "SWIAEXAMPLEEXAMPLEEXAMPLE",
            "client_secret": "<the integration's secret access key>",
        },
    },
    "shopify": {
        "settings": {
            "shop_url": "https://acme.myshopify.com",
            "location_id": "gid://shopify/Location/123456789",
            "missing_sku_action": "archive",
        },
        "credentials": {"access_token": "<the app's Admin API access token, shpat_...>"},
    },
    "erp_files": {
        "settings": {
            "kind": "sftp",
            "host": "files.example.com",
            "root": "exports",
            "pattern": "products_*.csv",
            "sftp_host_key": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "csv": {"delimiter": ";"},
            "encoding": "utf-8-sig",
            "mapping_file": "acme/mapping.yaml",
        },
        "credentials": {"username": "erp-export", "password": "<the SFTP password>"},
    },
    "plytix": {
        "settings": {
            "base_url": "https://pim.plytix.com",
            "currency": "EUR",
            "language": "en",
            "requests_per_10s": 50,
            "requests_per_hour": 5000,
            "mapping": {
                "fields": {
                    "name": "label",
                    "description": "attributes.description",
                    "price": {"source": "attributes.price", "transforms": ["decimal"]},
                    "compare_at_price": "attributes.compare_at_price",
                    "images": "assets",
                },
                "product_fields": {"material": "attributes.material"},
            },
        },
        "credentials": {
            "api_key": "<the API key from Plytix's account settings>",
            "api_password": "<the API password>",
        },
    },
    "webflow": {
        "settings": {
            "site_id": "580e63e98c9a982ac9b8b741",
            "rate_limit_per_minute": 60,
            "publish": "live",
            "removal": "archive",
        },
        "credentials": {"token": "<a site API token with ecommerce, CMS and sites scopes>"},
    },
    "logo": {
        "settings": {
            "base_url": "https://logo.acme.com.tr:32001",
            "firm": 1,
            "warehouse_code": "0",
            "price_list_code": "WEB",
            "poll_interval_minutes": 5,
        },
        "credentials": {
            "username": "WEBSERVIS",
            "password": "<the Logo user's password>",
            "client_secret": "<the REST client's secret>",
        },
    },
    "netsis": {
        "settings": {
            "base_url": "https://netsis.acme.com.tr:7070",
            "dbname": "ACME2026",
            "warehouse_code": "10",
            "price_list_code": "WEB",
            "prices_include_vat": True,
        },
        "credentials": {
            "username": "NETSIS",
            "password": "<the NetOpenX user's password>",
            "dbpassword": "<the database user's password>",
        },
    },
    "erp_csv": {
        "settings": {
            "stock": {
                "kind": "sftp",
                "host": "files.acme.com.tr",
                "root": "erp",
                "path": "stock.csv",
                "sftp_host_key": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
                "csv": {"delimiter": ";"},
            },
            "prices_file": "prices.csv",
            "warehouse_code": "MERKEZ",
            "price_list_code": "WEB",
            "currency": "TRY",
        },
        "credentials": {"username": "erp-export", "password": "<the SFTP password>"},
    },
}


def _type_name(annotation: object) -> str:
    """A field's type in words: ``secret``, ``"a" | "b"``, ``list of integer``, ``string (optional)``."""
    import types
    import typing

    from pydantic import SecretStr

    names = {str: "string", int: "integer", float: "number", bool: "boolean", SecretStr: "secret"}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        inner = [_type_name(a) for a in args if a is not type(None)]
        return " | ".join(inner) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "object"
    if isinstance(annotation, type):
        return names.get(annotation, annotation.__name__)
    return str(annotation)


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of each field; a nested model's fields as dotted names."""
    from pydantic_core import to_jsonable_python

    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _fields(annotation, f"{prefix}{name}.")
            continue
        default = (
            "required"
            if info.is_required()
            else json.dumps(to_jsonable_python(info.get_default(call_default_factory=True)))
        )
        rows.append((prefix + name, _type_name(annotation), default, info.description or ""))
    return rows


def _print_fields(rows: list[tuple[str, str, str, str]], widths: list[int]) -> None:
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo(f"    {'  '.join(cells)}  {row[3]}".rstrip())


def _example(system: str) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(settings, credentials, curated): the curated example, else the required fields as placeholders."""
    from connector_pipelines.tenants.connections import SYSTEMS
    from connector_pipelines.tenants.registry import required_fields

    if system in SYSTEM_EXAMPLES:
        return SYSTEM_EXAMPLES[system]["settings"], SYSTEM_EXAMPLES[system]["credentials"], True
    found = SYSTEMS[system]
    settings = {name: f"<{name}>" for name in required_fields(found.settings)}
    return settings, {name: f"<{name}>" for name in required_fields(found.credentials)}, False


@main.command("systems")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON schemas of the models, with the example.")
@user_errors
def systems(name: str | None, as_json: bool) -> None:
    """The settings and credentials each system takes (from their models), with an example."""
    from connector_pipelines.tenants.connections import SYSTEMS
    from connector_pipelines.tenants.registry import check_system

    names = [check_system(name)] if name else sorted(SYSTEMS)
    if as_json:
        doc = {}
        for system in names:
            settings, credentials, curated = _example(system)
            doc[system] = {
                "settings_schema": SYSTEMS[system].settings.model_json_schema(),
                "credentials_schema": SYSTEMS[system].credentials.model_json_schema(),
                "example": {"settings": settings, "credentials": credentials, "placeholders": not curated},
            }
        click.echo(json.dumps(doc, indent=2))
        return
    for system in names:
        found = SYSTEMS[system]
        optional = " (optional: anonymous access needs none)" if found.credentials_optional else ""
        click.echo(f"{system}")
        settings_rows, credentials_rows = _fields(found.settings), _fields(found.credentials)
        widths = [max(len(row[i]) for row in settings_rows + credentials_rows) for i in range(3)]
        click.echo(f'  settings (`tenants add/update --settings-file`, JSON {{"{system}": {{...}}}}):')
        _print_fields(settings_rows, widths)
        click.echo(f"  credentials (`tenants set-credentials TENANT {system}`){optional}:")
        _print_fields(credentials_rows, widths)
        settings, credentials, curated = _example(system)
        click.echo("  example" + ("" if curated else " (placeholders: fill in the values)") + ":")
        click.echo(f"    settings:    {json.dumps({system: settings})}")
        click.echo(f"    credentials: {json.dumps(credentials)}")
        click.echo("")

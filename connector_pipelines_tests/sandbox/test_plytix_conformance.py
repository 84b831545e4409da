"""Conformance: the independent client ``plytix-pim-client`` 1.3.0 against the Plytix emulator.

The client reads its hosts from ``PLYTIX_PIM_BASE_URL`` / ``PLYTIX_AUTH_BASE_URL`` when its ``config`` module
is imported, so the fixture sets them and reloads that module (and reloads it again afterwards). It sends
its first request with ``Bearer None``, takes the 401 as "token expired", fetches a token and repeats.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from plytix_pim_client import config  # type: ignore[import-untyped]
from plytix_pim_client.client import PlytixSync  # type: ignore[import-untyped]
from plytix_pim_client.dtos.filters import OperatorEnum, SearchFilter  # type: ignore[import-untyped]
from plytix_pim_client.dtos.pagination import Pagination  # type: ignore[import-untyped]

from connector_pipelines.sandbox.plytix import PlytixEmulator


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PlytixEmulator, Any]]:
    emulator = PlytixEmulator(products=12, variants=3)
    with emulator.serve() as server:
        monkeypatch.setenv("PLYTIX_PIM_BASE_URL", server.base_url)
        monkeypatch.setenv("PLYTIX_AUTH_BASE_URL", server.base_url)
        monkeypatch.setenv("PLYTIX_API_KEY", emulator.settings.api_key)
        monkeypatch.setenv("PLYTIX_API_PASSWORD", emulator.settings.api_password)
        importlib.reload(config)
        client = PlytixSync()
        try:
            yield emulator, client
        finally:
            client.close()
            monkeypatch.undo()
            importlib.reload(config)


def test_search_pages_and_filters(sdk: tuple[PlytixEmulator, Any]) -> None:
    emulator, client = sdk
    first = client.products.search_products(
        filters=[],
        attributes=["label", "modified", "attributes.color"],
        relationship_filters=[],
        pagination=Pagination(sort_by_attribute="sku", page_size=10),
        extra={"return_pagination": True},
    )
    assert first.pagination.total_count == 45 and first.pagination.count == 10
    assert first.pagination.order == "sku"
    assert [p.sku for p in first.data][:2] == ["P000001", "P000001-01"]
    assert first.data[1]._undocumented_data["_parent_id"] == first.data[0].id
    assert first.data[1].attributes["color"]

    pages = list(
        client.products.search_all_products(
            filters=[], attributes=["label"], relationship_filters=[], sort_by_attribute="sku", page_size=20
        )
    )
    assert [len(page) for page in pages] == [20, 20, 5]  # it stops on the empty fourth page
    assert [p.sku for page in pages for p in page] == sorted(str(p["sku"]) for p in emulator.catalog())

    parents = client.products.search_products(
        filters=[[SearchFilter(field="_is_variation", operator=OperatorEnum.EQUALS, value=False)]],
        attributes=[],
        relationship_filters=[],
        pagination=Pagination(sort_by_attribute="sku", sort_ascending=False),
    )
    assert [p.sku for p in parents] == [f"P{n:06d}" for n in range(12, 0, -1)]
    stats = emulator.stats()
    assert stats.tokens_issued == 1 and stats.by_status[401] == 1  # the "Bearer None" first call


def test_product_variants_and_filters(sdk: tuple[PlytixEmulator, Any]) -> None:
    emulator, client = sdk
    catalog = {str(p["sku"]): p for p in emulator.catalog()}
    parent = client.products.get_product(catalog["P000002"]["id"])
    assert parent.sku == "P000002" and parent.num_variations == 3
    assert parent.product_family_id == catalog["P000002"]["product_family_id"]
    assert parent.modified.endswith("+00:00")
    assert client.products.get_product("5c4ec5afb3bfd10001e45603") is None

    variants = client.products.variants.get_product_variants(parent.id)
    assert [v.sku for v in variants] == ["P000002-01", "P000002-02", "P000002-03"]
    for variant in variants:
        assert variant.product_type == "VARIANT"
        assert variant._undocumented_data["_parent_id"] == parent.id
        assert variant.attributes["brand"] == parent.attributes["brand"]
        assert variant.attributes["price"] > 0
    assert client.products.variants.get_product_variants("5c4ec5afb3bfd10001e45603") is None

    keys = {f.key for f in client.filters.get_products_filters()}
    assert {"sku", "modified", "attributes.color", "_is_variation"} <= keys


def test_families_and_their_attribute_levels(sdk: tuple[PlytixEmulator, Any]) -> None:
    _, client = sdk
    families = client.products.families.search_families(
        filters=[],
        attributes=["name", "total_products", "total_attributes"],
        relationship_filters=[],
        pagination=Pagination(sort_by_attribute="name"),
    )
    by_name = {f.name: f for f in families}
    assert sorted(by_name) == ["Accessories", "Apparel", "Simple"]
    assert by_name["Simple"].total_products == 1 and by_name["Apparel"].total_attributes == 9
    apparel = client.products.families.get_family(by_name["Apparel"].id)
    assert apparel.name == "Apparel" and apparel.created.endswith("+00:00")
    assert client.products.families.get_family("nope") is None
    levels = {
        a.label: a.attribute_level
        for a in client.products.families.attributes.get_family_attributes(by_name["Apparel"].id)
    }
    assert levels["color"] == levels["size"] == "variant_level"
    assert levels["brand"] == "parent_level" and levels["price"] == "no_level"

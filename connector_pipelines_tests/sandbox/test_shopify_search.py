"""Shopify's search syntax as the emulator parses it: quotes of both kinds, values with spaces, ranges on
dates compared as instants, connectives and modifiers, and warnings for what a field cannot read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.sandbox.shopify_search import (
    And,
    Not,
    Or,
    Search,
    SearchField,
    SearchSyntaxError,
    Term,
    compile_query,
    parse_query,
    period,
)

TOKEN = "shpat_sandbox_token"


@dataclass(frozen=True)
class Row:
    at: float


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_terms_quotes_and_connectives() -> None:
    assert parse_query("updated_at:>='2026-01-01 00:00:00+00:00'") == Term(
        "updated_at", ">=", "2026-01-01 00:00:00+00:00", quoted=True
    )
    assert parse_query('sku:"TEE RED S"') == Term("sku", ":", "TEE RED S", quoted=True)
    assert parse_query("a:1 OR b:2 c:3") == Or(
        (Term("a", ":", "1"), And((Term("b", ":", "2"), Term("c", ":", "3"))))
    )
    assert parse_query("-tag:old NOT (x:1 AND y:2)") == And(
        (Not(Term("tag", ":", "old")), Not(And((Term("x", ":", "1"), Term("y", ":", "2")))))
    )
    assert parse_query("title:shirt*") == Term("title", ":", "shirt", prefix=True)
    assert parse_query("email:*") == Term("email", ":", "", exists=True)
    assert parse_query(r"title:a\:b") == Term("title", ":", "a:b")
    assert parse_query("John Smith") == And((Term(None, ":", "John"), Term(None, ":", "Smith")))
    for broken in ("(a:1", "a:1)", "title:'open"):
        with pytest.raises(SearchSyntaxError):
            parse_query(broken)


def test_dates_name_periods_and_compare_as_instants() -> None:
    day = period("2026-01-01", now=0)
    assert day == (ts("2026-01-01T00:00:00+00:00"), ts("2026-01-02T00:00:00+00:00") - 1e-6)
    assert period("2026", now=0) == (ts("2026-01-01T00:00:00+00:00"), ts("2027-01-01T00:00:00+00:00") - 1e-6)
    assert period("2026-01-01T00:00:00+01:00", now=0)[0] == ts("2025-12-31T23:00:00+00:00")  # type: ignore[index]
    assert period("now", now=42.0) == (42.0, 42.0)
    assert period("yesterday-ish", now=0) is None

    search: Search[Row] = Search({"updated_at": SearchField("time", lambda r: (r.at,))}, lambda r: ())
    rows = [
        Row(ts("2025-12-31T23:59:59+00:00")),
        Row(ts("2026-01-01T00:00:00+00:00")),
        Row(ts("2026-06-01T12:00:00+00:00")),
    ]

    def matching(query: str) -> list[int]:
        warnings: list[dict[str, str]] = []
        test = compile_query(search, query, warnings)
        assert test is not None and warnings == []
        return [i for i, row in enumerate(rows) if test(row)]

    assert matching("updated_at:>='2026-01-01T00:00:00Z'") == [1, 2]
    assert matching("updated_at:<='2026-01-01T00:00:00Z'") == [0, 1]
    assert matching("updated_at:>'2026-01-01 00:00:00+00:00'") == [2]
    assert matching("updated_at:<2026") == [0]
    assert matching("updated_at:2026-01-01") == [1]
    assert matching('updated_at:>="2026-01-01T01:00:00+01:00"') == [1, 2]  # the same instant as 00:00Z


@pytest.fixture
def client() -> Iterator[tuple[ShopifyEmulator, httpx.Client]]:
    emulator = ShopifyEmulator()
    emulator.seed(products=3, variants=2, customers=30, orders=40, lines=2)
    server = emulator.serve()
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as http:
        yield emulator, http
    server.stop()


def search(http: httpx.Client, root: str, query: str) -> tuple[list[str], list[Any]]:
    body = http.post(
        "/admin/api/2026-07/graphql.json",
        json={
            "query": f"query($q: String) {{ {root}(first: 250, query: $q) {{ nodes {{ id updatedAt }} }} }}",
            "variables": {"q": query},
        },
    ).json()
    assert "errors" not in body, body
    return [n["id"] for n in body["data"][root]["nodes"]], body["extensions"].get("search", [])


def test_the_issues_queries_over_http(client: tuple[ShopifyEmulator, httpx.Client]) -> None:
    emulator, http = client
    state = emulator.shop()
    orders = sorted(state.commerce.orders.values(), key=lambda o: o.updated_at)
    middle = datetime.fromtimestamp(int(orders[20].updated_at), UTC)
    stamp = middle.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected_after = {
        f"gid://shopify/Order/{o.id}" for o in orders if int(o.updated_at) >= middle.timestamp()
    }
    after, warnings = search(http, "orders", f"updated_at:>='{stamp}'")
    assert set(after) == expected_after and warnings == []
    before, _ = search(http, "orders", f"updated_at:<'{middle.strftime('%Y-%m-%d %H:%M:%S+00:00')}'")
    assert set(before) | set(after) == {f"gid://shopify/Order/{o.id}" for o in orders}
    assert not set(before) & set(after)

    paid, _ = search(http, "orders", "financial_status:paid AND NOT status:cancelled")
    assert {state.commerce.orders[int(i.rsplit("/", 1)[1])].financial_status for i in paid} == {"PAID"}

    customer = next(iter(state.commerce.customers.values()))
    exact, _ = search(http, "customers", f'email:"{customer.email}"')
    assert exact == [f"gid://shopify/Customer/{customer.id}"]
    token, _ = search(http, "customers", "email:example.com")
    assert len(token) == 30

    ignored, warnings = search(http, "customers", "favourite_colour:blue updated_at:>=someday")
    assert len(ignored) == 30
    assert warnings[0]["warnings"] == [
        {"field": "favourite_colour", "message": "Invalid search field for this query."},
        {"field": "updated_at", "message": "Invalid date value for updated_at: 'someday'."},
    ]
    broken = http.post(
        "/admin/api/2026-07/graphql.json",
        json={"query": '{ customers(first: 1, query: "(state:enabled") { nodes { id } } }'},
    ).json()
    assert broken["errors"][0]["message"] == "Invalid search query: missing )"

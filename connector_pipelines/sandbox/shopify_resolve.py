"""Pieces every resolver table of the Shopify emulator shares: connections (cursor paging, also over a
filtered scan that stops as soon as a page is full), counts, ``query:`` arguments and their search warnings,
money and timestamps as the Admin API serialises them."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_gql import FieldError, Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_search import (
    Predicate,
    Search,
    SearchSyntaxError,
    Warning,
    compile_query,
)
from connector_pipelines.sandbox.shopify_store import (
    Connection,
    PageInfo,
    SortKey,
    decode_cursor,
    encode_cursor,
    paginate,
)

T = TypeVar("T")
Args = dict[str, Json]
Table = dict[str, dict[str, Resolver[RequestContext]]]


def path_keys(path: PathLink) -> list[str | int]:
    keys: list[str | int] = []
    while path is not None:
        path, key = path
        keys.append(key)
    return keys[::-1]


def count(n: int, limit: int | None = None) -> dict[str, Json]:
    if limit is not None and n > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": n, "precision": "EXACT"}


def searched(args: Args, ctx: RequestContext, path: PathLink, search: Callable[[list[Warning]], T]) -> T:
    """Run ``search`` with the ``query`` argument; its warnings go to ``extensions.search``."""
    warnings: list[Warning] = []
    try:
        found = search(warnings)
    except SearchSyntaxError as exc:
        raise FieldError(f"Invalid search query: {exc}") from None
    if warnings:
        ctx.search.append({"path": path_keys(path), "query": args.get("query"), "warnings": warnings})
    return found


def predicate(search: Search[T], args: Args, ctx: RequestContext, path: PathLink) -> Predicate[T] | None:
    return searched(args, ctx, path, lambda w: compile_query(search, args.get("query"), w))


def by_id(record: Any) -> SortKey:
    return (0, record.id)


def connection(
    items: Sequence[Any], args: Args, ctx: RequestContext, key: Callable[[Any], SortKey] = by_id
) -> Connection:
    if ctx.listing:
        return _listing(items)
    return paginate(items, key, args, ctx.settings.max_page_size)


def _listing(items: Sequence[Any]) -> Connection:
    """Every item, no cursors: what a bulk export reads of a connection (its paging arguments are ignored)."""
    return Connection(list(items), [], PageInfo(False, False, None, None))


class LazyPageInfo:
    """``pageInfo`` of a filtered page; ``hasPreviousPage`` scans back only when asked for."""

    def __init__(self, cursors: list[str], has_next: bool, previous: Callable[[], bool]) -> None:
        self.has_next_page = has_next
        self.start_cursor = cursors[0] if cursors else None
        self.end_cursor = cursors[-1] if cursors else None
        self._previous = previous
        self._has_previous: bool | None = None

    @property
    def has_previous_page(self) -> bool:
        if self._has_previous is None:
            self._has_previous = self._previous()
        return self._has_previous


def filtered_connection(
    items: Sequence[T],
    key_of: Callable[[T], SortKey],
    test: Predicate[T] | None,
    args: Args,
    ctx: RequestContext,
) -> Connection:
    """A page of the items (sorted ascending by ``key_of``) that pass ``test``, found by scanning from the
    cursor and stopping once the page is full: paging a filtered list costs a page, not the list."""
    if ctx.listing:
        return _listing(items if test is None else [i for i in items if test(i)])
    max_page = ctx.settings.max_page_size
    if test is None or args.get("last") is not None or args.get("before") is not None:
        chosen = items if test is None else [i for i in items if test(i)]
        return paginate(chosen, key_of, args, max_page)
    first = args.get("first")
    if first is None:
        raise FieldError("you must provide one of first or last")
    if not 0 <= first <= max_page:
        raise FieldError(f"The first argument must be between 0 and {max_page}.")
    reverse = bool(args.get("reverse"))
    after = args.get("after")
    try:
        if after is None:
            start = len(items) - 1 if reverse else 0
        elif reverse:
            start = bisect.bisect_left(items, decode_cursor(after), key=key_of) - 1
        else:
            start = bisect.bisect_right(items, decode_cursor(after), key=key_of)
    except TypeError:
        raise FieldError("Invalid cursor for current pagination sort.") from None
    step = -1 if reverse else 1
    found: list[T] = []
    position = start
    while 0 <= position < len(items) and len(found) <= first:
        item = items[position]
        if test(item):
            found.append(item)
        position += step
    nodes = found[:first]
    cursors = [encode_cursor(key_of(node)) for node in nodes]

    def previous() -> bool:
        back = range(start - step, len(items) if reverse else -1, -step)
        return any(test(items[p]) for p in back)

    page = LazyPageInfo(cursors, len(found) > first, previous)
    return Connection(nodes, cursors, page)


# --- values -----------------------------------------------------------------------------------------------


def iso_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def amount(minor: int) -> str:
    """Minor units as Shopify's Decimal/Money strings (two decimals: 2000 -> "20.00")."""
    sign, units = ("-", -minor) if minor < 0 else ("", minor)
    return f"{sign}{units // 100}.{units % 100:02d}"


def money(minor: int, currency: str) -> dict[str, Json]:
    return {"amount": amount(minor), "currencyCode": currency}


def money_bag(minor: int, currency: str, presentment: str, rate: float) -> dict[str, Json]:
    shop = money(minor, currency)
    if presentment == currency:
        return {"shopMoney": shop, "presentmentMoney": shop}
    return {"shopMoney": shop, "presentmentMoney": money(round(minor * rate), presentment)}

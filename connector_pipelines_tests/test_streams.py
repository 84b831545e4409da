from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector_pipelines.streams import prefetch


def test_order_and_completeness() -> None:
    assert list(prefetch(range(1000), depth=3)) == list(range(1000))


def test_producer_errors_surface_where_they_happened() -> None:
    def broken() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectionError("page 3 failed")

    seen: list[int] = []

    def consume() -> None:
        seen.extend(prefetch(broken()))

    with pytest.raises(ConnectionError, match="page 3 failed"):
        consume()
    assert seen == [1, 2]


def test_consumer_stopping_early_stops_the_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    stream = prefetch(endless(), depth=2)
    assert next(stream) == 0
    stream.close()
    count = len(produced)
    assert count < 10 and len(produced) == count, "the producer stopped"

"""The figures plugin adds up the chaos lines of every pipeline and holds the long version to its floor."""

from __future__ import annotations

from connector_pipelines_tests.reliability.figures import below_floor, chaos_total

LINES = [
    "chaos plenty_shopware: 95 runs, 300 faults injected, 9 kills, 0 lost, 0 duplicated",
    "fuzz: plytix translator 300 cases, 0 crashes, 0 silent drops",
    "chaos plytix_webflow: 95 runs, 150 faults injected, 8 kills, 0 lost, 1 duplicated",
]


def test_the_chaos_lines_add_up_and_the_floor_holds_for_the_whole_suite_only() -> None:
    summed = chaos_total(LINES)
    assert summed is not None
    line, total = summed
    assert line == "chaos, 2 pipelines: 190 runs, 450 faults injected, 17 kills, 0 lost, 1 duplicated"
    assert below_floor(total, pipelines=3) is None, "a part of the suite is not held to the whole floor"
    assert below_floor(total, pipelines=2) == (
        "the long chaos is below its floor: 190 runs < 200, 450 faults < 500, 17 kills < 20"
    )
    more = chaos_total(
        [*LINES, "chaos erp_files_shopify: 95 runs, 90 faults injected, 5 kills, 0 lost, 0 duplicated"]
    )
    assert more is not None and below_floor(more[1], pipelines=3) is None
    assert chaos_total(LINES[1:2]) is None

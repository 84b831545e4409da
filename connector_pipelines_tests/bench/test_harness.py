"""The benchmark harness measures what it reports."""

from __future__ import annotations

from connector_pipelines.bench.harness import PeakRss, measure


def test_peak_rss_sees_a_short_spike_and_is_reset_for_the_next_block() -> None:
    def spike() -> int:
        block = bytearray(100 * 1024 * 1024)  # touched by zero-filling: resident, then freed at once
        return len(block)

    size, wall, peak = measure(spike)
    assert size == 100 * 1024 * 1024 and wall > 0
    with PeakRss() as quiet:
        pass
    assert peak >= quiet.peak_mb + 90, (peak, quiet.peak_mb)

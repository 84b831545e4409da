"""Per-tenant limits on incoming webhooks."""

from __future__ import annotations

import time
from collections.abc import Callable


class TenantLimiter:
    """A token bucket per tenant: ``rate`` webhooks a second, ``burst`` at once. One flooding sender is
    refused (429) without slowing the others; the event loop is the only caller, so no lock."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._clock = rate, float(burst), clock
        self._buckets: dict[int, tuple[float, float]] = {}

    def wait_s(self, tenant_id: int) -> float:
        """0 when the tenant may send now (and takes a token), else the seconds until it may."""
        now = self._clock()
        tokens, then = self._buckets.get(tenant_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            self._buckets[tenant_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[tenant_id] = (tokens, now)
        return (1.0 - tokens) / self._rate

"""Client-side pacing for rate limits an API does not announce in its answers (Plytix, Logo, Netsis): sliding
windows shared by a client's threads, and by every client of one account in the process."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Sequence

# Slots are held a millisecond past their window, so float rounding never frees one before the server does.
_MARGIN_S = 0.001
# A wait shorter than this is none: on an epoch-sized clock a sub-microsecond sleep is lost in rounding,
# and the loop would spin on it.
_MIN_WAIT_S = 1e-6


class _Slot:
    """One request in a pacing window: in flight until ``done_at`` is set (then it counts from there)."""

    __slots__ = ("done_at",)

    def __init__(self) -> None:
        self.done_at: float | None = None


class Pacer:
    """Client-side sliding windows (e.g. 50 per 10 s and 5000 per hour), shared by threads.

    A request takes a slot in every window before it is sent and the slot counts from when its answer came
    back: the server saw it at some moment in between, so the client's window never frees earlier than the
    server's. A slot still in flight in another thread is waited for, not guessed at."""

    def __init__(
        self, windows: Sequence[tuple[int, float]], clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._windows = [(limit, period, deque[_Slot]()) for limit, period in windows]
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._local = threading.local()

    def acquire(self) -> float:
        """Wait until every window has room, take a slot; returns the seconds slept."""
        self.complete()  # a slot left in flight by this thread (transport error) ends now
        slept = 0.0
        while True:
            with self._cond:
                now = self._clock()
                wait = 0.0
                in_flight = False
                for limit, window, slots in self._windows:
                    period = window + _MARGIN_S
                    while slots and slots[0].done_at is not None and now - slots[0].done_at >= period:
                        slots.popleft()
                    if len(slots) >= limit:
                        oldest = slots[0].done_at
                        if oldest is None:
                            in_flight = True
                        else:
                            wait = max(wait, oldest + period - now)
                if wait < _MIN_WAIT_S and not in_flight:
                    slot = _Slot()
                    for _, _, slots in self._windows:
                        slots.append(slot)
                    self._local.slot = slot
                    return slept
                if wait < _MIN_WAIT_S:
                    # Another thread's request holds the oldest slot: its answer frees it (real time).
                    self._cond.wait(0.05)
                    continue
            self._sleep(wait)
            slept += wait

    def complete(self) -> None:
        """This thread's request got its answer (or failed): its slot counts from now."""
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is None:
            return
        self._local.slot = None
        with self._cond:
            slot.done_at = self._clock()
            self._cond.notify_all()


_PACERS: dict[tuple[object, ...], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def shared_pacer(
    base_url: str,
    account: str,
    windows: Sequence[tuple[int, float]],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Pacer:
    """One pacer per API account and clock in this process: for APIs that send no rate-limit headers, a
    client opened by the next step of a run can only know of the calls before it if they share the windows.
    ``account`` is hashed: the registry never holds a credential."""
    key = (base_url.rstrip("/"), hashlib.sha256(account.encode()).hexdigest(), tuple(windows), clock)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(windows, clock, sleep)
        return pacer

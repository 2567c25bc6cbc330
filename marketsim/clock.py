"""Simulated time.

All market time is integer nanoseconds since the Unix epoch (UTC), as in Alpaca's feeds.

- ``SimClock``: simulated time runs from ``start`` at ``speed`` simulated seconds per wall second
  (speed 1 and no start = real time).
- ``ManualClock``: time moves only when ``advance``/``set`` is called (tests): it starts at a given
  instant, and the stream sends exactly the events up to the new time after each advance.

Both are thread-safe enough for one writer (a test thread) and the server's event loop: the state
is one integer, and waiters are woken through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime


def parse_instant(value: str | datetime | int | None) -> int | None:
    """An ISO-8601 string (naive = UTC), a datetime or ns since epoch, as ns since epoch."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000


class SimClock:
    """Real-time or accelerated clock: now = start + (wall elapsed) x speed."""

    manual = False

    def __init__(self, start_ns: int | None = None, speed: float = 1.0) -> None:
        self.speed = speed
        self._wall0 = time.time_ns()
        self._start = start_ns if start_ns is not None else self._wall0

    def now_ns(self) -> int:
        return self._start + int((time.time_ns() - self._wall0) * self.speed)

    async def wait(self, poll: float) -> None:
        await asyncio.sleep(poll)


class ManualClock:
    """A clock that stands still until advanced explicitly (deterministic tests)."""

    manual = True

    def __init__(self, start_ns: int) -> None:
        self._now = start_ns
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def now_ns(self) -> int:
        return self._now

    def set(self, t_ns: int) -> None:
        with self._lock:
            self._now = max(self._now, t_ns)
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def advance(self, seconds: float) -> int:
        self.set(self._now + int(seconds * 1e9))
        return self._now

    async def wait(self, poll: float) -> None:
        event = asyncio.Event()
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), event))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(poll, 0.05))

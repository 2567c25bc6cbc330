"""alpaca-py's data streams, as the ingestor runs them.

``StockFeed`` and ``OptionFeed`` are alpaca-py's ``StockDataStream`` and ``OptionDataStream``:
connecting, authenticating, subscribing, and reconnecting with exponential backoff and jitter
(``reconnect_delay``; the bounds are ours to set) are alpaca-py's own. Two things are ours:

- the frame loop (``_consume``). alpaca-py's loop hands every message to a pydantic model and a
  coroutine; one bad message raises out of the loop and the rest of its frame is lost. Ours reads a
  frame once, validates each message into a row for the writer (no model objects: this is the
  throughput path), logs and counts what it cannot read and carries on, and stops reading while
  the writer's buffer is full (backpressure). Control messages go to alpaca-py's ``_dispatch``.
- the connection hooks: after a reconnect (``_start_ws``) the writer switches to its
  duplicate-free path, and once the new connection has acknowledged its subscriptions the
  ``on_gap`` callback backfills from the newest quote received before the drop.

Subscriptions change on the stream's own event loop (``set_symbols``), so alpaca-py's handler
tables are never changed under its feet; a reconnect subscribes to the whole current set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import msgpack
import websockets
from alpaca.data.enums import DataFeed, OptionsFeed
from alpaca.data.live import OptionDataStream, StockDataStream

from ingest.quotes import BadQuote, QuoteWriter, Stats, ns_to_datetime, quote_row

log = logging.getLogger("ingest.streams")
RECV_TIMEOUT = 0.5  # how often the frame loop looks at alpaca-py's stop queue
IGNORED = frozenset(("t", "u", "d", "s", "l", "c", "x", "success", "o", "n"))


async def _ignore(_item) -> None:
    """The handler alpaca-py's tables hold for our symbols (our frame loop writes rows itself)."""


class FeedMixin:
    """What StockFeed and OptionFeed add to alpaca-py's streams (see the module docstring)."""

    name = "feed"

    def _setup(self, writer: QuoteWriter, stats: Stats, simulated_clock: bool,
               on_reconnect: Callable[[FeedMixin], None] | None, on_gap: Callable[[FeedMixin, int], None] | None,
               on_bar: Callable[[dict], None] | None, backoff: tuple[float, float]) -> None:
        self.writer, self.stats, self.simulated_clock = writer, stats, simulated_clock
        self.on_reconnect, self.on_gap, self.on_bar = on_reconnect, on_gap, on_bar
        self._reconnect_min_backoff, self._reconnect_max_backoff = backoff
        self.connections = 0
        self.connected = False
        self.last_ns: dict[str, int] = {}  # newest quote time per symbol
        self.max_ns = 0  # newest quote time of all: the market's clock as far as we know it
        self.gap_from_ns: int | None = None
        self._gap_pending = False
        self.quote_symbols: set[str] = set()
        self.bar_symbols: set[str] = set()

    # ---- connection hooks -----------------------------------------------------------------------
    async def _start_ws(self) -> None:
        await super()._start_ws()
        self.connections += 1
        self.connected = True
        if self.connections > 1:
            self.stats.reconnects += 1
            self.gap_from_ns = self.max_ns or None
            self._gap_pending = True
            log.warning("%s stream reconnected (connection %d); quotes since %s are backfilled", self.name,
                        self.connections, ns_to_datetime(self.max_ns).isoformat() if self.max_ns else "-")
            if self.on_reconnect is not None:
                self.on_reconnect(self)

    async def _consume(self) -> bool:
        """alpaca-py's frame loop, rewritten (see the module docstring). Returns False when stopped."""
        while True:
            if not self._stop_stream_queue.empty():
                self._stop_stream_queue.get(timeout=1)
                await self.close()
                return False
            try:
                frame = await asyncio.wait_for(self._ws.recv(), RECV_TIMEOUT)
            except TimeoutError:
                continue
            except websockets.WebSocketException:
                self.connected = False
                raise
            for msg in self._frame(frame):
                await self._control(msg)
            if self.writer.full():
                await self._wait_for_room()

    async def _wait_for_room(self) -> None:
        """Backpressure: stop reading the socket until the writer has room again."""
        self.stats.blocked += 1
        while self.writer.full() and self._stop_stream_queue.empty():
            await asyncio.sleep(0.005)

    def _frame(self, frame) -> list[dict]:
        """Rows from one frame into the writer; returns its control messages."""
        try:
            msgs = msgpack.unpackb(frame, timestamp=2)  # times as int ns, decoded in C
        except Exception as exc:
            self.stats.bad("malformed", "unreadable frame (%s): %r", exc, bytes(frame[:60]))
            return []
        if type(msgs) is not list:
            self.stats.bad("malformed", "frame is not an array: %.200r", msgs)
            return []
        control = []
        received = None if self.simulated_clock else time.time_ns()
        for msg in msgs:
            if type(msg) is not dict:
                self.stats.bad("malformed", "message is not a map: %.200r", msg)
                continue
            kind = msg.get("T")
            if kind == "q":
                self._quote(msg, received)
            elif kind == "b":
                if self.on_bar is not None:
                    self.on_bar(msg)
            elif kind in ("subscription", "error"):
                control.append(msg)
            elif kind not in IGNORED:
                self.stats.bad("malformed", "unknown message type: %.200r", msg)
        return control

    def _quote(self, msg: dict, received: int | None) -> None:
        ns = msg.get("t")
        if type(ns) is not int:
            self.stats.bad("malformed", "quote without a time: %.200r", msg)
            return
        if self.simulated_clock:  # arrival on the market's own clock: the newest quote time seen
            received = None if ns >= self.max_ns else self.max_ns
        try:
            row = quote_row(msg, ns, received)
        except BadQuote as exc:
            self.stats.bad("malformed", "%s: %.200r", exc, msg)
            return
        sym = row[0]
        last = self.last_ns.get(sym, 0)
        if ns < last:
            self.stats.bad("out_of_order", "%s at %s after one at %s (stored)", sym, ns_to_datetime(ns).isoformat(),
                           ns_to_datetime(last).isoformat())
        else:
            self.last_ns[sym] = ns
            if ns > self.max_ns:
                self.max_ns = ns
        if row[1] > row[2] > 0:
            self.stats.bad("crossed", "%s bid %s > ask %s (stored; never filled on)", sym, row[1], row[2])
        self.writer.add(row)

    async def _control(self, msg: dict) -> None:
        if msg.get("T") == "error":
            log.error("%s stream error %s: %s", self.name, msg.get("code"), msg.get("msg"))
            return
        log.info("%s stream subscribed: quotes %d symbols, bars %d", self.name, len(msg.get("quotes") or []),
                 len(msg.get("bars") or []))
        if self._gap_pending:
            self._gap_pending = False
            if self.on_gap is not None:
                self.on_gap(self, self.gap_from_ns)

    # ---- subscriptions --------------------------------------------------------------------------
    def set_symbols(self, quotes: set[str], bars: set[str] = frozenset()) -> None:
        """Stream exactly these symbols (from any thread). Before the stream runs, only the tables change."""
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._apply(set(quotes), set(bars)), loop).result(10)
        else:
            self._set_tables(set(quotes), set(bars))

    def _set_tables(self, quotes: set[str], bars: set[str]) -> None:
        self._handlers["quotes"] = dict.fromkeys(sorted(quotes), _ignore)
        self._handlers["bars"] = dict.fromkeys(sorted(bars), _ignore)
        self.quote_symbols, self.bar_symbols = quotes, bars

    async def _apply(self, quotes: set[str], bars: set[str]) -> None:
        add = {"quotes": sorted(quotes - self.quote_symbols), "bars": sorted(bars - self.bar_symbols)}
        remove = {"quotes": sorted(self.quote_symbols - quotes), "bars": sorted(self.bar_symbols - bars)}
        self._set_tables(quotes, bars)
        if not (self._running and self._ws):
            return  # the next connection subscribes to the whole set
        with contextlib.suppress(websockets.WebSocketException):  # dropped: the reconnect subscribes
            for action, channels in (("subscribe", add), ("unsubscribe", remove)):
                channels = {k: v for k, v in channels.items() if v}
                if channels:
                    await self._ws.send(msgpack.packb({"action": action, **channels}))

    def has_symbols(self) -> bool:
        return bool(self.quote_symbols or self.bar_symbols)

    def close_now(self) -> None:
        """Stop the stream from another thread; closing the socket wakes its receive at once."""
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                self.stop()
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.close(), loop).result(5)


class StockFeed(FeedMixin, StockDataStream):
    name = "stock"

    def __init__(self, key: str, secret: str, writer: QuoteWriter, stats: Stats, url: str | None = None,
                 feed: DataFeed = DataFeed.SIP, simulated_clock: bool = False, on_reconnect=None, on_gap=None,
                 on_bar=None, backoff: tuple[float, float] = (1.0, 30.0)) -> None:
        StockDataStream.__init__(self, key, secret, raw_data=True, feed=feed, url_override=url)
        self._setup(writer, stats, simulated_clock, on_reconnect, on_gap, on_bar, backoff)


class OptionFeed(FeedMixin, OptionDataStream):
    name = "option"

    def __init__(self, key: str, secret: str, writer: QuoteWriter, stats: Stats, url: str | None = None,
                 feed: OptionsFeed = OptionsFeed.INDICATIVE, simulated_clock: bool = False, on_reconnect=None,
                 on_gap=None, backoff: tuple[float, float] = (1.0, 30.0)) -> None:
        OptionDataStream.__init__(self, key, secret, raw_data=True, feed=feed, url_override=url)
        self._setup(writer, stats, simulated_clock, on_reconnect, on_gap, None, backoff)

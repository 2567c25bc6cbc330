"""The market-data WebSocket endpoints (Alpaca's protocol).

Stocks ``/v2/{iex,sip,delayed_sip}``, options ``/v1beta1/{indicative,opra}``. On connect the server
sends ``[{"T":"success","msg":"connected"}]``; the client authenticates by headers or with
``{"action":"auth","key","secret"}``, then subscribes/unsubscribes (trades, quotes, bars; ``"*"``
for all) and gets the full subscription list back. Stocks speak JSON unless the client sent
``Content-Type: application/msgpack``; options always speak msgpack.

Each authenticated connection has a pump: whenever the simulated clock has moved, it sends every
event of its subscriptions with cursor <= t < now (the same events the historical endpoints
return for that period), in time order, batched into frames; a minute bar is sent once its minute
has ended. The ``Hub`` tracks connections (limits, stats) and carries the test hooks: inject raw
or bad messages, drop connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field

import msgpack
from starlette.websockets import WebSocket, WebSocketDisconnect

from marketsim import protocol
from marketsim.calendar import MINUTE, NS
from marketsim.protocol import CHANNELS

log = logging.getLogger("marketsim.stream")

STOCK_FEEDS = ("iex", "sip", "delayed_sip")
OPTION_FEEDS = ("indicative", "opra")
MAX_WINDOW = MINUTE  # catch up at most one simulated minute per frame batch


@dataclass(eq=False)
class Connection:
    ws: WebSocket
    family: str  # "stocks" | "options"
    use_msgpack: bool
    key: str | None = None
    subs: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CHANNELS})
    cursor: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pump: asyncio.Task | None = None
    closed: bool = False

    async def send(self, payload: bytes | str) -> None:
        async with self.lock:
            if self.closed:
                return
            if isinstance(payload, bytes):
                await self.ws.send_bytes(payload)
            else:
                await self.ws.send_text(payload)

    def subscription_message(self) -> dict:
        msg = {"T": "subscription"}
        for c in CHANNELS:
            msg[c] = list(self.subs[c])
        msg["corrections"] = list(self.subs["trades"])
        msg["cancelErrors"] = list(self.subs["trades"])
        return msg


class Hub:
    """All stream connections of one server, their limits, statistics and test hooks."""

    def __init__(self, config, source, clock) -> None:
        self.config, self.source, self.clock = config, source, clock
        self.connections: set[Connection] = set()
        self.events_sent = 0
        self.quotes_sent = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    # ---- endpoint -------------------------------------------------------------------------------
    async def serve(self, ws: WebSocket, family: str) -> None:
        self.loop = asyncio.get_running_loop()
        await ws.accept()
        ctype = ws.headers.get("content-type", "")
        conn = Connection(ws, family, family == "options" or "msgpack" in ctype)
        self.connections.add(conn)
        watchdog = asyncio.create_task(self._auth_timeout(conn))
        try:
            await conn.send(protocol.success("connected", conn.use_msgpack))
            hdr_key, hdr_secret = ws.headers.get("apca-api-key-id"), ws.headers.get("apca-api-secret-key")
            if hdr_key is not None and hdr_secret is not None and not await self._auth(conn, hdr_key, hdr_secret):
                return
            while not conn.closed:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._handle(conn, message)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            conn.closed = True
            watchdog.cancel()
            if conn.pump:
                conn.pump.cancel()
            self.connections.discard(conn)

    async def _auth_timeout(self, conn: Connection) -> None:
        await asyncio.sleep(self.config.auth_timeout)
        if conn.key is None and not conn.closed:
            await conn.send(protocol.error(404, conn.use_msgpack))
            await self._close(conn, 1000)

    async def _close(self, conn: Connection, code: int) -> None:
        async with conn.lock:
            if conn.closed:
                return
            conn.closed = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code)

    def _decode(self, message: dict):
        data = message.get("bytes")
        if data is not None:
            try:
                return msgpack.unpackb(data)
            except Exception:
                return json.loads(data)
        return json.loads(message.get("text") or "")

    async def _handle(self, conn: Connection, message: dict) -> None:
        mp = conn.use_msgpack
        try:
            msg = self._decode(message)
        except Exception:
            await conn.send(protocol.error(400, mp))
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("action"), str):
            await conn.send(protocol.error(400, mp))
            return
        action = msg["action"]
        if action == "auth":
            if conn.key is not None:
                await conn.send(protocol.error(403, mp))
                return
            await self._auth(conn, msg.get("key"), msg.get("secret"))
        elif action in ("subscribe", "unsubscribe"):
            if conn.key is None:
                await conn.send(protocol.error(401, mp))
                return
            await self._subscribe(conn, msg, action == "subscribe")
        else:
            await conn.send(protocol.error(400, mp))

    async def _auth(self, conn: Connection, key, secret) -> bool:
        mp = conn.use_msgpack
        if (key, secret) not in {tuple(c) for c in self.config.credentials}:
            await conn.send(protocol.error(402, mp))
            await self._close(conn, 1000)
            return False
        limit = self.config.max_connections
        same = [c for c in self.connections if c.key == key and c.family == conn.family and not c.closed]
        if limit and len(same) >= limit:
            await conn.send(protocol.error(406, mp))
            await self._close(conn, 1000)
            return False
        conn.key = key
        conn.cursor = self.clock.now_ns()
        await conn.send(protocol.success("authenticated", mp))
        conn.pump = asyncio.create_task(self._pump(conn))
        return True

    async def _subscribe(self, conn: Connection, msg: dict, add: bool) -> None:
        mp = conn.use_msgpack
        new = {c: list(v) for c, v in conn.subs.items()}
        for channel, symbols in msg.items():
            if channel == "action":
                continue
            if channel not in CHANNELS or not isinstance(symbols, list) or \
                    not all(isinstance(s, str) for s in symbols):
                if channel in ("corrections", "cancelErrors", "news", "orderbooks"):
                    continue
                await conn.send(protocol.error(410, mp))
                return
            cur = new[channel]
            for s in symbols:
                if add and s not in cur:
                    cur.append(s)
                elif not add and s in cur:
                    cur.remove(s)
        limit = self.config.symbol_limit
        if limit and any(len([s for s in v if s != "*"]) > limit for c, v in new.items() if c in ("trades", "quotes")):
            await conn.send(protocol.error(405, mp))
            return
        conn.subs = new
        await conn.send(protocol.control(conn.subscription_message(), mp))

    # ---- data ---------------------------------------------------------------------------------
    def _symbols(self, conn: Connection, channel: str, now_ns: int) -> list[str]:
        syms = conn.subs[channel]
        if "*" in syms:
            if conn.family == "stocks":
                return self.source.stock_symbols()
            return self.source.option_symbols(now_ns)
        return syms

    def collect(self, conn: Connection, a: int, b: int) -> list:
        evs = []
        for channel, kind in (("quotes", "q"), ("trades", "t")):
            for s in self._symbols(conn, channel, a):
                evs.extend(self.source.events(kind, s, a, b))
        bar_syms = self._symbols(conn, "bars", a)
        if bar_syms:
            m = a - a % MINUTE + MINUTE  # first minute boundary after a
            while m <= b:
                for s in bar_syms:
                    bar = self.source.segment(s, m - MINUTE).bar
                    if bar is not None:
                        evs.append(bar)
                m += MINUTE
        evs.sort(key=lambda e: e.t + MINUTE if e.kind == "b" else e.t)
        return evs

    async def _pump(self, conn: Connection) -> None:
        poll = self.config.poll_interval
        try:
            while not conn.closed:
                now = self.clock.now_ns()
                if now <= conn.cursor:
                    await self.clock.wait(poll)
                    continue
                b = min(now, conn.cursor + MAX_WINDOW)
                evs = self.collect(conn, conn.cursor, b)
                conn.cursor = b
                await self._send_events(conn, evs)
                if b == now:
                    await self.clock.wait(poll)
                else:
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except (WebSocketDisconnect, RuntimeError):
            conn.closed = True  # the client went away mid-send
        except Exception:
            if not conn.closed:
                log.exception("stream pump failed")
                await self._close(conn, 1011)

    async def _send_events(self, conn: Connection, evs: list) -> None:
        step = self.config.max_frame_messages
        for i in range(0, len(evs), step):
            chunk = evs[i:i + step]
            if conn.use_msgpack:
                payload = protocol.frame_msgpack([protocol.packed(e) for e in chunk])
            else:
                payload = protocol.frame_json([protocol.jsoned(e) for e in chunk])
            await conn.send(payload)
            self.events_sent += len(chunk)
            self.quotes_sent += sum(1 for e in chunk if e.kind == "q")

    # ---- test hooks ---------------------------------------------------------------------------
    def _targets(self, family: str | None) -> list[Connection]:
        return [c for c in self.connections if c.key is not None and not c.closed
                and (family in (None, "all") or c.family == family)]

    async def inject(self, family: str | None, messages: list | None = None, raw: bytes | None = None,
                     kind: str | None = None, symbol: str = "AAPL") -> int:
        """Send extra frames to every authenticated connection of a family (outside history).

        ``messages``: maps to encode in the connection's format (``t`` as ns or RFC 3339);
        ``raw``: bytes sent verbatim; ``kind``: a canned bad message, see ``bad_messages``.
        Returns how many connections got it."""
        targets = self._targets(family)
        for conn in targets:
            if raw is not None:
                payload = raw
            elif kind is not None:
                payload = bad_messages(kind, symbol, self.clock.now_ns(), conn.use_msgpack)
            else:
                payload = protocol.encode_raw(messages or [], conn.use_msgpack)
            await conn.send(payload)
        return len(targets)

    async def drop(self, family: str | None = None, code: int = 1011) -> int:
        """Close connections abruptly (mid-flight), as a network or upstream failure would."""
        targets = self._targets(family)
        for conn in targets:
            if conn.pump:
                conn.pump.cancel()
            await self._close(conn, code)
        return len(targets)

    def state(self) -> dict:
        return {
            "now": protocol.rfc3339(self.clock.now_ns()),
            "now_ns": self.clock.now_ns(),
            "connections": [{"family": c.family, "msgpack": c.use_msgpack, "authenticated": c.key is not None,
                             "subscriptions": c.subs, "cursor_ns": c.cursor} for c in self.connections],
            "events_sent": self.events_sent,
            "quotes_sent": self.quotes_sent,
        }

    async def log_rates(self, interval: float) -> None:
        last, last_t = self.quotes_sent, time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            rate = (self.quotes_sent - last) / (now - last_t)
            log.info("quotes/s %.0f (connections %d, sim time %s)", rate, len(self.connections),
                     protocol.rfc3339(self.clock.now_ns()))
            last, last_t = self.quotes_sent, now


def bad_messages(kind: str, symbol: str, now_ns: int, use_msgpack: bool) -> bytes | str:
    """Canned upstream faults for ingestor tests.

    - ``crossed``: a quote with bid > ask
    - ``out_of_order``: a well-formed quote timestamped an hour before now
    - ``malformed``: a quote map missing prices and with a wrong-typed size
    - ``not_array``: a bare map instead of an array of maps
    - ``garbage``: bytes that are neither msgpack nor JSON
    - ``unknown_type``: a message with an unknown ``T``
    """
    base = {"T": "q", "S": symbol, "bx": "V", "ax": "V", "bs": 100, "as": 100, "c": ["R"], "z": "C"}
    if kind == "crossed":
        msgs = [{**base, "bp": 101.0, "ap": 100.0, "t": now_ns}]
    elif kind == "out_of_order":
        msgs = [{**base, "bp": 100.0, "ap": 100.01, "t": now_ns - 3600 * NS}]
    elif kind == "malformed":
        msgs = [{"T": "q", "S": symbol, "bs": "lots", "t": now_ns}]
    elif kind == "unknown_type":
        msgs = [{"T": "zz", "S": symbol, "t": now_ns}]
    elif kind == "not_array":
        msg = {**base, "bp": 100.0, "ap": 100.01, "t": "not a time"}
        return msgpack.packb(msg) if use_msgpack else json.dumps(msg)
    elif kind == "garbage":
        return b"\xc1\xff\x00garbage" if use_msgpack else "{not json"
    else:
        raise ValueError(f"unknown bad message kind {kind!r}")
    return protocol.encode_raw(msgs, use_msgpack)

"""Helpers for the marketsim tests: an in-process server with a manual clock, alpaca-py streams run
in a thread, and a tiny raw WebSocket client for protocol checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable

import msgpack
from websockets.sync.client import connect

from marketsim.config import SimConfig
from marketsim.server import ServerThread

KEY, SECRET = "test-key", "test-secret"
# Tuesday 2026-03-10, 10:30 New York (EDT): regular hours
START = "2026-03-10T14:30:00Z"


def manual_server(**overrides) -> ServerThread:
    cfg = SimConfig(start=START, manual_clock=True, test_hooks=True, credentials=((KEY, SECRET), ("k2", "s2")),
                    max_connections=0, **overrides)
    return ServerThread(cfg).start()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def subscribed(srv: ServerThread, channel: str, symbols: list[str]) -> bool:
    return any(set(symbols) <= set(c.subs.get(channel, [])) for c in list(srv.hub.connections))


class StreamRunner:
    """Run an alpaca-py data stream in a thread; collect what its handlers get."""

    def __init__(self, stream) -> None:
        self.stream, self.items = stream, []
        self.thread = threading.Thread(target=stream.run, daemon=True)

    async def handler(self, item) -> None:
        self.items.append(item)

    def start(self) -> StreamRunner:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop the stream; closing its socket wakes alpaca-py's 5 s receive wait at once."""
        loop = self.stream._loop
        if loop is not None and loop.is_running():
            self.stream.stop()
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.stream.close(), loop).result(5)
        self.thread.join(timeout=10)


class RawClient:
    """A raw WebSocket client speaking msgpack (or JSON when ``use_msgpack`` is false)."""

    def __init__(self, url: str, use_msgpack: bool = True, headers: dict | None = None) -> None:
        hdrs = dict(headers or {})
        if use_msgpack:
            hdrs["Content-Type"] = "application/msgpack"
        self.use_msgpack = use_msgpack
        self.ws = connect(url, additional_headers=hdrs, open_timeout=5, legacy=True)

    def send(self, obj) -> None:
        self.ws.send(msgpack.packb(obj) if self.use_msgpack else json.dumps(obj))

    def send_raw(self, data: bytes | str) -> None:
        self.ws.send(data)

    def recv_raw(self, timeout: float = 5.0):
        return self.ws.recv(timeout=timeout)

    def recv(self, timeout: float = 5.0) -> list:
        data = self.recv_raw(timeout)
        if isinstance(data, bytes):
            return msgpack.unpackb(data)
        return json.loads(data)

    def auth(self, key: str = KEY, secret: str = SECRET) -> list:
        self.send({"action": "auth", "key": key, "secret": secret})
        return self.recv()

    def close(self) -> None:
        self.ws.close()

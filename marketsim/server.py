"""The marketsim ASGI app and ways to run it.

- ``create_app(config)``: a Starlette app for uvicorn (REST + WebSocket + optional test hooks);
  ``app.state`` holds ``source``, ``clock``, ``hub`` and ``config``.
- ``ServerThread``: uvicorn in a background thread of this process (tests that want to move a
  ``ManualClock`` or inject faults directly).
- ``start_subprocess``: ``python -m marketsim`` as a child process, waiting until it listens.

Test hooks (``config.test_hooks``), all JSON:
  POST /_sim/inject  {"family": "stocks"|"options"|"all", "messages": [...]} or {"kind": "crossed"|
                     "out_of_order"|"malformed"|"not_array"|"garbage"|"unknown_type", "symbol": "AAPL"}
                     or {"raw_base64": "..."}
  POST /_sim/drop    {"family": ..., "code": 1011}  close stream connections mid-flight
  POST /_sim/advance {"seconds": 60} or {"to": "2026-03-10T15:00:00Z"}  (manual clock only)
  GET  /_sim/state   clock, connections, counters
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from marketsim.clock import ManualClock, SimClock, parse_instant
from marketsim.config import SimConfig
from marketsim.rest import ApiError, Rest
from marketsim.stream import OPTION_FEEDS, STOCK_FEEDS, Hub

log = logging.getLogger("marketsim")


def build_source(config: SimConfig):
    if config.replay is not None:
        from marketsim.replay import ReplaySource

        return ReplaySource(config.replay)
    from marketsim.market import SimMarket

    return SimMarket(config)


def build_clock(config: SimConfig, source):
    start = parse_instant(config.start)
    if start is None and config.replay is not None:
        start = source.first_ns
    if config.manual_clock:
        return ManualClock(start if start is not None else time.time_ns())
    return SimClock(start, config.speed)


def create_app(config: SimConfig, source=None, clock=None) -> Starlette:
    source = source or build_source(config)
    clock = clock or build_clock(config, source)
    hub = Hub(config, source, clock)
    rest = Rest(config, source, clock)

    def api(fn: Callable) -> Callable:
        async def endpoint(request: Request):
            try:
                rest.check_auth(request)
                result = fn(request)
            except ApiError as exc:
                return exc.response()
            return JSONResponse(result)
        return endpoint

    async def stocks_ws(ws: WebSocket) -> None:
        if ws.path_params["feed"] not in STOCK_FEEDS:
            await ws.close(code=4404)
            return
        await hub.serve(ws, "stocks")

    async def options_ws(ws: WebSocket) -> None:
        if ws.path_params["feed"] not in OPTION_FEEDS:
            await ws.close(code=4404)
            return
        await hub.serve(ws, "options")

    routes = [
        # market data: stocks
        Route("/v2/stocks/quotes/latest", api(lambda r: rest.latest(r, "q", "quotes"))),
        Route("/v2/stocks/trades/latest", api(lambda r: rest.latest(r, "t", "trades"))),
        Route("/v2/stocks/bars/latest", api(lambda r: rest.latest(r, "b", "bars"))),
        Route("/v2/stocks/quotes", api(lambda r: rest.history(r, "q", "quotes"))),
        Route("/v2/stocks/trades", api(lambda r: rest.history(r, "t", "trades"))),
        Route("/v2/stocks/bars", api(rest.bars)),
        Route("/v2/stocks/snapshots", api(rest.stock_snapshots)),
        Route("/v2/stocks/{symbol}/quotes/latest", api(lambda r: {
            "symbol": r.path_params["symbol"].upper(),
            "quote": rest.latest(_with_symbols(r), "q", "quotes")["quotes"].get(r.path_params["symbol"].upper())})),
        # market data: options
        Route("/v1beta1/options/quotes/latest", api(lambda r: rest.latest(r, "q", "quotes"))),
        Route("/v1beta1/options/quotes", api(lambda r: rest.history(r, "q", "quotes"))),
        Route("/v1beta1/options/trades/latest", api(lambda r: {"trades": {}})),
        Route("/v1beta1/options/trades", api(lambda r: {"trades": {}, "next_page_token": None})),
        Route("/v1beta1/options/bars", api(lambda r: {"bars": {}, "next_page_token": None})),
        Route("/v1beta1/options/snapshots", api(lambda r: rest.option_chain(r, None))),
        Route("/v1beta1/options/snapshots/{underlying}",
              api(lambda r: rest.option_chain(r, r.path_params["underlying"].upper()))),
        # trading API reference data
        Route("/v2/clock", api(lambda r: rest.clock_json())),
        Route("/v2/calendar", api(rest.calendar)),
        Route("/v2/assets", api(rest.assets)),
        Route("/v2/assets/{symbol_or_id}", api(lambda r: rest.asset(r.path_params["symbol_or_id"]))),
        Route("/v2/options/contracts", api(rest.option_contracts)),
        Route("/v2/options/contracts/{symbol_or_id}",
              api(lambda r: rest.option_contract(r.path_params["symbol_or_id"]))),
        # streams
        WebSocketRoute("/v2/{feed}", stocks_ws),
        WebSocketRoute("/v1beta1/{feed}", options_ws),
    ]
    if config.test_hooks:
        routes += test_hook_routes(hub, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(hub.log_rates(config.log_interval))
        try:
            yield
        finally:
            task.cancel()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.config, app.state.source, app.state.clock, app.state.hub = config, source, clock, hub
    return app


def _with_symbols(request: Request) -> Request:
    scope = dict(request.scope)
    scope["query_string"] = f"symbols={request.path_params['symbol']}".encode()
    return Request(scope)


def test_hook_routes(hub: Hub, clock) -> list[Route]:
    async def inject(request: Request):
        body = await request.json()
        raw = base64.b64decode(body["raw_base64"]) if body.get("raw_base64") else None
        n = await hub.inject(body.get("family"), messages=body.get("messages"), raw=raw, kind=body.get("kind"),
                             symbol=body.get("symbol", "AAPL"))
        return JSONResponse({"connections": n})

    async def drop(request: Request):
        body = await request.json() if await request.body() else {}
        n = await hub.drop(body.get("family"), int(body.get("code", 1011)))
        return JSONResponse({"connections": n})

    async def advance(request: Request):
        if not isinstance(clock, ManualClock):
            return JSONResponse({"code": 40010001, "message": "the clock is not manual"}, status_code=400)
        body = await request.json()
        if body.get("to"):
            clock.set(parse_instant(body["to"]))
        else:
            clock.advance(float(body.get("seconds", 0)))
        return JSONResponse({"now_ns": clock.now_ns()})

    async def state(request: Request):
        return JSONResponse(hub.state())

    return [Route("/_sim/inject", inject, methods=["POST"]), Route("/_sim/drop", drop, methods=["POST"]),
            Route("/_sim/advance", advance, methods=["POST"]), Route("/_sim/state", state)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"marketsim exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"marketsim did not listen on {host}:{port}")


class ServerThread:
    """Run the app under uvicorn in a daemon thread: ``with ServerThread(cfg) as srv: srv.url``."""

    def __init__(self, config: SimConfig, host: str = "127.0.0.1", port: int | None = None) -> None:
        import uvicorn

        self.config, self.host, self.port = config, host, port or free_port()
        self.app = create_app(config)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=host, port=self.port, log_level="warning",
                                                    ws="websockets-sansio", lifespan="on",
                                                    ws_per_message_deflate=config.ws_compression))
        self.thread = threading.Thread(target=self.server.run, name="marketsim", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def clock(self):
        return self.app.state.clock

    @property
    def hub(self) -> Hub:
        return self.app.state.hub

    def call(self, coro, timeout: float = 10.0):
        """Run a coroutine (e.g. ``hub.inject(...)``) on the server's event loop, from this thread."""
        loop = self.hub.loop
        if loop is None:
            raise RuntimeError("no stream connection has been served yet")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("marketsim did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start_subprocess(args: list[str], host: str = "127.0.0.1", port: int | None = None,
                     env: dict | None = None) -> tuple[subprocess.Popen, int]:
    """Start ``python -m marketsim --host H --port P <args>``; returns (process, port) once it listens."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "marketsim", "--host", host, "--port", str(port), *args]
    root = str(Path(__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})})
    try:
        wait_listening(host, port, proc=proc)
    except Exception:
        proc.kill()
        raise
    return proc, port


def run(config: SimConfig, host: str, port: int) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("marketsim on http://%s:%d (seed %d, speed %g, %s)", host, port, config.seed, config.speed,
             f"replay {config.replay}" if config.replay else f"{len(config.symbols)} symbols")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", ws="websockets-sansio",
                ws_per_message_deflate=config.ws_compression)

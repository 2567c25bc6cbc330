"""Replay of a recorded quote file, and the ``python -m marketsim`` entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockQuotesRequest
from simhelpers import KEY, SECRET, StreamRunner, subscribed, wait_for
from websockets.sync.client import connect

from marketsim.calendar import NS
from marketsim.clock import parse_instant
from marketsim.config import SimConfig
from marketsim.market import SimMarket
from marketsim.server import ServerThread, start_subprocess

ROWS = [
    ("AAPL", 190.00, 190.02, 100, 300, "Q", "P", "2026-03-10T14:30:00.000000100Z"),
    ("MSFT", 420.10, 420.14, 200, 100, "Z", "Q", "2026-03-10T14:30:00.500000000Z"),
    ("AAPL", 190.01, 190.03, 200, 200, "V", "V", "2026-03-10T14:30:01.250000000Z"),
    ("AAPL", 190.02, 190.03, 500, 100, "Q", "Q", "2026-03-10T14:30:02.000000000Z"),
]


@pytest.fixture(params=["csv", "jsonl"])
def recording(tmp_path, request):
    path = tmp_path / f"quotes.{request.param}"
    keys = ("symbol", "bid", "ask", "bid_size", "ask_size", "bid_exchange", "ask_exchange", "timestamp")
    if request.param == "csv":
        path.write_text(",".join(keys) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in ROWS))
    else:
        path.write_text("".join(json.dumps(dict(zip(keys, r, strict=True))) + "\n" for r in ROWS))
    return path


def test_replay_streams_the_recorded_quotes_in_order_and_serves_them_as_history(recording):
    cfg = SimConfig(replay=recording, manual_clock=True, credentials=((KEY, SECRET),), max_connections=0)
    with ServerThread(cfg) as srv:
        runner = StreamRunner(StockDataStream(KEY, SECRET, url_override=srv.ws_url + "/v2/iex"))
        runner.stream.subscribe_quotes(runner.handler, "AAPL", "MSFT")
        runner.start()
        try:
            wait_for(lambda: subscribed(srv, "quotes", ["AAPL", "MSFT"]))
            srv.clock.advance(5)
            wait_for(lambda: len(runner.items) == len(ROWS), what="replayed quotes")
        finally:
            runner.stop()
        got = [(q.symbol, q.bid_price, q.ask_price, q.bid_size, q.ask_size, q.bid_exchange, q.ask_exchange)
               for q in runner.items]
        assert got == [r[:7] for r in ROWS]
        hist = StockHistoricalDataClient(KEY, SECRET, url_override=srv.url).get_stock_quotes(
            StockQuotesRequest(symbol_or_symbols="AAPL", start=datetime(2026, 3, 10, tzinfo=UTC)))
        assert [q.bid_price for q in hist.data["AAPL"]] == [r[1] for r in ROWS if r[0] == "AAPL"]


def test_command_line_server_is_deterministic_for_its_seed():
    start = "2026-03-10T15:00:00Z"
    proc, port = start_subprocess(["--seed", "42", "--start", start, "--speed", "600", "--key", KEY,
                                   "--secret", SECRET, "--symbols", "AAPL,SPY"])
    try:
        headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        params = {"symbols": "AAPL,SPY", "start": start, "end": "2026-03-10T15:00:05Z", "limit": 10000}
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(url + "/v2/clock", headers=headers).json()["timestamp"] > "2026-03-10T11:00:05")
        body = httpx.get(url + "/v2/stocks/quotes", headers=headers, params=params).json()
    finally:
        proc.terminate()
        proc.wait(10)
    local = SimMarket(SimConfig(seed=42))
    t0 = parse_instant(start)
    for sym in ("AAPL", "SPY"):
        expected = [(q.bp, q.ap, q.bs, q.as_) for q in local.events("q", sym, t0, t0 + 5 * NS + 1)]
        assert [(q["bp"], q["ap"], q["bs"], q["as"]) for q in body["quotes"][sym]] == expected
        assert len(expected) > 10


@pytest.mark.parametrize(("args", "compressed"), [([], False), (["--ws-compression"], True)], ids=["default", "flag"])
def test_command_line_server_accepts_permessage_deflate_only_with_its_flag(args, compressed):
    proc, port = start_subprocess(["--key", KEY, "--secret", SECRET, *args])
    try:
        with connect(f"ws://127.0.0.1:{port}/v2/sip", open_timeout=5) as ws:  # offers deflate, as alpaca-py does
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
    finally:
        proc.terminate()
        proc.wait(10)
    assert ("permessage-deflate" in extensions) is compressed

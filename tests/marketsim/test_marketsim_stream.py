"""The WebSocket endpoints through the real alpaca-py StockDataStream / OptionDataStream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import OptionDataStream, StockDataStream
from alpaca.data.models import Bar, Quote
from alpaca.data.requests import StockBarsRequest, StockQuotesRequest
from alpaca.data.timeframe import TimeFrame
from simhelpers import KEY, SECRET, StreamRunner, manual_server, subscribed, wait_for
from websockets.sync.client import connect

from marketsim.calendar import NS, xnys


@pytest.fixture(scope="module")
def srv():
    server = manual_server()
    yield server
    server.stop()


def streamed_minute(srv, symbols: list[str], seconds: float = 90, bars: bool = False):
    """Subscribe with alpaca-py, move the clock ``seconds`` in 5 s steps, return (items, t0, t1)."""
    runner = StreamRunner(StockDataStream(KEY, SECRET, url_override=srv.ws_url + "/v2/sip"))
    runner.stream.subscribe_quotes(runner.handler, *symbols)
    if bars:
        runner.stream.subscribe_bars(runner.handler, *symbols)
    runner.start()
    try:
        wait_for(lambda: subscribed(srv, "quotes", symbols), what="subscription")
        t0 = srv.clock.now_ns()
        for _ in range(int(seconds / 5)):
            srv.clock.advance(5)
        t1 = srv.clock.now_ns()
        wait_for(lambda: all(c.cursor >= t1 for c in list(srv.hub.connections) if c.key), what="stream to catch up")
        expected = sum(1 for s in symbols for _ in srv.app.state.source.events("q", s, t0, t1))
        wait_for(lambda: sum(isinstance(i, Quote) for i in runner.items) >= expected, what="quotes to arrive")
    finally:
        runner.stop()
    return runner.items, t0, t1


def test_stock_stream_delivers_typed_uncrossed_in_session_quotes(srv):
    items, t0, t1 = streamed_minute(srv, ["AAPL", "SPY"], seconds=20)
    quotes = [i for i in items if isinstance(i, Quote)]
    assert len(quotes) > 50
    assert {q.symbol for q in quotes} == {"AAPL", "SPY"}
    session = xnys().session_at(t0)
    for q in quotes:
        assert isinstance(q.timestamp, datetime) and q.timestamp.tzinfo is not None
        assert isinstance(q.bid_price, float) and isinstance(q.ask_price, float)
        assert 0 < q.bid_price < q.ask_price
        assert q.bid_size % 100 == 0 and q.ask_size % 100 == 0
        t = int(q.timestamp.timestamp()) * NS
        assert session.phase(t) == "regular"
        assert t0 - NS <= t < t1
    times = [q.timestamp for q in quotes]
    assert times == sorted(times)


@pytest.mark.parametrize("compression", [False, True], ids=["plain", "deflate"])
def test_stream_accepts_permessage_deflate_only_when_configured_and_alpaca_py_reads_both(compression):
    server = manual_server(ws_compression=compression)
    try:
        with connect(server.ws_url + "/v2/sip", open_timeout=5) as ws:  # offers permessage-deflate, as alpaca-py does
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
        assert ("permessage-deflate" in extensions) is compression
        items, _t0, _t1 = streamed_minute(server, ["AAPL"], seconds=10)
        assert any(isinstance(i, Quote) and i.symbol == "AAPL" for i in items)
    finally:
        server.stop()


def test_streamed_quotes_equal_the_historical_quotes_of_the_same_period(srv):
    items, t0, t1 = streamed_minute(srv, ["MSFT", "THIN"], seconds=30)
    streamed = sorted((q.symbol, q.timestamp, q.bid_price, q.ask_price, q.bid_size, q.ask_size, q.bid_exchange,
                       q.ask_exchange) for q in items if isinstance(q, Quote))
    client = StockHistoricalDataClient(KEY, SECRET, url_override=srv.url)
    hist = client.get_stock_quotes(StockQuotesRequest(
        symbol_or_symbols=["MSFT", "THIN"], start=datetime.fromtimestamp(t0 / NS, UTC),
        end=datetime.fromtimestamp((t1 - 1000) / NS, UTC)))
    fetched = sorted((q.symbol, q.timestamp, q.bid_price, q.ask_price, q.bid_size, q.ask_size, q.bid_exchange,
                      q.ask_exchange) for qs in hist.data.values() for q in qs)
    assert streamed and streamed == fetched


def test_streamed_minute_bars_equal_the_historical_bars(srv):
    items, _t0, _t1 = streamed_minute(srv, ["NVDA"], seconds=185, bars=True)
    streamed = [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in items if isinstance(b, Bar)]
    assert len(streamed) >= 2
    client = StockHistoricalDataClient(KEY, SECRET, url_override=srv.url)
    hist = client.get_stock_bars(StockBarsRequest(symbol_or_symbols="NVDA", timeframe=TimeFrame.Minute,
                                                  start=streamed[0][0], end=streamed[-1][0]))
    fetched = [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in hist.data["NVDA"]]
    assert fetched == streamed


def test_wrong_secret_gets_error_402_and_alpaca_py_raises(srv):
    stream = StockDataStream(KEY, "wrong", url_override=srv.ws_url + "/v2/iex")

    async def connect():
        try:
            await stream._start_ws()  # what alpaca-py's run loop does first
        finally:
            await stream.close()

    with pytest.raises(ValueError, match="auth failed"):
        asyncio.run(connect())


def test_option_stream_delivers_option_quotes(srv):
    market = srv.app.state.source
    day = xnys().session_at(srv.clock.now_ns()).day
    chain = market.options.chain("SPY", day)
    atm = chain[len(chain) // 2 - 1: len(chain) // 2 + 1]  # a call and a put at the same strike
    symbols = [c.symbol for c in atm]
    runner = StreamRunner(OptionDataStream(KEY, SECRET, url_override=srv.ws_url + "/v1beta1/opra"))
    runner.stream.subscribe_quotes(runner.handler, *symbols)
    runner.start()
    try:
        wait_for(lambda: subscribed(srv, "quotes", symbols), what="subscription")
        for _ in range(12):
            srv.clock.advance(10)
        wait_for(lambda: {q.symbol for q in runner.items} == set(symbols), what="option quotes")
    finally:
        runner.stop()
    for q in runner.items:
        assert isinstance(q, Quote) and 0 <= q.bid_price < q.ask_price
        assert isinstance(q.conditions, str)

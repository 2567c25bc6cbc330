"""REST endpoints through the real alpaca-py historical and trading clients."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import OptionHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.requests import (
    OptionChainRequest,
    OptionLatestQuoteRequest,
    StockBarsRequest,
    StockLatestQuoteRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import ContractType
from alpaca.trading.requests import GetCalendarRequest, GetOptionContractsRequest
from simhelpers import KEY, SECRET, manual_server

from marketsim.calendar import NS, NY


@pytest.fixture(scope="module")
def srv():
    server = manual_server()
    server.clock.advance(3600)  # 11:30 New York: an hour of history
    yield server
    server.stop()


@pytest.fixture(scope="module")
def data(srv):
    return StockHistoricalDataClient(KEY, SECRET, url_override=srv.url)


def at(srv, seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(srv.clock.now_ns() / NS - seconds_ago, UTC)


def test_latest_quotes_are_the_last_quote_at_or_before_now(srv, data):
    latest = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "ILLQ"]))
    assert set(latest) == {"AAPL", "ILLQ"}
    for q in latest.values():
        assert q.timestamp <= at(srv, 0) and q.bid_price < q.ask_price
    illiquid, liquid = latest["ILLQ"], latest["AAPL"]
    assert illiquid.ask_price - illiquid.bid_price > liquid.ask_price - liquid.bid_price


def test_historical_quotes_page_through_more_than_10000(srv, data):
    start, end = at(srv, 1800), at(srv, 0)
    quotes = data.get_stock_quotes(StockQuotesRequest(symbol_or_symbols="SPY", start=start, end=end)).data["SPY"]
    source = list(srv.app.state.source.events("q", "SPY", srv.clock.now_ns() - 1800 * NS, srv.clock.now_ns() + 1))
    assert len(quotes) == len(source) > 10_000  # two pages of alpaca-py's 10,000
    assert [q.timestamp for q in quotes] == sorted(q.timestamp for q in quotes)
    assert len({(q.timestamp, q.bid_price, q.ask_price) for q in quotes}) == len(quotes)


def test_small_pages_concatenate_to_the_same_answer_ascending_and_descending(srv):
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    params = {"symbols": "AAPL,THIN", "start": at(srv, 120).isoformat(), "end": at(srv, 0).isoformat()}

    http = httpx.Client(base_url=srv.url, headers=headers)

    def fetch(**extra):
        out, token = [], None
        while True:
            body = http.get("/v2/stocks/quotes",
                            params={**params, **extra, **({"page_token": token} if token else {})}).json()
            out += [(s, q["t"], q["bp"]) for s, qs in body["quotes"].items() for q in qs]
            token = body["next_page_token"]
            if token is None:
                return out

    whole = fetch(limit=10000)
    assert fetch(limit=37) == whole
    assert fetch(limit=29, sort="desc") == [x for s in ("AAPL", "THIN") for x in reversed([y for y in whole
                                                                                            if y[0] == s])]


def test_bars_aggregate_minutes_consistently(srv, data):
    start, end = at(srv, 1800), at(srv, 0)
    minute = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Minute,
                                                  start=start, end=end)).data["AAPL"]
    five = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame(5, TimeFrameUnit.Minute),
                                                start=start, end=end)).data["AAPL"]
    assert 25 <= len(minute) <= 30 and 5 <= len(five) <= 7
    first = [b for b in minute if b.timestamp < five[1].timestamp and b.timestamp >= five[0].timestamp]
    assert five[0].volume == sum(b.volume for b in first)
    assert five[0].high == max(b.high for b in first) and five[0].open == first[0].open
    for b in minute:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high


def test_daily_bars_cover_past_sessions_only(srv, data):
    bars = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Day,
                                                start=datetime(2026, 2, 23, tzinfo=UTC), end=at(srv, 0))).data["SPY"]
    days = [b.timestamp.astimezone(NY).date() for b in bars]
    assert days[0] == date(2026, 2, 23) and days[-1] == date(2026, 3, 9)  # today is not over
    assert len(days) == 11


def test_stock_snapshot_has_latest_quote_trade_and_bars(data):
    snap = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols="MSFT"))["MSFT"]
    assert snap.latest_quote and snap.latest_trade and snap.minute_bar and snap.daily_bar and snap.previous_daily_bar


def test_bad_keys_get_alpaca_error_json(srv):
    client = StockHistoricalDataClient(KEY, "bad", url_override=srv.url)
    with pytest.raises(APIError) as exc:
        client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
    assert exc.value.status_code == 401 and exc.value.code == 40110000


def test_option_chain_snapshots_have_quotes_and_greeks(srv):
    client = OptionHistoricalDataClient(KEY, SECRET, url_override=srv.url)
    chain = client.get_option_chain(OptionChainRequest(underlying_symbol="AAPL", type=ContractType.CALL))
    assert len(chain) > 50 and all(s.symbol[10] == "C" for s in chain.values())
    for snap in chain.values():
        assert snap.latest_quote.bid_price < snap.latest_quote.ask_price
        assert 0 <= snap.greeks.delta <= 1 and snap.implied_volatility > 0
    some = sorted(chain)[:3]
    latest = client.get_option_latest_quote(OptionLatestQuoteRequest(symbol_or_symbols=some))
    assert {s: q.bid_price for s, q in latest.items()} == {s: chain[s].latest_quote.bid_price for s in some}


def test_trading_client_clock_follows_the_simulated_time(srv):
    clock = TradingClient(KEY, SECRET, url_override=srv.url).get_clock()
    assert clock.is_open
    assert clock.timestamp.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 10, 11, 30)
    assert clock.next_close.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 10, 16, 0)
    assert clock.next_open.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 11, 9, 30)


def test_trading_client_calendar_has_early_closes_and_skips_holidays(srv):
    days = TradingClient(KEY, SECRET, url_override=srv.url).get_calendar(
        GetCalendarRequest(start=date(2026, 11, 25), end=date(2026, 11, 30)))
    by_day = {d.date: d for d in days}
    assert date(2026, 11, 26) not in by_day  # Thanksgiving
    assert by_day[date(2026, 11, 27)].close == datetime(2026, 11, 27, 13, 0)
    assert by_day[date(2026, 11, 25)].open == datetime(2026, 11, 25, 9, 30)
    assert list(by_day) == [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]


def test_trading_client_lists_assets_and_option_contracts(srv):
    trading = TradingClient(KEY, SECRET, url_override=srv.url)
    assets = {a.symbol: a for a in trading.get_all_assets()}
    assert {"AAPL", "SPY", "THIN"} <= set(assets) and assets["SPY"].exchange == "ARCA"
    page = trading.get_option_contracts(GetOptionContractsRequest(
        underlying_symbols=["AAPL"], expiration_date_lte=date(2026, 3, 20), limit=30))
    assert len(page.option_contracts) == 30 and page.next_page_token
    for c in page.option_contracts:
        assert c.underlying_symbol == "AAPL" and c.expiration_date <= date(2026, 3, 20)
        assert c.symbol.startswith("AAPL26031") and c.size == "100"
    expirations = {c.expiration_date for c in trading.get_option_contracts(
        GetOptionContractsRequest(underlying_symbols=["AAPL"], limit=10000)).option_contracts}
    assert date(2026, 3, 13) in expirations and date(2026, 3, 20) in expirations  # weekly and monthly
    assert date(2026, 4, 2) in expirations and date(2026, 4, 3) not in expirations  # Good Friday moves
    assert max(expirations) - date(2026, 3, 10) > timedelta(days=60)

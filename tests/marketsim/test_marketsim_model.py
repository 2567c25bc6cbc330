"""The simulated market itself: determinism, sessions, spreads and sizes, Black-Scholes."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import datetime

import pytest

from marketsim.calendar import NS, NY, xnys
from marketsim.config import SimConfig
from marketsim.market import SimMarket
from marketsim.options import bs_price, quote_bounds


def ns(text: str) -> int:
    """A New York wall-clock time as ns since the epoch."""
    return int(datetime.fromisoformat(text).replace(tzinfo=NY).timestamp()) * NS


def quotes(market, symbol, start, seconds):
    t = ns(start)
    return [(q.t, q.bp, q.ap, q.bs, q.as_, q.bx, q.ax) for q in market.events("q", symbol, t, t + seconds * NS)]


@pytest.fixture(scope="module")
def market():
    return SimMarket(SimConfig(seed=7))


def test_same_seed_gives_the_same_quotes_bit_for_bit(market):
    again = SimMarket(SimConfig(seed=7))
    assert quotes(market, "AAPL", "2026-03-10T10:00", 120) == quotes(again, "AAPL", "2026-03-10T10:00", 120)
    other = SimMarket(SimConfig(seed=8))
    assert quotes(market, "AAPL", "2026-03-10T10:00", 120) != quotes(other, "AAPL", "2026-03-10T10:00", 120)


def test_quotes_do_not_depend_on_what_was_generated_before():
    fresh = SimMarket(SimConfig(seed=7))
    later = quotes(fresh, "TSLA", "2026-03-10T15:00", 60)
    warmed = SimMarket(SimConfig(seed=7))
    quotes(warmed, "TSLA", "2026-03-10T09:00", 3600)
    assert quotes(warmed, "TSLA", "2026-03-10T15:00", 60) == later


@pytest.mark.parametrize(("start", "seconds"), [
    ("2026-11-26T10:00", 3600),  # Thanksgiving
    ("2026-03-14T10:00", 3600),  # Saturday
    ("2026-03-10T03:00", 3599),  # before pre-market
    ("2026-03-10T20:00", 3600),  # after after-hours
    ("2026-11-27T17:00", 3600),  # after the early close's after-hours
])
def test_no_equity_quotes_outside_sessions(market, start, seconds):
    assert quotes(market, "SPY", start, seconds) == []


def test_equities_quote_in_pre_market_and_after_hours_with_wider_spreads(market):
    pre = quotes(market, "AAPL", "2026-03-10T07:00", 300)
    regular = quotes(market, "AAPL", "2026-03-10T11:00", 300)
    post = quotes(market, "AAPL", "2026-11-27T14:00", 300)  # after the 13:00 early close
    assert pre and regular and post
    spread = [statistics.median(q[2] - q[1] for q in qs) for qs in (pre, regular, post)]
    assert spread[1] < spread[0] and spread[1] < spread[2]


def test_options_quote_in_regular_hours_only(market):
    chain = market.options.chain("SPY", xnys().session_at(ns("2026-03-10T12:00")).day)
    sym = chain[len(chain) // 2].symbol
    assert quotes(market, sym, "2026-03-10T08:00", 3600) == []
    assert quotes(market, sym, "2026-03-10T16:00", 3600) == []
    assert quotes(market, sym, "2026-03-10T12:00", 300)


def test_liquid_spreads_are_cents_and_sizes_round_lots(market):
    for sym in ("SPY", "AAPL", "NVDA"):
        qs = quotes(market, sym, "2026-03-10T11:00", 600)
        assert statistics.median(q[2] - q[1] for q in qs) <= 0.03
        assert all(q[1] < q[2] and q[3] % 100 == 0 and q[4] % 100 == 0 and q[3] > 0 for q in qs)
    thin = quotes(market, "THIN", "2026-03-10T11:00", 3600)
    assert statistics.median(q[2] - q[1] for q in thin) >= 0.05
    assert len(thin) / 3600 < len(quotes(market, "SPY", "2026-03-10T11:00", 60)) / 60 / 10  # quotes per second


def test_prices_stay_near_their_configured_level(market):
    for spec in market.config.symbols:
        q = market.latest("q", spec.symbol, ns("2026-03-10T12:00"))
        assert 0.5 * spec.price < (q.bp + q.ap) / 2 < 2 * spec.price


def test_intraday_volatility_follows_sigma(market):
    def realised(sym):
        mids = [(q[1] + q[2]) / 2 for q in quotes(market, sym, "2026-03-10T10:00", 2 * 3600)[::50]]
        return statistics.pstdev(math.log(b / a) for a, b in itertools.pairwise(mids))

    assert realised("TSLA") > 1.5 * realised("SPY")


def test_call_value_increases_with_the_underlying():
    values = [bs_price(True, s, 100, 0.25, 0.04, 0.3) for s in range(80, 121, 5)]
    assert values == sorted(values) and len(set(values)) == len(values)
    puts = [bs_price(False, s, 100, 0.25, 0.04, 0.3) for s in range(80, 121, 5)]
    assert puts == sorted(puts, reverse=True)


def test_put_call_parity_holds_within_the_quoted_spreads(market):
    t = ns("2026-03-10T12:00")
    day = xnys().session_at(t).day
    spot = market.underlying_mid("AAPL", t)
    chain = market.options.chain("AAPL", day)
    pairs = {}
    for c in chain:
        pairs.setdefault((c.expiration, c.strike), {})[c.type] = c
    for pair in pairs.values():
        call, put = pair["call"], pair["put"]
        cv, _, years = market.options.value(call, spot, t)
        pv, _, _ = market.options.value(put, spot, t)
        (cb, ca), (pb, pa) = quote_bounds(cv), quote_bounds(pv)
        parity = spot - call.strike * math.exp(-market.config.risk_free_rate * years)
        assert abs((cv - pv) - parity) < 1e-9
        assert cb - pa <= parity + 1e-9 and parity - 1e-9 <= ca - pb


def test_streamed_option_quotes_straddle_the_model_value(market):
    t = ns("2026-03-10T12:00")
    chain = market.options.chain("NVDA", xnys().session_at(t).day)
    for c in chain[::7]:
        for q in market.events("q", c.symbol, t, t + 120 * NS):
            value, _, _ = market.options.value(c, market.underlying_mid("NVDA", q.t), q.t)
            assert q.bp <= value + 1e-9 <= q.ap + 2e-9 and q.bp < q.ap

"""A scripted trading day on the simulated market, for `make report` on a clean clone (nothing traded yet).

Into a database that has MBT's schema (normally a private throw-away stack, see reports.fill_quality):
the simulated universe's assets, ACCOUNTS accounts (signed up over the weeks before, on all three tiers),
one regular session of marketsim's deterministic quotes (seed SEED, rates scaled by RATE_SCALE so the day
is some 80,000 quotes) fed into md.quotes by COPY, one statement per batch, as the ingestor does (so the
fill engine's trigger sees each batch whole), and ORDERS orders of every type submitted between the
batches through mbt.submit_order at their own times. The scheduled jobs then run for the day as the
scheduler would (day-order expiry at the close, the end-of-day snapshot), each with its as_of.
Everything is a pure function of (day, seed): the same day gives the same report.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from ingest.quotes import COLUMNS, copy_line, quote_row
from marketsim.config import DEFAULT_UNIVERSE, SimConfig
from marketsim.market import SimMarket

SEED = 7
RATE_SCALE = 0.05
ACCOUNTS = 24
ORDERS = 400
TIERS = ("free", "pro", "pro_plus")
# order types and their weights in the day's mix
TYPE_MIX = (("market", 0.40), ("limit", 0.35), ("stop", 0.10), ("stop_limit", 0.05), ("trailing_stop", 0.10))
NEW_YORK = ZoneInfo("America/New_York")
RECEIVE_LAG_NS = 20_000_000  # quotes reach the database 20 ms after their exchange time


@dataclass(frozen=True)
class DayStats:
    day: date
    quotes: int
    batches: int
    orders: int
    rejected: dict[str, int]  # refused submissions by SQLSTATE
    skipped: int  # order times at which the drawn symbol had no quote yet
    fills: int


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _quotes(market: SimMarket, symbols: list[str], open_ns: int, close_ns: int) -> list[tuple]:
    rows = []
    for symbol in symbols:
        for q in market.events("q", symbol, open_ns, close_ns):
            rows.append(quote_row({"S": symbol, **q.fields()}, q.t, q.t + RECEIVE_LAG_NS))
    rows.sort(key=lambda r: r[9])
    return rows


def _copy(conn: psycopg.Connection, rows: list[tuple]) -> None:
    with conn.transaction(), conn.cursor().copy(f"copy md.quotes ({', '.join(COLUMNS)}) from stdin") as copy:
        copy.write("".join(copy_line(r) for r in rows).encode())


def _sign_up(conn: psycopg.Connection, rng: np.random.Generator, day: date) -> list:
    accounts = []
    for i in range(ACCOUNTS):
        tier = TIERS[i % len(TIERS)]
        user_id, account_id = conn.execute(
            "select user_id, account_id from auth.sign_up(%s, 'simulated', %s, interval '1 day')",
            [f"sim-{day:%Y%m%d}-{i:03d}@example.invalid", secrets.token_bytes(32)]).fetchone()
        conn.execute("select auth.set_tier(%s, %s)", [user_id, tier])
        opened = datetime.combine(day - timedelta(days=int(rng.integers(7, 120))), time(12), NEW_YORK)
        conn.execute("update mbt.accounts set created_at = %s where account_id = %s", [opened, account_id])
        conn.execute("update mbt.cash_activities set activity_at = %s where account_id = %s and activity_type = 'CSD'",
                     [opened, account_id])
        accounts.append(account_id)
    return accounts


def _request(rng: np.random.Generator, symbol: str, bid: float, ask: float) -> dict:
    kind = rng.choice([t for t, _ in TYPE_MIX], p=[w for _, w in TYPE_MIX])
    side = "buy" if rng.random() < 0.6 else "sell"
    mid = (bid + ask) / 2
    qty = max(1, round(float(rng.choice([500, 2_000, 5_000, 10_000, 25_000])) / mid))  # $500 to $25,000 worth
    tif = "day" if rng.random() < 0.85 else str(rng.choice(["gtc", "ioc"]))
    body: dict = {"symbol": symbol, "qty": qty, "side": side, "type": str(kind), "time_in_force": tif}
    direction = 1 if side == "buy" else -1
    if kind == "limit":
        # from 10 bps through the mid (marketable) to 30 bps away from it (rests, may fill as prices move)
        body["limit_price"] = f"{mid * (1 + direction * rng.uniform(-0.003, 0.001)):.2f}"
    elif kind in ("stop", "stop_limit"):
        body["time_in_force"] = "day" if tif == "ioc" else tif
        stop = mid * (1 + direction * rng.uniform(0.0002, 0.002))
        body["stop_price"] = f"{stop:.2f}"
        if kind == "stop_limit":
            body["limit_price"] = f"{stop * (1 + direction * 0.001):.2f}"
    elif kind == "trailing_stop":
        body["time_in_force"] = "day" if tif == "ioc" else tif
        body["trail_percent"] = f"{rng.uniform(0.05, 0.3):.2f}"
    return body


def seed(conn: psycopg.Connection, day: date, seed: int = SEED, orders: int = ORDERS) -> DayStats:
    """Script one trading day into the database behind conn (a superuser connection, autocommit)."""
    rng = np.random.default_rng(seed)
    session = conn.execute("select market_open, market_close from md.market_calendar where trading_date = %s",
                           [day]).fetchone()
    if session is None:
        raise ValueError(f"{day} is not an NYSE trading day")
    market_open, market_close = session
    market = SimMarket(SimConfig(seed=seed, rate_scale=RATE_SCALE))
    universe = {s.symbol: s for s in DEFAULT_UNIVERSE}
    symbols = list(universe)
    with conn.transaction():
        conn.execute("set local role dba")
        conn.execute("select md.ensure_quote_partitions(%s, %s)", [day, day])
        for s in DEFAULT_UNIVERSE:
            conn.execute("insert into md.assets (symbol, exchange, name) values (%s, %s, %s) "
                         "on conflict (symbol) do nothing",
                         [s.symbol, s.exchange, s.name])
    accounts = _sign_up(conn, rng, day)
    quotes = _quotes(market, symbols, _ns(market_open), _ns(market_close))
    # liquid names get more of the orders; the thin ones a few
    weights = np.array([universe[s].quote_rate for s in symbols])
    times = np.sort(rng.uniform(_ns(market_open) + 60e9, _ns(market_close) - 120e9, orders)).astype(np.int64)
    latest: dict[str, tuple] = {}
    next_quote, batches, skipped = 0, 0, 0
    rejected: dict[str, int] = {}
    for t in times:
        end = next_quote
        while end < len(quotes) and quotes[end][10] <= t:
            latest[quotes[end][0]] = quotes[end]
            end += 1
        if end > next_quote:
            _copy(conn, quotes[next_quote:end])
            batches += 1
            next_quote = end
        symbol = str(rng.choice(symbols, p=weights / weights.sum()))
        if symbol not in latest:
            skipped += 1
            continue
        q = latest[symbol]
        body = _request(rng, symbol, float(q[1]), float(q[2]))
        at = datetime.fromtimestamp(int(t) // 1000 / 1e6, UTC)
        try:
            with conn.transaction():
                conn.execute("select mbt.submit_order(%s, %s::jsonb, %s)",
                             [accounts[int(rng.integers(len(accounts)))], json.dumps(body), at])
        except psycopg.Error as exc:
            # e.g. a wash trade or not enough buying power: refused (nothing written), as over HTTP
            rejected[exc.sqlstate or "?"] = rejected.get(exc.sqlstate or "?", 0) + 1
    for start in range(next_quote, len(quotes), 5000):
        _copy(conn, quotes[start:start + 5000])
        batches += 1
    runs = conn.execute("select job, as_of from jobs.due_runs(%s, %s) order by as_of",
                        [market_open - timedelta(hours=6), market_close + timedelta(hours=4)]).fetchall()
    for job, as_of in runs:
        conn.execute("select jobs.run_job(%s, %s)", [job, as_of])
    fills = conn.execute("select count(*) from mbt.fills where transaction_time >= %s and transaction_time < %s",
                         [market_open, market_close + timedelta(hours=4)]).fetchone()[0]
    return DayStats(day, len(quotes), batches, len(times), rejected, skipped, fills)

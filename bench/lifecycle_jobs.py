"""`make bench`, lifecycle part: the scheduled jobs at the close, measured on the bench's private stack.

(a) Close-of-day expiry: 100,000 open day orders (limits that never filled, some partially filled) over
    10,000 accounts and 500 symbols, all expiring at the close of DAY; one call of
    mbt.expire_day_orders(close): every order expired, its hold released, an audit row and a trade update
    each. Then the same call again (the idempotent repeat: nothing to do).
(b) End-of-day snapshot: the same 10,000 accounts with 10 positions each (100,000 positions over the 500
    symbols, a closing quote each), one call of mbt.write_eod_snapshots(close), then the repeat (every
    row the same: nothing written). The snapshot covers every account in the database: in the full
    `make bench` run that includes the engine part's accounts, and the report says how many.

Data is written straight into the tables as a superuser, as the engine part does. Runnable alone:
`python -m bench lifecycle_jobs [--durability durable|unsafe|both]` (or `python -m bench.lifecycle_jobs`)
starts fresh private stacks, runs this part and writes bench/lifecycle_jobs.md.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import date

import psycopg

from mbtctl.config import Config

from .figures import Figure

DAY = date(2026, 11, 25)  # a Wednesday: 09:30-16:00 ET (the engine part uses the day before)
ACCOUNTS, SYMBOLS, ORDERS, POSITIONS_PER_ACCOUNT = 10_000, 500, 100_000, 10
TARGET_SECONDS = 10.0  # "seconds": each job at the close well inside a minute


def quick() -> None:
    """`--quick`: a tenth of the accounts and orders (checks the bench itself; its figures mean little)."""
    global ACCOUNTS, ORDERS
    ACCOUNTS, ORDERS = 1_000, 10_000


def at_et(clock: str) -> str:
    return f"{DAY.isoformat()} {clock} America/New_York"


SETUP_SQL = [
    "create schema if not exists lbench",
    """insert into md.assets (symbol, exchange, name)
       select 'L' || lpad(i::text, 3, '0'), 'NASDAQ', 'Lifecycle bench ' || i
       from generate_series(0, %(symbols)s - 1) as i""",
    """create table lbench.symbols as
       select i as n, a.symbol, a.asset_id, round((20 + 480 * random())::numeric, 2) as price
       from generate_series(0, %(symbols)s - 1) as i
       inner join md.assets as a on a.symbol = 'L' || lpad(i::text, 3, '0')""",
    """insert into auth.users (email, password_hash, tier)
       select 'bench-life-' || i || '@example.com', 'not a hash: nobody logs in', 'pro'
       from generate_series(1, %(accounts)s) as i""",
    """insert into mbt.accounts (user_id, cash, created_at)
       select u.user_id, 1000000, %(opened)s from auth.users as u where u.email like 'bench-life-%%'""",
    """create table lbench.accounts as
       select row_number() over (order by a.account_id) - 1 as n, a.account_id
       from mbt.accounts as a inner join auth.users as u on a.user_id = u.user_id
       where u.email like 'bench-life-%%'""",
    "create unique index on lbench.accounts (n)",
    "create unique index on lbench.symbols (n)",
    "select md.ensure_quote_partitions(%(day)s, %(day)s)",
]

# Day limit buys 5-10 % under the price (never marketable); one in ten partially filled.
ORDERS_SQL = """
insert into mbt.orders (
    account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force,
    position_intent, qty, limit_price, status, filled_qty, filled_avg_price, buying_power_held,
    created_at, updated_at, submitted_at, expires_at
)
select
    a.account_id, x.order_id, x.order_id::text, s.symbol, s.asset_id, 'us_equity', 'buy', 'limit', 'day',
    'buy_to_open', 100, p.limit_price, case when x.i %% 10 = 0 then 'partially_filled' else 'new' end::mbt.order_status,
    case when x.i %% 10 = 0 then 40 else 0 end, case when x.i %% 10 = 0 then p.limit_price end,
    case when x.i %% 10 = 0 then 60 else 100 end * p.limit_price,
    %(created)s, %(created)s, %(created)s, %(close)s
from (
    select i, gen_random_uuid() as order_id, i %% %(accounts)s as account_n,
        (i / %(accounts)s) %% %(symbols)s as symbol_n
    from generate_series(0, %(orders)s - 1) as i
) as x
inner join lbench.accounts as a on x.account_n = a.n
inner join lbench.symbols as s on x.symbol_n = s.n
cross join lateral (select round(s.price * (0.90 + 0.05 * random())::numeric, 2) as limit_price) as p
"""

POSITIONS_SQL = """
insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, opened_at, updated_at)
select a.account_id, s.symbol, s.asset_id, 'us_equity',
    case when k.k %% 5 = 0 then -(1 + floor(random() * 100)) else 1 + floor(random() * 100) end,
    round(s.price * (0.9 + 0.2 * random())::numeric, 2), %(created)s, %(created)s
from lbench.accounts as a
cross join generate_series(0, %(per_account)s - 1) as k (k)
inner join lbench.symbols as s on s.n = (a.n * 7 + k.k * 50) %% %(symbols)s
"""

CLOSING_QUOTES_SQL = """
insert into md.quotes (
    symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange, quote_time, received_at
)
select s.symbol, s.price - 0.01, s.price + 0.01, 100, 100, 'Q', 'P', %(at)s::timestamptz,
    %(at)s::timestamptz + interval '5 ms'
from lbench.symbols as s
"""


@dataclass(frozen=True)
class Timed:
    rows: int
    seconds: float


@dataclass(frozen=True)
class LifecycleResults:
    orders: int
    expiry: Timed
    expiry_repeat: Timed
    expired_events: int
    accounts: int
    positions: int
    snapshot: Timed
    snapshot_repeat: Timed
    setup_seconds: float


def timed(db: psycopg.Connection, statement: str, params: list) -> Timed:
    started = time.perf_counter()
    rows = db.execute(statement, params).fetchone()[0]
    return Timed(rows, time.perf_counter() - started)


def run(cfg: Config) -> LifecycleResults:
    params = {"symbols": SYMBOLS, "accounts": ACCOUNTS, "orders": ORDERS, "per_account": POSITIONS_PER_ACCOUNT,
              "day": DAY, "opened": at_et("08:00"), "created": at_et("10:00"), "close": at_et("16:00")}
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        started = time.perf_counter()
        print(f"bench: lifecycle: {ACCOUNTS:,} accounts, {ORDERS:,} open day orders, "
              f"{ACCOUNTS * POSITIONS_PER_ACCOUNT:,} positions", flush=True)
        db.execute("select setseed(0.24)")
        for statement in SETUP_SQL:
            db.execute(statement, params)
        db.execute("set session_replication_role = replica")  # bulk load: skip the foreign-key checks
        try:
            db.execute(ORDERS_SQL, params)
            db.execute(POSITIONS_SQL, params)
        finally:
            db.execute("set session_replication_role = origin")
        db.execute(CLOSING_QUOTES_SQL, {"at": at_et("15:59")})
        for table in ("mbt.orders", "mbt.positions", "mbt.accounts", "mbt.fills", "mbt.cash_activities"):
            db.execute(f"vacuum (analyze) {table}")
        setup = time.perf_counter() - started
        events_before = db.execute("select count(*) from mbt.order_events where event = 'expired'").fetchone()[0]

        print("bench: lifecycle (a): mbt.expire_day_orders at the close", flush=True)
        expiry = timed(db, "select mbt.expire_day_orders(%s)", [at_et("16:00")])
        expiry_repeat = timed(db, "select mbt.expire_day_orders(%s)", [at_et("16:00")])
        events = db.execute("select count(*) from mbt.order_events where event = 'expired'").fetchone()[0]
        events -= events_before
        print(f"bench:     {expiry.rows:,} orders expired in {expiry.seconds:.2f} s; "
              f"repeat {expiry_repeat.seconds:.2f} s", flush=True)

        print("bench: lifecycle (b): mbt.write_eod_snapshots at the close", flush=True)
        snapshot = timed(db, "select mbt.write_eod_snapshots(%s)", [at_et("16:00")])
        snapshot_repeat = timed(db, "select mbt.write_eod_snapshots(%s)", [at_et("16:00")])
        accounts, positions = db.execute(
            "select (select count(*) from mbt.account_snapshots where trading_date = %(day)s), "
            "(select count(*) from mbt.position_snapshots where trading_date = %(day)s)", params).fetchone()
        print(f"bench:     {accounts:,} accounts and {positions:,} positions in {snapshot.seconds:.2f} s; "
              f"repeat {snapshot_repeat.seconds:.2f} s", flush=True)
    return LifecycleResults(ORDERS, expiry, expiry_repeat, events, accounts, positions, snapshot, snapshot_repeat,
                            setup)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def figures(r: LifecycleResults) -> list[Figure]:
    return [
        Figure(f"jobs at the close: expire {r.orders:,} day orders, seconds", f"{r.expiry.seconds:.2f}",
               f"≤ {TARGET_SECONDS:.0f}", r.expiry.seconds <= TARGET_SECONDS and r.expiry.rows == r.orders),
        Figure("jobs at the close: end-of-day snapshot, seconds", f"{r.snapshot.seconds:.2f}",
               f"≤ {TARGET_SECONDS:.0f}", r.snapshot.seconds <= TARGET_SECONDS),
    ]


def section(r: LifecycleResults) -> list[str]:
    return [
        "## Lifecycle jobs at the close",
        "",
        __doc__.split("\n\n")[1].replace("\n    ", " ").replace("\n", " ").strip(),
        "",
        __doc__.split("\n\n")[2].replace("\n    ", " ").replace("\n", " ").strip(),
        "",
        "| Job | Rows | Seconds | Rows/s | Target | Result |",
        "|---|---:|---:|---:|---|---|",
        f"| (a) expire {r.orders:,} day orders at the close "
        f"| {r.expiry.rows:,} expired, {r.expired_events:,} audit rows "
        f"| {r.expiry.seconds:.2f} | {r.expiry.rows / r.expiry.seconds:,.0f} | seconds (≤ {TARGET_SECONDS:.0f} s) "
        f"| {verdict(r.expiry.seconds <= TARGET_SECONDS and r.expiry.rows == r.orders)} |",
        f"| (a) the same again (idempotent) | {r.expiry_repeat.rows:,} | {r.expiry_repeat.seconds:.2f} | | 0 rows "
        f"| {verdict(r.expiry_repeat.rows == 0)} |",
        f"| (b) end-of-day snapshot | {r.accounts:,} accounts, {r.positions:,} positions | {r.snapshot.seconds:.2f} "
        f"| {r.accounts / r.snapshot.seconds:,.0f} accounts/s | seconds (≤ {TARGET_SECONDS:.0f} s) "
        f"| {verdict(r.snapshot.seconds <= TARGET_SECONDS)} |",
        f"| (b) the same again (idempotent) | {r.snapshot_repeat.rows:,} | {r.snapshot_repeat.seconds:.2f} | | 0 rows "
        f"| {verdict(r.snapshot_repeat.rows == 0)} |",
        "",
        f"Set-up (bulk insert of accounts, orders, positions, closing quotes; vacuum): {r.setup_seconds:.1f} s.",
    ]


if __name__ == "__main__":  # the same as `python -m bench lifecycle_jobs`
    from bench.__main__ import main

    sys.exit(main(["lifecycle_jobs", *sys.argv[1:]]))

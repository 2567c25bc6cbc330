"""`make bench`, retention part: tier retention purging 1,000,000 expired rows over 10,000 free accounts
while 32 clients submit orders through the gateway.

Each free account holds 100 rows of New York days more than 90 days before the run's as_of: 10 filled
orders with a fill and two audit rows each (40), 20 cash activities, 20 end-of-day account snapshots and
20 position snapshots (bulk-inserted as a superuser). The purge is the job itself (jobs/tier_retention.py
as mbt_jobs: batches of BATCH_ACCOUNTS accounts, one short transaction each, paced by PAUSE). Order
submission is part (c)'s load (bench/submit.py's wrk, 32 connections, resting $10 limit buys of the bench's
pro_plus users) in MEASURE_SECONDS windows, in one run: one without the purge, then windows with and
without it alternately (the bench holds the job between two batches for a window without it) until it is
done, then one more without it; before each window the load's resting orders are canceled, so that each
starts from the same book. Alternating puts the load's own periodic costs (autovacuum of the tables it
writes, about once a minute) on both sides alike. Target: the order p99 during the purge (mean of its
windows) at most 20 % above the p99 without it (mean of the windows without it).
Runnable alone: `python -m bench tier_retention [--pause 2] [--durability durable|unsafe|both]` (or
`python -m bench.tier_retention ...`) starts fresh private stacks, runs this part and writes
bench/tier_retention.md.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from jobs import tier_retention
from mbtctl.config import Config

from . import cpu, submit
from .figures import Figure

ACCOUNTS, ORDERS_PER_ACCOUNT, DAYS = 10_000, 10, 20  # 10 x (1 + 1 + 2) + 3 x 20 = 100 rows an account
EXPECTED_ROWS = ACCOUNTS * (ORDERS_PER_ACCOUNT * 4 + DAYS * 3)
AS_OF = datetime(2026, 11, 30, 20, 45, tzinfo=ZoneInfo("America/New_York"))  # cut-off 2026-09-01
BATCH_ACCOUNTS, BATCH_LIMIT = tier_retention.ACCOUNTS_PER_BATCH, tier_retention.ROWS_PER_TABLE  # the job's
PAUSE = tier_retention.PAUSE  # defaults: 20 x 100 rows a table (2,000 rows here) a batch, then a pause twice as long
MEASURE_SECONDS = 10
TARGET_P99_RISE = 0.20


def quick() -> None:
    """`--quick`: 500 accounts and 2 s windows (checks the bench itself; its figures mean little)."""
    global ACCOUNTS, EXPECTED_ROWS, MEASURE_SECONDS
    ACCOUNTS, MEASURE_SECONDS = 500, 2
    EXPECTED_ROWS = ACCOUNTS * (ORDERS_PER_ACCOUNT * 4 + DAYS * 3)

SETUP_SQL = [
    "create schema if not exists rbench",
    """insert into md.assets (symbol, exchange, name)
       select 'RB' || lpad(i::text, 2, '0'), 'NASDAQ', 'Retention bench ' || i from generate_series(0, 99) as i
       on conflict do nothing""",
    """insert into auth.users (email, password_hash, tier)
       select 'bench-retention-' || i || '@example.com', 'not a hash: nobody logs in', 'free'
       from generate_series(1, %(accounts)s) as i""",
    """insert into mbt.accounts (user_id, cash, created_at)
       select u.user_id, 100000, '2026-01-02 09:30 America/New_York'
       from auth.users as u where u.email like 'bench-retention-%%'""",
    """create table rbench.accounts as
       select row_number() over (order by a.account_id) - 1 as n, a.account_id
       from mbt.accounts as a inner join auth.users as u on a.user_id = u.user_id
       where u.email like 'bench-retention-%%'""",
    """create table rbench.orders as
       select a.account_id, gen_random_uuid() as order_id, 'RB' || lpad(((a.n + k) %% 100)::text, 2, '0') as symbol,
           ('2026-06-01 10:00 America/New_York'::timestamptz + make_interval(days => k, mins => (a.n %% 300)::int))
               as at
       from rbench.accounts as a cross join generate_series(0, %(orders)s - 1) as k""",
]

BULK_SQL = [
    """insert into mbt.orders (account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type,
           time_in_force, position_intent, qty, status, filled_qty, filled_avg_price, created_at, updated_at,
           submitted_at, filled_at)
       select o.account_id, o.order_id, o.order_id::text, o.symbol, s.asset_id, 'us_equity', 'buy', 'market', 'day',
           'buy_to_open', 10, 'filled', 10, 25, o.at, o.at, o.at, o.at
       from rbench.orders as o inner join md.assets as s on o.symbol = s.symbol""",
    """insert into mbt.fills (account_id, order_id, symbol, side, qty, price, rule, engine_version, quote_id,
           quote_bid_price, quote_ask_price, quote_bid_size, quote_ask_size, quote_bid_exchange, quote_ask_exchange,
           quote_time, cum_qty, leaves_qty, position_qty, transaction_time)
       select o.account_id, o.order_id, o.symbol, 'buy', 10, 25, 'market_at_ask', 'bench', 0, 24.99, 25, 100, 100,
           'Q', 'Q', o.at, 10, 0, 10, o.at
       from rbench.orders as o""",
    """insert into mbt.order_events (account_id, order_id, event, event_at, order_state)
       select o.account_id, o.order_id, e.event, o.at, '{}'::jsonb
       from rbench.orders as o cross join (values ('submitted'), ('fill')) as e (event)""",
    """insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount, description)
       select a.account_id, 'DIV', '2026-06-01 12:00 America/New_York'::timestamptz + make_interval(days => d), 0.01,
           'bench'
       from rbench.accounts as a cross join generate_series(0, %(days)s - 1) as d""",
    """insert into mbt.account_snapshots (account_id, trading_date, closed_at, cash, long_market_value,
           short_market_value, equity, net_deposits)
       select a.account_id, date '2026-06-01' + d, (date '2026-06-01' + d) + time '16:00', 100000, 0, 0, 100000, 100000
       from rbench.accounts as a cross join generate_series(0, %(days)s - 1) as d""",
    """insert into mbt.position_snapshots (account_id, trading_date, symbol, qty, close_price)
       select a.account_id, date '2026-06-01' + d, 'RB' || lpad((a.n %% 100)::text, 2, '0'), 10, 25
       from rbench.accounts as a cross join generate_series(0, %(days)s - 1) as d""",
]


@dataclass
class Load:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    usage: cpu.Usage
    at: float  # when it started (monotonic seconds)

    @property
    def ops(self) -> float:
        return self.requests / self.seconds


@dataclass
class Purge:
    rows: int = 0
    seconds: float = 0.0
    batches: int = 0
    batch_seconds: list[float] = field(default_factory=list)
    repeat_rows: int = -1
    logged: int = -1  # rows the job log says went from the bench's accounts
    left: int = -1  # expired rows of the bench's accounts still there
    error: str | None = None
    ended_at: float | None = None  # when the job returned (perf_counter)


@dataclass(frozen=True)
class RetentionResults:
    without: list[Load]  # the windows without the purge: the first, those between, the last
    during: list[Load]  # the windows with the purge, each ending before the purge did
    purge: Purge
    setup_seconds: float
    pause: float
    uncounted: list[Load] = field(default_factory=list)  # a window with the purge that it ended in

    @property
    def during_p99_ms(self) -> float:
        """The p99 over the purge: the mean of its windows' p99 (wrk reports percentiles per run)."""
        return sum(w.p99_ms for w in self.during) / len(self.during)

    @property
    def without_p99_ms(self) -> float:
        """The p99 without the purge: the mean of the windows without it."""
        return sum(w.p99_ms for w in self.without) / len(self.without)


def clear_book(db: psycopg.Connection) -> None:
    """Cancel the submission load's resting orders (a direct update), so that every window starts from the
    same book: each submission rests, and the growing book alone raises the p99 over a run."""
    db.execute("update mbt.orders set status = 'canceled', canceled_at = now(), buying_power_held = 0 "
               "where symbol = any(%s) and status in ('new', 'accepted', 'partially_filled')", [submit.SUBMIT_SYMBOLS])


def load(cfg: Config, tokens_file: Path, label: str) -> Load:
    url = f"{cfg.base_url}/api/rpc/submit_order"
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        clear_book(db)
    before = cpu.sample(cfg)
    figures = submit.wrk(url, tokens_file, MEASURE_SECONDS)
    usage = cpu.Usage.between(before, cpu.sample(cfg))
    result = Load(label, int(figures["requests"]), figures["duration_us"] / 1e6, figures["latency_p50_us"] / 1000,
                  figures["latency_p99_us"] / 1000, usage, before.at)
    print(f"bench:     {label}: {result.ops:,.0f} orders/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms",
          flush=True)
    return result


def setup(db: psycopg.Connection) -> float:
    started = time.perf_counter()
    params = {"accounts": ACCOUNTS, "orders": ORDERS_PER_ACCOUNT, "days": DAYS}
    for statement in SETUP_SQL:
        db.execute(statement, params)
    db.execute("set session_replication_role = replica")  # bulk load: skip the foreign-key checks
    try:
        for statement in BULK_SQL:
            db.execute(statement, params)
    finally:
        db.execute("set session_replication_role = origin")
    for table in ("mbt.orders", "mbt.fills", "mbt.order_events", "mbt.cash_activities", "mbt.account_snapshots",
                  "mbt.position_snapshots", "mbt.accounts", "auth.users"):
        db.execute(f"vacuum (analyze) {table}")
    return time.perf_counter() - started


def run(cfg: Config, tokens: list[str], tokens_file: Path, pause: float = PAUSE) -> RetentionResults:
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        print(f"bench: retention: {ACCOUNTS:,} free accounts with {EXPECTED_ROWS:,} expired rows", flush=True)
        setup_seconds = setup(db)
        if not db.execute("select exists (select from md.assets where symbol = %s)", [submit.SUBMIT_SYMBOLS[0]]
                          ).fetchone()[0]:
            submit.prepare_symbols(db)  # run alone: part (c) has not made them
        submit.wrk(f"{cfg.base_url}/api/rpc/submit_order", tokens_file, 2)  # warm-up
        print("bench: retention: order submission in windows without and with the purge, alternately", flush=True)
        without = [load(cfg, tokens_file, "without, window 1")]

        purge = Purge()
        # the bench lets the job run only in its windows: between two windows with it, the job waits in
        # on_batch (its batch committed, nothing held) until allowed again
        allowed, parked, done = threading.Event(), threading.Event(), threading.Event()

        def on_batch(rows: int, seconds: float) -> None:
            purge.batches += 1
            purge.batch_seconds.append(seconds)
            if not allowed.is_set():
                parked.set()
                allowed.wait()

        def purge_job() -> None:
            try:
                with psycopg.connect(cfg.dsn(user="mbt_jobs"), autocommit=True) as conn:
                    purge.rows = tier_retention.run(conn, AS_OF, BATCH_ACCOUNTS, BATCH_LIMIT, pause=pause,
                                                    on_batch=on_batch).rows
            except Exception as exc:  # reported by the main thread
                purge.error = f"{type(exc).__name__}: {exc}"
            finally:
                purge.ended_at = time.perf_counter()
                done.set()
                parked.set()

        job = threading.Thread(target=purge_job, daemon=True)
        windows = []
        try:
            while True:  # a window with the purge, then one without it, until the purge is done
                parked.clear()
                allowed.set()
                started = time.perf_counter()
                if not windows:
                    job.start()
                window = load(cfg, tokens_file, f"with the purge, window {len(windows) + 1}")
                purging_to_the_end = not done.is_set()
                allowed.clear()
                parked.wait()  # the batch under way commits before the window without the purge starts
                purge.seconds += (purge.ended_at or time.perf_counter()) - started  # to the job's end, if in it
                windows.append((window, purging_to_the_end))
                if done.is_set():
                    break
                without.append(load(cfg, tokens_file, f"without, window {len(without) + 1}"))
        finally:
            allowed.set()  # never leave the job waiting (a window failed)
        job.join()
        if purge.error:
            raise submit.SubmitError(f"retention: the purge failed: {purge.error}")
        # a window the purge ended in is not "during" it; keep it only if there is no other
        during = [w for w, purging_to_the_end in windows if purging_to_the_end] or [windows[0][0]]
        uncounted = [w for w, _ in windows if all(w is not d for d in during)]
        without.append(load(cfg, tokens_file, f"without, window {len(without) + 1}"))
        with psycopg.connect(cfg.dsn(user="mbt_jobs"), autocommit=True) as conn:
            purge.repeat_rows = tier_retention.run(conn, AS_OF, BATCH_ACCOUNTS, BATCH_LIMIT).rows
        purge.logged = db.execute("""
            select coalesce(sum(orders + order_events + fills + cash_activities + account_snapshots
                                + position_snapshots), 0)
            from jobs.tier_retention_log where as_of = %s and account_id in (select account_id from rbench.accounts)
        """, [AS_OF]).fetchone()[0]
        purge.left = db.execute("""
            with a as (select account_id from rbench.accounts)
            select (select count(*) from mbt.orders where account_id in (select account_id from a))
                 + (select count(*) from mbt.cash_activities where account_id in (select account_id from a)
                    and activity_at < '2026-09-01 00:00 America/New_York')
                 + (select count(*) from mbt.account_snapshots where account_id in (select account_id from a))
                 + (select count(*) from mbt.position_snapshots where account_id in (select account_id from a))
        """).fetchone()[0]
    print(f"bench:     purged {purge.rows:,} rows in {purge.seconds:.1f} s ({purge.rows / purge.seconds:,.0f} rows/s), "
          f"{purge.batches:,} batches; repeat {purge.repeat_rows:,} rows", flush=True)
    return RetentionResults(without, during, purge, setup_seconds, pause, uncounted)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def figures(r: RetentionResults) -> list[Figure]:
    rise = r.during_p99_ms / r.without_p99_ms - 1
    p = r.purge
    return [
        Figure("tier retention: order p99 without the purge", f"{r.without_p99_ms:.1f} ms"),
        Figure("tier retention: order p99 during the purge", f"{r.during_p99_ms:.1f} ms"),
        Figure("tier retention: order p99 change during the purge", f"{rise:+.0%}", f"≤ +{TARGET_P99_RISE:.0%}",
               rise <= TARGET_P99_RISE),
        Figure("tier retention: expired rows purged (the job log; none left)", f"{p.logged:,}", f"{EXPECTED_ROWS:,}",
               p.logged == EXPECTED_ROWS and p.left == 0),
    ]


def section(r: RetentionResults) -> list[str]:
    rise = r.during_p99_ms / r.without_p99_ms - 1
    quiet = r.without
    p = r.purge
    working = sum(p.batch_seconds)
    during_seconds = sum(w.seconds for w in r.during)
    rows = ["| Window | orders/s | p50 ms | p99 ms | PostgreSQL CPUs | other load, CPUs |",
            "|---|---:|---:|---:|---:|---:|"]
    for w in sorted((*r.without, *r.during, *r.uncounted), key=lambda w: w.at):
        note = "; the purge ended in it, not counted" if any(w is u for u in r.uncounted) else ""
        rows.append(f"| {w.label} ({w.seconds:.0f} s{note}) | {w.ops:,.0f} | {w.p50_ms:.2f} | {w.p99_ms:.2f} | "
                    f"{w.usage.components.get('PostgreSQL', 0):.2f} | {w.usage.other:.2f} |")
    return [
        "## Tier retention beside order submission",
        "",
        f"{ACCOUNTS:,} free accounts, {EXPECTED_ROWS:,} rows older than 90 New York days at as_of "
        f"{AS_OF.isoformat()}: per account 10 filled orders with a fill and two audit rows each, 20 cash activities, "
        f"20 account and 20 position snapshots. The job (`jobs/tier_retention.py`) runs as `mbt_jobs` in batches of "
        f"{BATCH_ACCOUNTS} accounts x at most {BATCH_LIMIT} rows per table (one transaction each), pausing "
        f"{r.pause:g}x each batch's time after it. Order submission: part (c)'s wrk load (32 connections, resting "
        f"$10 limit buys of pro_plus users) in {MEASURE_SECONDS} s windows: one without the purge, then with and "
        "without it alternately until it is done (the bench holds the job between two batches for a window without "
        "it; a window the purge ended in does not count), then one more without it. Alternating puts the load's own "
        "periodic costs, such as autovacuum of the tables it writes about once a minute, on both sides alike (run "
        "back to back after two windows before the purge, the load alone showed a p99 of 58 ms in its fifth "
        "window, against 40 ms in its first four). Before each window the load's resting orders are canceled, so "
        "that every window starts from the same book (each submission rests: a growing book alone raises the p99 "
        "over a run, 201 ms to 368 ms in one run without this).",
        "",
        *rows,
        "",
        "| Figure | Value | Target | Result |",
        "|---|---:|---:|---|",
        f"| order p99 during the purge (mean of its {len(r.during)} windows) / without it (mean of its "
        f"{len(quiet)} windows) | {r.during_p99_ms:.2f} / {r.without_p99_ms:.2f} ms = {rise:+.0%} "
        f"| ≤ +{TARGET_P99_RISE:.0%} | {verdict(rise <= TARGET_P99_RISE)} |",
        f"| orders/s during the purge / without it | {sum(w.requests for w in r.during) / during_seconds:,.0f} / "
        f"{sum(w.requests for w in quiet) / sum(w.seconds for w in quiet):,.0f} | | (for information) |",
        f"| purge: rows removed from the bench's accounts, by the job log (all accounts: {p.rows:,}; expired "
        f"rows left: {p.left}) | {p.logged:,} | {EXPECTED_ROWS:,} "
        f"| {verdict(p.logged == EXPECTED_ROWS and p.left == 0)} |",
        f"| purge: rows/s beside the load (its windows, its own pauses included) | {p.rows / p.seconds:,.0f} | | "
        f"{p.seconds:.0f} s |",
        f"| purge: rows/s while working (pauses excluded) | {p.rows / working:,.0f} | | (for information) |",
        f"| purge: batches; transaction p50 / p99 / max | {p.batches:,}; "
        f"{percentile(p.batch_seconds, 50) * 1000:.0f} / "
        f"{percentile(p.batch_seconds, 99) * 1000:.0f} / {max(p.batch_seconds, default=0) * 1000:.0f} ms | | "
        "(how long a batch holds its locks) |",
        f"| the same run again (idempotent) | {p.repeat_rows:,} rows | 0 | {verdict(p.repeat_rows == 0)} |",
        "",
        f"Set-up (bulk insert, vacuum): {r.setup_seconds:.1f} s. The purge's accounts are not the submitting "
        "ones (free users could not submit at this rate): what is measured is what the purge's work costs the "
        "engine, not lock waits (a batch holds locks only on expired rows and, briefly, a key-share lock on its "
        "accounts).",
    ]


if __name__ == "__main__":  # the same as `python -m bench tier_retention`
    from bench.__main__ import main

    sys.exit(main(["tier_retention", *sys.argv[1:]]))

"""`make bench`, part (c): order submission through the gateway at 32 concurrent clients.

wrk POSTs /api/rpc/submit_order (a $10.00 limit buy of one share, GTC, which rests: each holds $10 of
buying power) as the bench's pro_plus users in turn, each with its own account, on SUBMIT_SYMBOLS symbols
that have a latest quote. A new quote for every symbol arrives each second while wrk runs (an ingest batch,
through the engine's trigger), so the latest quote stays fresh (mbt.quote_staleness, 5 s) and every
submission's immediate-fill decision is made against it (a $10 buy the $50.01 ask does not reach is
decided without the engine). Every response must be a 2xx; afterwards the orders in the database must
number at least the 2xx responses counted. The whole path is measured: gateway (JWT, rate limit),
PostgREST, the pre-request session check, validation, the account lock, buying power, the insert, the
audit row and trade update, the fill decision.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from mbtctl.config import Config

from . import cpu
from .figures import Figure

BENCH_DIR = Path(__file__).resolve().parent
WRK = "/usr/bin/wrk"
WRK_SCRIPT = BENCH_DIR / "submit_orders.lua"
THREADS, CONNECTIONS = 2, 32
WARM_UP_SECONDS, MEASURE_SECONDS = 2, 10
COUNTED_SUBMISSIONS = 100  # serial submissions whose SQL statements are counted
SUBMIT_SYMBOLS = [f"SUB{i:02d}" for i in range(20)]
TARGET_OPS, TARGET_P99_MS = 800, 50.0
BODY = {"symbol": SUBMIT_SYMBOLS[0], "qty": 1, "side": "buy", "type": "limit", "limit_price": "10.00",
        "time_in_force": "gtc"}


class SubmitError(RuntimeError):
    pass


def quick() -> None:
    """`--quick`: a few seconds instead of the full run (checks the bench itself; its figures mean little)."""
    global WARM_UP_SECONDS, MEASURE_SECONDS, COUNTED_SUBMISSIONS
    WARM_UP_SECONDS, MEASURE_SECONDS, COUNTED_SUBMISSIONS = 1, 3, 20


@dataclass(frozen=True)
class SubmitResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    users: int
    orders_written: int
    usage: cpu.Usage
    statements_per_order: float

    @property
    def ops(self) -> float:
        return self.requests / self.seconds


QUOTE_SQL = """insert into md.quotes (symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange,
               quote_time, received_at)
               select s, 49.99, 50.01, 100, 100, 'Q', 'Q', now(), now() from unnest(%s::text[]) as s"""


def prepare_symbols(db: psycopg.Connection) -> None:
    """The symbols, each with a fresh quote (its latest), nowhere near $10, and streamed by the ingestor as
    in steady state (md.ingest_subscriptions, which the ingestor keeps; no ingestor runs here): an order on
    a streamed symbol sends no NOTIFY mbt_ingest_symbols, whose commit-time lock would otherwise serialize
    the submissions' commits."""
    for symbol in SUBMIT_SYMBOLS:
        db.execute("insert into md.assets (symbol, exchange, name) values (%s, 'NASDAQ', 'Bench submission')",
                   [symbol])
    db.execute("select mbt.ingest_set_subscriptions(%s)", [SUBMIT_SYMBOLS])
    db.execute("select md.ensure_quote_partitions((now() at time zone 'America/New_York')::date - 1, "
               "(now() at time zone 'America/New_York')::date + 1)")
    db.execute(QUOTE_SQL, [SUBMIT_SYMBOLS])


@contextmanager
def fresh_quotes(cfg: Config) -> Iterator[None]:
    """A new quote for every symbol each second until the block ends, on a connection of its own."""
    stop = threading.Event()

    def quote_every_second() -> None:
        with psycopg.connect(cfg.dsn(), autocommit=True) as db:
            while not stop.wait(1.0):
                db.execute(QUOTE_SQL, [SUBMIT_SYMBOLS])

    thread = threading.Thread(target=quote_every_second, name="bench-quotes", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def wrk(url: str, tokens_file: Path, seconds: int) -> dict[str, float]:
    cmd = [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(WRK_SCRIPT),
           url, "--", str(tokens_file), ",".join(SUBMIT_SYMBOLS)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if proc.returncode != 0:
        raise SubmitError(f"(c) wrk exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    figures = {m[1]: float(m[2]) for m in re.finditer(r"^mbt-bench (\S+) (\S+)$", proc.stdout, re.MULTILINE)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", proc.stdout)
    errors = {key: value for key, value in figures.items() if key.startswith("errors_") and value}
    if non_2xx or errors or not figures.get("requests"):
        raise SubmitError(f"(c) POST {url} under load: {errors or 'no requests'}\n{proc.stdout}")
    return figures



def statements_per_submission(db: psycopg.Connection, url: str, token: str) -> float:
    """SQL statements PostgreSQL executes per submission through the gateway, PostgREST's own and those
    inside functions and triggers included (pg_stat_statements with track = all, over COUNTED_SUBMISSIONS
    serial submissions and nothing else running): a measure of the work that does not drift with the
    machine's speed, as times on a shared machine do."""
    db.execute("create extension if not exists pg_stat_statements")
    db.execute("alter system set pg_stat_statements.track = 'all'")
    db.execute("select pg_reload_conf()")
    time.sleep(1)  # every backend, PostgREST's too, reads the setting at its next statement
    try:
        db.execute("select pg_stat_statements_reset()")
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            for _ in range(COUNTED_SUBMISSIONS):
                response = client.post(url, json=BODY)
                if response.status_code != 200:
                    raise SubmitError(f"(c) counting statements: HTTP {response.status_code}: {response.text[:300]}")
        calls = db.execute("select sum(calls) from pg_stat_statements where query not like '%pg_stat_statements%'"
                           ).fetchone()[0]
    finally:
        db.execute("alter system reset pg_stat_statements.track")
        db.execute("select pg_reload_conf()")
    return float(calls) / COUNTED_SUBMISSIONS


def run(cfg: Config, tokens: list[str], tokens_file: Path) -> SubmitResult:
    url = f"{cfg.base_url}/api/rpc/submit_order"
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        prepare_symbols(db)
        response = httpx.post(url, json=BODY, headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=10)
        if response.status_code != 200 or '"status"' not in response.text:
            raise SubmitError(f"(c) POST {url}: HTTP {response.status_code}: {response.text[:500]}")
        print(f"bench: (c) order submission through the gateway: POST {url}", flush=True)
        count_sql = "select count(*) from mbt.orders where symbol = any(%s)"
        with fresh_quotes(cfg):
            wrk(url, tokens_file, WARM_UP_SECONDS)
            before_orders = db.execute(count_sql, [SUBMIT_SYMBOLS]).fetchone()[0]
            before = cpu.sample(cfg)
            figures = wrk(url, tokens_file, MEASURE_SECONDS)
            usage = cpu.Usage.between(before, cpu.sample(cfg))
        written = db.execute(count_sql, [SUBMIT_SYMBOLS]).fetchone()[0] - before_orders
        statements = statements_per_submission(db, url, tokens[1])
    result = SubmitResult(requests=int(figures["requests"]), seconds=figures["duration_us"] / 1e6,
                          p50_ms=figures["latency_p50_us"] / 1000, p90_ms=figures["latency_p90_us"] / 1000,
                          p99_ms=figures["latency_p99_us"] / 1000, users=len(tokens), orders_written=written,
                          usage=usage, statements_per_order=statements)
    if written < result.requests:
        raise SubmitError(f"(c) {result.requests} submissions answered 2xx but only {written} orders were written")
    print(f"bench:     {result.ops:,.0f} orders/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms", flush=True)
    return result


def figures(r: SubmitResult) -> list[Figure]:
    stack_cpu = sum(r.usage.components.values())
    return [
        Figure("(c) submission through the gateway, orders/s", f"{r.ops:,.0f}", f"≥ {TARGET_OPS}",
               r.ops >= TARGET_OPS),
        Figure("(c) submission, p50 latency", f"{r.p50_ms:.1f} ms"),
        Figure("(c) submission, p99 latency", f"{r.p99_ms:.1f} ms", f"≤ {TARGET_P99_MS:.0f} ms",
               r.p99_ms <= TARGET_P99_MS),
        Figure("(c) submission, CPU ms per order (nginx + PostgREST + PostgreSQL)", f"{stack_cpu / r.ops * 1000:.2f}"),
    ]


def section(r: SubmitResult) -> list[str]:
    ok_ops, ok_p99 = r.ops >= TARGET_OPS, r.p99_ms <= TARGET_P99_MS
    stack_cpu = sum(r.usage.components.values())
    per_order = " / ".join(f"{name} {cores / r.ops * 1000:.2f}" for name, cores in r.usage.components.items())
    per_order += f" (all {stack_cpu / r.ops * 1000:.2f}; wrk {r.usage.wrk / r.ops * 1000:.2f})"
    return [
        "## (c) Order submission through the gateway",
        "",
        f"`POST /api/rpc/submit_order` with `{{\"symbol\": \"SUBnn\", \"qty\": 1, \"side\": \"buy\", \"type\": "
        f"\"limit\", \"limit_price\": \"10.00\", \"time_in_force\": \"gtc\"}}` (rests; holds $10): wrk, {THREADS} "
        f"threads, {CONNECTIONS} connections, {WARM_UP_SECONDS} s warm-up then {MEASURE_SECONDS} s, rotating over "
        f"{r.users} pro_plus users (one account each) and {len(SUBMIT_SYMBOLS)} symbols with a fresh latest quote "
        "(a new one each second, so every submission's immediate-fill decision is made against a fresh quote); "
        f"every response a 2xx; {r.orders_written:,} orders written in the measured run.",
        "",
        "| orders/s | p50 ms | p90 ms | p99 ms | CPU ms per order (nginx / PostgREST / PostgreSQL) "
        "| other load, CPUs |",
        "|---:|---:|---:|---:|---|---:|",
        f"| {r.ops:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} | {per_order} | {r.usage.other:.2f} |",
        "",
        f"SQL statements per submission: {r.statements_per_order:.1f} (pg_stat_statements with track = all over "
        f"{COUNTED_SUBMISSIONS} serial submissions after the run: PostgREST's, the pre-request check's, and those "
        "inside functions and triggers). Unlike the times, this count does not drift with a shared machine's speed.",
        "",
        "| Figure | Value | Target | Result |",
        "|---|---:|---:|---|",
        f"| orders/s | {r.ops:,.0f} | ≥ {TARGET_OPS} | {'PASS' if ok_ops else 'MISS'} |",
        f"| p99 latency | {r.p99_ms:.1f} ms | ≤ {TARGET_P99_MS:.0f} ms | {'PASS' if ok_p99 else 'MISS'} |",
    ]

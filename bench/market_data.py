"""`make bench`, market-data part: the ingestor from marketsim through alpaca-py into md.quotes.

(a) Throughput. THROUGHPUT_QUOTES quotes over SYMBOLS symbols, recorded into a replay file, served by
    marketsim (its own process, manual clock) over a real WebSocket in Alpaca's msgpack protocol; the
    ingestor (alpaca-py StockDataStream, our frame loop, COPY batches of 5,000; in this process) writes
    them into md.quotes, whose statement triggers (latest quotes, the fill engine) run on every batch.
    The clock is moved to the end of the file at once, so marketsim sends as fast as the ingestor reads:
    quotes/s = quotes / (last written - clock moved). The ceiling is a plain COPY of the same rows (the
    bytes prepared beforehand, batches of 5,000, one connection) into md.quotes, one day later (an
    equally empty partition). Also measured: the duplicate-free path (backfill after a reconnect) on
    the same rows, once into an empty day and once again (all duplicates).
(b) Latency. Quotes at 1,000 and 10,000 a second (real time: marketsim's clock runs at speed 1),
    FILL_SHARE of them on symbols with a resting marketable buy limit that every quote partly fills
    (displayed size); the time from each quote's quote_time to the moment its fill row is visible to
    another connection (polled every POLL_SECONDS), p50 / p99. Simulated time is mapped to the wall
    clock through marketsim's /_sim/state.

Targets: (a) >= 50,000 quotes/s and >= 0.5 of the ceiling; (b) p99 <= 250 ms at 10,000 quotes/s.
marketsim, the ingestor, PostgreSQL and the poller share the machine's CPUs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg

from bench import cpu
from ingest.config import IngestConfig
from ingest.quotes import COLUMNS, QuoteWriter, ns_to_datetime
from ingest.service import Ingestor
from marketsim.server import start_subprocess
from mbtctl.config import Config

from .figures import Figure

NY = ZoneInfo("America/New_York")
DAY = date(2026, 11, 17)  # a Tuesday: regular session 09:30-16:00 ET (the engine part uses the 24th)
CEILING_DAY, CHECKED_DAY = date(2026, 11, 18), date(2026, 11, 19)
KEY, SECRET = "bench", "bench"
SYMBOLS, THROUGHPUT_QUOTES = 100, 500_000
CHECKED_QUOTES = 100_000
LATENCY_RATES, LATENCY_SECONDS, LATENCY_SYMBOLS, FILL_SHARE = (1_000, 10_000), 15, 50, 0.1
LEAD_SECONDS = 6  # marketsim starts this long before the first quote: the ingestor connects meanwhile
POLL_SECONDS = 0.002
TARGET_QPS, TARGET_RATIO, TARGET_P99_MS = 50_000, 0.5, 250
BATCH = 5_000


def quick() -> None:
    """`--quick`: a few seconds a run (checks the bench itself; its figures mean little)."""
    global THROUGHPUT_QUOTES, CHECKED_QUOTES, LATENCY_SECONDS
    THROUGHPUT_QUOTES, CHECKED_QUOTES, LATENCY_SECONDS = 20_000, 5_000, 2


@dataclass
class Throughput:
    quotes: int
    seconds: float
    cpu_seconds: float  # this process (the ingestor's threads)
    marketsim_cpu_seconds: float  # marketsim's process (sending)
    postgres_cpu_seconds: float  # PostgreSQL's processes (the COPY and its triggers)
    machine_cpu_seconds: float  # the whole machine, not idle
    ceiling_seconds: float
    checked_new_seconds: float
    checked_dup_seconds: float
    checked_quotes: int

    @property
    def qps(self) -> float:
        return self.quotes / self.seconds

    @property
    def ceiling_qps(self) -> float:
        return self.quotes / self.ceiling_seconds


@dataclass
class Latency:
    rate: int
    quotes: int
    fills: int
    expected_fills: int
    latencies_ms: list[float] = field(default_factory=list)
    ingest_lag_ms: float | None = None

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Results:
    throughput: Throughput
    latencies: list[Latency]


# --- quotes ---------------------------------------------------------------------------------------


def et_ns(day: date, hh: int, mm: int) -> int:
    return int(datetime(day.year, day.month, day.day, hh, mm, tzinfo=NY).timestamp()) * 1_000_000_000


def make_quotes(prefix: str, symbols: int, start_ns: int, rate: float, count: int, seed: int) -> list[dict]:
    """Evenly spaced quotes (rate a second), symbols at random, each a one-cent spread on a random walk."""
    rng = random.Random(seed)
    cents = [rng.randint(2_000, 50_000) for _ in range(symbols)]
    step = 1_000_000_000 / rate
    out = []
    for i in range(count):
        s = rng.randrange(symbols)
        cents[s] += rng.choice((-1, 0, 0, 1))
        out.append({"S": f"{prefix}{s:03d}", "bp": cents[s] / 100, "ap": (cents[s] + 1) / 100,
                    "bs": 100 * rng.randint(1, 10), "as": 100 * rng.randint(1, 10), "bx": "Q", "ax": "P", "c": "R",
                    "z": "C", "t": start_ns + int(i * step)})
    return out


def write_replay(path: Path, quotes: list[dict]) -> None:
    with path.open("w") as fh:
        for q in quotes:
            fh.write(json.dumps(q, separators=(",", ":")) + "\n")


def copy_bytes(quotes: list[dict], shift: timedelta) -> list[bytes]:
    """COPY text batches of the quotes (as the ingestor would write them), shifted in time."""
    batches = []
    for i in range(0, len(quotes), BATCH):
        lines = []
        for q in quotes[i:i + BATCH]:
            t = (ns_to_datetime(q["t"]) + shift).isoformat()
            lines.append(f"{q['S']}\t{q['bp']}\t{q['ap']}\t{q['bs']}\t{q['as']}\tQ\tP\t{{R}}\tC\t{t}\t{t}\n")
        batches.append("".join(lines).encode())
    return batches


# --- marketsim --------------------------------------------------------------------------------------


class Market:
    def __init__(self, replay: Path, *args: str) -> None:
        self.proc, port = start_subprocess(["--replay", str(replay), "--test-hooks", "--max-connections", "0",
                                            "--key", KEY, "--secret", SECRET, *args])
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def state(self) -> dict:
        return self.http.get("/_sim/state").json()

    def subscribed(self) -> set[str]:
        return {s for c in self.state()["connections"] for s in c["subscriptions"]["quotes"]}

    def advance_to(self, ns: int) -> None:
        self.http.post("/_sim/advance", json={"to": ns_to_datetime(ns).isoformat()}).raise_for_status()

    def sim_offset_ns(self) -> int:
        """Simulated now - wall now (the clock runs at speed 1)."""
        best = None
        for _ in range(5):
            w0 = time.time_ns()
            now = self.state()["now_ns"]
            w1 = time.time_ns()
            if best is None or w1 - w0 < best[0]:
                best = (w1 - w0, now - (w0 + w1) // 2)
        return best[1]

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def ingestor(cfg: Config, market: Market, symbols: list[str]) -> Ingestor:
    icfg = IngestConfig.for_marketsim(market.url, KEY, SECRET, dsn=cfg.dsn(user="mbt_jobs"), watchlist=tuple(symbols),
                                      simulated_clock=True, reference_data=False, bars=False, options=False,
                                      stats_seconds=5, reconcile_seconds=3600)
    ing = Ingestor(icfg).start()
    deadline = time.monotonic() + 30
    while not set(symbols) <= market.subscribed():
        if time.monotonic() > deadline:
            raise RuntimeError("the ingestor did not subscribe")
        time.sleep(0.05)
    return ing


def cpu_of(cfg: Config, market: Market) -> tuple[float, float, float]:
    """CPU seconds so far: marketsim's process, PostgreSQL's processes, the whole machine (not idle)."""
    return (cpu.tree_cpu(market.proc.pid), cpu.tree_cpu(cpu.postmaster_pid(cfg)), cpu.machine_busy())


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out waiting for {what}")
        time.sleep(0.005)


# --- (a) throughput ---------------------------------------------------------------------------------


def run_throughput(cfg: Config, work: Path, quotes_n: int) -> Throughput:
    quotes = make_quotes("M", SYMBOLS, et_ns(DAY, 10, 0), 20_000, quotes_n, seed=7)
    replay = work / "throughput.jsonl"
    write_replay(replay, quotes)
    symbols = sorted({q["S"] for q in quotes})
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        for day in (DAY, CEILING_DAY, CHECKED_DAY):
            db.execute("select md.ensure_quote_partitions(%s, %s)", [day, day])
    print(f"bench: (md-a) {quotes_n:,} quotes, {SYMBOLS} symbols: marketsim -> alpaca-py -> md.quotes", flush=True)
    market = Market(replay, "--manual-clock")
    try:
        ing = ingestor(cfg, market, symbols)
        try:
            cpu0, t0, others0 = time.process_time(), time.monotonic(), cpu_of(cfg, market)
            market.advance_to(quotes[-1]["t"] + 1_000_000_000)
            wait(lambda: ing.stats.written >= quotes_n, 600, "the ingest")
            seconds, cpu = time.monotonic() - t0, time.process_time() - cpu0
            others = [b - a for a, b in zip(others0, cpu_of(cfg, market), strict=True)]
        finally:
            ing.stop()
    finally:
        market.stop()
    print(f"bench:     {quotes_n / seconds:,.0f} quotes/s", flush=True)

    batches = copy_bytes(quotes, CEILING_DAY - DAY)
    with psycopg.connect(cfg.dsn(user="mbt_jobs"), autocommit=True) as conn:
        t0 = time.monotonic()
        for batch in batches:
            with conn.cursor().copy(f"copy md.quotes ({', '.join(COLUMNS)}) from stdin") as copy:  # as the ingestor
                copy.write(batch)
        ceiling = time.monotonic() - t0
    print(f"bench:     ceiling (plain COPY of the same rows): {quotes_n / ceiling:,.0f} quotes/s", flush=True)

    writer = QuoteWriter(cfg.dsn(user="mbt_jobs"))
    shift = CHECKED_DAY - DAY
    shift_ns = int(shift.total_seconds()) * 1_000_000_000
    rows = [(q["S"], q["bp"], q["ap"], q["bs"], q["as"], "Q", "P", "{R}", "C", q["t"] + shift_ns, q["t"] + shift_ns)
            for q in quotes[:CHECKED_QUOTES]]
    timings = []
    with psycopg.connect(cfg.dsn(user="mbt_jobs"), autocommit=True) as conn:
        for _ in range(2):  # into an empty day, then the same rows again: all duplicates
            t0 = time.monotonic()
            for i in range(0, len(rows), BATCH):
                writer.write_checked(conn, rows[i:i + BATCH])
            timings.append(time.monotonic() - t0)
    return Throughput(quotes_n, seconds, cpu, *others, ceiling, timings[0], timings[1], len(rows))


# --- (b) latency ------------------------------------------------------------------------------------


OPENED_AT = datetime(2026, 1, 2, 14, 30, tzinfo=UTC)  # the bench accounts' opening, before DAY


def set_up_fills(db: psycopg.Connection, prefix: str, symbols: list[str], as_of: datetime) -> list:
    """md.assets rows for the symbols; on the first FILL_SHARE of them, one account each with a buy limit
    far above the market and far more shares than the stream will ever fill: every quote fills some."""
    db.execute("insert into md.assets (symbol, exchange) select unnest(%s::text[]), 'NASDAQ' on conflict do nothing",
               [symbols])
    accounts = []
    for symbol in symbols[:max(1, round(len(symbols) * FILL_SHARE))]:
        user = db.execute("select user_id, account_id from auth.sign_up(%s, 'x', %s, interval '1 day')",
                          [f"bench-md-{prefix}-{symbol}@example.com", hashlib.sha256(symbol.encode()).digest()]
                          ).fetchone()
        # a deposit of 10^15 before the scripted day, in the ledger as in the balance (the intraday margin level
        # counts an account's deposits until it has a close)
        db.execute("update mbt.accounts set cash = 1e15, created_at = %s where account_id = %s", [OPENED_AT, user[1]])
        db.execute("update mbt.cash_activities set net_amount = 1e15, activity_at = %s "
                   "where account_id = %s and activity_type = 'CSD'", [OPENED_AT, user[1]])
        db.execute("select mbt.submit_order(%s, %s::jsonb, %s)", [user[1], json.dumps({
            "symbol": symbol, "qty": 1_000_000_000, "side": "buy", "type": "limit", "limit_price": "1000.00",
            "time_in_force": "gtc"}), as_of])
        accounts.append(user[1])
    return accounts


def poll_fills(cfg: Config, accounts: list, offset_ns: int, stop: threading.Event, out: list[float]) -> None:
    """Each fill event as soon as another connection sees it: wall time seen - quote_time (as wall time)."""
    last = 0
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "select event_id, extract(epoch from event_at)::numeric * 1e9 from mbt.order_events "
                "where account_id = any(%s) and event_id > %s and fill_id is not null", [accounts, last]).fetchall()
            seen = time.time_ns()
            for event_id, at_ns in rows:
                out.append((seen - (int(at_ns) - offset_ns)) / 1e6)
                last = max(last, event_id)
            time.sleep(POLL_SECONDS)


def run_latency(cfg: Config, work: Path, rate: int, hour: int) -> Latency:
    prefix = f"L{rate // 1000}K"
    start_ns = et_ns(DAY, hour, 0)
    quotes = make_quotes(prefix, LATENCY_SYMBOLS, start_ns, rate, rate * LATENCY_SECONDS, seed=rate)
    symbols = sorted({q["S"] for q in quotes})
    replay = work / f"latency-{rate}.jsonl"
    write_replay(replay, quotes)
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        accounts = set_up_fills(db, prefix, symbols, ns_to_datetime(et_ns(DAY, 9, 31)))
    fill_symbols = set(symbols[:len(accounts)])
    expected = sum(1 for q in quotes if q["S"] in fill_symbols)
    print(f"bench: (md-b) {rate:,} quotes/s for {LATENCY_SECONDS} s, {len(accounts)} of {len(symbols)} symbols "
          "with a resting marketable order", flush=True)
    market = Market(replay, "--start", ns_to_datetime(start_ns - LEAD_SECONDS * 1_000_000_000).isoformat())
    latencies: list[float] = []
    try:
        ing = ingestor(cfg, market, symbols)
        offset = market.sim_offset_ns()
        if offset + time.time_ns() >= start_ns - 500_000_000:
            raise RuntimeError("the ingestor was not ready before the first quote")
        stop = threading.Event()
        poller = threading.Thread(target=poll_fills, args=(cfg, accounts, offset, stop, latencies), daemon=True)
        poller.start()
        try:
            end_wall = (quotes[-1]["t"] - offset) / 1e9 + 1.0
            time.sleep(max(0.0, end_wall - time.time()))
            wait(lambda: ing.stats.written >= len(quotes) and len(latencies) >= expected, 30, "the last fills")
            lag = ing.figures(1.0)["lag_p50_ms"]
        finally:
            stop.set()
            poller.join(timeout=10)
            ing.stop()
    finally:
        market.stop()
    result = Latency(rate, len(quotes), len(latencies), expected, latencies, lag)
    print(f"bench:     {result.fills:,} fills, quote-to-fill p50 {result.pct(50):.0f} ms, p99 {result.pct(99):.0f} ms",
          flush=True)
    return result


def run(cfg: Config, work: Path | None = None, quotes: int | None = None) -> Results:
    logging.getLogger("ingest").setLevel(logging.WARNING)
    work = work or cfg.data_dir / "market-data"
    work.mkdir(parents=True, exist_ok=True)
    throughput = run_throughput(cfg, work, quotes or THROUGHPUT_QUOTES)
    latencies = [run_latency(cfg, work, rate, 11 + i) for i, rate in enumerate(LATENCY_RATES)]
    return Results(throughput, latencies)


# --- the report -------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def figures(r: Results) -> list[Figure]:
    t = r.throughput
    ratio = t.qps / t.ceiling_qps
    out = [
        Figure("market data (a): ingest from marketsim, quotes/s", f"{t.qps:,.0f}", f"≥ {TARGET_QPS:,}",
               t.qps >= TARGET_QPS),
        Figure("market data (a): ceiling, plain COPY on the same stack, quotes/s", f"{t.ceiling_qps:,.0f}"),
        Figure("market data (a): ingest / ceiling", f"{ratio:.2f}", f"≥ {TARGET_RATIO}", ratio >= TARGET_RATIO),
    ]
    for lat in r.latencies:
        target = lat.rate >= 10_000
        out.append(Figure(f"market data (b): quote to fill p99 at {lat.rate:,} quotes/s", f"{lat.pct(99):.0f} ms",
                          f"≤ {TARGET_P99_MS} ms" if target else "",
                          lat.pct(99) <= TARGET_P99_MS and lat.fills >= lat.expected_fills if target else None))
    return out


def render(r: Results) -> list[str]:
    t = r.throughput
    ratio = t.qps / t.ceiling_qps
    lines = [
        "## Market data: marketsim -> alpaca-py -> ingestor -> md.quotes",
        "",
        f"(a) {t.quotes:,} quotes over {SYMBOLS} symbols from marketsim (its own process, manual clock moved to the "
        "end at once) over a WebSocket in Alpaca's msgpack protocol (uncompressed: marketsim declines "
        "permessage-deflate by default), read by alpaca-py's StockDataStream with the ingestor's frame loop, written "
        "in COPY batches of up to 5,000 into md.quotes (its triggers, latest quotes "
        "and the fill engine, run on every batch). Ceiling: a plain COPY of the same rows, prepared beforehand, "
        "into md.quotes.",
        "",
        "| Figure | Value | Target | Result |", "|---|---:|---:|---|",
        f"| ingest, quotes/s | {t.qps:,.0f} | ≥ {TARGET_QPS:,} | {verdict(t.qps >= TARGET_QPS)} |",
        f"| plain COPY (ceiling), quotes/s | {t.ceiling_qps:,.0f} | | |",
        f"| ingest / ceiling | {ratio:.2f} | ≥ {TARGET_RATIO} | {verdict(ratio >= TARGET_RATIO)} |",
        f"| ingestor CPU per quote (its process) | {t.cpu_seconds / t.quotes * 1e6:.1f} µs | | |",
        f"| marketsim CPU per quote (sending) | {t.marketsim_cpu_seconds / t.quotes * 1e6:.1f} µs | | |",
        f"| PostgreSQL CPU per quote, ingest / ceiling | {t.postgres_cpu_seconds / t.quotes * 1e6:.1f} µs / "
        f"{t.ceiling_seconds / t.quotes * 1e6:.1f} µs (at most: its wall time) | | |",
        f"| machine busy during the ingest, CPUs | {t.machine_cpu_seconds / t.seconds:.2f} of {os.cpu_count()} | | |",
        f"| duplicate-free path (backfill), new quotes, quotes/s | {t.checked_quotes / t.checked_new_seconds:,.0f} | | "
        "(for information) |",
        f"| duplicate-free path, all duplicates, quotes/s | {t.checked_quotes / t.checked_dup_seconds:,.0f} | | "
        "(for information) |",
        "",
        f"(b) Quotes in real time (marketsim's clock at speed 1), {LATENCY_SYMBOLS} symbols, {FILL_SHARE:.0%} of them "
        "with a resting marketable buy limit that every quote partly fills (displayed size); latency from a quote's "
        f"quote_time to its fill row being visible to another connection (polled every {POLL_SECONDS * 1000:.0f} ms).",
        "",
        "| Rate, quotes/s | Quotes | Fills (expected) | p50 ms | p99 ms | max ms | Target p99 | Result |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for lat in r.latencies:
        target = lat.rate >= 10_000
        ok = lat.pct(99) <= TARGET_P99_MS and lat.fills >= lat.expected_fills
        result = verdict(ok) if target else "(for information)"
        lines.append(f"| {lat.rate:,} | {lat.quotes:,} | {lat.fills:,} ({lat.expected_fills:,}) | {lat.pct(50):.0f} | "
                     f"{lat.pct(99):.0f} | {max(lat.latencies_ms, default=float('nan')):.0f} | "
                     f"{'≤ ' + str(TARGET_P99_MS) if target else ''} | {result} |")
    lines += ["", "A quote waits up to the flush interval (100 ms) for its batch: about half of it is in every p50. "
              "The ceiling is PostgreSQL alone on prepared bytes; the ingest shares the machine's CPUs with marketsim "
              "(sending) and PostgreSQL, and the ingestor is one Python process (one core at most)."]
    return lines


def report_header(cfg: Config) -> list[str]:
    return [f"# MBT bench: market data ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"]

"""`make bench`, engine part: the fill engine under a quote feed, measured on the bench's private stack.

(a) Throughput. 100,000 resting orders over 10,000 accounts and 500 symbols (mostly limits that rest; some
    stops and stop-limits; a few per cent become marketable or trigger as the prices drift), then 1,000,000
    quotes in COPY batches of 5,000, as the ingestor sends them, into md.quotes: its statement triggers
    (latest quote per symbol, then the fill engine) run on every batch. The ceiling is the same COPY of
    the same bytes into bench.quotes_plain: md.quotes' columns, defaults, constraints and indexes,
    partitioned by New York day the same way, without any trigger. The two go batch by batch, the
    ceiling's COPY of a batch and then the engine's, so that both see the machine in the same state.
(b) Scaling. The same batch shape (5,000 quotes over the 500 symbols) with the same number of orders hit
    per batch (HIT_PER_BATCH fresh marketable limits, one per symbol on as many symbols), at 10k, 100k and
    1M resting orders that the batch's prices never reach: the cost of a batch should follow the orders
    it hits, not the orders resting.
EXPLAIN (ANALYZE, BUFFERS) of the engine's statement on one batch comes from auto_explain (the statement
runs inside the trigger, where EXPLAIN cannot reach): where the time goes, node by node.

The data is written straight into the tables as a superuser (accounts, assets, resting orders): the bench
measures the engine, not sign-up or submission. Quotes are on one regular session day, DAY below.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql

from mbtctl.config import Config

from .figures import Figure

DAY = date(2026, 11, 24)  # a Tuesday: a regular XNYS session, 09:30-16:00 ET
ACCOUNTS, SYMBOLS = 10_000, 500
RESTING = 100_000
QUOTES, BATCH = 1_000_000, 5_000
SCALE_SIZES = (10_000, 100_000, 1_000_000)
SCALE_BATCHES = 3  # measured batches per size (after one warm-up batch while batches are quick)
# Time caps that keep `make bench` near 10 minutes when the engine is slow: the engine-on ingest of (a) stops
# after ENGINE_CAP_SECONDS (the report then says how many of the quotes went in); (b) measures at least one
# batch per size and stops a size after SCALE_CAP_SECONDS; batches slower than WARM_UP_BELOW_MS get no warm-up.
ENGINE_CAP_SECONDS = 120
SCALE_CAP_SECONDS = 40
WARM_UP_BELOW_MS = 2_000
HIT_PER_BATCH = 250  # orders each scaling batch fills: one per symbol on half the symbols
TARGET_QPS = 50_000
TARGET_CEILING_RATIO = 0.5
TARGET_SCALE_RATIO = 1.5  # 1M / 10k ms per batch: "near 1"; up to 1.5 passes
QUOTE_COLUMNS = ("symbol", "bid_price", "ask_price", "bid_size", "ask_size", "bid_exchange", "ask_exchange",
                 "tape", "quote_time", "received_at")
RESTING_STATUSES = "('new', 'partially_filled', 'accepted')"


def quick() -> None:
    """`--quick`: every size cut to a few seconds' run (checks the bench itself; its figures mean little)."""
    global ACCOUNTS, RESTING, QUOTES, SCALE_SIZES, SCALE_BATCHES, ENGINE_CAP_SECONDS, SCALE_CAP_SECONDS
    ACCOUNTS, RESTING, QUOTES = 1_000, 10_000, 50_000
    SCALE_SIZES, SCALE_BATCHES, ENGINE_CAP_SECONDS, SCALE_CAP_SECONDS = (1_000, 10_000, 100_000), 1, 20, 10


@dataclass(frozen=True)
class Ingest:
    """One pass of the quote stream into a table."""

    table: str
    quotes: int
    batches: int
    seconds: float
    batch_ms: list[float]
    fills: int = 0

    @property
    def qps(self) -> float:
        return self.quotes / self.seconds

    @property
    def fills_per_second(self) -> float:
        return self.fills / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.batch_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class ScalePoint:
    resting: int
    batch_ms: list[float]
    fills: list[int]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.batch_ms)


@dataclass
class EngineResults:
    quotes: int
    batches: int
    resting_orders: int
    fill_mix: dict[str, int]
    ceiling: Ingest
    engine: Ingest
    scale: list[ScalePoint] = field(default_factory=list)
    explain_resting: int = 0
    explain: dict | None = None  # auto_explain's JSON plan of the engine statement on one batch
    explain_ms: float = 0.0
    setup_seconds: dict[str, float] = field(default_factory=dict)
    lifecycle: object | None = None  # bench.lifecycle_engine.LifecycleResult


# --- the market: assets, accounts -----------------------------------------------------------------


SETUP_SQL = [
    "create schema bench",
    # symbols B000..B499, a base price each, half drifting down 1 % over the stream, half up
    """insert into md.assets (symbol, exchange, name)
       select 'B' || lpad(i::text, 3, '0'), 'NASDAQ', 'Bench ' || i from generate_series(0, %(symbols)s - 1) as i""",
    """create table bench.symbols as
       select i as n, a.symbol, a.asset_id, round((20 + 480 * random())::numeric, 2) as base_price,
           case when i %% 2 = 0 then -0.01 else 0.01 end as drift
       from generate_series(0, %(symbols)s - 1) as i
       inner join md.assets as a on a.symbol = 'B' || lpad(i::text, 3, '0')""",
    """insert into auth.users (email, password_hash, tier)
       select 'bench-engine-' || i || '@example.com', 'not a hash: nobody logs in', 'pro_plus'
       from generate_series(1, %(accounts)s) as i""",
    """insert into mbt.accounts (user_id, cash)
       select u.user_id, 1000000 from auth.users as u where u.email like 'bench-engine-%%'""",
    """create table bench.accounts as
       select row_number() over (order by a.account_id) - 1 as n, a.account_id
       from mbt.accounts as a inner join auth.users as u on a.user_id = u.user_id
       where u.email like 'bench-engine-%%'""",
    "create unique index on bench.accounts (n)",
    "create unique index on bench.symbols (n)",
    "select md.ensure_quote_partitions(%(day)s, %(day)s)",
    # the ceiling's table: md.quotes without its triggers, partitioned by New York day the same way
    """create table bench.quotes_plain (like md.quotes including defaults including constraints including indexes)
       partition by range (quote_time)""",
    """create table bench.quotes_plain_day partition of bench.quotes_plain
       for values from ({day}::timestamp at time zone 'America/New_York')
       to (({day}::date + 1)::timestamp at time zone 'America/New_York')""",
]


def set_up_market(db: psycopg.Connection) -> None:
    db.execute("select setseed(0.42)")
    for statement in SETUP_SQL:
        if "{day}" in statement:  # partition bounds take no parameters
            db.execute(sql.SQL(statement).format(day=sql.Literal(DAY)))
        else:
            db.execute(statement, {"symbols": SYMBOLS, "accounts": ACCOUNTS, "day": DAY})


# --- the orders -----------------------------------------------------------------------------------

# One INSERT ... SELECT for a set of resting orders. Each (account, symbol) has one side (no wash trades):
# buy when account + symbol is even. Prices sit a fraction u away from the symbol's base price, on the
# side that does not fill: buy limits and sell stops below, sell limits and buy stops above. Stop-limits
# have their limit 0.5 % past the stop. Holds as the submission computes them (shorts at max(limit, 1.03 x price)).
ORDERS_SQL = """
insert into mbt.orders (
    account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force,
    position_intent, qty, limit_price, stop_price, status, buying_power_held, created_at, updated_at,
    submitted_at, expires_at
)
select
    a.account_id, x.order_id, x.order_id::text, s.symbol, s.asset_id, 'us_equity', k.side, k.order_type, 'gtc',
    case when k.side = 'buy' then 'buy_to_open' else 'sell_to_open' end::mbt.position_intent,
    x.qty, p.limit_price, p.stop_price, 'new',
    ceil(x.qty * case when k.side = 'buy' then coalesce(p.limit_price, p.stop_price)
        else greatest(coalesce(p.limit_price, 0), s.base_price * 1.03) end * 100) / 100,
    %(at)s, %(at)s, %(at)s, %(at)s::timestamptz + interval '90 days'
from (
    select
        i, gen_random_uuid() as order_id, (%(first)s + i) %% %(accounts)s as account_n,
        floor(random() * %(symbols)s)::integer as symbol_n, random() as r_type,
        (%(u_min)s + (%(u_max)s - %(u_min)s) * random())::numeric as u, 1 + floor(random() * 100)::numeric as qty
    from generate_series(0, %(count)s - 1) as i
) as x
inner join bench.accounts as a on x.account_n = a.n
inner join bench.symbols as s on x.symbol_n = s.n
cross join lateral (
    select
        case when (x.account_n + x.symbol_n) %% 2 = 0 then 'buy' else 'sell' end::mbt.order_side as side,
        case when x.r_type < %(limit_share)s then 'limit' when x.r_type < %(stop_share)s then 'stop'
            else 'stop_limit' end::mbt.order_type as order_type
) as k
cross join lateral (
    select round(s.base_price * case
        when (k.side = 'buy') = (k.order_type = 'limit') then 1 - x.u else 1 + x.u end, 2) as level
) as l
cross join lateral (
    select
        case
            when k.order_type = 'limit' then l.level
            when k.order_type = 'stop_limit' then round(l.level * case when k.side = 'buy' then 1.005 else 0.995 end, 2)
        end as limit_price,
        case when k.order_type <> 'limit' then l.level end as stop_price
) as p
"""

# Marketable buy limits, one each on HIT_PER_BATCH symbols: each fills at its symbol's first quote of the batch.
HIT_ORDERS_SQL = """
insert into mbt.orders (
    account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force,
    position_intent, qty, limit_price, status, buying_power_held, created_at, updated_at, submitted_at, expires_at
)
select
    a.account_id, x.order_id, x.order_id::text, s.symbol, s.asset_id, 'us_equity', 'buy', 'limit', 'gtc',
    'buy_to_open', x.qty, round(s.base_price * 1.05, 2), 'new', ceil(x.qty * round(s.base_price * 1.05, 2) * 100) / 100,
    %(at)s, %(at)s, %(at)s, %(at)s::timestamptz + interval '90 days'
from (
    select i, gen_random_uuid() as order_id, 1 + floor(random() * 100) as qty
    from generate_series(0, %(count)s - 1) as i
) as x
inner join bench.symbols as s on s.n = x.i * 2
inner join bench.accounts as a on a.n = (%(seed)s * 7919 + x.i * 104729) %% %(accounts)s
"""


def insert_orders(db: psycopg.Connection, count: int, first: int, at: str, *, far: bool) -> None:
    """Resting orders. Realistic: u in [0.2 %, 10 %], 80 % limits, 10 % stops, 10 % stop-limits: with the
    stream's 1 % drift a few per cent become marketable. Far: u in [20 %, 50 %]: never reached."""
    params = {"count": count, "first": first, "at": at, "accounts": ACCOUNTS, "symbols": SYMBOLS,
              "u_min": 0.2 if far else 0.002, "u_max": 0.5 if far else 0.10,
              "limit_share": 0.8, "stop_share": 0.9}
    db.execute("set session_replication_role = replica")  # bulk load: skip the foreign-key checks
    try:
        db.execute(ORDERS_SQL, params)
    finally:
        db.execute("set session_replication_role = origin")


def resting_count(db: psycopg.Connection) -> int:
    """Resting orders on the bench's symbols (others, e.g. part (c)'s on its own symbols, are not quoted here)."""
    return db.execute(f"select count(*) from mbt.orders where status in {RESTING_STATUSES} "  # noqa: S608
                      "and symbol in (select symbol from bench.symbols)").fetchone()[0]


checkpoints_taken = 0  # by checkpoint() below: the report tells them from those the WAL's volume brought


def checkpoint(db: psycopg.Connection) -> None:
    """Before each measured run: a checkpoint the set-up's writes would bring then falls after it, not inside
    it, on either stack (a durable one then writes a full page image at each page's first change: the
    costlier start)."""
    global checkpoints_taken
    db.execute("checkpoint")
    checkpoints_taken += 1


def analyze(db: psycopg.Connection) -> None:
    db.execute("vacuum (analyze) mbt.orders")
    db.execute("vacuum (analyze) mbt.trailing_marks")
    db.execute("analyze mbt.accounts")
    db.execute("analyze mbt.positions")


# --- the quotes -----------------------------------------------------------------------------------

# The stream: steps of one quote per symbol, 100 ms apart (symbols 0.15 ms apart within a step), so quote
# times increase through the stream; received 5 ms after. Each symbol's midpoint starts at its base price,
# drifts linearly by its drift (-1 % or +1 %) over drift_steps steps and swings by up to 2 x wiggle (a sine
# of 126 steps, i.e. 12.6 batches), so orders near the price fill from the first batches on and others as
# the drift reaches them; the spread is 0.02 % of the price, at least a cent; displayed sizes 100 to 1,000.
QUOTES_SQL = """
copy (
    select
        s.symbol, q.bid, q.bid + q.spread, q.bid_size, q.ask_size, q.bid_exchange, q.ask_exchange, 'C',
        %(start)s::timestamptz + st.step * interval '100 ms' + s.n * interval '150 us',
        %(start)s::timestamptz + st.step * interval '100 ms' + s.n * interval '150 us' + interval '5 ms'
    from generate_series(0, %(steps)s - 1) as st (step)
    cross join bench.symbols as s
    cross join lateral (
        select s.base_price * (1 + s.drift * st.step / %(drift_steps)s::numeric
            + %(wiggle)s * (sin(st.step / 20.0 + s.n) - sin(s.n))::numeric) as mid,
            greatest(round(s.base_price * 0.0002, 2), 0.01) as spread
    ) as m
    cross join lateral (
        select
            round(m.mid - m.spread / 2, 2) as bid, m.spread,
            (1 + floor(random() * 10)) * 100 as bid_size, (1 + floor(random() * 10)) * 100 as ask_size,
            (array['Q', 'P', 'N', 'Z'])[1 + (st.step + s.n) %% 4] as bid_exchange,
            (array['Q', 'P', 'N', 'Z'])[1 + (st.step + s.n + 1) %% 4] as ask_exchange
    ) as q
    order by st.step, s.n
) to stdout
"""


def quote_batches(db: psycopg.Connection, start: str, quotes: int, drift_steps: int | None) -> list[bytes]:
    """The stream in COPY text format, cut into batches of BATCH lines; drift_steps None: no drift."""
    steps = quotes // SYMBOLS
    params = {"start": start, "steps": steps, "drift_steps": drift_steps or 10**12,
              "wiggle": 0.003 if drift_steps else 0.0005}
    with db.cursor().copy(QUOTES_SQL, params) as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    lines = data.splitlines(keepends=True)
    return [b"".join(lines[i:i + BATCH]) for i in range(0, len(lines), BATCH)]


def copy_batch(db: psycopg.Connection, table: str, batch: bytes) -> float:
    """One COPY statement (its own transaction: autocommit); milliseconds."""
    schema, name = table.split(".")
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(map(sql.Identifier, QUOTE_COLUMNS)))
    started = time.perf_counter()
    with db.cursor().copy(statement) as copy:
        copy.write(batch)
    return (time.perf_counter() - started) * 1000


def fill_count(db: psycopg.Connection) -> int:
    return db.execute("select count(*) from mbt.fills").fetchone()[0]


def ingest_interleaved(db: psycopg.Connection, batches: list[bytes],
                       cap_seconds: float) -> tuple[Ingest, Ingest]:
    """The ceiling and the engine batch by batch: each batch by COPY into bench.quotes_plain, then into
    md.quotes. A shared machine's speed drifts by a factor of two and more over minutes; measured one
    whole run after the other, the ratio of the two measured that drift as much as the engine. Each
    rate is over its own batches' time; with cap_seconds, both stop when the engine's batches took that."""
    fills_before = fill_count(db)
    ceiling_ms, engine_ms = [], []
    for batch in batches:
        ceiling_ms.append(copy_batch(db, "bench.quotes_plain", batch))
        engine_ms.append(copy_batch(db, "md.quotes", batch))
        if sum(engine_ms) / 1000 > cap_seconds:
            break
    quotes = sum(batch.count(b"\n") for batch in batches[:len(engine_ms)])
    return (Ingest("bench.quotes_plain", quotes, len(ceiling_ms), sum(ceiling_ms) / 1000, ceiling_ms),
            Ingest("md.quotes", quotes, len(engine_ms), sum(engine_ms) / 1000, engine_ms,
                   fill_count(db) - fills_before))


# --- EXPLAIN of the engine inside the trigger ------------------------------------------------------


def explained_batch(db: psycopg.Connection, table: str, batch: bytes) -> tuple[float, dict | None]:
    """Run one batch with auto_explain on (analyze, buffers, nested statements, JSON, sent to us as a
    NOTICE) and return its time and the plan of the engine's statement: the nested plan that inserts fills."""
    plans: list[dict] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        text = diag.message_primary or ""
        if "plan:" in text:
            with contextlib.suppress(ValueError):
                plans.append(json.loads(text.split("plan:", 1)[1]))

    db.add_notice_handler(on_notice)
    try:
        for statement in ("load 'auto_explain'", "set auto_explain.log_min_duration = 0",
                          "set auto_explain.log_analyze = on", "set auto_explain.log_buffers = on",
                          "set auto_explain.log_timing = on", "set auto_explain.log_nested_statements = on",
                          "set auto_explain.log_format = 'json'", "set auto_explain.log_level = 'notice'"):
            db.execute(statement)
        ms = copy_batch(db, table, batch)
        db.execute("set auto_explain.log_min_duration = -1")
    finally:
        db.remove_notice_handler(on_notice)
    engine = [p for p in plans if "mbt.fills" in json.dumps(p) and "insert into mbt.fills" in
              p.get("Query Text", "").lower()]
    return ms, (engine or [None])[0]


def plan_nodes(plan: dict) -> list[dict]:
    """Every node of an EXPLAIN (ANALYZE, FORMAT JSON) plan with its depth and its own (exclusive) time:
    its total time x loops less its children's (CTE scans read work their CTE already counts)."""
    nodes: list[dict] = []

    def walk(node: dict, depth: int) -> None:
        total = node.get("Actual Total Time", 0.0) * node.get("Actual Loops", 1)
        children = node.get("Plans", [])
        child_total = sum(c.get("Actual Total Time", 0.0) * c.get("Actual Loops", 1) for c in children)
        # a CTE Scan's time is mostly its CTE's, which the CTE's own nodes already show: count none of it
        own = 0.0 if node.get("Node Type") == "CTE Scan" else max(total - child_total, 0.0)
        nodes.append({"depth": depth, "node": node, "total_ms": total, "self_ms": own})
        for child in children:
            walk(child, depth + 1)

    walk(plan["Plan"], 0)
    return nodes


def describe(node: dict) -> str:
    parts = [node.get("Node Type", "?")]
    if node.get("Parent Relationship") == "InitPlan" or node.get("Subplan Name"):
        parts.append(f"[{node.get('Subplan Name', 'InitPlan')}]")
    if node.get("Strategy") and node["Node Type"] == "Aggregate":
        parts[0] = f"{node['Strategy']} {parts[0]}"
    if node.get("Relation Name"):
        parts.append(f"on {node.get('Schema', '')}.{node['Relation Name']}".replace("on .", "on "))
    if node.get("Index Name"):
        parts.append(f"using {node['Index Name']}")
    if node.get("CTE Name"):
        parts.append(f"CTE {node['CTE Name']}")
    if node.get("Function Name"):
        parts.append(f"function {node['Function Name']}")
    if node.get("Join Type") and node["Node Type"].endswith(("Join", "Loop")):
        parts.append(f"({node['Join Type']})")
    return " ".join(parts)


# --- the runs -------------------------------------------------------------------------------------


def at_et(clock: str) -> str:
    return f"{DAY.isoformat()} {clock} America/New_York"


def run_throughput(db: psycopg.Connection, results_setup: dict[str, float], quotes: int) -> EngineResults:
    t = time.perf_counter()
    insert_orders(db, RESTING, 0, at_et("09:45"), far=False)
    analyze(db)
    resting = resting_count(db)
    mix = dict(db.execute(f"""select o.order_type::text || ' ' || o.side::text, count(*) from mbt.orders as o
        where o.status in {RESTING_STATUSES} and o.symbol in (select symbol from bench.symbols)
        group by 1 order by 1""").fetchall())  # noqa: S608
    results_setup[f"{RESTING // 1000:,}k resting orders (insert + analyze)"] = time.perf_counter() - t

    t = time.perf_counter()
    batches = quote_batches(db, at_et("10:00"), quotes, drift_steps=quotes // SYMBOLS)
    results_setup[f"{quotes:,} quotes generated (COPY TO)"] = time.perf_counter() - t
    print(f"bench: engine (a): {quotes:,} quotes in {len(batches)} batches, each by plain COPY (the ceiling) and "
          f"into md.quotes, engine on, {resting:,} resting orders", flush=True)
    checkpoint(db)
    ceiling, engine = ingest_interleaved(db, batches, cap_seconds=ENGINE_CAP_SECONDS)
    print(f"bench:     ceiling {ceiling.qps:,.0f} quotes/s; engine on {engine.qps:,.0f} quotes/s, "
          f"{engine.fills:,} fills ({engine.fills_per_second:,.0f}/s)", flush=True)
    return EngineResults(quotes, len(batches), resting, mix, ceiling, engine, setup_seconds=results_setup)


def run_scaling(db: psycopg.Connection, results: EngineResults, explain_at: int) -> None:
    """(b): cancel what (a) left resting, then grow far-away resting orders through SCALE_SIZES; at each size,
    a warm-up batch (while batches are quick) and up to SCALE_BATCHES measured ones, each after HIT_PER_BATCH
    fresh marketable orders. At explain_at, one more batch under auto_explain."""
    t = time.perf_counter()
    db.execute(f"update mbt.orders set status = 'canceled', canceled_at = %s where status in {RESTING_STATUSES}",  # noqa: S608
               [at_et("10:59")])
    analyze(db)
    results.setup_seconds["(a)'s orders canceled (update + vacuum)"] = time.perf_counter() - t
    t = time.perf_counter()
    batches = quote_batches(db, at_et("11:00"), BATCH * (SCALE_BATCHES + 2) * len(SCALE_SIZES), drift_steps=None)
    results.setup_seconds["scaling quotes generated"] = time.perf_counter() - t
    placed, seed, last_ms = 0, 0, 0.0
    for size in SCALE_SIZES:
        t = time.perf_counter()
        insert_orders(db, size - placed, placed, at_et("10:59"), far=True)
        placed = size
        analyze(db)
        results.setup_seconds[f"far resting orders to {size:,} (insert + analyze)"] = time.perf_counter() - t
        resting = resting_count(db)
        print(f"bench: engine (b): {resting:,} resting orders", flush=True)
        warm_up = last_ms < WARM_UP_BELOW_MS
        checkpoint(db)
        batch_ms: list[float] = []
        fills: list[int] = []
        started = time.perf_counter()
        while len(batch_ms) < SCALE_BATCHES and not (batch_ms and time.perf_counter() - started > SCALE_CAP_SECONDS):
            seed += 1
            db.execute(HIT_ORDERS_SQL, {"count": HIT_PER_BATCH, "seed": seed, "at": at_et("10:59"),
                                        "accounts": ACCOUNTS})
            before = fill_count(db)
            ms = copy_batch(db, "md.quotes", batches.pop(0))
            if warm_up:
                warm_up = False
                continue
            batch_ms.append(ms)
            fills.append(fill_count(db) - before)
        point = ScalePoint(resting, batch_ms, fills)
        results.scale.append(point)
        last_ms = point.median_ms
        print(f"bench:     {point.median_ms:,.0f} ms per batch (median of {len(batch_ms)}), "
              f"fills per batch {fills}", flush=True)
        if size == explain_at:
            seed += 1
            db.execute(HIT_ORDERS_SQL, {"count": HIT_PER_BATCH, "seed": seed, "at": at_et("10:59"),
                                        "accounts": ACCOUNTS})
            results.explain_ms, results.explain = explained_batch(db, "md.quotes", batches.pop(0))
            results.explain_resting = resting


def run(cfg: Config, quotes: int | None = None, explain_at: int | None = None) -> EngineResults:
    """quotes: for (a) (default QUOTES); explain_at: the resting size whose batch is explained (the first)."""
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        t = time.perf_counter()
        set_up_market(db)
        setup = {f"assets, {ACCOUNTS // 1000:,}k users and accounts": time.perf_counter() - t}
        results = run_throughput(db, setup, quotes or QUOTES)
        from bench import lifecycle_engine
        results.lifecycle = lifecycle_engine.run(db, results)
        run_scaling(db, results, explain_at or SCALE_SIZES[0])
    return results


# --- the report -----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def throughput_section(r: EngineResults) -> list[str]:
    c, e = r.ceiling, r.engine
    ratio = e.qps / c.qps
    mix = ", ".join(f"{kind} {count:,}" for kind, count in r.fill_mix.items())
    notes = []
    if r.quotes < QUOTES:
        notes.append(f"**Scaled down:** {r.quotes:,} quotes instead of {QUOTES:,} (`--engine-quotes`).")
    if e.quotes < r.quotes:
        notes.append(f"**Capped:** the run stopped after {ENGINE_CAP_SECONDS} s of engine-on batches, with "
                     f"{e.quotes:,} of the {r.quotes:,} quotes in ({e.batches} batches): at its rate all of them "
                     f"would take {r.quotes / e.qps / 60:,.0f} minutes. The rates are over the batches that ran.")
    return [
        "## Engine (a): quote ingest with the fill engine on, against a plain COPY",
        "",
        *(f"{note}\n" for note in notes),
        f"{r.resting_orders:,} resting orders ({mix}) over {ACCOUNTS:,} accounts and {SYMBOLS} symbols; "
        f"{r.quotes:,} quotes in {r.batches} COPY batches of {BATCH:,} (one transaction each), all symbols in "
        f"every batch, {DAY} from 10:00 ET, times increasing, received 5 ms after; prices swing ±0.6 % "
        "and drift ±1 % over the stream, so a few per cent of the orders become marketable or trigger. "
        "Ceiling: the same bytes by the same COPY into `bench.quotes_plain` — md.quotes' columns, defaults, "
        "constraints and indexes, partitioned by New York day the same way, no trigger. Engine on: md.quotes "
        "with both its statement triggers (latest quote per symbol, then the fill engine). The two are "
        "interleaved, batch by batch (the ceiling's COPY, then the engine's), so that both see the machine "
        "in the same state; each rate is over its own batches' time.",
        "",
        "| | quotes/s | fills | fills/s | ms per batch p50 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {name} | {i.qps:,.0f} | {i.fills:,} | {i.fills_per_second:,.0f} | {i.percentile(50):,.1f} | "
          f"{i.percentile(99):,.1f} | {max(i.batch_ms):,.1f} |"
          for name, i in (("ceiling: plain COPY, no trigger", c), ("md.quotes, engine on", e))),
        "",
        "| Figure | Value | Target | Result |",
        "|---|---:|---:|---|",
        f"| quotes/s, engine on | {e.qps:,.0f} | ≥ {TARGET_QPS:,} | {verdict(e.qps >= TARGET_QPS)} |",
        f"| engine on / ceiling | {ratio:.2f} | ≥ {TARGET_CEILING_RATIO:.2f} | "
        f"{verdict(ratio >= TARGET_CEILING_RATIO)} |",
    ]


def scaling_section(r: EngineResults) -> list[str]:
    if not r.scale:
        return []
    first, last = r.scale[0], r.scale[-1]
    ratio = last.median_ms / first.median_ms
    lines = [
        "## Engine (b): cost of one batch against the orders resting",
        "",
        f"Batches of {BATCH:,} quotes over the {SYMBOLS} symbols (no drift); before each, {HIT_PER_BATCH} fresh "
        "marketable buy limits (one per symbol on every other symbol), which the batch fills; the resting "
        "orders sit 20-50 % away from the price and are never reached. (a)'s remaining orders were canceled "
        f"first. Up to {SCALE_BATCHES} measured batches per size, after a warm-up batch while batches take under "
        f"{WARM_UP_BELOW_MS / 1000:.0f} s; a size stops after {SCALE_CAP_SECONDS} s once one batch is measured.",
        "",
        "| resting orders | ms per batch (median) | min | max | fills per batch | quotes/s at that cost |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r.scale:
        lines.append(f"| {p.resting:,} | {p.median_ms:,.1f} | {min(p.batch_ms):,.1f} | {max(p.batch_ms):,.1f} | "
                     f"{', '.join(map(str, p.fills))} | {BATCH / p.median_ms * 1000:,.0f} |")
    lines += [
        "",
        "| Figure | Value | Target | Result |",
        "|---|---:|---:|---|",
        f"| ms per batch, {last.resting // 1000:,}k / {first.resting // 1000:,}k resting | {ratio:.2f} | "
        f"near 1 (≤ {TARGET_SCALE_RATIO}) | {verdict(ratio <= TARGET_SCALE_RATIO)} |",
    ]
    return lines


def explain_section(r: EngineResults, top: int = 12) -> list[str]:
    if not r.explain:
        return ["## Engine: EXPLAIN", "", "auto_explain returned no plan for the engine's statement."]
    nodes = plan_nodes(r.explain)
    root = nodes[0]
    lines = [
        "## Engine: where a batch's time goes (EXPLAIN ANALYZE, BUFFERS)",
        "",
        f"One batch ({BATCH:,} quotes, {HIT_PER_BATCH} orders hit) at {r.explain_resting:,} resting orders, "
        f"{r.explain_ms:,.0f} ms for the whole COPY; the engine's statement (mbt.fill_orders inside the "
        f"trigger, from auto_explain) {root['total_ms']:,.0f} ms. Nodes by their own time (total less children):",
        "",
        "| self ms | total ms | rows | loops | node | shared hit / read |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for n in sorted(nodes, key=lambda n: n["self_ms"], reverse=True)[:top]:
        node = n["node"]
        lines.append(f"| {n['self_ms']:,.1f} | {n['total_ms']:,.1f} | {node.get('Actual Rows', 0):,} | "
                     f"{node.get('Actual Loops', 1):,} | {describe(node)} | "
                     f"{node.get('Shared Hit Blocks', 0):,} / {node.get('Shared Read Blocks', 0):,} |")
    lines += ["", "The top of the plan (nodes over 1 % of the statement's time):", "", "```"]
    threshold = root["total_ms"] / 100
    for n in nodes:
        if n["total_ms"] >= threshold:
            node = n["node"]
            cond = node.get("Hash Cond") or node.get("Join Filter") or node.get("Filter") or node.get("Index Cond")
            extra = f"  [{cond[:110]}]" if cond else ""
            lines.append(f"{'  ' * n['depth']}{describe(node)}  (actual {n['total_ms']:,.1f} ms, "
                         f"rows {node.get('Actual Rows', 0):,} x {node.get('Actual Loops', 1)}){extra}")
    lines.append("```")
    return lines


def setup_section(r: EngineResults) -> list[str]:
    times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in r.setup_seconds.items())
    return [f"Engine set-up (not measured): {times}."]


def figures(r: EngineResults) -> list[Figure]:
    """The headline figures: (a) and its ceiling (both on this stack, interleaved), the lifecycle ratio, (b)."""
    e, c = r.engine, r.ceiling
    ratio = e.qps / c.qps
    out = [
        Figure("engine (a): quotes/s, engine on", f"{e.qps:,.0f}", f"≥ {TARGET_QPS:,}", e.qps >= TARGET_QPS),
        Figure("engine (a): ceiling, plain COPY on the same stack, quotes/s", f"{c.qps:,.0f}"),
        Figure("engine (a): engine on / ceiling", f"{ratio:.2f}", f"≥ {TARGET_CEILING_RATIO:.2f}",
               ratio >= TARGET_CEILING_RATIO),
    ]
    if r.lifecycle:
        from bench import lifecycle_engine
        out += lifecycle_engine.figures(r.lifecycle)
    if r.scale:
        first, last = r.scale[0], r.scale[-1]
        scale = last.median_ms / first.median_ms
        out += [Figure(f"engine (b): ms per batch at {p.resting:,} resting orders", f"{p.median_ms:,.1f}")
                for p in (first, last)]
        out.append(Figure(f"engine (b): ms per batch, {last.resting // 1000:,}k / {first.resting // 1000:,}k resting",
                          f"{scale:.2f}", f"≤ {TARGET_SCALE_RATIO}", scale <= TARGET_SCALE_RATIO))
    return out


def render(r: EngineResults) -> list[list[str]]:
    from bench import lifecycle_engine
    lifecycle = lifecycle_engine.render(r.lifecycle) if r.lifecycle else []
    return [throughput_section(r), lifecycle, scaling_section(r), explain_section(r), setup_section(r)]

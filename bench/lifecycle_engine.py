"""`make bench`, lifecycle part of the engine (issue 6, part 7): evaluation throughput when 30 % of the
resting orders are trailing stops and bracket exits, against the engine figure for simple orders measured
in the same run (engine part (a)). Target: at least 0.7 of it.

Runs on the engine part's market (bench/engine.py: 10,000 accounts, 500 symbols), after (a) and before (b):
(a)'s remaining orders are canceled, then 100,000 resting orders go in: 70,000 simple ones exactly as (a)'s,
15,000 trailing stops (trail 0.5-5 %, marks at the symbol's base price) and 7,500 bracket exit pairs (a
take-profit limit and a stop-loss stop, live, one-cancels-other), on the same account/symbol sides as (a).
The quote stream has (a)'s shape, 30 minutes later. A batch reads the trailing stops whose own mark it
moves or that it may trigger (mbt.trailing_marks), moves the shared mark of the stops that ride one
(mbt.trailing_extremes) and reads those riders only when it may trigger them, so this measures that cost as
well as the pairs' shared allocation. The trailing stops go in with the orders' triggers on (they make the
mark rows); the pairs without them, as (a)'s orders.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from bench import engine
from bench.figures import Figure

TARGET_RATIO = 0.7
SIMPLE, TRAILING, PAIRS = 70_000, 15_000, 7_500


def quick() -> None:
    """`--quick`: a tenth of the orders (checks the bench itself; its figures mean little)."""
    global SIMPLE, TRAILING, PAIRS
    SIMPLE, TRAILING, PAIRS = 7_000, 1_500, 750

TRAILING_SQL = """
insert into mbt.orders (
    account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force,
    position_intent, qty, trail_percent, hwm, stop_price, status, buying_power_held, created_at, updated_at,
    submitted_at, expires_at
)
select
    a.account_id, x.order_id, x.order_id::text, s.symbol, s.asset_id, 'us_equity', k.side, 'trailing_stop', 'gtc',
    case when k.side = 'buy' then 'buy_to_open' else 'sell_to_open' end::mbt.position_intent,
    x.qty, x.trail_percent, s.base_price, mbt.trailing_stop_price(k.side, s.base_price, null, x.trail_percent),
    'new', 0, %(at)s, %(at)s, %(at)s, %(at)s::timestamptz + interval '90 days'
from (
    select
        gen_random_uuid() as order_id, (%(first)s + i) %% %(accounts)s as account_n,
        floor(random() * %(symbols)s)::integer as symbol_n, round((0.5 + 4.5 * random())::numeric, 2) as trail_percent,
        1 + floor(random() * 100)::numeric as qty
    from generate_series(0, %(count)s - 1) as i
) as x
inner join bench.accounts as a on x.account_n = a.n
inner join bench.symbols as s on x.symbol_n = s.n
cross join lateral (
    select case when (x.account_n + x.symbol_n) %% 2 = 0 then 'buy' else 'sell' end::mbt.order_side as side
) as k
"""

# A pair of live exits per group: the take-profit a fraction u beyond the price, the stop-loss u2 on the other side.
PAIRS_SQL = """
with groups as (
    select
        gen_random_uuid() as group_id, (%(first)s + i) %% %(accounts)s as account_n,
        floor(random() * %(symbols)s)::integer as symbol_n, (0.002 + 0.08 * random())::numeric as u,
        (0.002 + 0.08 * random())::numeric as u2, 1 + floor(random() * 100)::numeric as qty
    from generate_series(0, %(count)s - 1) as i
)
insert into mbt.orders (
    account_id, order_id, client_order_id, symbol, asset_id, asset_class, side, order_type, time_in_force, order_class,
    group_id, leg, parent_order_id, position_intent, qty, limit_price, stop_price, status, buying_power_held,
    created_at, updated_at, submitted_at, expires_at, activated_at
)
select
    a.account_id, case when l.leg = 'take_profit' then g.group_id else gen_random_uuid() end, gen_random_uuid()::text,
    s.symbol, s.asset_id, 'us_equity', k.side, l.order_type, 'gtc', 'oco', g.group_id, l.leg,
    case when l.leg = 'stop_loss' then g.group_id end,
    case when k.side = 'buy' then 'buy_to_close' else 'sell_to_close' end::mbt.position_intent, g.qty,
    case when l.leg = 'take_profit' then round(s.base_price * (1 + k.direction * g.u), 2) end,
    case when l.leg = 'stop_loss' then round(s.base_price * (1 - k.direction * g.u2), 2) end,
    'new', 0, %(at)s, %(at)s, %(at)s, %(at)s::timestamptz + interval '90 days', null
from groups as g
inner join bench.accounts as a on g.account_n = a.n
inner join bench.symbols as s on g.symbol_n = s.n
cross join lateral (
    select
        case when (g.account_n + g.symbol_n) %% 2 = 0 then 'sell' else 'buy' end::mbt.order_side as side,
        case when (g.account_n + g.symbol_n) %% 2 = 0 then 1 else -1 end as direction
) as k
cross join (
    values ('take_profit'::mbt.order_leg, 'limit'::mbt.order_type), ('stop_loss', 'stop')
) as l (leg, order_type)
"""


@dataclass(frozen=True)
class LifecycleResult:
    resting: dict[str, int]
    simple: engine.Ingest
    simple_ceiling: engine.Ingest
    mixed: engine.Ingest
    mixed_ceiling: engine.Ingest  # the plain COPY interleaved with the mixed run, batch by batch
    setup_seconds: float

    @property
    def raw_ratio(self) -> float:
        return self.mixed.qps / self.simple.qps

    @property
    def ratio(self) -> float:
        """mixed / simple, each as a fraction of the ceiling measured beside it: the two runs are minutes
        apart, and a shared machine's speed drifts more than that ratio over minutes."""
        return (self.mixed.qps / self.mixed_ceiling.qps) / (self.simple.qps / self.simple_ceiling.qps)


def run(db: psycopg.Connection, results: engine.EngineResults) -> LifecycleResult:
    t = time.perf_counter()
    db.execute(f"update mbt.orders set status = 'canceled', canceled_at = %s where status in {engine.RESTING_STATUSES}",  # noqa: S608
               [engine.at_et("10:29")])
    engine.insert_orders(db, SIMPLE, 0, engine.at_et("10:29"), far=False)
    params = {"at": engine.at_et("10:29"), "accounts": engine.ACCOUNTS, "symbols": engine.SYMBOLS}
    # the trailing stops with the triggers on: their marks (mbt.trailing_marks) come from the orders' trigger
    db.execute(TRAILING_SQL, {**params, "count": TRAILING, "first": SIMPLE})
    db.execute("set session_replication_role = replica")
    try:
        db.execute(PAIRS_SQL, {**params, "count": PAIRS, "first": SIMPLE + TRAILING})
    finally:
        db.execute("set session_replication_role = origin")
    engine.analyze(db)
    resting = dict(db.execute(f"""select case when o.order_type = 'trailing_stop' then 'trailing stops'
            when o.group_id is not null then 'bracket exits' else 'simple' end, count(*)
        from mbt.orders as o where o.status in {engine.RESTING_STATUSES} group by 1 order by 1""").fetchall())  # noqa: S608
    quotes = results.engine.quotes
    batches = engine.quote_batches(db, engine.at_et("10:30"), quotes, drift_steps=quotes // engine.SYMBOLS)
    setup = time.perf_counter() - t
    print(f"bench: engine lifecycle: {quotes:,} quotes into md.quotes, resting {resting}", flush=True)
    engine.checkpoint(db)
    mixed_ceiling, mixed = engine.ingest_interleaved(db, batches, cap_seconds=engine.ENGINE_CAP_SECONDS)
    print(f"bench:     {mixed.qps:,.0f} quotes/s, {mixed.fills:,} fills (ceiling beside it {mixed_ceiling.qps:,.0f})",
          flush=True)
    return LifecycleResult(resting, results.engine, results.ceiling, mixed, mixed_ceiling, setup)


def figures(r: LifecycleResult) -> list[Figure]:
    return [Figure("engine lifecycle: 30 % trailing stops and exits / simple, each against its ceiling",
                   f"{r.ratio:.2f}", f"≥ {TARGET_RATIO}", r.ratio >= TARGET_RATIO)]


def render(r: LifecycleResult) -> list[str]:
    mix = ", ".join(f"{kind} {count:,}" for kind, count in r.resting.items())
    s, m = r.simple, r.mixed
    return [
        "## Engine, lifecycle: 30 % trailing stops and bracket exits",
        "",
        f"Resting: {mix} (engine (a): simple limits, stops and stop-limits only). The same quote stream's "
        f"shape, {m.quotes:,} quotes in {m.batches} batches of {engine.BATCH:,}. A batch reads the trailing "
        "stops whose own mark it can move or that it can trigger (mbt.trailing_marks), moves one shared mark per "
        "symbol and side for the stops that ride it (mbt.trailing_extremes) and reads riders only when it may "
        "trigger them; exit pairs share one allocation. Each run is interleaved with the plain COPY of its "
        "batches (the ceiling, as in (a)), and the ratio compares the two as fractions of their ceilings: "
        "the runs are minutes apart, and a shared machine's speed drifts more than the ratio over minutes.",
        "",
        "| | quotes/s | ceiling beside it | fraction of the ceiling | fills | ms per batch p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| engine (a), simple orders | {s.qps:,.0f} | {r.simple_ceiling.qps:,.0f} | "
        f"{s.qps / r.simple_ceiling.qps:.2f} | {s.fills:,} | {s.percentile(50):,.1f} | {s.percentile(99):,.1f} |",
        f"| 30 % trailing stops and exits | {m.qps:,.0f} | {r.mixed_ceiling.qps:,.0f} | "
        f"{m.qps / r.mixed_ceiling.qps:.2f} | {m.fills:,} | {m.percentile(50):,.1f} | {m.percentile(99):,.1f} |",
        "",
        "| Figure | Value | Target | Result |",
        "|---|---:|---:|---|",
        f"| lifecycle / simple, each against its ceiling | {r.ratio:.2f} | ≥ {TARGET_RATIO} | "
        f"{engine.verdict(r.ratio >= TARGET_RATIO)} |",
        f"| lifecycle / simple quotes/s, as measured | {r.raw_ratio:.2f} | | |",
        "",
        f"Set-up (not measured): {r.setup_seconds:.1f} s.",
    ]

"""The daily fill-quality report: headline figures and plots of one New York trading day.

    python -m reports.fill_quality [--date 2026-11-24] [--out reports/out] [--dsn DSN | --simulate]

The figures are the analytics views' (analytics.fill_quality, analytics.orders, analytics.daily_equity),
read as the analyst role: SQL does the numbers, Python only writes them out and plots them. The report is
fill_quality_<date>.md in --out, beside its PNG plots (effective spread by symbol, time to first fill,
price improvement by order type).

Which database: --dsn, else the local stack of `make run` (its unix socket, as analyst) when it has orders
on the day; else (a clean clone: nothing traded yet) a private throw-away stack in .data/report with one
scripted day of the simulated market (reports.simulated_day), removed again after the report is written.
Without --date: the latest day with orders, or the scripted day SIMULATED_DAY.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import psycopg

from mbtctl import cluster, migrate
from mbtctl.config import PROJECT_ROOT, Config

from . import simulated_day

DEFAULT_OUT = PROJECT_ROOT / "reports" / "out"
PRIVATE_STACK = PROJECT_ROOT / ".data" / "report"
SIMULATED_DAY = date(2026, 11, 24)  # a Tuesday, a regular NYSE session

HEADLINE = """
select orders, orders_filled, fill_rate, complete_fill_rate, fills, partial_fill_share, shares_filled, notional,
       effective_spread_bps, price_improvement_bps, median_seconds_to_first_fill, p90_seconds_to_first_fill,
       filled_within_60s_share
from analytics.fill_quality
where trading_date = %(day)s and symbol = '*' and order_type = '*'
"""
BY_SYMBOL = """
select symbol, orders, orders_filled, fill_rate, fills, partial_fill_share, effective_spread_bps, price_improvement_bps,
       median_seconds_to_first_fill
from analytics.fill_quality
where trading_date = %(day)s and symbol <> '*' and order_type = '*'
order by symbol
"""
BY_ORDER_TYPE = """
select order_type, orders, orders_filled, fill_rate, fills, partial_fill_share, effective_spread_bps,
       price_improvement_bps, median_seconds_to_first_fill
from analytics.fill_quality
where trading_date = %(day)s and symbol = '*' and order_type <> '*'
order by order_type
"""
# the time from submission to first fill, in buckets (the orders without a fill in the last)
TIME_TO_FILL = """
select b.label, count(o.order_key) as orders
from (values (1, 'under 1 s', 0, 1), (2, '1-5 s', 1, 5), (3, '5-30 s', 5, 30), (4, '30-60 s', 30, 60),
             (5, '1-5 min', 60, 300), (6, '5-30 min', 300, 1800), (7, 'over 30 min', 1800, null),
             (8, 'no fill', null, null)) as b (n, label, lo, hi)
left join analytics.orders as o
    on o.trading_date = %(day)s
    and case when b.lo is null then o.seconds_to_first_fill is null
             else o.seconds_to_first_fill >= b.lo and (b.hi is null or o.seconds_to_first_fill < b.hi) end
group by b.n, b.label
order by b.n
"""
EQUITY = """
select count(*) as accounts, sum(equity) as equity, sum(daily_pl) as daily_pl,
       count(*) filter (where daily_pl > 0) as accounts_up, count(*) filter (where daily_pl < 0) as accounts_down
from analytics.daily_equity
where trading_date = %(day)s
"""
LATEST_DAY = "select max(trading_date) from analytics.orders"


@dataclass
class Report:
    day: date
    markdown: Path
    plots: list[Path]
    headline: dict


def _rows(conn: psycopg.Connection, query: str, day: date) -> list[dict]:
    cur = conn.execute(query, {"day": day})
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def _pct(value) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f} %"


def _table(rows: list[dict], key: str) -> list[str]:
    lines = [f"| {key} | orders | filled | fill rate | fills | partial fills | eff. spread (bps) "
             "| improvement (bps) | median time to fill (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r[key]} | {r['orders']:,} | {r['orders_filled']:,} | {_pct(r['fill_rate'])} | {r['fills']:,} "
                     f"| {_pct(r['partial_fill_share'])} | {_fmt(r['effective_spread_bps'])} "
                     f"| {_fmt(r['price_improvement_bps'])} | {_fmt(r['median_seconds_to_first_fill'], 1)} |")
    return lines


def _bar(path: Path, labels: list[str], values: list[float], title: str, ylabel: str, fmt: str = "{:.2f}",
         log: bool = False) -> Path:
    """A bar chart with each bar's value on it; log: a logarithmic axis, when the bars span decades (spreads
    of liquid and illiquid names), unless a value is not positive."""
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar(labels, values, color=["#c0392b" if v < 0 else "#2e86c1" for v in values])
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], fontsize=8)
    ax.set_title(title)
    if log and values and min(values) > 0:
        ax.set_yscale("log")
        ylabel += ", log scale"
    else:
        ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(conn: psycopg.Connection, day: date, out: Path) -> Report:
    """Read the day's figures from the analytics views on conn and write the report and its plots."""
    headline = _rows(conn, HEADLINE, day)
    if not headline:
        raise SystemExit(f"no orders were submitted on {day}: nothing to report")
    h = headline[0]
    by_symbol, by_type = _rows(conn, BY_SYMBOL, day), _rows(conn, BY_ORDER_TYPE, day)
    ttf, equity = _rows(conn, TIME_TO_FILL, day), _rows(conn, EQUITY, day)[0]
    out.mkdir(parents=True, exist_ok=True)
    stem = f"fill_quality_{day.isoformat()}"
    spread_rows = [r for r in by_symbol if r["effective_spread_bps"] is not None]
    plots = [
        _bar(out / f"{stem}_spread_by_symbol.png", [r["symbol"] for r in spread_rows],
             [float(r["effective_spread_bps"]) for r in spread_rows],
             f"Effective spread paid by symbol, {day}", "basis points (share-weighted)", log=True),
        _bar(out / f"{stem}_time_to_fill.png", [r["label"] for r in ttf], [r["orders"] for r in ttf],
             f"Time from submission to first fill, {day}", "orders", fmt="{:,.0f}"),
        _bar(out / f"{stem}_improvement_by_type.png",
             [r["order_type"] for r in by_type if r["price_improvement_bps"] is not None],
             [float(r["price_improvement_bps"]) for r in by_type if r["price_improvement_bps"] is not None],
             f"Price improvement against the arrival midpoint, {day}", "basis points (negative: slippage)"),
    ]
    lines = [
        f"# Fill quality, {day:%A %d %B %Y}",
        "",
        "From the analytics views (`analytics.fill_quality`, `analytics.orders`, `analytics.daily_equity`), read as "
        "the `analyst` role. Orders are those submitted on the day (New York date) and everything that became of them.",
        "",
        "## Headline",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| orders submitted | {h['orders']:,} |",
        f"| orders with a fill (fill rate) | {h['orders_filled']:,} ({_pct(h['fill_rate'])}) |",
        f"| orders completely filled | {_pct(h['complete_fill_rate'])} |",
        f"| executions | {h['fills']:,} |",
        f"| partial fills (share of executions) | {_pct(h['partial_fill_share'])} |",
        f"| shares / notional filled | {_fmt(h['shares_filled'], 0)} / ${_fmt(h['notional'])} |",
        f"| effective spread paid (share-weighted) | {_fmt(h['effective_spread_bps'])} bps |",
        f"| price improvement vs. arrival midpoint | {_fmt(h['price_improvement_bps'])} bps |",
        f"| time to first fill: median / 90th percentile | {_fmt(h['median_seconds_to_first_fill'], 1)} s / "
        f"{_fmt(h['p90_seconds_to_first_fill'], 1)} s |",
        f"| orders first filled within 60 s | {_pct(h['filled_within_60s_share'])} |",
        f"| accounts with an end-of-day snapshot | {equity['accounts']:,} |",
        f"| their equity at the close / P&L of the day | ${_fmt(equity['equity'])} / ${_fmt(equity['daily_pl'])} |",
        f"| accounts up / down on the day | {equity['accounts_up']:,} / {equity['accounts_down']:,} |",
        "",
        f"![effective spread by symbol]({plots[0].name})",
        "",
        f"![time to first fill]({plots[1].name})",
        "",
        f"![price improvement by order type]({plots[2].name})",
        "",
        "## By symbol",
        "",
        *_table(by_symbol, "symbol"),
        "",
        "## By order type",
        "",
        *_table(by_type, "order_type"),
        "",
        "## Time to first fill",
        "",
        "| time | orders |",
        "|---|---:|",
        *[f"| {r['label']} | {r['orders']:,} |" for r in ttf],
        "",
        "Effective spread: 2 x |price - quote midpoint| / midpoint of the quote that filled. Price improvement: "
        "against the NBBO midpoint when the order was submitted, positive when the fill was better than it "
        "(buys below, sells "
        "above); negative is slippage. See docs/analytics.md.",
        "",
    ]
    markdown = out / f"{stem}.md"
    markdown.write_text("\n".join(lines))
    return Report(day, markdown, plots, h)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_stack():
    """A throw-away cluster with MBT's database (migrated and deployed; no services), removed afterwards."""
    cfg = Config(data_dir=PRIVATE_STACK, pg_port=_free_port(), fast_unsafe_cluster=True)
    if PRIVATE_STACK.exists():
        cluster.stop(cfg)
        shutil.rmtree(PRIVATE_STACK)
    try:
        cluster.init(cfg)
        cluster.start(cfg)
        migrate.upgrade(cfg)
        yield cfg
    finally:
        cluster.stop(cfg)
        shutil.rmtree(PRIVATE_STACK, ignore_errors=True)


def _local_dsn_with_orders(day: date | None) -> tuple[str, date] | None:
    """The local stack of `make run`, as analyst, if it runs and has orders (on the day)."""
    cfg = Config.from_env()
    if not (cfg.run_dir.exists() and cluster.is_running(cfg)):
        return None
    dsn = cfg.dsn(user="analyst")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            found = day or conn.execute(LATEST_DAY).fetchone()[0]
            if found and conn.execute("select 1 from analytics.orders where trading_date = %s limit 1",
                                      [found]).fetchone():
                return dsn, found
    except psycopg.Error:
        return None
    return None


def report_from(dsn: str, day: date | None, out: Path) -> Report:
    with psycopg.connect(dsn) as conn:
        day = day or conn.execute(LATEST_DAY).fetchone()[0]
        if day is None:
            raise SystemExit("no orders in this database: nothing to report (try --simulate)")
        return write_report(conn, day, out)


def simulate_and_report(day: date, out: Path) -> Report:
    with private_stack() as cfg:
        print(f"report: nothing traded here yet; scripting {day} on the simulated market in a private stack "
              f"({PRIVATE_STACK})", flush=True)
        with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
            stats = simulated_day.seed(conn, day)
        print(f"report: {stats.quotes:,} quotes in {stats.batches:,} batches, {stats.orders} orders "
              f"({sum(stats.rejected.values())} refused: {stats.rejected}), {stats.fills:,} fills", flush=True)
        return report_from(cfg.dsn(user="analyst"), day, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.fill_quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", type=date.fromisoformat,
                        help="New York trading day (default: the latest with orders)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--dsn", help="report on this database (connect as the analyst role)")
    source.add_argument("--simulate", action="store_true", help="always script a day in a private stack")
    args = parser.parse_args(argv)
    if args.dsn:
        report = report_from(args.dsn, args.date, args.out)
    elif not args.simulate and (local := _local_dsn_with_orders(args.date)):
        report = report_from(local[0], local[1], args.out)
    else:
        report = simulate_and_report(args.date or SIMULATED_DAY, args.out)
    print(f"report: {report.markdown} ({len(report.plots)} plots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fill-quality report (reports.fill_quality): the CLI, run on a database of its own in the test cluster
(the seeded day of test_analytics, committed, and marketsim's scripted day), writes the Markdown report and
its PNG plots, with the analytics views' figures."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from matplotlib import image
from test_analytics import TRADING_DAY, seed

from mbtctl import migrate
from reports import fill_quality, simulated_day

SCRIPTED_DAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def report_db(cfg):
    """A database beside the suite's (migrated and deployed like it), so that the seeded days can be committed
    for the CLI's own connection without touching the suite's database."""
    name = f"mbt_report_{os.getpid()}"
    rcfg = cfg.with_(db_name=name)
    migrate.upgrade(rcfg)
    try:
        with psycopg.connect(rcfg.dsn(), autocommit=True) as conn:
            seed(conn)
            stats = simulated_day.seed(conn, SCRIPTED_DAY)
        yield rcfg, stats
    finally:
        with psycopg.connect(cfg.dsn(dbname="postgres"), autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


def run_cli(rcfg, day: date, out) -> str:
    assert fill_quality.main(["--dsn", rcfg.dsn(user="analyst"), "--date", day.isoformat(), "--out", str(out)]) == 0
    return (out / f"fill_quality_{day.isoformat()}.md").read_text()


def test_the_report_writes_markdown_and_three_png_plots(report_db, tmp_path):
    run_cli(report_db[0], TRADING_DAY, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    stem = "fill_quality_2026-10-13"
    assert names == [f"{stem}.md", f"{stem}_improvement_by_type.png", f"{stem}_spread_by_symbol.png",
                     f"{stem}_time_to_fill.png"]
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert image.imread(png).shape[:2] == (400, 800)  # 8 x 4 inches at 100 dpi


def test_the_report_headline_is_the_hand_computed_day(report_db, tmp_path):
    text = run_cli(report_db[0], TRADING_DAY, tmp_path)
    # 5 orders, 4 with fills; AAPL 740.112024 + MSFT 66.666667 spread-shares over 220 shares = 3.667176 bps;
    # improvement (-80.006001 - 33.333333) / 220 = -0.515179 bps; first fills after 0, 28, 10 and 0 s
    for line in ("| orders submitted | 5 |", "| orders with a fill (fill rate) | 4 (80.0 %) |",
                 "| executions | 5 |", "| partial fills (share of executions) | 20.0 % |",
                 "| effective spread paid (share-weighted) | 3.67 bps |",
                 "| price improvement vs. arrival midpoint | -0.52 bps |",
                 # sorted 0, 0, 10, 28: median (0 + 10) / 2, 90th percentile at 2.7: 10 + 0.7 x 18
                 "| time to first fill: median / 90th percentile | 5.0 s / 22.6 s |",
                 "| orders first filled within 60 s | 80.0 % |",
                 # A 99,993.50 + B 99,998.80 + C 100,000.00 at the close; P&L -6.50 - 1.20
                 "| their equity at the close / P&L of the day | $299,992.30 / $-7.70 |",
                 "| accounts up / down on the day | 0 / 2 |",
                 "| AAPL | 4 | 3 | 75.0 % | 4 | 25.0 % | 3.52 | -0.38 | 10.0 |",
                 "| MSFT | 1 | 1 | 100.0 % | 1 | 0.0 % | 6.67 | -3.33 | 0.0 |",
                 "| under 1 s | 2 |", "| 5-30 s | 2 |", "| no fill | 1 |"):
        assert line in text, line


def test_the_report_shows_the_analytics_views_figures(report_db, tmp_path):
    rcfg = report_db[0]
    with psycopg.connect(rcfg.dsn(user="analyst")) as conn:
        report = fill_quality.write_report(conn, TRADING_DAY, tmp_path)
        row = conn.execute("select effective_spread_bps, price_improvement_bps from analytics.fill_quality "
                           "where trading_date = %s and symbol = '*' and order_type = '*'", [TRADING_DAY]).fetchone()
    assert (report.headline["effective_spread_bps"], report.headline["price_improvement_bps"]) == row
    assert row == (Decimal("3.6672"), Decimal("-0.5152"))


def test_the_scripted_simulated_day_gives_a_real_report(report_db, tmp_path):
    rcfg, stats = report_db
    # marketsim is deterministic for its seed: the same quotes every run
    assert (stats.quotes, stats.orders) == (82_499, simulated_day.ORDERS)
    assert stats.fills > stats.orders / 2
    text = run_cli(rcfg, SCRIPTED_DAY, tmp_path)
    with psycopg.connect(rcfg.dsn(user="analyst")) as conn:
        symbols, orders = conn.execute("select count(*) filter (where symbol <> '*'), max(orders) "
                                       "from analytics.fill_quality where trading_date = %s and order_type = '*'",
                                       [SCRIPTED_DAY]).fetchone()
    assert symbols >= 10 and orders == stats.orders - sum(stats.rejected.values()) - stats.skipped
    assert f"| orders submitted | {orders:,} |" in text
    for kind in ("market", "limit", "stop", "stop_limit", "trailing_stop"):
        assert f"| {kind} | " in text


def test_on_a_clean_clone_the_report_scripts_a_day_in_a_throw_away_stack_and_removes_it(cfg, tmp_path, monkeypatch):
    # what `make report` does when nothing has been traded: its own cluster (here under this run's data
    # directory, so it cannot meet another run's), the scripted day, the report, and the cluster gone again
    private = cfg.data_dir / "report"
    monkeypatch.setattr(fill_quality, "PRIVATE_STACK", private)
    assert fill_quality.main(["--simulate", "--date", SCRIPTED_DAY.isoformat(), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "fill_quality_2026-11-24.md").read_text()
    assert "| orders submitted | " in text and len(list(tmp_path.glob("*.png"))) == 3
    assert not private.exists()

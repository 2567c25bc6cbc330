"""Crash safety (issue 17, part 6): the ingestor killed with SIGKILL in the middle of a COPY, under `make
run`, which restarts it; the new process backfills what the dead one held (its buffer, the COPY that
never committed) from the simulated market's historical quotes. On the crash tests' own stack
(tests/crash.py), whose marketsim is in session from crash.MARKET_START."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockQuotesRequest
from crash import MARKET_SYMBOLS, wait_until

from ingest.quotes import ns_to_datetime, parse_rfc3339_ns
from mbtctl import services

SYMBOLS = MARKET_SYMBOLS.split(",")


def sent(url: str, start, end) -> list[tuple]:
    """What the market sent for [start, end): its historical quotes (the same deterministic market)."""
    client = StockHistoricalDataClient("marketsim", "marketsim", raw_data=True, url_override=url)
    data = client.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=SYMBOLS, start=start, end=end,
                                                      feed=DataFeed.SIP))
    rows = [(symbol, ns_to_datetime(parse_rfc3339_ns(q["t"])), Decimal(str(q["bp"])), Decimal(str(q["ap"])),
             Decimal(q["bs"]), Decimal(q["as"]), q["bx"], q["ax"])
            for symbol, quotes in (data or {}).items() for q in quotes]
    return sorted(rows, key=lambda r: (r[0], r[1]))


def stored(conn, start, end) -> list[tuple]:
    return conn.execute(
        "select symbol, quote_time, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange "
        "from md.quotes where symbol = any(%s) and quote_time >= %s and quote_time < %s order by 1, 2, quote_id",
        [SYMBOLS, start, end]).fetchall()


def newest(conn):
    return conn.execute("select max(quote_time) from md.quotes where symbol = any(%s)", [SYMBOLS]).fetchone()[0]


def copy_waiting(conn) -> bool:
    return conn.execute("select count(*) from pg_stat_activity where application_name = 'ingest-writer' "
                        "and query like 'copy md.quotes%%' and wait_event_type = 'Lock'").fetchone()[0] == 1


def test_the_ingestor_killed_mid_copy_resumes_and_backfills_its_gap_with_no_quote_lost_or_doubled(make_run):
    url = services.marketsim_url(make_run.cfg)
    with make_run.db() as conn:
        wait_until(lambda: newest(conn) is not None, timeout=30, what="quotes streaming")
        start = newest(conn)  # the stream has delivered everything after this
        time.sleep(1.0)
        restarts = make_run.restarts("ingest")
        # its next COPY waits for md.quotes (SHARE lock held here): killed then, it holds that batch and
        # every quote that arrives meanwhile, and the COPY's transaction never commits
        with make_run.db() as locker, locker.transaction():
            locker.execute("lock table md.quotes in share mode")
            wait_until(lambda: copy_waiting(conn), what="the ingestor's COPY")
            time.sleep(0.5)
            killed_at_market = newest(conn)
            pid = make_run.kill("ingest")
        make_run.wait_restarted("ingest", restarts + 1)

        # the new process streams again, and backfills the gap from the newest quote the dead one wrote
        wait_until(lambda: newest(conn) > killed_at_market + timedelta(seconds=3), timeout=30,
                   what="the stream after the restart")
        end = newest(conn) - timedelta(seconds=1)
        expected = sent(url, start, end)

        def complete() -> bool:
            rows = stored(conn, start, end)
            assert len(rows) == len(set(rows)), "a quote stored twice"
            return rows == expected

        wait_until(complete, timeout=20, what="the backfill")
    assert len(expected) > 50
    log = (make_run.cfg.log_dir / "ingest.log").read_text()
    assert "the previous run did not stop cleanly: backfilling from its newest quote" in log
    assert f"ingest died (pid {pid}, killed by SIGKILL)" in make_run.supervisor_log()

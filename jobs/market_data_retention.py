"""Market-data retention, the maintenance job: drops the quote partitions and deletes the 1-minute bars
of New York days older than the archive horizon, and creates the quote partitions of the days ahead.
The rules live in md.apply_market_data_retention; this module only keeps the time and reports.
Idempotent: a second run at the same as_of drops, deletes and creates nothing.

    python -m jobs.market_data_retention [--as-of 2026-11-24T22:00:00-05:00] [--archive-days 365] [--days-ahead 7]

MBT_JOBS_DSN: a libpq connection string for the mbt_jobs role. The archive horizon defaults to the
database setting mbt.market_data_archive_days (365 when unset).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

log = logging.getLogger("jobs.market_data_retention")


def run(conn: psycopg.Connection, as_of: datetime, archive_days: int | None = None, days_ahead: int = 7) -> dict:
    """Apply retention at `as_of` in one transaction; returns {cutoff_day, partitions_dropped, bars_deleted,
    partitions_created}."""
    with conn.transaction():
        row = conn.cursor(row_factory=dict_row).execute(
            "select * from md.apply_market_data_retention(%s, %s, %s)", [as_of, archive_days, days_ahead]).fetchone()
    log.info("market-data retention at %s: %s", as_of.isoformat(), row)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m jobs.market_data_retention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=None,
                        help="the instant to apply retention at, ISO 8601 with offset (default: now)")
    parser.add_argument("--archive-days", type=int, default=None,
                        help="days of market data to keep (default: setting mbt.market_data_archive_days, else 365)")
    parser.add_argument("--days-ahead", type=int, default=7, help="quote partitions to create ahead (default 7)")
    parser.add_argument("--dsn", default=os.environ.get("MBT_JOBS_DSN", ""),
                        help="libpq connection string (default: $MBT_JOBS_DSN)")
    args = parser.parse_args(argv)
    as_of = args.as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        parser.error("--as-of needs a UTC offset, e.g. 2026-11-24T22:00:00-05:00")
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        result = run(conn, as_of, args.archive_days, args.days_ahead)
    print(json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main()

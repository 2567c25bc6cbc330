"""Tier retention, the purge job: removes each user's orders (with their fills and audit rows), cash
activities and end-of-day snapshots of New York days older than their tier keeps (jobs.tier_retention:
free 90 days, pro 3 years, pro_plus for ever), carrying forward what the retained figures depend on.
The rules live in mbt.purge_expired_history; this module only drives the batches and keeps the time.

Each batch is one short transaction (a few accounts, at most --limit rows per table and account), so the
purge never holds locks for long and orders keep being submitted while it runs. Each batch reads the
user's tier as it stands: an upgrade stops the purge at the next batch. Idempotent: a second run at the
same as_of removes nothing. What each account lost is in jobs.tier_retention_log, the run in jobs.run_log.

    python -m jobs.tier_retention [--as-of 2026-11-24T20:45:00-05:00] [--accounts 20] [--limit 100] [--pause 2]

MBT_JOBS_DSN: a libpq connection string for the mbt_jobs role.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

log = logging.getLogger("jobs.tier_retention")

ACCOUNTS_PER_BATCH = 20
ROWS_PER_TABLE = 100  # so a batch removes at most about 20 x 100 x 6 rows, in tens of milliseconds
PAUSE = 2.0  # the job works at most a third of the time, leaving the CPUs to order submission (make bench: the
# order p99 +14 % beside the purge at 2, +19 % at 1, windows with and without it alternating on a 2-core machine)


class AlreadyRunning(RuntimeError):
    """Another connection holds the run's advisory lock."""


@dataclass(frozen=True)
class Result:
    as_of: datetime
    accounts: int  # accounts rows were removed from
    rows: int  # rows removed, queued messages included
    batches: int


def run(conn: psycopg.Connection, as_of: datetime, accounts_per_batch: int = ACCOUNTS_PER_BATCH,
        limit: int = ROWS_PER_TABLE, log_run: bool = True, pause: float = PAUSE,
        on_batch: Callable[[int, float], object] | None = None) -> Result:
    """Purge at `as_of`, batch after batch (conn in autocommit: each batch commits on its own); then the
    queued messages of removed orders and anything left, and the run in jobs.run_log.
    pause: after each batch, sleep that many times as long as the batch took (0.5: the purge works two
    thirds of the time), to leave the CPUs to the engine. on_batch(rows, seconds) is told of each batch.
    One run at a time (a session advisory lock): a second one meanwhile fails at once."""
    started = datetime.now(UTC)
    if not conn.execute("select pg_try_advisory_lock(hashtext('jobs.tier_retention'))").fetchone()[0]:
        raise AlreadyRunning("another tier-retention run is in progress")
    try:
        return _run(conn, as_of, started, accounts_per_batch, limit, log_run, pause, on_batch)
    finally:
        conn.execute("select pg_advisory_unlock(hashtext('jobs.tier_retention'))")


def _run(conn: psycopg.Connection, as_of: datetime, started: datetime, accounts_per_batch: int, limit: int,
         log_run: bool, pause: float, on_batch: Callable[[int, float], object] | None) -> Result:
    pending = deque(row[0] for row in conn.execute(
        "select account_id from mbt.tier_retention_due(%s)", [as_of]).fetchall())
    rows, batches, touched = 0, 0, set()
    while pending:
        batch = [pending.popleft() for _ in range(min(accounts_per_batch, len(pending)))]
        batch_started = time.perf_counter()
        with conn.transaction():
            result = conn.execute("select account_id, removed, more from mbt.purge_expired_history(%s, %s, %s)",
                                  [batch, as_of, limit]).fetchall()
        took = time.perf_counter() - batch_started
        batches += 1
        removed_now = 0
        for account_id, removed, more in result:
            removed_now += removed
            if removed:
                touched.add(account_id)
            if more:
                pending.append(account_id)
        rows += removed_now
        if on_batch is not None:
            on_batch(removed_now, took)
        if pause > 0:
            time.sleep(took * pause)
    with conn.transaction():
        # what became due while the batches ran (a downgrade), and the orphaned trade_updates messages
        rows += conn.execute("select mbt.apply_tier_retention(%s, %s)", [as_of, limit]).fetchone()[0]
        if log_run:
            conn.execute("select jobs.record_run('tier_retention', %s, %s, %s)", [as_of, rows, started])
    log.info("tier retention at %s: %d rows from %d accounts in %d batches", as_of.isoformat(), rows, len(touched),
             batches)
    return Result(as_of, len(touched), rows, batches)


def main(argv: list[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(prog="python -m jobs.tier_retention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=None,
                        help="the instant to purge at, ISO 8601 with offset (default: now)")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS_PER_BATCH, help="accounts per batch")
    parser.add_argument("--limit", type=int, default=ROWS_PER_TABLE, help="rows per table and account per batch")
    parser.add_argument("--pause", type=float, default=PAUSE,
                        help=f"after each batch, sleep this many times the batch's duration (default {PAUSE:g})")
    parser.add_argument("--dsn", default=os.environ.get("MBT_JOBS_DSN", ""),
                        help="libpq connection string (default: $MBT_JOBS_DSN)")
    args = parser.parse_args(argv)
    as_of = args.as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        parser.error("--as-of needs a UTC offset, e.g. 2026-11-24T20:45:00-05:00")
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        result = run(conn, as_of, args.accounts, args.limit, pause=args.pause)
    print(json.dumps({"as_of": as_of.isoformat(), "accounts": result.accounts, "rows": result.rows,
                      "batches": result.batches}))
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main()

"""The scheduler of the time-driven order lifecycle (issue 6): it keeps time, the database decides.

When each job acts comes from md.market_calendar through jobs.due_runs (early closes included):
  expire_day_orders    at open + 1 minute (opg), at the close (day, cls), at the end of after-hours
                       (extended_hours day orders)
  write_eod_snapshots  at the close (16:00 ET, 13:00 ET on early closes)
  expire_gtc_orders    every day at 16:15 ET
  market_data_retention every day at 20:30 ET
  tier_retention       every day at 20:45 ET, in short batches (jobs/tier_retention.py)
  check_invariants     every day at 21:30 ET: mbt.check_invariants; the violations are counted in
                       jobs.run_log.violations and each one is logged (WARNING, here and in the server log)
Each run calls jobs.run_job(job, as_of) with the instant it acts for (never the wall clock) and is
logged in jobs.run_log. Every job is idempotent, so a run that fires twice, or late, changes nothing more.
On start, and every hour, the scheduler first catches up on the due runs that have no successful run
logged (a restart, a suspended machine, a failure), then plans the next two days' runs as apscheduler
date jobs.

    python -m jobs.scheduler   (MBT_JOBS_DSN, else the stack's Config: MBT_DATABASE_URL or the local
                                cluster, as the mbt_jobs role)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs import tier_retention

log = logging.getLogger("jobs.scheduler")

HORIZON = timedelta(days=2)  # how far ahead date jobs are planned
REPLAN_EVERY = timedelta(hours=1)
CATCH_UP = timedelta(days=1)  # how far back before the last successful run catch-up looks


@dataclass(frozen=True)
class Run:
    job: str
    as_of: datetime
    rows: int | None  # None: it failed (and was logged with its error); check_invariants: its violations


def dsn() -> str:
    if os.environ.get("MBT_JOBS_DSN"):
        return os.environ["MBT_JOBS_DSN"]
    from mbtctl.config import Config

    return Config.from_env().dsn(user="mbt_jobs")


def due_runs(conn: psycopg.Connection, after: datetime, until: datetime) -> list[tuple[str, datetime]]:
    return conn.execute("select job, as_of from jobs.due_runs(%s, %s)", [after, until]).fetchall()


def run_one(conn: psycopg.Connection, job: str, as_of: datetime) -> Run:
    """One job for one instant, in a transaction of its own; a failure is rolled back and logged."""
    started = datetime.now(UTC)
    try:
        if job == "tier_retention":  # batched: each batch commits on its own, the run is logged at the end
            rows = tier_retention.run(conn, as_of).rows
        else:
            with conn.transaction():
                rows = conn.execute("select jobs.run_job(%s, %s)", [job, as_of]).fetchone()[0]
    except (psycopg.Error, tier_retention.AlreadyRunning) as exc:
        log.exception("%s for %s failed", job, as_of.isoformat())
        with conn.transaction():
            conn.execute("select jobs.record_failure(%s, %s, %s, %s)", [job, as_of, started, str(exc)])
        return Run(job, as_of, None)
    if job == "check_invariants":
        if rows:
            log.error("check_invariants for %s: %s violations (jobs.run_log.violations; each is logged above)",
                      as_of.isoformat(), rows)
        else:
            log.info("check_invariants for %s: clean", as_of.isoformat())
        return Run(job, as_of, rows)
    log.info("%s for %s: %s rows", job, as_of.isoformat(), rows)
    return Run(job, as_of, rows)


def log_warnings(diag: psycopg.errors.Diagnostic) -> None:
    """The database's warnings (each violation check_invariants found) into the scheduler's log."""
    if diag.severity_nonlocalized == "WARNING":
        log.warning("%s: %s", diag.message_primary, diag.message_detail)


def connect() -> psycopg.Connection:
    conn = psycopg.connect(dsn(), autocommit=True)
    conn.add_notice_handler(log_warnings)
    return conn


def run_due(conn: psycopg.Connection, after: datetime, until: datetime) -> list[Run]:
    """Every run due in (after, until], in time order."""
    return [run_one(conn, job, as_of) for job, as_of in due_runs(conn, after, until)]


def catch_up(conn: psycopg.Connection, now: datetime) -> list[Run]:
    """The runs due up to now that have no successful run logged, from CATCH_UP before the last one
    that succeeded (a run that failed meanwhile is retried), or CATCH_UP back on a first start."""
    last = conn.execute("select jobs.last_run_as_of()").fetchone()[0]
    missed = conn.execute("select job, as_of from jobs.missed_runs(%s, %s)",
                          [(last or now) - CATCH_UP, now]).fetchall()
    return [run_one(conn, job, as_of) for job, as_of in missed]


def plan(scheduler: BaseScheduler, conn: psycopg.Connection, now: datetime,
         fire: Callable[[str, datetime], object]) -> int:
    """Add a date job for each run due in (now, now + HORIZON]; a run planned before is replaced."""
    runs = due_runs(conn, now, now + HORIZON)
    for job, as_of in runs:
        scheduler.add_job(fire, DateTrigger(run_date=as_of), args=[job, as_of], id=f"{job}@{as_of.isoformat()}",
                          replace_existing=True, misfire_grace_time=None, coalesce=True)
    return len(runs)


def fire(job: str, as_of: datetime) -> None:
    with connect() as conn:
        run_one(conn, job, as_of)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheduler = BlockingScheduler(timezone="America/New_York")

    def replan() -> None:
        now = datetime.now(UTC)
        with connect() as conn:
            caught = catch_up(conn, now)
            planned = plan(scheduler, conn, now, fire)
        log.info("caught up %d runs, %d planned until %s", len(caught), planned, (now + HORIZON).isoformat())

    replan()
    scheduler.add_job(replan, IntervalTrigger(seconds=REPLAN_EVERY.total_seconds()), id="replan",
                      replace_existing=True, coalesce=True, max_instances=1)
    scheduler.start()


if __name__ == "__main__":
    main()

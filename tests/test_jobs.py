"""The scheduled jobs: when they act (from md.market_calendar, early closes included), that each run is
logged in jobs.run_log, and that running a job twice changes nothing (the second run reports 0 rows)."""

from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from conftest import sign_up_in_db
from engine import add_asset, et, submit
from jobs import scheduler

# the scheduler's catch-up and due runs are computed from now()
# (make test-clock runs these at a matrix of instants)
pytestmark = pytest.mark.clock

DAY_ORDER = {"symbol": "ZJOB", "qty": 1, "side": "buy", "type": "limit", "limit_price": "5.00", "time_in_force": "day"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZJOB")
    return sign_up_in_db(db)["account_id"]


def run_log(db, since_id: int) -> list[tuple]:
    return db.execute("select job, as_of, rows_affected, error from jobs.run_log where run_id > %s order by run_id",
                      [since_id]).fetchall()


def last_run_id(db) -> int:
    return db.execute("select coalesce(max(run_id), 0) from jobs.run_log").fetchone()[0]


def test_the_runs_of_the_early_close_after_thanksgiving(db):
    runs = scheduler.due_runs(db, et("2026-11-27 00:00"), et("2026-11-28 00:00"))
    assert runs == [
        ("expire_day_orders", et("2026-11-27 09:31")),  # opg: after the opening auction window
        ("expire_day_orders", et("2026-11-27 13:00")),  # the early close
        ("write_eod_snapshots", et("2026-11-27 13:00")),
        ("expire_gtc_orders", et("2026-11-27 16:15")),
        ("expire_day_orders", et("2026-11-27 17:00")),  # after-hours end 4 hours after an early close
        ("market_data_retention", et("2026-11-27 20:30")),  # when no session runs
        ("tier_retention", et("2026-11-27 20:45")),
        ("check_invariants", et("2026-11-27 21:30")),  # the ledger's truths, after the day and the purges
    ]


def test_a_weekend_day_has_only_the_gtc_retention_and_invariant_runs(db):
    assert scheduler.due_runs(db, et("2026-11-28 00:00"), et("2026-11-29 00:00")) == [
        ("expire_gtc_orders", et("2026-11-28 16:15")), ("market_data_retention", et("2026-11-28 20:30")),
        ("tier_retention", et("2026-11-28 20:45")), ("check_invariants", et("2026-11-28 21:30"))]


def test_running_a_job_twice_changes_nothing_the_second_time(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **DAY_ORDER)
    before = last_run_id(db)
    db.execute("set local role mbt_jobs")  # what the scheduler connects as
    first = db.execute("select jobs.run_job('expire_day_orders', %s)", [et("2026-11-24 16:00")]).fetchone()[0]
    second = db.execute("select jobs.run_job('expire_day_orders', %s)", [et("2026-11-24 16:00")]).fetchone()[0]
    db.execute("reset role")
    assert first >= 1 and second == 0
    assert db.execute("select status from mbt.orders where order_id = %s", [o["id"]]).fetchone()[0] == "expired"
    assert [(job, rows) for job, _, rows, _ in run_log(db, before)] == [("expire_day_orders", first),
                                                                        ("expire_day_orders", 0)]


def test_snapshots_twice_change_nothing_the_second_time(db, acct):
    db.execute("set local role mbt_jobs")
    first = db.execute("select jobs.run_job('write_eod_snapshots', %s)", [et("2026-12-01 16:00")]).fetchone()[0]
    second = db.execute("select jobs.run_job('write_eod_snapshots', %s)", [et("2026-12-01 16:00")]).fetchone()[0]
    assert first >= 1 and second == 0


def test_the_scheduler_runs_a_day_in_time_order_and_a_rerun_changes_nothing(db, acct):
    o = submit(db, acct, et("2026-11-27 10:00"), **DAY_ORDER)
    before = last_run_id(db)
    runs = scheduler.run_due(db, et("2026-11-27 00:00"), et("2026-11-28 00:00"))
    assert [r.job for r in runs] == ["expire_day_orders", "expire_day_orders", "write_eod_snapshots",
                                     "expire_gtc_orders", "expire_day_orders", "market_data_retention",
                                     "tier_retention", "check_invariants"]
    assert all(r.rows is not None for r in runs)
    assert db.execute("select status, expired_at from mbt.orders where order_id = %s", [o["id"]]).fetchone() == (
        "expired", et("2026-11-27 13:00"))
    again = scheduler.run_due(db, et("2026-11-27 00:00"), et("2026-11-28 00:00"))
    assert [r.rows for r in again] == [0, 0, 0, 0, 0, 0, 0, 0]  # check_invariants: no violation
    assert len(run_log(db, before)) == 16


def test_catching_up_runs_what_has_no_successful_run_logged(db, acct):
    db.execute("delete from jobs.run_log")  # rolled back with the test
    scheduler.run_one(db, "expire_day_orders", et("2026-11-27 13:00"))
    o = submit(db, acct, et("2026-11-30 10:00"), **DAY_ORDER)
    caught = [(r.job, r.as_of) for r in scheduler.catch_up(db, et("2026-11-30 16:10"))]
    assert ("write_eod_snapshots", et("2026-11-27 13:00")) in caught  # same instant, another job
    assert ("expire_day_orders", et("2026-11-27 13:00")) not in caught  # logged already
    assert caught[-2:] == [("expire_day_orders", et("2026-11-30 16:00")),
                           ("write_eod_snapshots", et("2026-11-30 16:00"))]
    assert db.execute("select status from mbt.orders where order_id = %s", [o["id"]]).fetchone()[0] == "expired"


def test_a_failed_run_is_logged_with_its_error_and_changes_nothing(db):
    before = last_run_id(db)
    run = scheduler.run_one(db, "no_such_job", et("2026-11-27 13:00"))
    assert run.rows is None
    [(job, _, rows, error)] = run_log(db, before)
    assert (job, rows) == ("no_such_job", None) and "unknown job no_such_job" in error


def test_the_scheduler_plans_each_run_as_a_date_job_at_its_instant(db):
    planner = BackgroundScheduler(timezone="America/New_York")
    count = scheduler.plan(planner, db, et("2026-11-27 12:00"), lambda job, as_of: None)
    planned = sorted((j.trigger.run_date, j.args[0]) for j in planner.get_jobs())
    assert count == len(planned)
    assert planned[0] == (et("2026-11-27 13:00"), "expire_day_orders")
    assert (et("2026-11-27 13:00"), "write_eod_snapshots") in planned
    assert max(at for at, _ in planned) <= et("2026-11-27 12:00") + timedelta(days=2)

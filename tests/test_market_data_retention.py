"""Market-data retention: quote partitions and 1-minute bars of New York days before the archive horizon
go; fills keep their own copy of their quote. Worked example: archive 30 days, as_of Tuesday
2020-03-31 12:00 ET -> cutoff day 2020-03-01; the days 2020-02-27 and 2020-02-28 go, 2020-03-02 stays.
The tests run as the jobs role (mbt_jobs) inside a rolled-back transaction, so nothing is really dropped."""

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import psycopg
import pytest

from conftest import act_as, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit
from jobs import market_data_retention
from mbtctl.config import PROJECT_ROOT

AS_OF = et("2020-03-31 12:00")


def partitions(db, first: date, last: date) -> list[date]:
    rows = db.execute("""
        select to_date(substr(c.relname, 8), 'YYYYMMDD')
        from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
        where i.inhparent = 'md.quotes'::regclass and c.relname ~ '^quotes_\\d{8}$'
        order by 1""").fetchall()
    return [d for (d,) in rows if first <= d <= last]


@pytest.fixture
def stored(db):
    """A quote and a bar on Thursday 2020-02-27, Friday 2020-02-28 and Monday 2020-03-02, 10:00 ET."""
    add_asset(db, "ZRET")
    for day in ("2020-02-27", "2020-02-28", "2020-03-02"):
        insert_quotes(db, ("ZRET", "10.00", "10.05", et(f"{day} 10:00")))
        db.execute("insert into md.bars_1m (symbol, bar_time, open_price, high_price, low_price, close_price, volume) "
                   "values ('ZRET', %s, 10, 10, 10, 10, 100)", [et(f"{day} 10:00")])
    return db


def retention(db, as_of=AS_OF, archive_days=30, days_ahead=7) -> dict:
    db.execute("set local role mbt_jobs")
    result = market_data_retention.run(db, as_of, archive_days, days_ahead)
    db.execute("reset role")
    return result


def test_the_cutoff_is_the_new_york_day_archive_days_before_as_of(stored):
    assert retention(stored)["cutoff_day"] == date(2020, 3, 1)


def test_quote_partitions_of_days_before_the_cutoff_are_dropped(stored):
    result = retention(stored)
    assert partitions(stored, date(2020, 2, 27), date(2020, 3, 2)) == [date(2020, 3, 2)]
    assert result["partitions_dropped"] >= 2  # 2020-02-27 and 2020-02-28 (and any older)


def test_quotes_from_the_cutoff_day_on_stay(stored):
    retention(stored)
    rows = stored.execute("select quote_time from md.quotes where symbol = 'ZRET'").fetchall()
    assert rows == [(et("2020-03-02 10:00"),)]


def test_bars_before_the_cutoff_are_deleted_and_later_ones_stay(stored):
    result = retention(stored)
    rows = stored.execute("select bar_time from md.bars_1m where symbol = 'ZRET'").fetchall()
    assert rows == [(et("2020-03-02 10:00"),)]
    assert result["bars_deleted"] >= 2


def test_the_partitions_of_the_days_ahead_are_created(stored):
    retention(stored, days_ahead=3)
    # yesterday (2020-03-30) to 3 days ahead (2020-04-03)
    assert partitions(stored, date(2020, 3, 30), date(2020, 4, 3)) == [
        date(2020, 3, 30) + timedelta(days=n) for n in range(5)]


def test_a_second_run_at_the_same_instant_changes_nothing(stored):
    retention(stored)
    again = retention(stored)
    assert (again["partitions_dropped"], again["bars_deleted"], again["partitions_created"]) == (0, 0, 0)


def test_an_archive_shorter_than_the_pro_history_window_is_refused(stored):
    with pytest.raises(psycopg.Error) as caught:
        retention(stored, archive_days=29)
    assert caught.value.sqlstate == "MBV03"
    assert "at least 30" in caught.value.diag.message_hint


def test_the_archive_horizon_defaults_to_the_database_setting(stored):
    stored.execute("set local mbt.market_data_archive_days = '31'")
    assert retention(stored, archive_days=None)["cutoff_day"] == date(2020, 2, 29)


def test_a_fill_keeps_its_quote_after_the_quotes_partition_is_dropped(db):
    add_asset(db, "ZFIL")
    user = sign_up_in_db(db)
    insert_quotes(db, ("ZFIL", "11.00", "11.02", et("2020-02-27 10:00:00")))
    order = submit(db, user["account_id"], et("2020-02-27 10:00:01"), symbol="ZFIL", qty=5, side="buy",
                   type="market", time_in_force="day")
    assert order["status"] == "filled"

    retention(db)

    act_as(db, "app_user", user["user_id"])
    [fill] = db.execute("select price, quote_id, quote_bid_price, quote_ask_price, quote_time from api.fills "
                        "where order_id = %s", [order["id"]]).fetchall()
    db.execute("reset role")
    assert db.execute("select count(*) from md.quotes where quote_id = %s", [fill[1]]).fetchone()[0] == 0
    # bought 5 at the ask 11.02 of the 11.00 x 11.02 quote, which md.quotes no longer holds
    assert (fill[0], fill[2], fill[3], fill[4]) == ("11.02", "11", "11.02", et("2020-02-27 10:00:00"))


def test_the_job_runs_from_the_command_line_as_the_jobs_role(cfg):
    env = {**os.environ, "MBT_JOBS_DSN": cfg.dsn("mbt_jobs")}
    # an archive of 100 years drops nothing here; the days ahead of as_of exist after the first run
    command = [sys.executable, "-m", "jobs.market_data_retention", "--as-of", "2026-11-24T22:00:00-05:00",
               "--archive-days", "36500", "--days-ahead", "2"]
    first = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    result = json.loads(second.stdout)
    assert (result["cutoff_day"], result["partitions_dropped"], result["partitions_created"]) == (
        str(date(2026, 11, 24) - timedelta(days=36500)), 0, 0)


"""md: the NYSE calendar and sessions in New York time, day partitions of the quote store, and the
latest quote per symbol kept from each inserted batch."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")


def et(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def session(db, at: datetime) -> str:
    return db.execute("select md.market_session(%s)", [at]).fetchone()[0]


def test_thanksgiving_is_not_a_trading_day_and_the_day_after_closes_at_13(db):
    days = dict(db.execute("select trading_date, market_close from md.market_calendar "
                           "where trading_date between '2026-11-25' and '2026-11-27'").fetchall())
    assert date(2026, 11, 26) not in days
    assert days[date(2026, 11, 27)] == et("2026-11-27 13:00")
    assert days[date(2026, 11, 25)] == et("2026-11-25 16:00")


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-11-25 03:59:59", "closed"),
    ("2026-11-25 04:00:00", "pre_market"),
    ("2026-11-25 09:29:59.999", "pre_market"),
    ("2026-11-25 09:30:00", "regular"),
    ("2026-11-25 15:59:59.999", "regular"),
    ("2026-11-25 16:00:00", "after_hours"),
    ("2026-11-25 19:59:59", "after_hours"),
    ("2026-11-25 20:00:00", "closed"),
    ("2026-11-26 11:00:00", "closed"),        # Thanksgiving
    ("2026-11-27 12:59:59", "regular"),
    ("2026-11-27 13:00:00", "after_hours"),   # early close
    ("2026-11-27 17:00:00", "closed"),        # after-hours end at 17:00 after an early close
    ("2026-11-28 11:00:00", "closed"),        # Saturday
])
def test_market_session_in_new_york_time(db, at, expected):
    assert session(db, et(at)) == expected


def test_sessions_follow_daylight_saving_time(db):
    # 2026-03-09 is the first trading day on EDT: 09:30 ET is 13:30 UTC, not 14:30
    opened = db.execute("select market_open from md.market_calendar where trading_date = '2026-03-09'").fetchone()[0]
    assert opened == datetime.fromisoformat("2026-03-09T13:30:00+00:00")
    previous = db.execute("select market_open from md.market_calendar "
                          "where trading_date = '2026-03-06'").fetchone()[0]
    assert previous == datetime.fromisoformat("2026-03-06T14:30:00+00:00")


def test_clock_gives_alpacas_is_open_next_open_and_next_close(db):
    _, is_open, next_open, next_close = db.execute("select * from md.clock(%s)",
                                                   [et("2026-11-25 17:00")]).fetchone()
    assert (is_open, next_open, next_close) == (False, et("2026-11-27 09:30"), et("2026-11-27 13:00"))
    assert db.execute("select is_open from md.clock(%s)", [et("2026-11-27 10:00")]).fetchone()[0] is True


def partitions(db) -> dict[str, tuple[datetime, datetime]]:
    rows = db.execute("""
        select c.relname, pg_get_expr(c.relpartbound, c.oid)
        from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
        where i.inhparent = 'md.quotes'::regclass
    """).fetchall()
    return {name: bound for name, bound in rows}


def test_quote_partitions_are_new_york_days_even_across_a_clock_change(db):
    assert db.execute("select md.ensure_quote_partitions('2026-10-31', '2026-11-01')").fetchone()[0] >= 1
    db.execute("set local timezone = 'UTC'")
    bounds = partitions(db)
    # 2026-11-01 ends daylight saving time: that New York day is 25 hours long
    assert bounds["quotes_20261101"] == (
        "FOR VALUES FROM ('2026-11-01 04:00:00+00') TO ('2026-11-02 05:00:00+00')")
    assert bounds["quotes_20261031"] == (
        "FOR VALUES FROM ('2026-10-31 04:00:00+00') TO ('2026-11-01 04:00:00+00')")


def test_ensuring_partitions_twice_creates_nothing_the_second_time(db):
    db.execute("select md.ensure_quote_partitions('2030-01-01', '2030-01-03')")
    assert db.execute("select md.ensure_quote_partitions('2030-01-01', '2030-01-03')").fetchone()[0] == 0


def test_dropping_old_partitions_keeps_the_newer_days(db):
    db.execute("select md.ensure_quote_partitions('2030-01-01', '2030-01-03')")
    before = set(partitions(db))
    dropped = db.execute("select md.drop_quote_partitions('2030-01-03')").fetchone()[0]
    after = set(partitions(db))
    assert "quotes_20300103" in after and "quotes_20300102" not in after
    assert dropped == len(before - after) >= 2


def insert_quotes(db, rows):
    """One multi-row INSERT: one statement, one batch, as the ingestor's COPY."""
    db.execute("select md.ensure_quote_partitions('2030-01-02', '2030-01-02')")
    values = ", ".join(["(%s, %s, %s, 100, 200, 'Q', 'P', %s)"] * len(rows))
    db.execute("insert into md.quotes (symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, "
               f"ask_exchange, quote_time) values {values}", [v for row in rows for v in row])


def latest(db, symbol):
    return db.execute("select bid_price, ask_price, quote_time from md.latest_quotes where symbol = %s",
                      [symbol]).fetchone()


def test_a_batch_leaves_the_newest_quote_of_each_symbol_as_latest(db):
    insert_quotes(db, [
        ("ZZA", "10.00", "10.02", et("2030-01-02 10:00:01")),
        ("ZZA", "10.01", "10.03", et("2030-01-02 10:00:03")),   # newest, not last in the batch
        ("ZZA", "10.00", "10.04", et("2030-01-02 10:00:02")),
        ("ZZB", "50.00", "50.10", et("2030-01-02 10:00:00")),
    ])
    assert latest(db, "ZZA") == (Decimal("10.01"), Decimal("10.03"), et("2030-01-02 10:00:03"))
    assert latest(db, "ZZB")[:2] == (Decimal("50.00"), Decimal("50.10"))


def test_a_late_older_quote_never_replaces_a_newer_latest(db):
    insert_quotes(db, [("ZZC", "20.00", "20.05", et("2030-01-02 11:00:00"))])
    insert_quotes(db, [("ZZC", "19.00", "19.05", et("2030-01-02 10:59:59"))])
    assert latest(db, "ZZC")[0] == Decimal("20.00")
    insert_quotes(db, [("ZZC", "21.00", "21.05", et("2030-01-02 11:00:01"))])
    assert latest(db, "ZZC")[0] == Decimal("21.00")


def test_a_quote_keeps_its_id_and_exchange_time_in_the_store(db):
    insert_quotes(db, [("ZZD", "5.00", "5.01", et("2030-01-02 12:00:00"))])
    quote_id, quote_time, received_at = db.execute(
        "select quote_id, quote_time, received_at from md.quotes where symbol = 'ZZD'").fetchone()
    assert quote_time == et("2030-01-02 12:00:00")
    assert received_at is not None  # when MBT got it: the ingest lag is received_at - quote_time
    assert db.execute("select quote_id from md.latest_quotes where symbol = 'ZZD'").fetchone()[0] == quote_id

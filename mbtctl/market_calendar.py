"""The NYSE calendar (exchange-calendars XNYS) into md.market_calendar, and the quote partitions
of the days around today. Python only moves the data; md.load_market_calendar derives the rest."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

FIRST_DAY = date(2016, 1, 1)  # Alpaca's stock history starts in 2016
NEW_YORK = ZoneInfo("America/New_York")


def new_york_today() -> date:
    return datetime.now(NEW_YORK).date()


def xnys_days(first: date, last: date) -> list[dict[str, str]]:
    import exchange_calendars  # pandas-heavy: imported only when the calendar needs loading

    calendar = exchange_calendars.get_calendar("XNYS", start=first.isoformat(), end=last.isoformat())
    schedule = calendar.schedule
    return [
        {"date": day.date().isoformat(), "open": opened.isoformat(), "close": closed.isoformat()}
        for day, opened, closed in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
    ]


def load(conn: psycopg.Connection, today: date) -> int:
    """Load the calendar from 2016 to a year past today, unless it already reaches that far."""
    horizon = today + timedelta(days=366)
    covered = conn.execute("select max(trading_date) from md.market_calendar").fetchone()[0]
    if covered is not None and covered >= horizon - timedelta(days=30):
        return 0
    days = xnys_days(FIRST_DAY, horizon)
    with conn.transaction():
        conn.execute("set local role dba")
        return conn.execute("select md.load_market_calendar(%s)", [Jsonb(days)]).fetchone()[0]


def ensure_quote_partitions(conn: psycopg.Connection, today: date, days_ahead: int = 7) -> int:
    with conn.transaction():
        conn.execute("set local role dba")
        return conn.execute("select md.ensure_quote_partitions(%s, %s)",
                            [today - timedelta(days=1), today + timedelta(days=days_ahead)]).fetchone()[0]

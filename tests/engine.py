"""Helpers for engine tests: assets, quotes (one INSERT statement = one batch, like the ingestor's
COPY) and orders at explicit times. Everything runs inside the test's rolled-back transaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

NY = ZoneInfo("America/New_York")


def et(text: str) -> datetime:
    """A New York wall-clock time, e.g. et('2026-11-24 10:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def add_asset(db: psycopg.Connection, symbol: str, **attributes) -> None:
    columns = {"symbol": symbol, "exchange": "NASDAQ", **attributes}
    db.execute(f"insert into md.assets ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))})",
               list(columns.values()))


def insert_quotes(db: psycopg.Connection, *rows: tuple) -> None:
    """rows: (symbol, bid, ask, at) or (symbol, bid, ask, at, bid_size, ask_size[, lag_seconds])."""
    days = {row[3].astimezone(NY).date() for row in rows}
    for day in days:
        db.execute("select md.ensure_quote_partitions(%s, %s)", [day, day])
    values, params = [], []
    for row in rows:
        symbol, bid, ask, at = row[:4]
        bid_size, ask_size = (row[4], row[5]) if len(row) > 4 else (100, 100)
        lag = row[6] if len(row) > 6 else 0.05
        values.append("(%s, %s, %s, %s, %s, 'Q', 'P', %s, %s)")
        params += [symbol, Decimal(str(bid)), Decimal(str(ask)), bid_size, ask_size, at, at + timedelta(seconds=lag)]
    db.execute("insert into md.quotes (symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, "
               f"ask_exchange, quote_time, received_at) values {', '.join(values)}", params)


def submit(db: psycopg.Connection, account_id, at: datetime, **request) -> dict:
    row = db.execute("select mbt.order_json(mbt.submit_order(%s, %s::jsonb, %s))",
                     [account_id, json.dumps(request), at]).fetchone()
    return row[0]


def refused(db: psycopg.Connection, account_id, at: datetime, code: str, **request):
    """Submit and expect the catalogued error code; prove nothing was written (no order, event or fill)."""
    count = "select (select count(*) from mbt.orders), (select count(*) from mbt.order_events), " \
            "(select count(*) from mbt.fills)"
    before = db.execute(count).fetchone()
    db.execute("savepoint before_submit")
    with pytest.raises(psycopg.Error) as err:
        submit(db, account_id, at, **request)
    db.execute("rollback to savepoint before_submit")
    assert err.value.diag.sqlstate == code, err.value.diag.message_primary
    assert db.execute(count).fetchone() == before
    return err.value.diag


def order(db: psycopg.Connection, order_id) -> dict:
    return db.execute("select mbt.order_json(o) from mbt.orders as o where o.order_id = %s", [order_id]).fetchone()[0]


def fills(db: psycopg.Connection, order_id) -> list[dict]:
    cur = db.execute("select qty, price, rule, quote_bid_price, quote_ask_price, quote_time, cum_qty, leaves_qty, "
                     "position_qty, realized_pl from mbt.fills where order_id = %s order by transaction_time, cum_qty",
                     [order_id])
    names = [c.name for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def cash(db: psycopg.Connection, account_id) -> Decimal:
    return db.execute("select cash from mbt.accounts where account_id = %s", [account_id]).fetchone()[0]


def position(db: psycopg.Connection, account_id, symbol: str) -> tuple | None:
    return db.execute("select qty, avg_entry_price, realized_pl from mbt.positions "
                      "where account_id = %s and symbol = %s", [account_id, symbol]).fetchone()


def balances(db: psycopg.Connection, account_id) -> dict:
    cur = db.execute("select * from mbt.account_balances where account_id = %s", [account_id])
    return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))

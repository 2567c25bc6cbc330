"""Expiry at explicit instants: day orders at the close of their session (16:00 ET, 13:00 ET on the early
close of Friday 2026-11-27, the end of after-hours for extended_hours orders), opg after the opening
auction window, cls at the close, gtc 90 days after creation at 16:15 ET. Each expiry releases the
hold, keeps the fills, and writes an audit row and an `expired` trade update; a repeat changes nothing."""

from datetime import datetime
from decimal import Decimal as D

import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, balances, et, insert_quotes, order, position, submit

LIMIT_BUY = {"symbol": "ZEXP", "qty": 10, "side": "buy", "type": "limit", "limit_price": "20.00",
             "time_in_force": "day"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZEXP")
    db.execute("delete from pgmq.q_trade_updates")  # rolled back with the test
    return sign_up_in_db(db)["account_id"]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def expire_day(db, at) -> int:
    return db.execute("select mbt.expire_day_orders(%s)", [at]).fetchone()[0]


def expire_gtc(db, at) -> int:
    return db.execute("select mbt.expire_gtc_orders(%s)", [at]).fetchone()[0]


def events(db, order_id) -> list[str]:
    return [e for (e,) in db.execute("select event from mbt.order_events where order_id = %s order by event_id",
                                     [order_id])]


def trade_update_events(db, order_id) -> list[str]:
    return [e for (e,) in db.execute("select message ->> 'event' from pgmq.q_trade_updates "
                                     "where message -> 'order' ->> 'id' = %s order by msg_id", [order_id])]


def test_a_day_order_expires_at_the_close_and_not_a_moment_before(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY)
    assert instant(o["expires_at"]) == et("2026-11-24 16:00")
    expire_day(db, et("2026-11-24 15:59:59.999"))
    assert order(db, o["id"])["status"] == "new"
    expire_day(db, et("2026-11-24 16:00"))
    expired = order(db, o["id"])
    assert (expired["status"], instant(expired["expired_at"])) == ("expired", et("2026-11-24 16:00"))
    assert_invariants(db)


def test_expiry_releases_the_hold(db, acct):
    submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY)
    assert balances(db, acct)["held"] == D("200.00")  # 10 x 20.00
    expire_day(db, et("2026-11-24 16:00"))
    assert balances(db, acct)["held"] == 0
    assert balances(db, acct)["buying_power"] == D("200000.00")
    assert_invariants(db)


def test_expiry_writes_an_audit_row_and_an_expired_trade_update(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY)
    expire_day(db, et("2026-11-24 16:05"))
    assert events(db, o["id"]) == ["submitted", "expired"]
    assert trade_update_events(db, o["id"]) == ["new", "expired"]
    message = db.execute("select message from pgmq.q_trade_updates where message ->> 'event' = 'expired' "
                         "and message -> 'order' ->> 'id' = %s", [o["id"]]).fetchone()[0]
    # the event's time is the close the order expired at, not the (later) time the job ran
    assert instant(message["timestamp"]) == et("2026-11-24 16:00")
    assert message["order"]["status"] == "expired" and message["account_id"] == str(acct)
    assert_invariants(db)


def test_on_the_early_close_after_thanksgiving_a_day_order_expires_at_13_00(db, acct):
    o = submit(db, acct, et("2026-11-27 10:00"), **LIMIT_BUY)
    assert instant(o["expires_at"]) == et("2026-11-27 13:00")
    expire_day(db, et("2026-11-27 12:59:59"))
    assert order(db, o["id"])["status"] == "new"
    expire_day(db, et("2026-11-27 13:00"))
    assert order(db, o["id"])["status"] == "expired"
    assert_invariants(db)


def test_an_extended_hours_order_lives_until_the_end_of_after_hours(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY, extended_hours=True)
    expire_day(db, et("2026-11-24 16:00"))
    assert order(db, o["id"])["status"] == "new"
    expire_day(db, et("2026-11-24 20:00"))
    assert order(db, o["id"])["status"] == "expired"
    assert_invariants(db)


def test_an_extended_hours_order_on_an_early_close_day_expires_at_17_00(db, acct):
    o = submit(db, acct, et("2026-11-27 10:00"), **LIMIT_BUY, extended_hours=True)
    expire_day(db, et("2026-11-27 16:59:59"))
    assert order(db, o["id"])["status"] == "new"
    expire_day(db, et("2026-11-27 17:00"))
    assert order(db, o["id"])["status"] == "expired"
    assert_invariants(db)


def test_a_partially_filled_order_expires_with_its_fill_kept(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **{**LIMIT_BUY, "qty": 150})
    insert_quotes(db, ("ZEXP", "19.90", "19.95", et("2026-11-24 10:00:01"), 100, 100))  # 100 of 150 shown
    assert order(db, o["id"])["status"] == "partially_filled"
    expire_day(db, et("2026-11-24 16:00"))
    expired = order(db, o["id"])
    assert (expired["status"], expired["filled_qty"], expired["filled_avg_price"]) == ("expired", "100", "19.95")
    assert position(db, acct, "ZEXP")[0] == D(100)
    assert balances(db, acct)["held"] == 0
    assert events(db, o["id"]) == ["submitted", "partial_fill", "expired"]
    assert_invariants(db)


def test_an_unfilled_opg_order_expires_after_the_opening_auction_window(db, acct):
    # submitted Monday evening after 19:00 ET: for Tuesday's open, 09:30-09:31
    o = submit(db, acct, et("2026-11-23 19:30"), **{**LIMIT_BUY, "time_in_force": "opg"})
    assert instant(o["expires_at"]) == et("2026-11-24 09:31")
    expire_day(db, et("2026-11-24 09:30:59"))
    assert order(db, o["id"])["status"] == "accepted"
    expire_day(db, et("2026-11-24 09:31"))
    assert order(db, o["id"])["status"] == "expired"
    assert_invariants(db)


def test_an_unfilled_cls_order_expires_at_the_close(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **{**LIMIT_BUY, "time_in_force": "cls"})
    expire_day(db, et("2026-11-24 15:59"))
    assert order(db, o["id"])["status"] == "new"
    expire_day(db, et("2026-11-24 16:00"))
    assert order(db, o["id"])["status"] == "expired"
    assert_invariants(db)


def test_a_gtc_order_expires_90_days_after_creation_at_16_15(db, acct):
    # 2026-11-24 + 90 days = 2027-02-22
    o = submit(db, acct, et("2026-11-24 10:00"), **{**LIMIT_BUY, "time_in_force": "gtc"})
    assert instant(o["expires_at"]) == et("2027-02-22 16:15")
    expire_day(db, et("2027-02-22 20:00"))  # day-order expiry leaves gtc orders alone
    expire_gtc(db, et("2027-02-22 16:14:59"))
    assert order(db, o["id"])["status"] == "new"
    expire_gtc(db, et("2027-02-22 16:15"))
    expired = order(db, o["id"])
    assert (expired["status"], instant(expired["expired_at"])) == ("expired", et("2027-02-22 16:15"))
    assert_invariants(db)


def test_gtc_expiry_leaves_day_orders_alone(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY)
    expire_gtc(db, et("2026-11-25 16:15"))
    assert order(db, o["id"])["status"] == "new"
    assert_invariants(db)


def test_expiring_twice_changes_nothing(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY)
    assert expire_day(db, et("2026-11-24 16:00")) >= 1
    state = order(db, o["id"])
    assert expire_day(db, et("2026-11-24 16:00")) == 0
    assert expire_day(db, et("2026-11-25 09:00")) == 0  # a late run too
    assert order(db, o["id"]) == state
    assert events(db, o["id"]) == ["submitted", "expired"]
    assert trade_update_events(db, o["id"]) == ["new", "expired"]
    assert_invariants(db)


def test_filled_and_canceled_orders_do_not_expire(db, acct):
    filled = submit(db, acct, et("2026-11-24 10:00"), **LIMIT_BUY)
    insert_quotes(db, ("ZEXP", "19.90", "19.95", et("2026-11-24 10:00:01")))
    canceled = submit(db, acct, et("2026-11-24 10:01"), **LIMIT_BUY)
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, canceled["id"], et("2026-11-24 10:02")])
    expire_day(db, et("2026-11-24 16:00"))
    assert order(db, filled["id"])["status"] == "filled"
    assert order(db, canceled["id"])["status"] == "canceled"
    assert_invariants(db)

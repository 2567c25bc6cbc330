"""Every order event is also a trade_updates message (Alpaca's shape), sent in the same transaction,
and the consumer in jobs/ reads and deletes them in order."""

from decimal import Decimal as D

import pytest

from conftest import sign_up_in_db
from engine import add_asset, et, insert_quotes, submit
from jobs.trade_updates import consume_once

BUY = {"symbol": "ZTU", "qty": 150, "side": "buy", "type": "limit", "limit_price": "20.00", "time_in_force": "day"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZTU")
    db.execute("delete from pgmq.q_trade_updates")  # rolled back with the test
    return sign_up_in_db(db)["account_id"]


def queued(db):
    return [m for (m,) in db.execute("select message from pgmq.q_trade_updates order by msg_id")]


def test_submission_and_each_execution_send_a_trade_update(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **BUY)
    insert_quotes(db, ("ZTU", "19.90", "19.95", et("2026-11-24 10:00:01"), 100, 100),
                  ("ZTU", "19.91", "19.96", et("2026-11-24 10:00:02"), 100, 100))
    messages = queued(db)
    assert [m["event"] for m in messages] == ["new", "partial_fill", "fill"]
    new, partial, fill = messages
    assert new["order"]["id"] == o["id"] and new["account_id"] == str(acct)
    assert (partial["price"], partial["qty"], partial["position_qty"]) == ("19.95", "100", "100")
    assert (fill["price"], fill["qty"], fill["position_qty"]) == ("19.96", "50", "150")
    assert fill["order"]["status"] == "filled" and fill["execution_id"]
    assert D(partial["order"]["filled_qty"]) == 100


def test_a_cancel_sends_canceled(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **BUY)
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, o["id"], et("2026-11-24 10:01")])
    assert [m["event"] for m in queued(db)] == ["new", "canceled"]


def test_the_consumer_hands_over_each_message_in_order_and_deletes_it(db, acct):
    submit(db, acct, et("2026-11-24 10:00"), **BUY)
    insert_quotes(db, ("ZTU", "19.90", "19.95", et("2026-11-24 10:00:01"), 500, 500))
    db.execute("set local role mbt_jobs")
    seen = []
    assert consume_once(db, lambda m: seen.append(m["event"])) == 2
    assert seen == ["new", "fill"]
    db.execute("reset role")
    assert queued(db) == []


def test_a_message_whose_handler_fails_stays_queued(db, acct):
    submit(db, acct, et("2026-11-24 10:00"), **BUY)

    def broken(_):
        raise RuntimeError("downstream is down")

    assert consume_once(db, broken) == 0
    assert len(queued(db)) == 1


def test_erasing_a_user_drops_their_queued_trade_updates(db, acct):
    submit(db, acct, et("2026-11-24 10:00"), **BUY)
    user_id = db.execute("select user_id from mbt.accounts where account_id = %s", [acct]).fetchone()[0]
    db.execute("select auth.erase_user(%s)", [user_id])
    assert queued(db) == []

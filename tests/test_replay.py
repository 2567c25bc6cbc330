"""Deterministic replay: re-running the engine over the stored quotes reproduces every fill exactly,
and a fill that was not what the rules give is reported."""

from decimal import Decimal as D

import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit


@pytest.fixture
def trading_day(db):
    """A morning of quotes and orders: partial fills, a stop, a cancel, two symbols, immediate fills."""
    add_asset(db, "ZRPA")
    add_asset(db, "ZRPB")
    acct = sign_up_in_db(db)["account_id"]
    insert_quotes(db, ("ZRPA", "20.00", "20.02", et("2026-11-24 10:00:00")),
                  ("ZRPB", "40.00", "40.05", et("2026-11-24 10:00:00")))
    submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZRPA", qty=50, side="buy", type="market", time_in_force="day")
    limit = submit(db, acct, et("2026-11-24 10:00:02"), symbol="ZRPB", qty=300, side="buy", type="limit",
                   limit_price="40.00", time_in_force="day")
    stop = submit(db, acct, et("2026-11-24 10:00:03"), symbol="ZRPA", qty=50, side="sell", type="stop",
                  stop_price="19.90", time_in_force="gtc")
    gone = submit(db, acct, et("2026-11-24 10:00:04"), symbol="ZRPB", qty=10, side="buy", type="limit",
                  limit_price="39.00", time_in_force="day")
    insert_quotes(db, ("ZRPB", "39.95", "40.00", et("2026-11-24 10:00:05"), 100, 120),
                  ("ZRPA", "19.95", "19.97", et("2026-11-24 10:00:05")))
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, gone["id"], et("2026-11-24 10:00:06")])
    insert_quotes(db, ("ZRPB", "38.90", "38.99", et("2026-11-24 10:00:07"), 100, 100),   # after the cancel
                  ("ZRPA", "19.85", "19.88", et("2026-11-24 10:00:08")),
                  ("ZRPB", "39.90", "39.99", et("2026-11-24 10:00:09"), 100, 500))
    return {"account": acct, "limit": limit, "stop": stop}


def test_a_replay_reproduces_every_fill(db, trading_day):
    recorded = db.execute("select count(*) from mbt.fills where account_id = %s",
                          [trading_day["account"]]).fetchone()[0]
    assert recorded == 5  # market 50; limit 120 + 100 + 80; stop 50
    differences = db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                             [trading_day["account"], et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall()
    assert differences == []


def test_a_replay_writes_nothing(db, trading_day):
    before = db.execute("select (select count(*) from mbt.fills), (select sum(cash) from mbt.accounts), "
                        "(select count(*) from mbt.order_events)").fetchone()
    db.execute("select * from mbt.replay_fills(%s, %s, %s)",
               [trading_day["account"], et("2026-11-24 00:00"), et("2026-11-25 00:00")])
    after = db.execute("select (select count(*) from mbt.fills), (select sum(cash) from mbt.accounts), "
                       "(select count(*) from mbt.order_events)").fetchone()
    assert before == after


def test_a_fill_that_differs_from_the_rules_is_reported(db, trading_day):
    db.execute("update mbt.fills set price = price + 0.01 where order_id = %s", [trading_day["stop"]["id"]])
    [row] = db.execute(
        "select difference, recorded_price, replayed_price, replayed_rule from mbt.replay_fills(%s, %s, %s)",
        [trading_day["account"], et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall()
    assert row == ("different", D("19.86"), D("19.85"), "stop_triggered_bid")


def test_a_replay_reproduces_a_trailing_stop_that_trailed_a_rise_before_it_triggered(db):
    add_asset(db, "ZRPT")
    acct = sign_up_in_db(db)["account_id"]
    insert_quotes(db, ("ZRPT", "100.00", "100.10", et("2026-11-24 10:00:00")))
    submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZRPT", qty=10, side="buy", type="market", time_in_force="day")
    trail = submit(db, acct, et("2026-11-24 10:00:02"), symbol="ZRPT", qty=10, side="sell", type="trailing_stop",
                   trail_price="2.00", time_in_force="gtc")
    # mark 100.00 (stop 98.00): a dip to 99.00 leaves it; a rise to 103.00 moves the stop to 101.00; 100.90 sells
    insert_quotes(db, ("ZRPT", "99.00", "99.10", et("2026-11-24 10:00:03")))
    insert_quotes(db, ("ZRPT", "103.00", "103.10", et("2026-11-24 10:00:04")))
    insert_quotes(db, ("ZRPT", "100.90", "101.00", et("2026-11-24 10:00:05")))
    [(price,)] = db.execute("select price from mbt.fills where order_id = %s", [trail["id"]]).fetchall()
    assert price == D("100.90")
    # the replay starts the stop from its mark at submission (100.00), not from where it ended (103.00)
    differences = db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                             [acct, et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall()
    assert differences == []


def test_a_replay_starts_a_still_resting_trailing_stop_from_its_mark_at_submission(db):
    add_asset(db, "ZRPL")
    acct = sign_up_in_db(db)["account_id"]
    insert_quotes(db, ("ZRPL", "100.00", "100.10", et("2026-11-24 10:00:00")))
    submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZRPL", qty=10, side="buy", type="market", time_in_force="day")
    trail = submit(db, acct, et("2026-11-24 10:00:02"), symbol="ZRPL", qty=10, side="sell", type="trailing_stop",
                   trail_price="2.00", time_in_force="gtc")
    # mark 100.00 (stop 98.00): a dip to 99.00 leaves it; a rise to 103.00 moves its mark row to 103.00 (stop
    # 101.00), where it rests. Replayed from 103.00, the dip to 99.00 would have sold it.
    insert_quotes(db, ("ZRPL", "99.00", "99.10", et("2026-11-24 10:00:03")))
    insert_quotes(db, ("ZRPL", "103.00", "103.10", et("2026-11-24 10:00:04")))
    differences = db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                             [acct, et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall()
    assert differences == []
    # and the replay, rolled back, leaves the mark where the quotes put it
    assert db.execute("select hwm from mbt.trailing_marks where order_id = %s", [trail["id"]]).fetchone() == (D("103"),)


def test_a_replay_reproduces_orders_of_one_account_sharing_a_quotes_size(db):
    add_asset(db, "ZRPS")
    acct = sign_up_in_db(db)["account_id"]
    older = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZRPS", qty=200, side="buy", type="limit",
                   limit_price="50.10", time_in_force="day")
    better = submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZRPS", qty=200, side="buy", type="limit",
                    limit_price="50.20", time_in_force="day")
    # 300 displayed: better 200, older 100; then a market order at submission finds the quote used up
    insert_quotes(db, ("ZRPS", "49.98", "50.02", et("2026-11-24 10:00:02"), 100, 300))
    market = submit(db, acct, et("2026-11-24 10:00:03"), symbol="ZRPS", qty=100, side="buy", type="market",
                    time_in_force="day")
    assert market["filled_qty"] == "0"
    insert_quotes(db, ("ZRPS", "49.98", "50.03", et("2026-11-24 10:00:04"), 100, 150))
    got = db.execute("select order_id::text, qty from mbt.fills where account_id = %s "
                     "order by transaction_time, qty desc", [acct]).fetchall()
    # the second quote's 150: the market order (any price is the best price) 100, then older its last 50
    assert got == [(better["id"], D(200)), (older["id"], D(100)), (market["id"], D(100)), (older["id"], D(50))]
    differences = db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                             [acct, et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall()
    assert differences == []
    assert_invariants(db)


def test_a_replay_gives_an_order_filled_at_submission_only_what_earlier_orders_left_of_the_quote(db):
    add_asset(db, "ZRPQ")
    acct = sign_up_in_db(db)["account_id"]
    submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZRPQ", qty=200, side="buy", type="limit",
                   limit_price="50.10", time_in_force="day")
    insert_quotes(db, ("ZRPQ", "49.98", "50.02", et("2026-11-24 10:00:02"), 100, 300))
    newer = submit(db, acct, et("2026-11-24 10:00:03"), symbol="ZRPQ", qty=300, side="buy", type="market",
                   time_in_force="day")
    # live: the quote reached the resting order first (200 of its 300), the new order at submission (100)
    assert [q for (q,) in db.execute("select qty from mbt.fills where account_id = %s order by transaction_time",
                                     [acct])] == [D(200), D(100)]
    assert newer["filled_qty"] == "100"
    differences = db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                             [acct, et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall()
    assert differences == []
    assert_invariants(db)

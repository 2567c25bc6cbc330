"""Trailing stops on scripted quotes (Tuesday 2026-11-24, New York time). A sell trails the highest
bid, a buy the lowest ask; the stop price moves with that mark and never back; the stop triggers on
the quote that crosses it and fills there like a market order; only regular-hours quotes count."""

from decimal import Decimal as D

import pytest

from conftest import act_as, assert_invariants, sign_up_in_db
from engine import add_asset, et, fills, insert_quotes, order, submit


def user_with_shares(db):
    """A user who bought 10 ZTRL at 10:00 (ask 100.10)."""
    add_asset(db, "ZTRL")
    insert_quotes(db, ("ZTRL", "100.00", "100.10", et("2026-11-24 09:59:59")))
    user = sign_up_in_db(db)
    submit(db, user["account_id"], et("2026-11-24 10:00"), symbol="ZTRL", qty=10, side="buy", type="market",
           time_in_force="day")
    return user


@pytest.fixture
def acct(db):
    return user_with_shares(db)["account_id"]


def sell_trailing(db, acct, **trail):
    return submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=10, side="sell", type="trailing_stop",
                  time_in_force="gtc", **trail)


def test_a_sell_trailing_stop_starts_from_the_bid_at_submission(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    assert (o["hwm"], o["stop_price"], o["trail_price"], o["status"]) == ("100", "98", "2", "new")
    assert_invariants(db)


def test_the_stop_follows_the_highest_bid_and_never_moves_back(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "101.50", "101.60", et("2026-11-24 10:02")),
                  ("ZTRL", "103.00", "103.10", et("2026-11-24 10:03")),
                  ("ZTRL", "102.00", "102.10", et("2026-11-24 10:04")))
    now = order(db, o["id"])
    # highest bid 103.00, stop 103.00 - 2.00 = 101.00; the fall to 102.00 leaves both where they were
    assert (now["hwm"], now["stop_price"], now["status"]) == ("103", "101", "new")
    assert_invariants(db)


def test_it_triggers_on_the_quote_that_crosses_the_stop_and_fills_at_its_bid(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    # one batch: up to 103.00 (stop 101.00), then a drop to 100.90: triggered and sold at 100.90
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")),
                  ("ZTRL", "100.90", "101.00", et("2026-11-24 10:03")))
    [f] = fills(db, o["id"])
    assert (f["price"], f["rule"], f["qty"]) == (D("100.90"), "trailing_stop_triggered_bid", D(10))
    assert order(db, o["id"])["hwm"] == "103"
    assert_invariants(db)


def test_a_gap_through_the_stop_fills_at_the_gapped_bid(db, acct):
    o = sell_trailing(db, acct, trail_percent="1")
    # stop 1% under 100.00 = 99.00; the market opens a gap to 95.00: the fill is 95.00, not 99.00
    insert_quotes(db, ("ZTRL", "95.00", "95.20", et("2026-11-24 10:05")))
    assert fills(db, o["id"])[0]["price"] == D("95.00")
    assert_invariants(db)


def test_a_percent_trail_rounds_the_stop_to_the_cent(db, acct):
    o = sell_trailing(db, acct, trail_percent="1.5")
    insert_quotes(db, ("ZTRL", "101.37", "101.40", et("2026-11-24 10:02")))
    # 101.37 x (1 - 0.015) = 99.84945 -> 99.85
    assert order(db, o["id"])["stop_price"] == "99.85"
    assert_invariants(db)


def test_a_buy_trailing_stop_trails_the_lowest_ask(db, acct):
    o = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=5, side="buy", type="trailing_stop",
               time_in_force="day", trail_price="1.00")
    assert (o["hwm"], o["stop_price"]) == ("100.1", "101.1")
    insert_quotes(db, ("ZTRL", "98.90", "99.00", et("2026-11-24 10:02")),     # ask falls: stop 100.00
                  ("ZTRL", "99.95", "100.05", et("2026-11-24 10:03")))    # ask 100.05 >= 100.00: bought
    [f] = fills(db, o["id"])
    assert (f["price"], f["rule"]) == (D("100.05"), "trailing_stop_triggered_ask")
    assert_invariants(db)


def test_quotes_outside_regular_hours_neither_move_nor_trigger_it(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "110.00", "110.10", et("2026-11-24 17:00")),   # after hours: no new mark
                  ("ZTRL", "90.00", "90.10", et("2026-11-24 17:01")))     # after hours: no trigger
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("100", "98", "new")
    assert_invariants(db)


def test_replace_changes_the_trail_in_its_unit(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "100.50", "100.60", et("2026-11-24 10:02")))
    new = db.execute("select mbt.order_json(mbt.replace_order(%s, %s, %s::jsonb, %s))",
                     [acct, o["id"], '{"trail": "0.50"}', et("2026-11-24 10:03")]).fetchone()[0]
    assert (new["trail_price"], new["hwm"], new["stop_price"], new["replaces"]) == ("0.5", "100.5", "100", o["id"])
    assert_invariants(db)


def test_a_batch_that_cannot_trigger_it_still_moves_its_mark_and_a_later_one_triggers_it(db, acct):
    o = sell_trailing(db, acct, trail_percent="2")
    # one batch up to 105.00 with a pull-back of 1 % at most: the mark moves, the stop with it (102.90)
    insert_quotes(db, ("ZTRL", "104.00", "104.10", et("2026-11-24 10:02")),
                  ("ZTRL", "105.00", "105.10", et("2026-11-24 10:03")),
                  ("ZTRL", "103.95", "104.05", et("2026-11-24 10:04")))
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("105", "102.9", "new")
    insert_quotes(db, ("ZTRL", "102.90", "103.00", et("2026-11-24 10:05")))
    assert fills(db, o["id"])[0]["price"] == D("102.90")
    assert_invariants(db)


def test_a_triggered_trailing_stop_keeps_the_stop_price_it_triggered_at(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    # a first batch moves the mark to 103.00 (stop 101.00); a later one drops to 100.90 and triggers it
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "100.90", "101.00", et("2026-11-24 10:03")))
    stored = db.execute("select hwm, stop_price, status from mbt.orders where order_id = %s", [o["id"]]).fetchone()
    assert stored == (D("103"), D("101"), "filled")
    assert (order(db, o["id"])["hwm"], order(db, o["id"])["stop_price"]) == ("103", "101")
    assert_invariants(db)


def test_quotes_on_a_symbol_without_orders_leave_the_trailing_stop_where_it_was(db, acct):
    add_asset(db, "ZOTH")
    o = sell_trailing(db, acct, trail_price="2.00")
    # one batch: a new high on another symbol, none on ZTRL; the engine sees only ZTRL's quotes
    insert_quotes(db, ("ZOTH", "150.00", "150.10", et("2026-11-24 10:02")),
                  ("ZTRL", "100.50", "100.60", et("2026-11-24 10:02")))
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("100.5", "98.5", "new")
    assert_invariants(db)


# --- the marks a batch reads (mbt.trailing_marks): only the stops its prices can move or trigger ----------

def mark_row(db, order_id):
    return db.execute("select hwm, stop_price from mbt.trailing_marks where order_id = %s", [order_id]).fetchone()


def test_each_live_trailing_stop_has_a_mark_row_as_its_order_stands(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    assert mark_row(db, o["id"]) == (D("100"), D("98"))
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    # the mark moved to 103.00 and the stop to 101.00, on the order and on its mark row alike
    assert mark_row(db, o["id"]) == (D("103"), D("101"))
    assert (order(db, o["id"])["hwm"], order(db, o["id"])["stop_price"]) == ("103", "101")
    assert_invariants(db)


def test_a_triggered_trailing_stop_has_no_mark_row(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "97.90", "98.00", et("2026-11-24 10:02")))  # bid 97.90 <= stop 98.00
    assert order(db, o["id"])["status"] == "filled"
    assert mark_row(db, o["id"]) is None
    assert_invariants(db)


def test_a_mark_moves_on_its_mark_row_and_the_order_shows_it_as_of_the_quote_that_moved_it(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    # the order row keeps the mark it was submitted with while it lives; the mark row has the move
    stored = db.execute("select hwm from mbt.orders where order_id = %s", [o["id"]]).fetchone()
    moved = db.execute("select hwm, moved_at from mbt.trailing_marks where order_id = %s", [o["id"]]).fetchone()
    assert (stored, moved) == ((D("100"),), (D("103"), et("2026-11-24 10:02")))
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"]) == ("103", "101")
    assert now["updated_at"] == "2026-11-24T15:02:00+00:00"  # 10:02 New York
    assert_invariants(db)


def canceled_at(db, acct, order_id, at):
    """Cancel the order at `at`; return its stored (hwm, status) and the canceled event's (hwm, stop_price)."""
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, order_id, at])
    stored = db.execute("select hwm, status from mbt.orders where order_id = %s", [order_id]).fetchone()
    [event] = db.execute("select order_state from mbt.order_events where order_id = %s and event = 'canceled'",
                         [order_id]).fetchone()
    return stored, (event["hwm"], event["stop_price"])


def test_a_canceled_trailing_stop_keeps_the_mark_and_stop_it_stood_at(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    assert canceled_at(db, acct, o["id"], et("2026-11-24 10:03")) == ((D("103"), "canceled"), ("103", "101"))
    assert_invariants(db)


def test_an_expired_trailing_stop_keeps_the_mark_it_stood_at(db, acct):
    o = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=10, side="sell", type="trailing_stop",
               time_in_force="day", trail_percent="1")
    insert_quotes(db, ("ZTRL", "104.00", "104.10", et("2026-11-24 10:02")))
    db.execute("select mbt.expire_day_orders(%s)", [et("2026-11-24 16:00")])
    assert (order(db, o["id"])["status"], order(db, o["id"])["hwm"], order(db, o["id"])["stop_price"]) == (
        "expired", "104", "102.96")
    assert_invariants(db)


def test_a_replaced_trailing_stop_keeps_the_mark_it_stood_at(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    db.execute("select mbt.replace_order(%s, %s, %s::jsonb, %s)", [acct, o["id"], '{"trail": "0.50"}',
                                                                   et("2026-11-24 10:03")])
    assert (order(db, o["id"])["status"], order(db, o["id"])["hwm"]) == ("replaced", "103")
    assert_invariants(db)


def test_a_canceled_trailing_stop_has_no_mark_row(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, o["id"], et("2026-11-24 10:02")])
    assert mark_row(db, o["id"]) is None
    assert_invariants(db)


def test_an_expired_trailing_stop_has_no_mark_row(db, acct):
    o = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=10, side="sell", type="trailing_stop",
               time_in_force="day", trail_price="2.00")
    db.execute("select mbt.expire_day_orders(%s)", [et("2026-11-24 16:00")])
    assert order(db, o["id"])["status"] == "expired"
    assert mark_row(db, o["id"]) is None
    assert_invariants(db)


def test_erasing_the_user_takes_the_mark_rows_with_the_orders(db):
    user = user_with_shares(db)
    o = sell_trailing(db, user["account_id"], trail_price="2.00")
    assert mark_row(db, o["id"]) is not None
    db.execute("select auth.erase_user(%s)", [user["user_id"]])
    assert mark_row(db, o["id"]) is None
    assert_invariants(db)


def test_a_replaced_trailing_stop_hands_its_mark_row_to_the_new_order_with_the_new_trail(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    new = db.execute("select mbt.order_json(mbt.replace_order(%s, %s, %s::jsonb, %s))",
                     [acct, o["id"], '{"trail": "0.50"}', et("2026-11-24 10:03")]).fetchone()[0]
    assert mark_row(db, o["id"]) is None
    assert mark_row(db, new["id"]) == (D("100"), D("99.5"))
    assert_invariants(db)


def test_a_batch_that_neither_moves_nor_reaches_a_stop_leaves_it_and_its_mark_row_as_they_were(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    # bids 98.01 to 100.00: none above the mark (100.00), none at or under the stop (98.00)
    insert_quotes(db, ("ZTRL", "99.00", "99.10", et("2026-11-24 10:02")),
                  ("ZTRL", "100.00", "100.10", et("2026-11-24 10:03")),
                  ("ZTRL", "98.01", "98.11", et("2026-11-24 10:04")))
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("100", "98", "new")
    assert mark_row(db, o["id"]) == (D("100"), D("98"))
    assert_invariants(db)


def test_a_bid_a_cent_above_the_mark_moves_it_though_the_rest_of_the_batch_is_out_of_reach(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "99.00", "99.10", et("2026-11-24 10:02")),
                  ("ZTRL", "100.01", "100.11", et("2026-11-24 10:03")))
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("100.01", "98.01", "new")
    assert_invariants(db)


def test_a_bid_exactly_at_the_stop_triggers_it_though_no_bid_moves_the_mark(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "99.00", "99.10", et("2026-11-24 10:02")),
                  ("ZTRL", "98.00", "98.10", et("2026-11-24 10:03")))   # bid 98.00 = stop 98.00
    [f] = fills(db, o["id"])
    assert (f["price"], f["rule"]) == (D("98.00"), "trailing_stop_triggered_bid")
    assert_invariants(db)


def test_a_buy_stop_moves_on_an_ask_a_cent_under_its_mark_and_triggers_on_an_ask_at_its_stop(db, acct):
    moved = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=5, side="buy", type="trailing_stop",
                   time_in_force="day", trail_price="1.00")
    far = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=5, side="buy", type="trailing_stop",
                 time_in_force="day", trail_price="5.00")
    # marks 100.10; stops 101.10 and 105.10. Asks 100.09 then 101.09: the first moves the marks to 100.09
    # (stops 101.09 and 105.09), the second reaches the first's new stop and is under the second's
    insert_quotes(db, ("ZTRL", "99.99", "100.09", et("2026-11-24 10:02")),
                  ("ZTRL", "100.99", "101.09", et("2026-11-24 10:03")))
    [f] = fills(db, moved["id"])
    assert (f["price"], f["rule"]) == (D("101.09"), "trailing_stop_triggered_ask")
    now = order(db, far["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("100.09", "105.09", "new")
    # a batch with asks between the mark and the stop: the far stop stands
    insert_quotes(db, ("ZTRL", "101.90", "102.00", et("2026-11-24 10:04")),
                  ("ZTRL", "104.99", "105.08", et("2026-11-24 10:05")))
    assert (order(db, far["id"])["hwm"], order(db, far["id"])["status"]) == ("100.09", "new")
    assert mark_row(db, far["id"]) == (D("100.09"), D("105.09"))
    assert_invariants(db)


def test_a_moved_mark_shows_in_the_api_orders_view(db):
    user = user_with_shares(db)
    acct = user["account_id"]
    o = sell_trailing(db, acct, trail_percent="1")
    insert_quotes(db, ("ZTRL", "104.00", "104.10", et("2026-11-24 10:02")))
    act_as(db, "app_user", user["user_id"])
    seen = db.execute("select hwm, stop_price from api.orders where id = %s", [o["id"]]).fetchone()
    # mark 104.00, stop 1 % under it: 102.96
    assert [str(v) for v in seen] == ["104", "102.96"]


def test_a_moved_mark_shows_in_the_analysts_orders_view(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    db.execute("set local role analyst")
    # the analyst knows the order by its key only: the one trailing stop of symbol ZTRL still open
    [(stop,)] = db.execute("select stop_price from analytics.orders where symbol = 'ZTRL' "
                           "and order_type = 'trailing_stop' and status = 'new'").fetchall()
    assert stop == D("101.00")  # mark 103.00 - 2.00
    assert o["stop_price"] == "98"
    assert_invariants(db)


# --- riders: the live stops of a symbol and side whose marks have met share one (mbt.trailing_extremes) --------

def shared_mark(db, side="sell"):
    return db.execute("select hwm, moved_at from mbt.trailing_extremes where symbol = 'ZTRL' and side = %s",
                      [side]).fetchone()


def rides(db, order_id):
    return db.execute("select rides from mbt.trailing_marks where order_id = %s", [order_id]).fetchone()[0]


def test_a_stop_whose_mark_reaches_the_running_high_rides_the_shared_mark(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    assert rides(db, o["id"]) is False
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    assert rides(db, o["id"]) is True
    assert shared_mark(db) == (D("103"), et("2026-11-24 10:02"))
    assert_invariants(db)


def test_a_new_high_moves_the_shared_mark_alone_and_every_rider_shows_it(db, acct):
    by_price = sell_trailing(db, acct, trail_price="2.00")
    by_percent = sell_trailing(db, acct, trail_percent="5")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "104.50", "104.60", et("2026-11-24 10:03")))
    # the mark rows keep the mark they joined at (103.00); the one shared row has the new high
    assert (mark_row(db, by_price["id"]), mark_row(db, by_percent["id"])) == ((D("103"), D("101")),
                                                                             (D("103"), D("97.85")))
    assert shared_mark(db) == (D("104.5"), et("2026-11-24 10:03"))
    # 104.50 - 2.00 = 102.50; 104.50 x 0.95 = 99.275 -> 99.28
    a, b = order(db, by_price["id"]), order(db, by_percent["id"])
    assert (a["hwm"], a["stop_price"], b["hwm"], b["stop_price"]) == ("104.5", "102.5", "104.5", "99.28")
    assert a["updated_at"] == b["updated_at"] == "2026-11-24T15:03:00+00:00"
    assert_invariants(db)


def test_a_riders_mark_shows_in_the_api_and_analysts_orders_views(db):
    user = user_with_shares(db)
    acct = user["account_id"]
    o = sell_trailing(db, acct, trail_percent="1")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "104.00", "104.10", et("2026-11-24 10:03")))
    assert rides(db, o["id"]) is True
    [analysts] = db.execute("select stop_price from analytics.orders where symbol = 'ZTRL' "
                            "and order_type = 'trailing_stop'").fetchall()
    act_as(db, "app_user", user["user_id"])
    seen = db.execute("select hwm, stop_price, updated_at from api.orders where id = %s", [o["id"]]).fetchone()
    # shared mark 104.00, stop 1 % under it: 102.96, as of the quote that moved it
    assert (seen[0], seen[1], seen[2], analysts[0]) == ("104", "102.96", et("2026-11-24 10:03"), D("102.96"))


def test_a_pull_back_to_one_riders_trail_triggers_it_and_the_wider_rider_rides_on(db, acct):
    tight = sell_trailing(db, acct, trail_price="2.00")
    wide = sell_trailing(db, acct, trail_percent="5")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    # one batch: a new high of 104.00 (stops 102.00 and 98.80), then 101.90, under the tight stop only
    insert_quotes(db, ("ZTRL", "104.00", "104.10", et("2026-11-24 10:03")),
                  ("ZTRL", "101.90", "102.00", et("2026-11-24 10:04")))
    [f] = fills(db, tight["id"])
    assert (f["price"], f["rule"]) == (D("101.90"), "trailing_stop_triggered_bid")
    stored = db.execute("select hwm, stop_price, status from mbt.orders where order_id = %s",
                        [tight["id"]]).fetchone()
    assert stored == (D("104"), D("102"), "filled")
    w = order(db, wide["id"])
    assert (w["hwm"], w["stop_price"], w["status"], rides(db, wide["id"])) == ("104", "98.8", "new", True)
    assert_invariants(db)


def test_a_canceled_rider_keeps_the_shared_mark_it_stood_at(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "104.20", "104.30", et("2026-11-24 10:03")))
    assert canceled_at(db, acct, o["id"], et("2026-11-24 10:04")) == ((D("104.2"), "canceled"), ("104.2", "102.2"))
    assert_invariants(db)


def test_a_stop_under_the_running_high_trails_on_its_own_until_its_mark_meets_the_shared_one(db, acct):
    first = sell_trailing(db, acct, trail_percent="5")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "101.00", "101.10", et("2026-11-24 10:03")))
    later = submit(db, acct, et("2026-11-24 10:04"), symbol="ZTRL", qty=10, side="sell", type="trailing_stop",
                   time_in_force="gtc", trail_percent="5")
    assert later["hwm"] == "101"
    # 102.00: the later stop's own mark moves (the shared one stays at 103.00)
    insert_quotes(db, ("ZTRL", "102.00", "102.10", et("2026-11-24 10:05")))
    assert (rides(db, later["id"]), mark_row(db, later["id"])[0], shared_mark(db)[0]) == (False, D("102"), D("103"))
    # 103.50: both marks are the new high, and the later stop joins
    insert_quotes(db, ("ZTRL", "103.50", "103.60", et("2026-11-24 10:06")))
    assert (rides(db, first["id"]), rides(db, later["id"]), shared_mark(db)[0]) == (True, True, D("103.5"))
    assert order(db, later["id"])["hwm"] == order(db, first["id"])["hwm"] == "103.5"
    assert_invariants(db)


def test_when_the_last_rider_leaves_the_shared_mark_clears_and_a_stop_under_the_old_high_can_ride(db, acct):
    o = sell_trailing(db, acct, trail_price="1.00")
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "101.90", "102.00", et("2026-11-24 10:03")))   # under 102.00: sold
    assert order(db, o["id"])["status"] == "filled"
    # the next batch within its trail's reach reads the riders, finds none, and clears the shared mark
    insert_quotes(db, ("ZTRL", "101.50", "101.60", et("2026-11-24 10:04")))
    assert shared_mark(db)[0] is None
    insert_quotes(db, ("ZTRL", "101.50", "101.60", et("2026-11-24 10:04:30")))
    submit(db, acct, et("2026-11-24 10:04:30"), symbol="ZTRL", qty=10, side="buy", type="market", time_in_force="day")
    later = submit(db, acct, et("2026-11-24 10:05"), symbol="ZTRL", qty=10, side="sell", type="trailing_stop",
                   time_in_force="gtc", trail_price="1.00")
    insert_quotes(db, ("ZTRL", "102.00", "102.10", et("2026-11-24 10:06")))
    assert (rides(db, later["id"]), shared_mark(db)[0]) == (True, D("102"))
    assert_invariants(db)


def test_buy_stops_ride_the_lowest_ask(db, acct):
    o = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=5, side="buy", type="trailing_stop",
               time_in_force="day", trail_price="1.00")
    insert_quotes(db, ("ZTRL", "98.90", "99.00", et("2026-11-24 10:02")))
    insert_quotes(db, ("ZTRL", "98.40", "98.50", et("2026-11-24 10:03")))
    assert (rides(db, o["id"]), shared_mark(db, "buy")[0]) == (True, D("98.5"))
    assert (order(db, o["id"])["hwm"], order(db, o["id"])["stop_price"]) == ("98.5", "99.5")
    insert_quotes(db, ("ZTRL", "99.40", "99.50", et("2026-11-24 10:04")))   # ask 99.50 = stop: bought
    [f] = fills(db, o["id"])
    assert (f["price"], f["rule"]) == (D("99.50"), "trailing_stop_triggered_ask")
    assert_invariants(db)


def test_a_stop_joins_the_shared_mark_only_once_no_quote_older_than_it_can_still_arrive(db, acct):
    o = sell_trailing(db, acct, trail_price="2.00")   # submitted 10:01:00
    # a new high received 3 s after the submission: within the 5 s staleness bound, a later batch could still
    # bring a usable quote older than the stop, which must not move it; so its mark moves on its own row
    insert_quotes(db, ("ZTRL", "103.00", "103.10", et("2026-11-24 10:01:03")))
    assert (rides(db, o["id"]), mark_row(db, o["id"])) == (False, (D("103"), D("101")))
    insert_quotes(db, ("ZTRL", "103.50", "103.60", et("2026-11-24 10:02")))
    assert (rides(db, o["id"]), order(db, o["id"])["hwm"]) == (True, "103.5")
    assert_invariants(db)


def test_a_zero_priced_quote_beside_a_buy_rider_neither_fails_the_batch_nor_moves_the_rider(db, acct):
    o = submit(db, acct, et("2026-11-24 10:01"), symbol="ZTRL", qty=5, side="buy", type="trailing_stop",
               time_in_force="day", trail_percent="1")
    insert_quotes(db, ("ZTRL", "98.90", "99.00", et("2026-11-24 10:02")))
    assert rides(db, o["id"]) is True
    # a zero ask never fills or moves a mark (and the quote trigger, which sees it, must not divide by it)
    insert_quotes(db, ("ZTRL", "0", "0", et("2026-11-24 10:03")), ("ZTRL", "98.95", "99.05", et("2026-11-24 10:04")))
    now = order(db, o["id"])
    assert (now["hwm"], now["stop_price"], now["status"]) == ("99", "99.99", "new")
    assert_invariants(db)

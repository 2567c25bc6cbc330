"""Bracket, oco and oto orders on scripted quotes (Tuesday 2026-11-24, New York time): exits held
until the entry is completely filled, one exit filling cancels the other, a partial take-profit
leaves the stop-loss only the remainder, canceling any order of a group cancels the rest."""

import json
from decimal import Decimal as D

import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, cash, et, fills, insert_quotes, order, position, submit

# buy 100 ZBRK; take profit at 110, stop out at 95
BRACKET = {"symbol": "ZBRK", "qty": 100, "side": "buy", "type": "limit", "limit_price": "100.00",
           "time_in_force": "gtc", "order_class": "bracket",
           "take_profit": {"limit_price": "110.00"}, "stop_loss": {"stop_price": "95.00"}}


@pytest.fixture
def acct(db):
    add_asset(db, "ZBRK")
    insert_quotes(db, ("ZBRK", "100.40", "100.60", et("2026-11-24 09:59")))
    return sign_up_in_db(db)["account_id"]


def legs(db, parent_id) -> dict[str, dict]:
    rows = db.execute("select leg, mbt.order_json(o) from mbt.orders as o where parent_order_id = %s",
                      [parent_id]).fetchall()
    return {leg: o for leg, o in rows}


def events(db, order_id) -> list[str]:
    return [r[0] for r in db.execute("select event from mbt.order_events where order_id = %s order by event_id",
                                     [order_id])]


def test_a_bracket_answers_with_its_exits_nested_and_held(db, acct):
    row = db.execute("select mbt.order_json_nested(mbt.submit_order(%s, %s::jsonb, %s))",
                     [acct, json.dumps(BRACKET), et("2026-11-24 10:00")]).fetchone()[0]
    assert (row["order_class"], row["status"]) == ("bracket", "new")
    tp, sl = row["legs"]
    fields = ("type", "side", "limit_price", "stop_price", "qty", "status")
    assert tuple(tp[f] for f in fields) == ("limit", "sell", "110", None, "100", "held")
    assert tuple(sl[f] for f in fields) == ("stop", "sell", None, "95", "100", "held")
    assert tp["position_intent"] == sl["position_intent"] == "sell_to_close"


def test_exits_stay_held_through_a_partial_entry_and_go_live_when_it_completes(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01"), 100, 40))   # 40 of 100 at 99.90
    assert order(db, entry["id"])["status"] == "partially_filled"
    assert {leg["status"] for leg in legs(db, entry["id"]).values()} == {"held"}
    # the take-profit price is reached while the exits are held: nothing happens to them
    insert_quotes(db, ("ZBRK", "110.50", "110.60", et("2026-11-24 10:02")))
    assert {leg["filled_qty"] for leg in legs(db, entry["id"]).values()} == {"0"}
    insert_quotes(db, ("ZBRK", "99.70", "99.80", et("2026-11-24 10:03"), 100, 100))  # the other 60 at 99.80
    assert order(db, entry["id"])["status"] == "filled"
    assert {leg["status"] for leg in legs(db, entry["id"]).values()} == {"new"}
    assert events(db, legs(db, entry["id"])["take_profit"]["id"]) == ["submitted", "accepted"]


def test_exits_go_live_within_the_batch_and_fill_on_its_later_quotes(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    # one batch: the entry fills on the first quote, the take-profit on the third (not on the entry's own quote)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")),
                  ("ZBRK", "105.00", "105.10", et("2026-11-24 10:02")),
                  ("ZBRK", "110.20", "110.30", et("2026-11-24 10:03")))
    exits = legs(db, entry["id"])
    assert (exits["take_profit"]["status"], exits["take_profit"]["filled_avg_price"]) == ("filled", "110.2")
    assert exits["stop_loss"]["status"] == "canceled"
    # bought 100 at 99.90, sold 100 at 110.20: +1,030.00
    assert position(db, acct, "ZBRK")[0] == 0
    assert cash(db, acct) == D("100000.00") - D("9990.00") + D("11020.00")


def test_the_stop_loss_filling_cancels_the_take_profit(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")))
    insert_quotes(db, ("ZBRK", "94.90", "95.00", et("2026-11-24 10:05")))     # bid 94.90 <= stop 95.00
    exits = legs(db, entry["id"])
    assert (exits["stop_loss"]["status"], exits["stop_loss"]["filled_avg_price"]) == ("filled", "94.9")
    assert fills(db, exits["stop_loss"]["id"])[0]["rule"] == "stop_triggered_bid"
    assert (exits["take_profit"]["status"], exits["take_profit"]["filled_qty"]) == ("canceled", "0")
    assert events(db, exits["take_profit"]["id"]) == ["submitted", "accepted", "canceled"]
    assert position(db, acct, "ZBRK")[0] == 0


def test_a_partial_take_profit_leaves_the_stop_loss_only_the_remainder(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")))
    insert_quotes(db, ("ZBRK", "110.00", "110.10", et("2026-11-24 10:02"), 30, 100))  # 30 of 100 at 110.00
    exits = legs(db, entry["id"])
    assert (exits["take_profit"]["status"], exits["take_profit"]["filled_qty"]) == ("partially_filled", "30")
    assert (exits["stop_loss"]["status"], exits["stop_loss"]["qty"]) == ("new", "70")
    # the market falls through the stop: the stop-loss sells the 70 left, the take-profit is canceled with its 30
    insert_quotes(db, ("ZBRK", "94.00", "94.10", et("2026-11-24 10:03")))
    exits = legs(db, entry["id"])
    assert (exits["stop_loss"]["status"], exits["stop_loss"]["filled_qty"]) == ("filled", "70")
    assert (exits["take_profit"]["status"], exits["take_profit"]["filled_qty"]) == ("canceled", "30")
    assert position(db, acct, "ZBRK")[0] == 0


def test_both_exits_in_one_batch_never_sell_more_than_the_position(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")))
    # a wild batch: 40 at the take-profit, then a crash through the stop with size for everything
    insert_quotes(db, ("ZBRK", "110.00", "110.10", et("2026-11-24 10:02"), 40, 100),
                  ("ZBRK", "94.00", "94.10", et("2026-11-24 10:02:01"), 500, 500))
    exits = legs(db, entry["id"])
    assert (exits["take_profit"]["filled_qty"], exits["stop_loss"]["filled_qty"]) == ("40", "60")
    assert (exits["take_profit"]["status"], exits["stop_loss"]["status"]) == ("canceled", "filled")
    assert [f["leaves_qty"] for f in fills(db, exits["stop_loss"]["id"])] == [0]
    assert position(db, acct, "ZBRK")[0] == 0


def test_canceling_any_order_of_a_group_cancels_the_rest(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")))
    exits = legs(db, entry["id"])
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, exits["stop_loss"]["id"], et("2026-11-24 10:02")])
    assert {leg["status"] for leg in legs(db, entry["id"]).values()} == {"canceled"}


def test_canceling_a_bracket_entry_cancels_its_held_exits_and_releases_the_hold(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, entry["id"], et("2026-11-24 10:02")])
    assert {leg["status"] for leg in legs(db, entry["id"]).values()} == {"canceled"}
    assert db.execute("select sum(buying_power_held) from mbt.orders where account_id = %s", [acct]).fetchone()[0] == 0


def test_an_oco_protects_a_position_held_and_one_exit_cancels_the_other(db, acct):
    submit(db, acct, et("2026-11-24 10:00"), symbol="ZBRK", qty=50, side="buy", type="market", time_in_force="day")
    insert_quotes(db, ("ZBRK", "100.40", "100.60", et("2026-11-24 10:00:30")))
    tp = submit(db, acct, et("2026-11-24 10:01"), symbol="ZBRK", qty=50, side="sell", type="limit",
                time_in_force="gtc", order_class="oco", take_profit={"limit_price": "104.00"},
                stop_loss={"stop_price": "97.00", "limit_price": "96.50"})
    assert (tp["type"], tp["limit_price"], tp["status"]) == ("limit", "104", "new")
    sl = legs(db, tp["id"])["stop_loss"]
    assert (sl["type"], sl["stop_price"], sl["limit_price"], sl["status"]) == ("stop_limit", "97", "96.5", "new")
    insert_quotes(db, ("ZBRK", "104.00", "104.20", et("2026-11-24 10:10")))
    assert order(db, tp["id"])["status"] == "filled" and order(db, sl["id"])["status"] == "canceled"
    assert position(db, acct, "ZBRK")[0] == 0


def test_an_oto_with_a_stop_loss_only(db, acct):
    oto = {k: v for k, v in BRACKET.items() if k != "take_profit"}
    entry = submit(db, acct, et("2026-11-24 10:00"), **{**oto, "order_class": "oto"})
    assert set(legs(db, entry["id"])) == {"stop_loss"}
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")),
                  ("ZBRK", "94.50", "94.60", et("2026-11-24 10:02")))
    assert legs(db, entry["id"])["stop_loss"]["filled_avg_price"] == "94.5"


def test_a_take_profit_takes_a_new_price_and_keeps_its_place_in_the_group(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")))
    old_tp = legs(db, entry["id"])["take_profit"]
    new_tp = db.execute("select mbt.order_json(mbt.replace_order(%s, %s, %s::jsonb, %s))",
                        [acct, old_tp["id"], '{"limit_price": "105.00"}', et("2026-11-24 10:02")]).fetchone()[0]
    assert (new_tp["limit_price"], new_tp["replaces"], new_tp["status"]) == ("105", old_tp["id"], "new")
    assert legs(db, entry["id"])["take_profit"]["id"] == new_tp["id"]
    insert_quotes(db, ("ZBRK", "105.00", "105.10", et("2026-11-24 10:03")))
    exits = legs(db, entry["id"])
    assert (exits["take_profit"]["status"], exits["stop_loss"]["status"]) == ("filled", "canceled")


def test_a_take_profit_below_its_stop_loss_is_refused_on_replace(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    tp = legs(db, entry["id"])["take_profit"]
    with pytest.raises(Exception) as err:
        db.execute("select mbt.replace_order(%s, %s, %s::jsonb, %s)",
                   [acct, tp["id"], '{"limit_price": "94.00"}', et("2026-11-24 10:02")])
    assert err.value.diag.sqlstate == "MBO20"


def test_an_exit_that_fills_in_part_and_is_canceled_in_one_batch_has_its_audit_rows_in_that_order(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **BRACKET)
    insert_quotes(db, ("ZBRK", "99.80", "99.90", et("2026-11-24 10:01")))
    # one batch: the take-profit sells 30 of 100, then the stop-loss the other 70, which cancels the take-profit
    insert_quotes(db, ("ZBRK", "110.00", "110.10", et("2026-11-24 10:02"), 30, 100),
                  ("ZBRK", "94.90", "95.00", et("2026-11-24 10:03"), 100, 100))
    take_profit = legs(db, entry["id"])["take_profit"]
    assert (take_profit["status"], take_profit["filled_qty"]) == ("canceled", "30")
    rows = db.execute("select event, event_at from mbt.order_events where order_id = %s order by event_id",
                      [take_profit["id"]]).fetchall()
    assert rows == [("submitted", et("2026-11-24 10:00")), ("accepted", et("2026-11-24 10:01")),
                    ("partial_fill", et("2026-11-24 10:02")), ("canceled", et("2026-11-24 10:03"))]
    assert_invariants(db)

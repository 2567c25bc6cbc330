"""The fill engine on scripted quote sequences (a regular trading day, Tuesday 2026-11-24, New York
time). Buys fill at the ask, sells at the bid; a limit fills when marketable, at the quote; stops
trigger on the side they protect; one quote fills at most its displayed size."""

from decimal import Decimal as D

import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, cash, et, fills, insert_quotes, order, position, submit

BUY_ONE_AT_MARKET = {"symbol": "ZAAA", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZAAA")
    add_asset(db, "ZBBB")
    return sign_up_in_db(db)["account_id"]


def test_a_marketable_market_buy_fills_at_once_at_the_ask_of_the_fresh_quote(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:00")))
    o = submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZAAA", qty=10, side="buy", type="market",
               time_in_force="day")
    assert (o["status"], o["filled_qty"], o["filled_avg_price"]) == ("filled", "10", "190.02")
    [f] = fills(db, o["id"])
    assert (f["qty"], f["price"], f["rule"]) == (D(10), D("190.02"), "market_at_ask")
    assert (f["quote_bid_price"], f["quote_ask_price"], f["quote_time"]) == (D("189.98"), D("190.02"),
                                                                             et("2026-11-24 10:00:00"))
    # 100,000.00 - 10 x 190.02 = 98,099.80
    assert cash(db, acct) == D("98099.80")
    assert position(db, acct, "ZAAA") == (D(10), D("190.020000000"), D(0))
    assert_invariants(db)


def test_without_a_fresh_quote_a_market_order_rests_until_the_next_quote(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 09:59:00")))  # a minute old at submission
    o = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZAAA", qty=10, side="buy", type="market",
               time_in_force="day")
    assert o["status"] == "new" and o["filled_qty"] == "0"
    insert_quotes(db, ("ZAAA", "190.00", "190.05", et("2026-11-24 10:00:02")))
    assert order(db, o["id"])["status"] == "filled"
    assert fills(db, o["id"])[0]["price"] == D("190.05")
    assert_invariants(db)


def test_a_limit_buy_rests_until_marketable_and_fills_at_the_quote(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZAAA", qty=5, side="buy", type="limit",
               limit_price="189.50", time_in_force="day")
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:01")))
    assert order(db, o["id"])["status"] == "new"
    insert_quotes(db, ("ZAAA", "189.30", "189.40", et("2026-11-24 10:00:02")))
    [f] = fills(db, o["id"])
    assert (f["price"], f["rule"]) == (D("189.40"), "limit_marketable")  # better than the 189.50 limit
    assert_invariants(db)


def test_a_sell_stop_triggers_on_the_bid_and_fills_there(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:00")))
    submit(db, acct, et("2026-11-24 10:00:00.5"), symbol="ZAAA", qty=10, side="buy", type="market", time_in_force="day")
    stop = submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZAAA", qty=10, side="sell", type="stop",
                  stop_price="185.00", time_in_force="gtc")
    insert_quotes(db, ("ZAAA", "186.00", "186.04", et("2026-11-24 10:00:02")),
                  ("ZAAA", "185.01", "186.20", et("2026-11-24 10:00:03")))  # the ask falling past 185 is no trigger
    assert order(db, stop["id"])["status"] == "new"
    insert_quotes(db, ("ZAAA", "184.90", "184.95", et("2026-11-24 10:00:04")))
    [f] = fills(db, stop["id"])
    assert (f["price"], f["rule"], f["position_qty"]) == (D("184.90"), "stop_triggered_bid", D(0))
    # bought 10 at 190.02, sold 10 at 184.90: realized (184.90 - 190.02) x 10 = -51.20
    assert f["realized_pl"] == D("-51.20")
    assert position(db, acct, "ZAAA")[2] == D("-51.20")
    assert_invariants(db)


def test_a_buy_stop_limit_triggers_on_the_ask_then_waits_for_its_limit(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZAAA", qty=1, side="buy", type="stop_limit",
               stop_price="191.00", limit_price="191.50", time_in_force="day")
    insert_quotes(db, ("ZAAA", "191.40", "191.60", et("2026-11-24 10:00:01")))  # triggered; 191.60 > limit
    assert order(db, o["id"])["status"] == "new"
    assert db.execute("select stop_triggered_at from mbt.orders where order_id = %s",
                      [o["id"]]).fetchone()[0] == et("2026-11-24 10:00:01")
    insert_quotes(db, ("ZAAA", "190.80", "190.90", et("2026-11-24 10:00:02")))  # below the stop, but triggered
    [f] = fills(db, o["id"])
    assert (f["price"], f["rule"]) == (D("190.90"), "stop_limit_triggered_marketable")
    assert_invariants(db)


def test_one_quote_fills_at_most_its_displayed_size_and_the_rest_rests(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZAAA", qty=250, side="buy", type="limit",
               limit_price="190.10", time_in_force="day")
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:01"), 100, 100))
    assert (order(db, o["id"])["status"], order(db, o["id"])["filled_qty"]) == ("partially_filled", "100")
    insert_quotes(db, ("ZAAA", "190.01", "190.04", et("2026-11-24 10:00:02"), 300, 100),
                  ("ZAAA", "190.02", "190.06", et("2026-11-24 10:00:03"), 300, 200))
    got = [(f["qty"], f["price"], f["cum_qty"], f["leaves_qty"]) for f in fills(db, o["id"])]
    assert got == [(D(100), D("190.02"), D(100), D(150)), (D(100), D("190.04"), D(200), D(50)),
                   (D(50), D("190.06"), D(250), D(0))]
    done = order(db, o["id"])
    # (100 x 190.02 + 100 x 190.04 + 50 x 190.06) / 250 = 190.036
    assert (done["status"], D(done["filled_avg_price"])) == ("filled", D("190.036"))
    assert_invariants(db)


def test_the_full_fill_model_fills_whole_on_one_quote_as_alpaca_paper_does(db, acct):
    db.execute("update mbt.accounts set fill_model = 'full' where account_id = %s", [acct])
    o = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZAAA", qty=1000, side="buy", type="limit",
               limit_price="190.10", time_in_force="day")
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:01"), 100, 100))
    assert [f["qty"] for f in fills(db, o["id"])] == [D(1000)]
    assert_invariants(db)


@pytest.mark.parametrize(("bid", "ask", "lag", "why"), [
    ("190.05", "190.02", 0.05, "crossed"),
    ("190.02", "190.02", 0.05, "locked"),
    ("0", "190.02", 0.05, "no bid"),
    ("189.98", "190.02", 30, "arrived 30 s late: stale"),
])
def test_quotes_that_are_crossed_locked_zero_or_stale_never_fill(db, acct, bid, ask, lag, why):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 09:59")))  # values the order, too old to fill
    o = submit(db, acct, et("2026-11-24 10:00:00"), **BUY_ONE_AT_MARKET)
    insert_quotes(db, ("ZAAA", bid, ask, et("2026-11-24 10:00:01"), 100, 100, lag))
    assert order(db, o["id"])["status"] == "new", why
    assert_invariants(db)


def test_a_zero_size_on_the_side_an_order_takes_never_fills(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 09:59")))
    o = submit(db, acct, et("2026-11-24 10:00:00"), **BUY_ONE_AT_MARKET)
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:01"), 100, 0))
    assert order(db, o["id"])["status"] == "new"
    assert_invariants(db)


def test_a_quote_older_than_the_order_never_fills_it(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 09:59")))
    o = submit(db, acct, et("2026-11-24 10:00:05"), **BUY_ONE_AT_MARKET)
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:04")))  # arrives late, timestamped before
    assert order(db, o["id"])["status"] == "new"
    assert_invariants(db)


def test_a_day_order_fills_only_in_regular_hours_unless_extended(db, acct):
    plain = submit(db, acct, et("2026-11-24 07:00"), symbol="ZAAA", qty=1, side="buy", type="limit",
                   limit_price="191.00", time_in_force="day")
    extended = submit(db, acct, et("2026-11-24 07:00"), symbol="ZBBB", qty=1, side="buy", type="limit",
                      limit_price="191.00", time_in_force="day", extended_hours=True)
    assert (plain["status"], extended["status"]) == ("accepted", "new")  # accepted: queued for the open
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 08:00")),
                  ("ZBBB", "189.98", "190.02", et("2026-11-24 08:00")))
    assert (order(db, plain["id"])["status"], order(db, extended["id"])["status"]) == ("accepted", "filled")
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 09:30")))
    assert order(db, plain["id"])["status"] == "filled"
    assert_invariants(db)


def test_a_day_order_does_not_fill_after_its_session_closed(db, acct):
    o = submit(db, acct, et("2026-11-24 15:00"), symbol="ZAAA", qty=1, side="buy", type="limit",
               limit_price="180.00", time_in_force="day")
    assert o["expires_at"].startswith("2026-11-24T21:00:00")  # 16:00 ET
    insert_quotes(db, ("ZAAA", "179.00", "179.05", et("2026-11-25 10:00")))
    assert order(db, o["id"])["status"] == "new"  # the expiry job marks it expired
    assert_invariants(db)


def test_one_batch_fills_several_orders_on_several_symbols_in_time_order(db, acct):
    a = submit(db, acct, et("2026-11-24 10:00"), symbol="ZAAA", qty=1, side="buy", type="limit",
               limit_price="100.00", time_in_force="day")
    b = submit(db, acct, et("2026-11-24 10:00"), symbol="ZBBB", qty=2, side="buy", type="limit",
               limit_price="50.00", time_in_force="day")
    insert_quotes(db, ("ZBBB", "49.90", "49.95", et("2026-11-24 10:00:02")),
                  ("ZAAA", "99.95", "100.50", et("2026-11-24 10:00:01")),
                  ("ZAAA", "99.90", "99.99", et("2026-11-24 10:00:03")))
    assert [f["price"] for f in fills(db, a["id"])] == [D("99.99")]
    assert [f["price"] for f in fills(db, b["id"])] == [D("49.95")]
    assert cash(db, acct) == D("100000.00") - D("99.99") - 2 * D("49.95")
    assert_invariants(db)


def test_positions_average_in_realize_on_the_way_out_and_can_flip_short(db, acct):
    def trade(side, qty, bid, ask, at):
        insert_quotes(db, ("ZAAA", bid, ask, et(at)))
        submit(db, acct, et(at), symbol="ZAAA", qty=qty, side=side, type="market",
               time_in_force="day")

    trade("buy", 10, "99.99", "100.00", "2026-11-24 10:00:00")
    trade("buy", 10, "109.99", "110.00", "2026-11-24 10:01:00")
    assert position(db, acct, "ZAAA")[:2] == (D(20), D("105"))  # (10 x 100 + 10 x 110) / 20
    trade("sell", 5, "120.00", "120.01", "2026-11-24 10:02:00")
    assert position(db, acct, "ZAAA") == (D(15), D("105"), D("75"))  # 5 x (120 - 105)
    trade("sell", 20, "90.00", "90.01", "2026-11-24 10:03:00")
    # closes 15 at 90 (15 x -15 = -225), opens 5 short at 90
    assert position(db, acct, "ZAAA") == (D(-5), D("90"), D("-150"))
    assert_invariants(db)

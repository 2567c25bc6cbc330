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


# --- the times of a fill made at submission -------------------------------------------------------

def test_a_fill_at_submission_takes_the_submission_time_and_keeps_the_quote_time_as_evidence(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:00")))
    o = submit(db, acct, et("2026-11-24 10:00:01"), **{**BUY_ONE_AT_MARKET, "qty": 10})
    # the order and its execution happen when it was submitted, 1 s after the quote that priced them
    row = db.execute("select created_at, submitted_at, filled_at, updated_at from mbt.orders where order_id = %s",
                     [o["id"]]).fetchone()
    assert row == (et("2026-11-24 10:00:01"),) * 4
    assert db.execute("select transaction_time, quote_time from mbt.fills where order_id = %s",
                      [o["id"]]).fetchone() == (et("2026-11-24 10:00:01"), et("2026-11-24 10:00:00"))
    assert db.execute("select opened_at from mbt.positions where account_id = %s", [acct]).fetchone() == (
        et("2026-11-24 10:00:01"),)
    events = db.execute("select event, event_at from mbt.order_events where order_id = %s order by event_id",
                        [o["id"]]).fetchall()
    assert events == [("submitted", et("2026-11-24 10:00:01")), ("fill", et("2026-11-24 10:00:01"))]
    assert_invariants(db)


def test_a_stop_triggered_at_submission_is_stamped_with_the_submission_time(db, acct):
    insert_quotes(db, ("ZAAA", "189.98", "190.02", et("2026-11-24 10:00:00")))
    o = submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZAAA", qty=1, side="buy", type="stop",
               stop_price="190.00", time_in_force="day")
    assert db.execute("select stop_triggered_at, filled_at from mbt.orders where order_id = %s",
                      [o["id"]]).fetchone() == (et("2026-11-24 10:00:01"), et("2026-11-24 10:00:01"))
    assert_invariants(db)


def test_every_order_is_created_submitted_and_filled_in_that_order_with_its_audit_rows_in_time_order(db, acct):
    # an immediate fill, a bracket filled at once whose exits go live and fill, a stop that fills in two parts
    insert_quotes(db, ("ZAAA", "99.98", "100.02", et("2026-11-24 10:00:00")),
                  ("ZBBB", "49.98", "50.02", et("2026-11-24 10:00:00")))
    submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZAAA", qty=50, side="buy", type="market", time_in_force="day")
    submit(db, acct, et("2026-11-24 10:00:02"), symbol="ZBBB", qty=10, side="buy", type="market", time_in_force="gtc",
           order_class="bracket", take_profit={"limit_price": "51.00"}, stop_loss={"stop_price": "49.00"})
    submit(db, acct, et("2026-11-24 10:00:03"), symbol="ZAAA", qty=30, side="sell", type="stop", stop_price="99.50",
           time_in_force="day")
    insert_quotes(db, ("ZAAA", "99.40", "99.45", et("2026-11-24 10:00:04"), 20, 100),
                  ("ZBBB", "51.00", "51.05", et("2026-11-24 10:00:05")),
                  ("ZAAA", "99.30", "99.35", et("2026-11-24 10:00:06")))
    assert db.execute("select count(*) from mbt.fills where account_id = %s", [acct]).fetchone() == (5,)
    out_of_order = db.execute("""
        select o.order_id, o.created_at, o.submitted_at, o.filled_at, o.updated_at
        from mbt.orders as o
        where o.account_id = %(a)s
            and not (o.created_at <= o.submitted_at and o.submitted_at <= coalesce(o.filled_at, 'infinity')
                and o.submitted_at <= o.updated_at)
        union all
        select f.order_id, null, o.submitted_at, f.transaction_time, null
        from mbt.fills as f inner join mbt.orders as o on f.account_id = o.account_id and f.order_id = o.order_id
        where f.account_id = %(a)s and f.transaction_time < o.submitted_at
        union all
        select e.order_id, null, null, e.event_at, null
        from (select e.*, lag(e.event_at) over (partition by e.order_id order by e.event_id) as before
              from mbt.order_events as e where e.account_id = %(a)s) as e
        where e.event_at < e.before""", {"a": acct}).fetchall()
    assert out_of_order == []
    assert_invariants(db)


# --- one quote's displayed size, shared by one account's orders on its side -----------------------

def limit_buy(db, acct, at, limit, qty=300):
    return submit(db, acct, et(at), symbol="ZAAA", qty=qty, side="buy", type="limit", limit_price=limit,
                  time_in_force="day")


def filled_qty(db, o):
    return D(order(db, o["id"])["filled_qty"])


def test_one_accounts_orders_share_a_quotes_size_the_older_first_and_the_rest_fills_on_the_next_quote(db, acct):
    older = limit_buy(db, acct, "2026-11-24 10:00:00", "190.10")
    newer = limit_buy(db, acct, "2026-11-24 10:00:01", "190.10")
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 100, 300))
    # 300 displayed: 300 in all, to the order submitted first
    assert (filled_qty(db, older), filled_qty(db, newer)) == (D(300), D(0))
    insert_quotes(db, ("ZAAA", "190.00", "190.04", et("2026-11-24 10:00:03"), 100, 300))
    assert (filled_qty(db, older), filled_qty(db, newer)) == (D(300), D(300))
    assert [f["price"] for f in fills(db, newer["id"])] == [D("190.04")]
    assert_invariants(db)


def test_the_better_priced_order_takes_a_shared_quote_first(db, acct):
    older = limit_buy(db, acct, "2026-11-24 10:00:00", "190.10")
    better = limit_buy(db, acct, "2026-11-24 10:00:01", "190.20")  # newer, but bids more
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 100, 400))
    assert (filled_qty(db, better), filled_qty(db, older)) == (D(300), D(100))
    assert_invariants(db)


def test_within_one_batch_each_quote_is_shared_and_the_rest_waits_for_the_next_quote(db, acct):
    a = limit_buy(db, acct, "2026-11-24 10:00:00", "190.10")
    b = limit_buy(db, acct, "2026-11-24 10:00:01", "190.10")
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 100, 200),
                  ("ZAAA", "190.00", "190.03", et("2026-11-24 10:00:03"), 100, 200),
                  ("ZAAA", "190.00", "190.04", et("2026-11-24 10:00:04"), 100, 200))
    # 200 + 200 + 200 displayed: a takes 200, then its last 100 and b 100, then b 200 more
    assert [(f["qty"], f["price"]) for f in fills(db, a["id"])] == [(D(200), D("190.02")), (D(100), D("190.03"))]
    assert [(f["qty"], f["price"]) for f in fills(db, b["id"])] == [(D(100), D("190.03")), (D(200), D("190.04"))]
    assert (filled_qty(db, a), filled_qty(db, b)) == (D(300), D(300))
    assert_invariants(db)


def test_an_order_filled_at_submission_gets_only_what_the_accounts_earlier_orders_left_of_the_quote(db, acct):
    older = limit_buy(db, acct, "2026-11-24 10:00:00", "190.10", qty=200)
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 100, 300))
    assert filled_qty(db, older) == D(200)
    # the same quote is still the latest, and fresh: 100 of its 300 are left for the new order
    newer = submit(db, acct, et("2026-11-24 10:00:03"), symbol="ZAAA", qty=300, side="buy", type="market",
                   time_in_force="day")
    assert (newer["status"], newer["filled_qty"]) == ("partially_filled", "100")
    insert_quotes(db, ("ZAAA", "190.00", "190.04", et("2026-11-24 10:00:04"), 100, 300))
    assert filled_qty(db, newer) == D(300)
    assert_invariants(db)


def test_two_accounts_each_take_a_quotes_whole_displayed_size(db, acct):
    other = sign_up_in_db(db)["account_id"]
    mine = limit_buy(db, acct, "2026-11-24 10:00:00", "190.10")
    theirs = limit_buy(db, other, "2026-11-24 10:00:01", "190.10")
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 100, 300))
    # one book per user: no matching between users, and each fills against the whole quote
    assert (filled_qty(db, mine), filled_qty(db, theirs)) == (D(300), D(300))
    assert_invariants(db)


def test_under_the_full_fill_model_an_accounts_orders_do_not_share_a_quote(db, acct):
    db.execute("update mbt.accounts set fill_model = 'full' where account_id = %s", [acct])
    a = limit_buy(db, acct, "2026-11-24 10:00:00", "190.10")
    b = limit_buy(db, acct, "2026-11-24 10:00:01", "190.10")
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 100, 300))
    assert (filled_qty(db, a), filled_qty(db, b)) == (D(300), D(300))
    assert_invariants(db)


def test_sell_orders_share_the_bid_size(db, acct):
    insert_quotes(db, ("ZAAA", "179.98", "180.00", et("2026-11-24 09:59:59"), 100, 600))
    submit(db, acct, et("2026-11-24 09:59:59.5"), symbol="ZAAA", qty=600, side="buy", type="market",
           time_in_force="day")  # 600 held
    a = submit(db, acct, et("2026-11-24 10:00:00"), symbol="ZAAA", qty=300, side="sell", type="limit",
               limit_price="190.00", time_in_force="day")
    b = submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZAAA", qty=300, side="sell", type="limit",
               limit_price="189.90", time_in_force="day")  # asks less: first
    insert_quotes(db, ("ZAAA", "190.00", "190.02", et("2026-11-24 10:00:02"), 300, 100))
    assert (filled_qty(db, b), filled_qty(db, a)) == (D(300), D(0))
    assert_invariants(db)

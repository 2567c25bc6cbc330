"""Replace, cancel all, and the immediate and auction times in force (ioc, fok, opg, cls)."""

from decimal import Decimal as D

import psycopg
import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, balances, et, fills, insert_quotes, order, submit

LIMIT = {"symbol": "ZCHG", "qty": 100, "side": "buy", "type": "limit", "limit_price": "50.00", "time_in_force": "gtc"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZCHG")
    return sign_up_in_db(db)["account_id"]


def replace(db, acct, order_id, at, **changes):
    import json
    return db.execute("select mbt.order_json(mbt.replace_order(%s, %s, %s::jsonb, %s))",
                      [acct, order_id, json.dumps(changes), at]).fetchone()[0]


def test_a_replace_makes_a_new_order_and_links_both(db, acct):
    old = submit(db, acct, et("2026-11-24 10:00"), **LIMIT, client_order_id="mine")
    new = replace(db, acct, old["id"], et("2026-11-24 10:01"), limit_price="51.00")
    old = order(db, old["id"])
    assert new["id"] != old["id"]
    assert (old["status"], old["replaced_by"], new["replaces"]) == ("replaced", new["id"], old["id"])
    assert (new["limit_price"], new["qty"], new["status"]) == ("51", "100", "new")
    # the new order's client_order_id is generated when none is sent (as at Alpaca); the old keeps its own
    assert (old["client_order_id"], new["client_order_id"]) == ("mine", new["client_order_id"])
    assert new["client_order_id"] != "mine"
    # the hold follows the new order: 100 x 51.00
    assert balances(db, acct)["held"] == D("5100.00")


def test_a_replace_may_name_the_new_orders_client_order_id_but_not_reuse_one(db, acct):
    old = submit(db, acct, et("2026-11-24 10:00"), **LIMIT, client_order_id="mine")
    db.execute("savepoint s")
    with pytest.raises(psycopg.Error) as err:
        replace(db, acct, old["id"], et("2026-11-24 10:01"), limit_price="51.00", client_order_id="mine")
    db.execute("rollback to savepoint s")
    assert err.value.diag.sqlstate == "MBO09"
    assert order(db, old["id"])["status"] == "new"
    new = replace(db, acct, old["id"], et("2026-11-24 10:01"), limit_price="51.00", client_order_id="mine-v2")
    assert new["client_order_id"] == "mine-v2"


def test_a_replaced_exit_may_not_reuse_a_client_order_id_either(db, acct):
    entry = submit(db, acct, et("2026-11-24 10:00"), **LIMIT, client_order_id="entry", order_class="bracket",
                   take_profit={"limit_price": "55.00"}, stop_loss={"stop_price": "45.00"})
    take_profit = db.execute("select order_id from mbt.orders where group_id = %s and leg = 'take_profit'",
                             [entry["id"]]).fetchone()[0]
    db.execute("savepoint s")
    with pytest.raises(psycopg.Error) as err:
        replace(db, acct, take_profit, et("2026-11-24 10:01"), limit_price="56.00", client_order_id="entry")
    db.execute("rollback to savepoint s")
    assert err.value.diag.sqlstate == "MBO09"


def test_a_rejected_replace_changes_nothing(db, acct):
    old = submit(db, acct, et("2026-11-24 10:00"), **LIMIT)
    db.execute("savepoint s")
    with pytest.raises(psycopg.Error) as err:
        replace(db, acct, old["id"], et("2026-11-24 10:01"), limit_price="51.005")
    db.execute("rollback to savepoint s")
    assert err.value.diag.sqlstate == "MBO05"
    assert order(db, old["id"])["status"] == "new"


def test_a_filled_order_cannot_be_replaced(db, acct):
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 10:00")))
    o = submit(db, acct, et("2026-11-24 10:00:01"), **LIMIT)
    assert o["status"] == "filled"
    db.execute("savepoint s")
    with pytest.raises(psycopg.Error) as err:
        replace(db, acct, o["id"], et("2026-11-24 10:01"), limit_price="49.00")
    assert err.value.diag.sqlstate == "MBO15"
    db.execute("rollback to savepoint s")


def test_cancel_all_answers_per_order(db, acct):
    a = submit(db, acct, et("2026-11-24 10:00"), **LIMIT)
    b = submit(db, acct, et("2026-11-24 10:00"), **{**LIMIT, "limit_price": "49.00"})
    rows = db.execute("select id, status, body ->> 'status' from mbt.cancel_all_orders(%s, %s)",
                      [acct, et("2026-11-24 10:05")]).fetchall()
    assert sorted((str(i), s, b_) for i, s, b_ in rows) == sorted(
        [(a["id"], 200, "canceled"), (b["id"], 200, "canceled")])
    assert balances(db, acct)["held"] == 0


def test_ioc_fills_what_the_quote_shows_and_cancels_the_rest(db, acct):
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 10:00"), 100, 30))
    o = submit(db, acct, et("2026-11-24 10:00:01"), **{**LIMIT, "time_in_force": "ioc"})
    assert (o["status"], o["filled_qty"]) == ("canceled", "30")
    assert balances(db, acct)["held"] == 0


def test_fok_fills_all_or_nothing(db, acct):
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 10:00"), 100, 30))
    too_big = submit(db, acct, et("2026-11-24 10:00:01"), **{**LIMIT, "time_in_force": "fok"})
    assert (too_big["status"], too_big["filled_qty"]) == ("canceled", "0")
    fits = submit(db, acct, et("2026-11-24 10:00:02"), **{**LIMIT, "qty": 30, "time_in_force": "fok"})
    assert (fits["status"], fits["filled_qty"]) == ("filled", "30")


def test_fok_counts_only_what_the_accounts_earlier_orders_left_of_the_quote(db, acct):
    resting = submit(db, acct, et("2026-11-24 10:00"), **{**LIMIT, "qty": 20})
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 10:00:00.5"), 100, 30))
    assert order(db, resting["id"])["filled_qty"] == "20"
    # 10 of the quote's 30 are left: 20 fill-or-kill is nothing, 10 fills
    too_big = submit(db, acct, et("2026-11-24 10:00:01"), **{**LIMIT, "qty": 20, "time_in_force": "fok"})
    assert (too_big["status"], too_big["filled_qty"]) == ("canceled", "0")
    fits = submit(db, acct, et("2026-11-24 10:00:02"), **{**LIMIT, "qty": 10, "time_in_force": "fok"})
    assert (fits["status"], fits["filled_qty"]) == ("filled", "10")
    assert_invariants(db)


def test_opg_fills_at_the_open_only(db, acct):
    o = submit(db, acct, et("2026-11-23 20:00"), **{**LIMIT, "time_in_force": "opg"})
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 09:29:59")))  # pre-market: not the auction
    assert order(db, o["id"])["status"] == "accepted"
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 09:30:00.2")))
    assert [f["price"] for f in fills(db, o["id"])] == [D("49.95")]


def test_opg_does_not_fill_after_the_opening_minute(db, acct):
    o = submit(db, acct, et("2026-11-23 20:00"), **{**LIMIT, "time_in_force": "opg"})
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 09:45")))
    assert order(db, o["id"])["filled_qty"] == "0"


def test_cls_fills_only_in_the_last_minute_before_the_close(db, acct):
    o = submit(db, acct, et("2026-11-24 10:00"), **{**LIMIT, "time_in_force": "cls"})
    insert_quotes(db, ("ZCHG", "49.90", "49.95", et("2026-11-24 15:58")))
    assert order(db, o["id"])["filled_qty"] == "0"
    insert_quotes(db, ("ZCHG", "49.91", "49.96", et("2026-11-24 15:59:30")))
    assert [f["price"] for f in fills(db, o["id"])] == [D("49.96")]


@pytest.mark.parametrize(("tif", "at"), [("opg", "2026-11-24 09:29"), ("cls", "2026-11-24 15:55")])
def test_auction_orders_are_refused_in_their_closed_window(db, acct, tif, at):
    db.execute("savepoint s")
    with pytest.raises(psycopg.Error) as err:
        submit(db, acct, et(at), **{**LIMIT, "time_in_force": tif})
    db.execute("rollback to savepoint s")
    assert err.value.diag.sqlstate == "MBO04"


def test_a_cash_account_buys_with_settled_cash_only(db, acct):
    # a cash account (multiplier 1) sells 100 shares for 5,000.00 on Tuesday: they settle Wednesday (T+1)
    db.execute("update mbt.accounts set multiplier = 1, cash = 1000 where account_id = %s", [acct])
    db.execute("insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, "
               "opened_at, updated_at) select %s, 'ZCHG', asset_id, 'us_equity', 100, 40, now(), now() "
               "from md.assets where symbol = 'ZCHG'", [acct])
    insert_quotes(db, ("ZCHG", "50.00", "50.02", et("2026-11-24 10:00")))
    submit(db, acct, et("2026-11-24 10:00:01"), symbol="ZCHG", qty=100, side="sell", type="market", time_in_force="day")
    assert db.execute("select cash from mbt.accounts where account_id = %s", [acct]).fetchone()[0] == D("6000.00")
    buy = {**LIMIT, "qty": 40, "limit_price": "50.00", "time_in_force": "day"}  # 2,000.00 > 1,000.00 settled
    db.execute("savepoint s")
    with pytest.raises(psycopg.Error) as err:
        submit(db, acct, et("2026-11-24 10:01"), **buy)
    db.execute("rollback to savepoint s")
    assert err.value.diag.sqlstate == "MBO11"
    assert submit(db, acct, et("2026-11-25 10:01"), **buy)["status"] == "new"  # Wednesday: settled


def test_list_orders_takes_alpacas_parameters(db, acct):
    from conftest import act_as
    first = submit(db, acct, et("2026-11-24 10:00"), **LIMIT)
    second = submit(db, acct, et("2026-11-24 10:01"), **{**LIMIT, "limit_price": "49.00"})
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, first["id"], et("2026-11-24 10:02")])
    user_id = db.execute("select user_id from mbt.accounts where account_id = %s", [acct]).fetchone()[0]
    act_as(db, "app_user", user_id)
    ids = lambda **kw: [r[0] for r in db.execute(  # noqa: E731
        "select o ->> 'id' from jsonb_array_elements(api.list_orders("
        + ", ".join(f"\"{k}\" => %s" for k in kw) + ")) as o", list(kw.values()))]
    assert ids() == [second["id"]]                               # open, newest first
    assert ids(status="closed") == [first["id"]]
    assert ids(status="all", direction="asc") == [first["id"], second["id"]]
    assert ids(status="all", symbols="zchg,AAPL", side="buy") == [second["id"], first["id"]]
    assert ids(status="all", max_orders=1) == [second["id"]]

"""Closing positions as Alpaca does: a market day order on the other side for the whole position, a qty,
or a percentage (whole shares rounded down); close-all answers per symbol and can cancel open orders
first. Submitted through mbt.submit_order, so the order fills on the same quotes as any other."""

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest

from conftest import assert_error, sign_up_in_db
from engine import add_asset, et, insert_quotes, order, position, submit

T0 = et("2026-12-01 10:00")


@pytest.fixture
def acct(db):
    add_asset(db, "ZCLA")
    add_asset(db, "ZCLB")
    acct = sign_up_in_db(db)["account_id"]
    insert_quotes(db, ("ZCLA", "9.99", "10.00", T0, 1000, 1000), ("ZCLB", "19.99", "20.00", T0, 1000, 1000))
    submit(db, acct, T0 + timedelta(seconds=1), symbol="ZCLA", qty=7, side="buy", type="market", time_in_force="day")
    submit(db, acct, T0 + timedelta(seconds=1), symbol="ZCLB", qty=5, side="sell", type="market", time_in_force="day")
    return acct  # long 7 ZCLA, short 5 ZCLB


def close(db, acct, symbol, qty=None, percentage=None, at=T0 + timedelta(seconds=2)) -> dict:
    return db.execute("select mbt.order_json(mbt.close_position(%s, %s, %s, %s, %s))",
                      [acct, symbol, qty, percentage, at]).fetchone()[0]


def refused(db, acct, symbol, **kwargs) -> str:
    with pytest.raises(Exception) as raised, db.transaction():
        close(db, acct, symbol, **kwargs)
    return raised.value.sqlstate


def test_closing_a_long_position_sells_all_of_it_at_market(db, acct):
    o = close(db, acct, "ZCLA")
    assert (o["side"], o["qty"], o["type"], o["time_in_force"], o["position_intent"]) == (
        "sell", "7", "market", "day", "sell_to_close")
    assert (o["status"], o["filled_avg_price"]) == ("filled", "9.99")  # the bid of the fresh quote
    assert position(db, acct, "ZCLA")[0] == 0


def test_closing_a_short_position_buys_it_back(db, acct):
    o = close(db, acct, "ZCLB")
    assert (o["side"], o["qty"], o["position_intent"], o["status"]) == ("buy", "5", "buy_to_close", "filled")
    assert position(db, acct, "ZCLB")[0] == 0


def test_a_symbol_is_upper_cased_in_ascii_only(db, acct):
    add_asset(db, "ZCLS")
    db.execute("insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, opened_at, "
               "updated_at) select %s, 'ZCLS', asset_id, 'us_equity', 3, 10, %s, %s from md.assets "
               "where symbol = 'ZCLS'", [acct, T0, T0])
    # 'zcl' and a long s, which a Unicode upper() folds to 'ZCLS': no position has that symbol
    assert refused(db, acct, "zcl\u017f") == "MBL04"
    assert close(db, acct, " zcla ")["symbol"] == "ZCLA"


def test_a_position_can_be_named_by_its_asset_id(db, acct):
    asset_id = db.execute("select asset_id from md.assets where symbol = 'ZCLA'").fetchone()[0]
    assert close(db, acct, str(asset_id))["symbol"] == "ZCLA"


def test_closing_a_qty_closes_that_many(db, acct):
    assert close(db, acct, "ZCLA", qty="4")["qty"] == "4"
    assert position(db, acct, "ZCLA")[0] == D(3)


def test_a_percentage_of_whole_shares_rounds_down(db, acct):
    assert close(db, acct, "ZCLA", percentage="50")["qty"] == "3"  # 50% of 7 = 3.5 -> 3


def test_a_percentage_of_a_fractional_position_keeps_the_fraction(db, acct):
    insert_quotes(db, ("ZCLA", "9.99", "10.00", T0 + timedelta(seconds=3), 1000, 1000))
    submit(db, acct, T0 + timedelta(seconds=4), symbol="ZCLA", qty="0.5", side="buy", type="market",
           time_in_force="day")
    assert close(db, acct, "ZCLA", percentage="50", at=T0 + timedelta(seconds=5))["qty"] == "3.75"  # of 7.5


@pytest.mark.parametrize("kwargs", [
    {"qty": "2", "percentage": "50"},
    {"qty": "8"},
    {"qty": "0"},
    {"percentage": "0"},
    {"percentage": "101"},
    {"percentage": "10"},  # 10% of 7 whole shares is under one share
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_bad_quantities_are_refused_with_mbl05(db, acct, kwargs):
    assert refused(db, acct, "ZCLA", **kwargs) == "MBL05"


def test_a_position_you_do_not_hold_is_mbl04(db, acct):
    assert refused(db, acct, "ZNONE") == "MBL04"


def test_what_open_orders_already_close_cannot_be_closed_again(db, acct):
    submit(db, acct, T0 + timedelta(seconds=2), symbol="ZCLA", qty=5, side="sell", type="limit",
           limit_price="12.00", time_in_force="day")
    with pytest.raises(Exception) as raised, db.transaction():
        close(db, acct, "ZCLA", qty="3")
    assert raised.value.sqlstate == "MBO12"
    assert raised.value.diag.message_detail == "available = 2, existing_qty = 7, held_for_orders = 5, symbol = ZCLA"
    assert close(db, acct, "ZCLA", qty="2")["qty"] == "2"


def close_all(db, acct, cancel_orders: bool) -> list[dict]:
    return db.execute("select mbt.close_all_positions(%s, %s, %s)",
                      [acct, cancel_orders, T0 + timedelta(seconds=3)]).fetchone()[0]


def test_close_all_answers_per_symbol(db, acct):
    results = close_all(db, acct, cancel_orders=False)
    assert [(r["symbol"], r["status"], r["body"]["side"]) for r in results] == [("ZCLA", 200, "sell"),
                                                                                ("ZCLB", 200, "buy")]
    assert results[0]["order_id"] == results[0]["body"]["id"]


def test_close_all_reports_a_symbol_it_could_not_close_and_closes_the_others(db, acct):
    resting = submit(db, acct, T0 + timedelta(seconds=2), symbol="ZCLA", qty=7, side="sell", type="limit",
                     limit_price="12.00", time_in_force="day")
    a, b = close_all(db, acct, cancel_orders=False)
    assert (a["symbol"], a["status"], a["body"]["code"]) == ("ZCLA", 403, "MBO12")
    assert (b["symbol"], b["status"]) == ("ZCLB", 200)
    assert order(db, resting["id"])["status"] == "new"


def test_close_all_with_cancel_orders_cancels_open_orders_first(db, acct):
    resting = submit(db, acct, T0 + timedelta(seconds=2), symbol="ZCLA", qty=7, side="sell", type="limit",
                     limit_price="12.00", time_in_force="day")
    results = close_all(db, acct, cancel_orders=True)
    assert [r["status"] for r in results] == [200, 200]
    assert order(db, resting["id"])["status"] == "canceled"
    assert position(db, acct, "ZCLA")[0] == 0 and position(db, acct, "ZCLB")[0] == 0


@pytest.fixture
def symbol(admin):
    name = "Z" + uuid.uuid4().hex[:6].upper()
    admin.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ')", [name])
    return name


def http_position(api, admin, user, symbol):
    """10 shares bought over HTTP and filled on a quote the ingestor would write: seconds from now while the
    market is open (a closing day order submitted now must fill before today's close), else at the next open."""
    next_open = admin.execute(
        "select case when is_open then now() else next_open end from md.clock(now())").fetchone()[0]
    r = api.post("/api/rpc/submit_order", json={"symbol": symbol, "qty": 10, "side": "buy", "type": "limit",
                                                "limit_price": "100.00", "time_in_force": "gtc"}, headers=user.auth)
    assert r.status_code == 200, r.text
    with admin.transaction():
        insert_quotes(admin, (symbol, "99.90", "99.95", next_open + timedelta(seconds=1)))
    return next_open


@pytest.mark.clock  # reads now(): make test-clock runs it at a matrix of instants
def test_http_close_position_submits_the_closing_order(api, admin, user, symbol):
    next_open = http_position(api, admin, user, symbol)
    r = api.post("/api/rpc/close_position", json={"symbol": symbol, "percentage": "50"}, headers=user.auth)
    assert r.status_code == 200, r.text
    assert (r.json()["side"], r.json()["qty"], r.json()["type"]) == ("sell", "5", "market")
    with admin.transaction():
        insert_quotes(admin, (symbol, "99.80", "99.85", next_open + timedelta(seconds=2)))
    [held] = api.get("/api/positions", params={"symbol": f"eq.{symbol}"}, headers=user.auth).json()
    assert held["qty"] == "5"


@pytest.mark.clock  # reads now(): make test-clock runs it at a matrix of instants
def test_http_close_all_is_a_207_with_per_symbol_results(api, admin, user, symbol):
    http_position(api, admin, user, symbol)
    r = api.post("/api/rpc/close_all_positions", json={"cancel_orders": True}, headers=user.auth)
    assert r.status_code == 207, r.text
    [result] = r.json()
    assert (result["symbol"], result["status"], result["body"]["qty"]) == (symbol, 200, "10")


@pytest.mark.clock  # reads now(): make test-clock runs it at a matrix of instants
def test_http_closing_what_you_do_not_hold_is_a_404(api, user):
    assert_error(api.post("/api/rpc/close_position", json={"symbol": "ZNOPE"}, headers=user.auth), 404, "MBL04")

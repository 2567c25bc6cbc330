"""Order submission: Alpaca's validation (each rejection a catalogued error, nothing written),
buying power with holds, short-sale rules, the audit trail; options_rules.md E1-E3 as vectors."""

from decimal import Decimal as D

import psycopg
import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, balances, et, insert_quotes, refused, submit

AT = et("2026-11-24 10:00:00")
MARKET = {"symbol": "ZVAL", "qty": 10, "side": "buy", "type": "market", "time_in_force": "day"}
EXITS = {"take_profit": {"limit_price": "55"}, "stop_loss": {"stop_price": "45"}}


@pytest.fixture
def acct(db):
    add_asset(db, "ZVAL")
    add_asset(db, "ZNOFRAC", fractionable=False)
    add_asset(db, "ZHTB", easy_to_borrow=False)
    add_asset(db, "ZHALT", tradable=False)
    add_asset(db, "ZAS")
    add_asset(db, "ZVAL261218C00050000", asset_class="us_option")
    insert_quotes(db, ("ZVAL", "49.99", "50.01", et("2026-11-24 09:59")),
                  ("ZHTB", "9.99", "10.01", et("2026-11-24 09:59")))
    return sign_up_in_db(db)["account_id"]


def rejected(db, acct, code, **request):
    """Submit at AT and expect the catalogued error code, with nothing written."""
    return refused(db, acct, AT, code, **request)


@pytest.mark.parametrize(("change", "code"), [
    ({"colour": "blue"}, "MBV05"),
    ({"symbol": "NOPE"}, "MBO01"),
    ({"symbol": "ZHALT"}, "MBO02"),
    ({"side": None}, "MBV04"),
    ({"side": "hold"}, "MBV03"),
    ({"type": "teleport"}, "MBV03"),
    ({"qty": "ten"}, "MBV03"),
    ({"qty": 0}, "MBO03"),
    ({"qty": "1.0000000001"}, "MBO03"),
    ({"notional": 100}, "MBO03"),                               # both qty and notional
    ({"qty": None, "notional": "0.50"}, "MBO03"),               # notional under $1
    ({"type": "limit"}, "MBV04"),                               # limit without limit_price
    ({"limit_price": "50"}, "MBO06"),                           # market with a limit price
    ({"type": "limit", "limit_price": "50.001"}, "MBO05"),      # sub-penny above $1
    ({"type": "stop", "stop_price": "49.5", "time_in_force": "ioc"}, "MBO04"),  # stops take day or gtc
    ({"type": "limit", "limit_price": "49", "time_in_force": "opg"}, "MBO04"),   # 10:00 is inside 09:28-19:00
    ({"extended_hours": True}, "MBO07"),                        # extended hours needs limit + day
    ({"type": "limit", "limit_price": "49", "time_in_force": "gtc", "extended_hours": True}, "MBO07"),
    ({"type": "limit", "limit_price": "49", "extended_hours": "yes"}, "MBV03"),  # a JSON boolean, not a string
    ({"type": "limit", "limit_price": "49", "extended_hours": 1}, "MBV03"),
    ({"qty": None, "notional": "100", "side": "sell"}, "MBO12"),  # a notional sell with nothing held: no short
    ({"symbol": "ZNOFRAC", "qty": "0.5"}, "MBO08"),
    ({"qty": "0.5", "time_in_force": "gtc"}, "MBO04"),          # fractional is day only
    ({"order_class": "mleg"}, "MBO17"),
    ({"order_class": "bracket"}, "MBO19"),                      # a bracket needs both exits
    ({"take_profit": {"limit_price": "55"}}, "MBO19"),         # exits belong to bracket, oco, oto
    ({"order_class": "oto", **EXITS}, "MBO19"),                 # oto: exactly one exit
    ({"order_class": "bracket", **EXITS, "time_in_force": "ioc"}, "MBO19"),
    ({"order_class": "bracket", **EXITS, "qty": "1.5"}, "MBO19"),          # whole shares
    ({"order_class": "bracket", "take_profit": {"limit_price": "45"}, "stop_loss": {"stop_price": "55"}}, "MBO20"),
    ({"order_class": "bracket", **EXITS, "take_profit": {"limit_price": "50.01"}}, "MBO20"),  # not above the ask
    ({"order_class": "bracket", **EXITS, "stop_loss": {"stop_price": "50.01"}}, "MBO20"),     # not below the ask
    ({"order_class": "bracket", **EXITS, "take_profit": {"limit_price": "55.001"}}, "MBO05"),
    ({"order_class": "bracket", **EXITS, "take_profit": {"limit_price": "55", "qty": 1}}, "MBV05"),
    ({"order_class": "oco", **EXITS, "side": "sell", "type": "limit"}, "MBO12"),  # no position to protect
    ({"order_class": "oco", **EXITS, "side": "sell"}, "MBO19"),                   # an oco is a limit order
    ({"type": "trailing_stop"}, "MBO18"),                                         # no trail
    ({"type": "trailing_stop", "trail_price": "1", "trail_percent": "1"}, "MBO18"),  # both trails
    ({"type": "trailing_stop", "trail_percent": "100"}, "MBO18"),
    ({"type": "trailing_stop", "trail_price": "1", "time_in_force": "ioc"}, "MBO04"),
    ({"type": "trailing_stop", "trail_price": "1", "stop_price": "49"}, "MBO06"),
    ({"trail_price": "1"}, "MBO06"),                                              # a market order has no trail
    ({"client_order_id": "x" * 129}, "MBV03"),
    ({"client_order_id": "line\nbreak"}, "MBV03"),                # control characters: C0, DEL, C1
    ({"client_order_id": "tab\there"}, "MBV03"),
    ({"client_order_id": "del\u007f"}, "MBV03"),
    ({"client_order_id": "next-line\u0085"}, "MBV03"),
    ({"position_intent": "buy_to_hold"}, "MBV03"),               # not one of Alpaca's four
    ({"position_intent": "sell_to_open"}, "MBV03"),              # a buy order cannot sell to open
    ({"side": "sell", "position_intent": "buy_to_close"}, "MBV03"),
    ({"symbol": "za\u017f"}, "MBV03"),                           # za + long s: upper() would fold it to ZAS
    ({"symbol": "\uff3a\uff36\uff21\uff2c"}, "MBV03"),          # ZVAL in fullwidth letters
    ({"symbol": "ZV AL"}, "MBV03"),
    ({"symbol": "ZVAL\n"}, "MBV03"),
    ({"symbol": ""}, "MBV03"),
])
def test_invalid_orders_are_rejected_with_their_code_and_nothing_is_written(db, acct, change, code):
    request = {k: v for k, v in {**MARKET, **change}.items() if v is not None}
    rejected(db, acct, code, **request)


def test_a_sub_penny_price_message_says_what_is_allowed(db, acct):
    diag = rejected(db, acct, "MBO05", **{**MARKET, "type": "limit", "limit_price": "50.123"})
    assert "sub-penny increment" in diag.message_primary and "2 decimals" in diag.message_hint


def test_prices_under_a_dollar_take_four_decimals(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "0.1234"})
    assert o["limit_price"] == "0.1234"


def test_client_order_id_is_unique_among_open_orders(db, acct):
    submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40", "client_order_id": "mine-1"})
    rejected(db, acct, "MBO09", **{**MARKET, "type": "limit", "limit_price": "41", "client_order_id": "mine-1"})


def test_a_retried_order_that_already_filled_is_refused_and_buys_nothing_more(db, acct):
    # a fresh quote: the first request fills at once; the retry (alpaca-py re-sends a POST on a 504) is MBO09
    insert_quotes(db, ("ZVAL", "49.99", "50.01", et("2026-11-24 09:59:59.5"), 100, 500))
    first = submit(db, acct, AT, **{**MARKET, "qty": 100, "client_order_id": "retry-1"})
    assert (first["status"], first["filled_qty"]) == ("filled", "100")
    diag = rejected(db, acct, "MBO09", **{**MARKET, "qty": 100, "client_order_id": "retry-1"})
    assert diag.message_detail == "client_order_id = retry-1"
    assert db.execute("select count(*), sum(filled_qty) from mbt.orders where account_id = %s",
                      [acct]).fetchone() == (1, D(100))
    assert db.execute("select count(*) from mbt.fills where account_id = %s", [acct]).fetchone() == (1,)
    assert db.execute("select qty from mbt.positions where account_id = %s", [acct]).fetchone() == (D(100),)
    assert_invariants(db)


def test_a_client_order_id_stays_taken_after_its_order_was_canceled(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40", "client_order_id": "mine-2"})
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, o["id"], AT])
    rejected(db, acct, "MBO09", **{**MARKET, "type": "limit", "limit_price": "40", "client_order_id": "mine-2"})


def test_client_order_ids_are_unique_per_account_not_across_accounts(db, acct):
    other = sign_up_in_db(db)["account_id"]
    submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40", "client_order_id": "same"})
    assert submit(db, other, AT, **{**MARKET, "type": "limit", "limit_price": "40",
                                     "client_order_id": "same"})["client_order_id"] == "same"


def test_the_database_refuses_a_second_order_with_a_client_order_id_the_account_used(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40", "client_order_id": "mine-3"})
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, o["id"], AT])
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("insert into mbt.orders select * from jsonb_populate_record(null::mbt.orders, ("
                   "select to_jsonb(o) || jsonb_build_object('order_id', gen_random_uuid()) "
                   "from mbt.orders as o where o.order_id = %s))", [o["id"]])


def test_symbols_are_upper_cased_ascii_and_option_symbols_pass_the_format_check(db, acct):
    assert submit(db, acct, AT, **{**MARKET, "symbol": " zas ", "type": "limit", "limit_price": "40"})["symbol"] \
        == "ZAS"
    # an OCC option symbol is well formed: refused only because option orders are not built yet
    rejected(db, acct, "MBO17", **{**MARKET, "symbol": "ZVAL261218C00050000"})


def test_position_intent_is_accepted_when_it_fits_the_side(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40", "position_intent": "buy_to_open"})
    assert o["position_intent"] == "buy_to_open"


def test_an_opposite_open_order_is_a_potential_wash_trade(db, acct):
    submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40"})
    diag = rejected(db, acct, "MBO10", **{**MARKET, "side": "sell", "type": "limit", "limit_price": "60"})
    assert diag.message_primary == "potential wash trade detected. use complex orders"


def test_open_orders_hold_buying_power_and_cancelling_releases_it(db, acct):
    # margin account, 100,000.00 equity: buying power 2 x 100,000.00 = 200,000.00
    o = submit(db, acct, AT, **{**MARKET, "qty": 1000, "type": "limit", "limit_price": "45.00"})
    assert balances(db, acct)["buying_power"] == D("155000.00")  # 200,000 - 1,000 x 45.00
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, o["id"], AT])
    assert balances(db, acct)["buying_power"] == D("200000.00")


def test_an_order_worth_more_than_the_buying_power_left_is_403(db, acct):
    submit(db, acct, AT, **{**MARKET, "qty": 3000, "type": "limit", "limit_price": "45.00"})  # holds 135,000
    diag = rejected(db, acct, "MBO11", **{**MARKET, "qty": 1400, "type": "limit", "limit_price": "49.00"})
    assert "order value 68600.00" in diag.message_detail and "buying power 65000.00" in diag.message_detail


def test_a_market_buy_is_valued_at_the_ask(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "qty": 100})
    assert db.execute("select buying_power_held from mbt.orders where order_id = %s", [o["id"]]).fetchone()[0] \
        == D("5001.00")  # 100 x 50.01, the stale quote's ask: the order rests


def test_a_short_sale_is_valued_at_max_of_limit_and_ask_plus_3_percent(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "side": "sell", "qty": 100})
    # 100 x 50.01 x 1.03 = 5,151.03
    assert db.execute("select buying_power_held, position_intent from mbt.orders where order_id = %s",
                      [o["id"]]).fetchone() == (D("5151.03"), "sell_to_open")


def test_hard_to_borrow_and_cash_accounts_cannot_sell_short(db, acct):
    rejected(db, acct, "MBO12", **{**MARKET, "symbol": "ZHTB", "side": "sell"})
    db.execute("update mbt.accounts set multiplier = 1 where account_id = %s", [acct])
    diag = rejected(db, acct, "MBO12", **{**MARKET, "side": "sell"})
    assert "requested: 10, available: 0" in diag.message_primary


def test_selling_what_is_held_needs_no_buying_power_and_is_sell_to_close(db, acct):
    db.execute("insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, "
               "opened_at, updated_at) select %s, 'ZVAL', asset_id, 'us_equity', 10, 45, %s, %s from md.assets "
               "where symbol = 'ZVAL'", [acct, AT, AT])
    o = submit(db, acct, AT, **{**MARKET, "side": "sell", "type": "limit", "limit_price": "60"})
    assert db.execute("select buying_power_held, position_intent from mbt.orders where order_id = %s",
                      [o["id"]]).fetchone() == (D(0), "sell_to_close")


def test_every_lifecycle_step_is_one_audit_row_with_the_state_after_it(db, acct):
    o = submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "50.05"})
    insert_quotes(db, ("ZVAL", "50.00", "50.04", et("2026-11-24 10:00:01"), 100, 4))
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, o["id"], et("2026-11-24 10:00:02")])
    events = db.execute("select event, order_state ->> 'status', order_state ->> 'filled_qty' from mbt.order_events "
                        "where order_id = %s order by event_id", [o["id"]]).fetchall()
    assert events == [("submitted", "new", "0"), ("partial_fill", "partially_filled", "4"),
                      ("canceled", "canceled", "4")]


def test_the_audit_trail_refuses_update_and_delete(db, acct):
    submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40"})
    for statement in ("update mbt.order_events set event = 'fill'", "delete from mbt.order_events"):
        db.execute("savepoint s")
        with pytest.raises(psycopg.Error) as err:
            db.execute(statement)
        assert err.value.diag.sqlstate == "MBA12"
        db.execute("rollback to savepoint s")


def test_erasing_the_user_takes_the_audit_trail_with_it(db, acct):
    submit(db, acct, AT, **{**MARKET, "type": "limit", "limit_price": "40"})
    user_id = db.execute("select user_id from mbt.accounts where account_id = %s", [acct]).fetchone()[0]
    db.execute("select auth.erase_user(%s)", [user_id])
    assert db.execute("select count(*) from mbt.order_events where account_id = %s", [acct]).fetchone()[0] == 0


def put_position(db, acct, symbol, qty, entry, bid, ask):
    add_asset(db, symbol)
    db.execute("insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, opened_at, "
               "updated_at) select %s, %s, asset_id, 'us_equity', %s, %s, %s, %s from md.assets where symbol = %s",
               [acct, symbol, qty, entry, AT, AT, symbol])
    insert_quotes(db, (symbol, bid, ask, AT))


def test_e3_buying_power_is_twice_equity_less_initial_margin(db, acct):
    # E3: equity $20,000 holding $10,000 of stock (initial margin $5,000): BP = (20,000 - 5,000) x 2 = 30,000
    db.execute("update mbt.accounts set cash = 10000 where account_id = %s", [acct])
    put_position(db, acct, "ZE3", 100, 100, "99.99", "100.01")  # marked at the midpoint, 100.00
    b = balances(db, acct)
    assert (b["equity"], b["initial_margin"], b["buying_power"]) == (D("20000"), D("5000"), D("30000"))


def test_e1_long_stock_maintenance_is_30_percent(db, acct):
    # E1: 200 shares bought at $50 with a $5,000 loan; at $35.71 the equity (200 x 35.71 - 5,000 = 2,142)
    # is about 30% of the market value (7,142): the maintenance call price
    db.execute("update mbt.accounts set cash = -5000 where account_id = %s", [acct])
    put_position(db, acct, "ZE1", 200, 50, "35.70", "35.72")
    b = balances(db, acct)
    assert b["equity"] == D("2142.00")
    assert b["maintenance_margin"] == D("2142.600")  # 30% of 7,142.00: equity just below it, a call


@pytest.mark.parametrize(("price", "requirement"), [("40", "1200"), ("3", "3000"), ("1", "2500")])
def test_e2_short_stock_maintenance(db, acct, price, requirement):
    # E2: short 100 @ 40: max(30% x 4,000, $5 x 100) = 1,200; short 1,000 @ $3: max(3,000, 2,500) = 3,000;
    # at $1: max(1,000, $2.50 x 1,000) = 2,500 (the per-share floor binds)
    qty = -100 if price == "40" else -1000
    p = D(price)
    put_position(db, acct, "ZE2", qty, p, str(p - D("0.01")), str(p + D("0.01")))
    assert balances(db, acct)["maintenance_margin"] == D(requirement)

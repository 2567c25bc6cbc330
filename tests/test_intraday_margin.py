"""Day trading in a margin account (options_rules.md 1.6), date-gated.

From 2026-06-04, FINRA's intraday margin standard. The script (symbol ZIM, a $100,000.00 margin account):
  Mon 2026-12-07 10:00  buy 1,000 at the ask 50.00                   cash 50,000.00
                 15:59  quote 49.95 / 50.05, mark 50.00; snapshot    equity 100,000.00, maintenance 30% = 15,000.00
  Tue 2026-12-08        intraday margin level = 4 x (100,000 - 15,000) = 340,000.00
                        three round trips: buy 2,000 at 50.00 (opens 100,000.00), sell 2,000 at 49.95
                        -> opened today 300,000.00, left 40,000.00: a buy of 1,000 (50,000.00) is refused (MBO21),
                        a buy of 800 (40,000.00) fits exactly; selling is never limited.

Up to 2026-06-03, the legacy pattern-day-trader rule: under $25,000 of previous-close equity, the order that
would close a position opened the same day, as the fourth day trade in five trading days, is refused (MBO22).
"""

from decimal import Decimal as D

import pytest

from conftest import act_as, sign_up_in_db
from engine import add_asset, et, insert_quotes, refused, submit

MARKET = {"symbol": "ZIM", "type": "market", "time_in_force": "day"}
TUESDAY = "2026-12-08"


def figures(db, acct, at) -> dict:
    cur = db.execute("select * from mbt.intraday_margin(%s, %s)", [acct, at])
    return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def quote(db, at, bid="49.95", ask="50.05") -> None:
    insert_quotes(db, ("ZIM", bid, ask, at, 100_000, 100_000))


def trade(db, acct, at, side: str, qty: int) -> dict:
    """A market order against a fresh quote (bid 49.95, ask 50.00): it fills at once."""
    quote(db, at, "49.95", "50.00")
    return submit(db, acct, at, **MARKET, side=side, qty=qty)


@pytest.fixture
def acct(db):
    add_asset(db, "ZIM")
    return sign_up_in_db(db)["account_id"]


@pytest.fixture
def held_overnight(db, acct):
    """Monday: 1,000 ZIM bought at 50.00 and held at the close (mark 50.00)."""
    trade(db, acct, et("2026-12-07 10:00"), "buy", 1000)
    quote(db, et("2026-12-07 15:59"))
    db.execute("select mbt.write_eod_snapshots(%s)", [et("2026-12-07 16:00")])
    return acct


@pytest.fixture
def three_round_trips(db, held_overnight):
    for minute in (1, 2, 3):
        trade(db, held_overnight, et(f"{TUESDAY} 10:0{minute}:00"), "buy", 2000)
        trade(db, held_overnight, et(f"{TUESDAY} 10:0{minute}:30"), "sell", 2000)
    return held_overnight


def test_the_rule_of_a_day_is_chosen_by_its_date(db):
    rules = db.execute("select mbt.intraday_margin_rule('2026-06-03'), "
                       "mbt.intraday_margin_rule('2026-06-04')").fetchone()
    assert rules == ("pattern_day_trader", "intraday_margin_level")


def test_the_level_is_four_times_the_previous_close_maintenance_excess(db, held_overnight):
    f = figures(db, held_overnight, et(f"{TUESDAY} 09:45"))
    assert (f["rule"], f["last_equity"], f["last_maintenance_margin"]) == (
        "intraday_margin_level", D("100000.00"), D("15000.00"))
    assert (f["intraday_margin_level"], f["opened_today"]) == (D("340000.00"), 0)


def test_an_account_with_no_close_yet_counts_its_deposits_as_the_previous_close(db, acct):
    f = figures(db, acct, et(f"{TUESDAY} 09:45"))
    assert (f["last_equity"], f["last_maintenance_margin"], f["intraday_margin_level"]) == (
        D("100000.00"), 0, D("400000.00"))


def test_deposits_that_tier_retention_purged_still_count_as_the_previous_close(db, acct):
    # a free account's opening deposit is older than 90 days: the purge carried it in mbt.retention_carry
    db.execute("delete from mbt.cash_activities where account_id = %s", [acct])
    db.execute("insert into mbt.retention_carry (account_id, purged_before, net_deposits, updated_at) "
               "values (%s, '2026-09-09', 100000.00, now())", [acct])
    assert figures(db, acct, et(f"{TUESDAY} 09:45"))["intraday_margin_level"] == D("400000.00")


def test_purchases_count_against_the_level_and_closing_sales_do_not_give_it_back(db, three_round_trips):
    f = figures(db, three_round_trips, et(f"{TUESDAY} 10:05"))
    assert f["opened_today"] == D("300000.00")


def test_an_order_beyond_what_is_left_of_the_level_is_refused_with_the_figures(db, three_round_trips):
    at = et(f"{TUESDAY} 10:05")
    quote(db, at, "49.95", "50.00")
    diag = refused(db, three_round_trips, at, "MBO21", **MARKET, side="buy", qty=1000)
    assert "order value 50000.00" in diag.message_detail
    assert "intraday margin level 340000.00" in diag.message_detail
    assert "opened today 300000.00" in diag.message_detail and "left 40000.00" in diag.message_detail
    assert diag.message_hint


def test_an_order_that_uses_exactly_what_is_left_passes(db, three_round_trips):
    order = trade(db, three_round_trips, et(f"{TUESDAY} 10:05"), "buy", 800)
    assert (order["status"], order["filled_qty"]) == ("filled", "800")


def test_holds_of_open_orders_count_against_the_level(db, three_round_trips):
    at = et(f"{TUESDAY} 10:05")
    quote(db, at, "49.95", "50.00")
    submit(db, three_round_trips, at, symbol="ZIM", type="limit", limit_price="40.00", time_in_force="day",
           side="buy", qty=500)  # rests, holding 20,000.00
    refused(db, three_round_trips, at, "MBO21", **MARKET, side="buy", qty=500)  # 25,000.00 > 20,000.00 left


def test_closing_a_position_is_never_limited_by_the_level(db, three_round_trips):
    order = trade(db, three_round_trips, et(f"{TUESDAY} 10:05"), "sell", 1000)
    assert order["status"] == "filled"


def test_the_level_is_new_the_next_trading_day(db, three_round_trips):
    quote(db, et(f"{TUESDAY} 15:59"))
    db.execute("select mbt.write_eod_snapshots(%s)", [et(f"{TUESDAY} 16:00")])
    order = trade(db, three_round_trips, et("2026-12-09 10:00"), "buy", 1000)
    assert order["status"] == "filled"


@pytest.mark.clock  # reads now(): make test-clock runs it at a matrix of instants
def test_get_account_shows_the_previous_close_and_what_is_left_of_the_level(db, three_round_trips):
    # api.account reads the figures at the current time: the script's Tuesday becomes today and its Monday
    # the trading day before today (the trading calendar's, whatever day and hour today is)
    db.execute("""
        with previous as (
            select max(trading_date) as trading_date from md.market_calendar
            where trading_date < (now() at time zone 'America/New_York')::date
        ), moved_fills as (
            update mbt.fills as f
            set transaction_time = case
                when f.transaction_time >= %(tuesday)s then now()
                else (p.trading_date + time '10:00') at time zone 'America/New_York'
            end
            from previous as p
            where f.account_id = %(acct)s
        ), moved_accounts as (
            update mbt.account_snapshots as s set trading_date = p.trading_date
            from previous as p where s.account_id = %(acct)s
        )
        update mbt.position_snapshots as s set trading_date = p.trading_date
        from previous as p where s.account_id = %(acct)s""",
               {"acct": three_round_trips, "tuesday": et(f"{TUESDAY} 00:00")})
    user_id = db.execute("select user_id from mbt.accounts where account_id = %s", [three_round_trips]).fetchone()[0]
    act_as(db, "app_user", user_id)
    row = db.execute("select last_equity, last_maintenance_margin, intraday_margin_level, intraday_buying_power "
                     "from api.account").fetchone()
    assert row == ("100000.00", "15000.00", "340000.00", "40000.00")


# ---- up to 2026-06-03: the legacy pattern-day-trader rule


@pytest.fixture
def small_account(db):
    """A $20,000.00 margin account (under the $25,000 PDT minimum), trading ZIM in May 2026."""
    add_asset(db, "ZIM")
    db.execute("set local mbt.starting_cash = '20000.00'")
    return sign_up_in_db(db)["account_id"]


def day_trade(db, acct, day: str, minute: int) -> None:
    trade(db, acct, et(f"{day} 10:{minute:02d}:00"), "buy", 10)
    trade(db, acct, et(f"{day} 10:{minute:02d}:30"), "sell", 10)


def test_day_trades_are_counted_as_finra_counts_them(db, small_account):
    # buy 250, buy 250, sell 500 is one day trade; buy 100, sell 100, buy 100, sell 100 is two
    day = "2026-05-12"
    trade(db, small_account, et(f"{day} 10:00"), "buy", 250)
    trade(db, small_account, et(f"{day} 10:01"), "buy", 250)
    trade(db, small_account, et(f"{day} 10:02"), "sell", 500)
    assert figures(db, small_account, et(f"{day} 10:03"))["daytrade_count"] == 1
    for minute, side in enumerate(("buy", "sell", "buy", "sell"), start=4):
        trade(db, small_account, et(f"{day} 10:{minute:02d}"), side, 100)
    assert figures(db, small_account, et(f"{day} 10:10"))["daytrade_count"] == 3


def test_a_fourth_day_trade_in_five_days_under_25000_is_refused(db, small_account):
    day_trade(db, small_account, "2026-05-11", 0)
    day_trade(db, small_account, "2026-05-12", 0)
    day_trade(db, small_account, "2026-05-13", 0)
    trade(db, small_account, et("2026-05-14 10:00"), "buy", 10)
    at = et("2026-05-14 10:01")
    quote(db, at, "49.95", "50.00")
    diag = refused(db, small_account, at, "MBO22", **MARKET, side="sell", qty=10)
    assert "day trades in the last 5 trading days: 3" in diag.message_detail
    assert "previous close equity 20000.00" in diag.message_detail


def test_selling_a_position_bought_on_an_earlier_day_is_no_day_trade(db, small_account):
    trade(db, small_account, et("2026-05-11 09:45"), "buy", 10)  # held overnight
    day_trade(db, small_account, "2026-05-11", 0)
    day_trade(db, small_account, "2026-05-12", 0)
    day_trade(db, small_account, "2026-05-13", 0)
    assert trade(db, small_account, et("2026-05-14 10:00"), "sell", 10)["status"] == "filled"


def test_day_trades_older_than_five_trading_days_no_longer_count(db, small_account):
    for day in ("2026-05-11", "2026-05-12", "2026-05-13"):
        day_trade(db, small_account, day, 0)
    # Monday 2026-05-18: the window is 05-12 .. 05-18, so two day trades count
    assert figures(db, small_account, et("2026-05-18 09:45"))["daytrade_count"] == 2
    day_trade(db, small_account, "2026-05-18", 0)  # the third in the window: allowed


def test_from_25000_of_previous_close_equity_day_trades_are_not_limited(db):
    add_asset(db, "ZIM")
    acct = sign_up_in_db(db)["account_id"]  # $100,000.00
    for day in ("2026-05-11", "2026-05-12", "2026-05-13", "2026-05-14"):
        day_trade(db, acct, day, 0)
    assert figures(db, acct, et("2026-05-14 10:59"))["daytrade_count"] == 4

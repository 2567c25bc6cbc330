"""End-of-day snapshots and portfolio history, against figures worked by hand.

The script (symbol ZPH, an account opened with $100,000.00):
  Tue 2026-12-01 10:00  buy 100 at the ask 50.00            cash 95,000.00
                 15:59  quote 50.90 / 51.10, mark 51.00      equity 95,000 + 100 x 51.00 = 100,100.00
  Wed 2026-12-02 15:59  quote 51.90 / 52.10, mark 52.00      equity 95,000 + 100 x 52.00 = 100,200.00
  Thu 2026-12-03 10:00  sell 50 at the bid 52.90             cash 95,000 + 2,645 = 97,645.00
                 15:59  quote 47.90 / 48.10, mark 48.00      equity 97,645 + 50 x 48.00 = 100,045.00
  Fri 2026-12-04 10:59  quote 49.90 / 50.10, mark 50.00      live equity 97,645 + 50 x 50.00 = 100,145.00
"""

import json
from datetime import datetime
from decimal import Decimal as D

import pytest

from conftest import act_as, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit

# periods end today (New York) and the last trading day comes from the calendar
# (make test-clock runs these at a matrix of instants)
pytestmark = pytest.mark.clock

MARKET = {"symbol": "ZPH", "type": "market", "time_in_force": "day"}


def midnight(day: str) -> int:
    """Alpaca labels a daily point with the New York midnight that starts the day, in epoch seconds."""
    return int(et(f"{day} 00:00").timestamp())


def snapshot(db, at: datetime) -> int:
    return db.execute("select mbt.write_eod_snapshots(%s)", [at]).fetchone()[0]


def history(db, acct, at: datetime, period: str | None = None, date_end: str | None = None) -> dict:
    return db.execute("select mbt.portfolio_history(%s, %s, null, %s, %s)", [acct, period, date_end, at]).fetchone()[0]


def account_snapshot(db, acct, day: str) -> tuple:
    return db.execute("select cash, long_market_value, short_market_value, equity, net_deposits "
                      "from mbt.account_snapshots where account_id = %s and trading_date = %s", [acct, day]).fetchone()


@pytest.fixture
def acct(db):
    add_asset(db, "ZPH")
    return sign_up_in_db(db)["account_id"]


@pytest.fixture
def three_days(db, acct):
    insert_quotes(db, ("ZPH", "49.90", "50.00", et("2026-12-01 10:00"), 1000, 1000))
    submit(db, acct, et("2026-12-01 10:00:01"), **MARKET, qty=100, side="buy")
    insert_quotes(db, ("ZPH", "50.90", "51.10", et("2026-12-01 15:59")))
    snapshot(db, et("2026-12-01 16:00"))
    insert_quotes(db, ("ZPH", "51.90", "52.10", et("2026-12-02 15:59")))
    snapshot(db, et("2026-12-02 16:00"))
    insert_quotes(db, ("ZPH", "52.90", "53.10", et("2026-12-03 10:00"), 1000, 1000))
    submit(db, acct, et("2026-12-03 10:00:01"), **MARKET, qty=50, side="sell")
    insert_quotes(db, ("ZPH", "47.90", "48.10", et("2026-12-03 15:59")))
    snapshot(db, et("2026-12-03 16:00"))
    return acct


def test_the_snapshot_holds_the_balances_at_the_close(db, three_days):
    assert account_snapshot(db, three_days, "2026-12-01") == (
        D("95000.00"), D("5100.00"), D("0.00"), D("100100.00"), D("100000.00"))
    assert account_snapshot(db, three_days, "2026-12-03") == (
        D("97645.00"), D("2400.00"), D("0.00"), D("100045.00"), D("100000.00"))
    closing = db.execute("select qty, close_price from mbt.position_snapshots "
                         "where account_id = %s and trading_date = '2026-12-03'", [three_days]).fetchall()
    assert closing == [(D(50), D(48))]


def test_writing_a_snapshot_twice_changes_nothing(db, three_days):
    assert snapshot(db, et("2026-12-03 16:00")) == 0
    assert snapshot(db, et("2026-12-03 23:00")) == 0  # a late run writes the same close
    assert account_snapshot(db, three_days, "2026-12-03")[3] == D("100045.00")


def test_a_late_snapshot_takes_after_hours_fills_and_quotes_back_out(db, acct):
    insert_quotes(db, ("ZPH", "49.90", "50.00", et("2026-12-01 10:00"), 1000, 1000))
    submit(db, acct, et("2026-12-01 10:00:01"), **MARKET, qty=100, side="buy")
    insert_quotes(db, ("ZPH", "50.90", "51.10", et("2026-12-01 15:59")))
    # after the close: a quote at 60 and an extended-hours sale of 40 at its bid
    submit(db, acct, et("2026-12-01 16:30"), symbol="ZPH", qty=40, side="sell", type="limit", limit_price="59.00",
           time_in_force="day", extended_hours=True)
    insert_quotes(db, ("ZPH", "59.90", "60.10", et("2026-12-01 16:31")))
    assert db.execute("select qty from mbt.positions where account_id = %s", [acct]).fetchone()[0] == D(60)
    snapshot(db, et("2026-12-01 19:00"))
    # as at 16:00: 100 shares at the 15:59 mark 51.00, cash 95,000.00
    assert account_snapshot(db, acct, "2026-12-01")[:4] == (D("95000.00"), D("5100.00"), D("0.00"), D("100100.00"))


def test_on_an_early_close_day_the_snapshot_is_taken_at_13_00(db, acct):
    insert_quotes(db, ("ZPH", "49.90", "50.00", et("2026-11-27 10:00"), 1000, 1000))
    submit(db, acct, et("2026-11-27 10:00:01"), **MARKET, qty=10, side="buy")
    insert_quotes(db, ("ZPH", "54.90", "55.10", et("2026-11-27 12:59")))
    insert_quotes(db, ("ZPH", "69.90", "70.10", et("2026-11-27 13:30")))  # after the close: not the mark
    snapshot(db, et("2026-11-27 13:00"))
    closed_at, equity = db.execute("select closed_at, equity from mbt.account_snapshots "
                                   "where account_id = %s and trading_date = '2026-11-27'", [acct]).fetchone()
    # 100,000 - 10 x 50.00 + 10 x 55.00
    assert (closed_at, equity) == (et("2026-11-27 13:00"), D("100050.00"))


def test_history_has_one_point_per_close_with_profit_against_the_deposit(db, three_days):
    h = history(db, three_days, et("2026-12-03 17:00"), period="1W", date_end="2026-12-03")
    assert h["timestamp"] == [midnight("2026-12-01"), midnight("2026-12-02"), midnight("2026-12-03")]
    assert [D(str(e)) for e in h["equity"]] == [D("100100.00"), D("100200.00"), D("100045.00")]
    assert [D(str(p)) for p in h["profit_loss"]] == [D(100), D(200), D(45)]
    # profit_loss / base_value: 100 / 100,000 = 0.001, ...
    assert [D(str(p)) for p in h["profit_loss_pct"]] == [D("0.001"), D("0.002"), D("0.00045")]
    assert (D(str(h["base_value"])), h["timeframe"]) == (D("100000.00"), "1D")


def test_history_adds_todays_live_point_until_todays_snapshot_exists(db, three_days):
    insert_quotes(db, ("ZPH", "49.90", "50.10", et("2026-12-04 10:59")))
    h = history(db, three_days, et("2026-12-04 11:00"), period="1W")
    assert h["timestamp"][-1] == midnight("2026-12-04")
    assert (D(str(h["equity"][-1])), D(str(h["profit_loss"][-1]))) == (D("100145.00"), D(145))
    assert D(str(h["profit_loss_pct"][-1])) == D("0.00145")


def test_the_base_is_the_close_before_the_first_point(db, three_days):
    h = history(db, three_days, et("2026-12-03 17:00"), period="1D", date_end="2026-12-03")
    assert h["timestamp"] == [midnight("2026-12-03")]
    # base: Wednesday's close 100,200.00; Thursday 100,045.00 - 100,200.00 = -155.00; -155 / 100,200 = -0.001547
    assert (D(str(h["base_value"])), h["base_value_asof"]) == (D("100200.00"), "2026-12-02")
    assert (D(str(h["profit_loss"][0])), D(str(h["profit_loss_pct"][0]))) == (D(-155), D("-0.001547"))


def test_a_deposit_is_not_profit(db, three_days):
    db.execute("insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount) "
               "values (%s, 'CSD', %s, 10000)", [three_days, et("2026-12-03 12:00")])
    db.execute("update mbt.accounts set cash = cash + 10000 where account_id = %s", [three_days])
    snapshot(db, et("2026-12-03 16:00"))
    h = history(db, three_days, et("2026-12-03 17:00"), period="1W", date_end="2026-12-03")
    assert D(str(h["equity"][-1])) == D("110045.00")
    assert D(str(h["profit_loss"][-1])) == D(45)


def test_bad_history_parameters_are_refused(db, acct):
    for period, code in [("7X", "MBL03"), ("0D", "MBL03")]:
        with pytest.raises(Exception) as raised, db.transaction():
            history(db, acct, et("2026-12-03 17:00"), period=period)
        assert raised.value.sqlstate == code
    with pytest.raises(Exception) as raised, db.transaction():
        db.execute("select mbt.portfolio_history(%s, '1M', '1H', null, now())", [acct])
    assert raised.value.sqlstate == "MBL03"


def test_positions_show_the_previous_close_and_the_change_today(db, acct):
    user_id = db.execute("select user_id from mbt.accounts where account_id = %s", [acct]).fetchone()[0]
    insert_quotes(db, ("ZPH", "49.90", "50.00", et("2026-12-01 10:00"), 1000, 1000))
    submit(db, acct, et("2026-12-01 10:00:01"), **MARKET, qty=10, side="buy")
    insert_quotes(db, ("ZPH", "50.90", "51.10", et("2026-12-01 10:01")))  # mark 51.00
    # the close of the trading day before the one in progress, as api.position_marks finds it
    previous = db.execute(
        "select max(trading_date) from md.market_calendar where trading_date < "
        "(select max(trading_date) from md.market_calendar where session_open <= now())").fetchone()[0]
    db.execute("insert into mbt.position_snapshots values (%s, %s, 'ZPH', 10, 50.00)", [acct, previous])
    act_as(db, "app_user", user_id)
    row = db.execute("select lastday_price, change_today from api.positions where symbol = 'ZPH'").fetchone()
    assert row == ("50", "0.020000")  # (51.00 - 50.00) / 50.00


def test_http_portfolio_history_of_a_new_account_is_todays_live_point(api, user):
    r = api.get("/api/rpc/portfolio_history", headers=user.auth)
    assert r.status_code == 200, r.text
    h = json.loads(r.text, parse_float=D)
    assert set(h) >= {"timestamp", "equity", "profit_loss", "profit_loss_pct", "base_value", "timeframe"}
    assert (h["equity"], h["profit_loss"], h["base_value"]) == ([D("100000.00")], [D("0.00")], D("100000.00"))


def test_http_bad_period_is_a_422(api, user):
    r = api.get("/api/rpc/portfolio_history", params={"period": "sometimes"}, headers=user.auth)
    assert r.status_code == 422 and r.json()["code"] == "MBL03"

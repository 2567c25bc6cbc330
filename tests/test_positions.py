"""Positions through a round trip: a position sold down to zero and bought again starts afresh at the new
price (the flat row left behind folds in as nothing; it once divided zero by zero)."""

from decimal import Decimal as D

import pytest

from conftest import sign_up_in_db
from engine import add_asset, et, insert_quotes, position, submit

MARKET = {"symbol": "ZRT", "type": "market", "time_in_force": "day"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZRT")
    return sign_up_in_db(db)["account_id"]


def trade(db, acct, at, side, qty, bid, ask):
    insert_quotes(db, ("ZRT", bid, ask, at, 10_000, 10_000))
    return submit(db, acct, at, **MARKET, side=side, qty=qty)


def test_a_position_sold_to_zero_and_bought_again_starts_at_the_new_price(db, acct):
    trade(db, acct, et("2026-12-01 10:00"), "buy", 100, "19.99", "20.00")   # 100 at 20.00
    trade(db, acct, et("2026-12-01 10:01"), "sell", 100, "21.00", "21.01")  # realized 100 x 1.00 = 100.00
    reopened = trade(db, acct, et("2026-12-01 10:02"), "buy", 50, "21.99", "22.00")
    assert reopened["status"] == "filled"
    qty, avg_entry_price, realized_pl = position(db, acct, "ZRT")
    assert (qty, avg_entry_price, realized_pl) == (D("50"), D("22.00"), D("100.00"))

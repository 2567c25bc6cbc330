"""A position closed to zero keeps its row (for its realized P&L); trading the symbol again folds that row
into the position path as a zero pseudo-execution, which must leave the position as it is (it divided by
zero: 0 shares at an average of 0 plus 0 shares). Found by the scripted day of `make report`."""

from decimal import Decimal as D

from conftest import sign_up_in_db
from engine import add_asset, et, insert_quotes, position, submit


def test_a_closed_position_can_be_opened_again_on_a_later_quote(db):
    account = sign_up_in_db(db)["account_id"]
    add_asset(db, "ZRPN")
    insert_quotes(db, ("ZRPN", "9.99", "10.01", et("2026-11-24 10:00")))
    submit(db, account, et("2026-11-24 10:00:01"), symbol="ZRPN", qty=10, side="buy", type="market",
           time_in_force="day")
    submit(db, account, et("2026-11-24 10:00:02"), symbol="ZRPN", qty=10, side="sell", type="market",
           time_in_force="day")
    assert position(db, account, "ZRPN") == (D(0), D(0), D("-0.2"))  # bought at 10.01, sold at 9.99
    submit(db, account, et("2026-11-24 10:00:03"), symbol="ZRPN", qty=5, side="buy", type="limit",
           limit_price="10.00", time_in_force="day")
    insert_quotes(db, ("ZRPN", "9.98", "10.00", et("2026-11-24 10:00:05")))  # the limit fills on this quote
    assert position(db, account, "ZRPN") == (D(5), D("10.00"), D("-0.2"))

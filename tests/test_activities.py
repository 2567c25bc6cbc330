"""Account activities in Alpaca's shapes: the opening deposit as a CSD, each execution as a FILL (partial
or whole), filters (activity_types, category, date, after/until, order_id) and keyset paging by
page_token in both directions; bad parameters are a 422 with a stable code."""

import pytest

from conftest import assert_error, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit

BUY = {"symbol": "ZACT", "qty": 150, "side": "buy", "type": "limit", "limit_price": "20.00", "time_in_force": "day"}


@pytest.fixture
def acct(db):
    add_asset(db, "ZACT")
    return sign_up_in_db(db)["account_id"]


@pytest.fixture
def traded(db, acct):
    """One order filled in two executions (100 then 50) on Tuesday, one more of 10 on Wednesday."""
    first = submit(db, acct, et("2026-12-01 10:00"), **BUY)
    insert_quotes(db, ("ZACT", "19.90", "19.95", et("2026-12-01 10:00:01"), 100, 100),
                  ("ZACT", "19.91", "19.96", et("2026-12-01 10:00:02"), 100, 100))
    second = submit(db, acct, et("2026-12-02 10:00"), **{**BUY, "qty": 10})
    insert_quotes(db, ("ZACT", "19.80", "19.85", et("2026-12-02 10:00:01"), 100, 100))
    return acct, first["id"], second["id"]


def activities(db, acct, **params) -> list[dict]:
    names = ["activity_types", "category", "date", "after", "until", "direction", "page_size", "page_token",
             "order_id"]
    return db.execute(f"select mbt.account_activities(%s, {', '.join(['%s'] * len(names))})",
                      [acct, *[params.get(n) for n in names]]).fetchone()[0]


def refused(db, acct, **params) -> str:
    with pytest.raises(Exception) as raised, db.transaction():
        activities(db, acct, **params)
    return raised.value.sqlstate


def test_the_opening_deposit_is_a_csd(db, acct):
    [csd] = activities(db, acct)
    assert (csd["activity_type"], csd["net_amount"], csd["status"], csd["description"]) == (
        "CSD", "100000.00", "executed", "Opening deposit")
    assert csd["id"].split("::")[0].isdigit() and len(csd["id"].split("::")[0]) == 17


def test_each_execution_is_a_fill_activity_with_its_order_figures(db, traded):
    acct, first, _ = traded
    partial, whole = activities(db, acct, activity_types="FILL", order_id=first, direction="asc")
    assert {k: partial[k] for k in ("type", "price", "qty", "side", "symbol", "cum_qty", "leaves_qty", "order_id")} == {
        "type": "partial_fill", "price": "19.95", "qty": "100", "side": "buy", "symbol": "ZACT", "cum_qty": "100",
        "leaves_qty": "50", "order_id": first}
    assert (whole["type"], whole["price"], whole["qty"], whole["cum_qty"], whole["leaves_qty"]) == (
        "fill", "19.96", "50", "150", "0")
    assert whole["activity_type"] == "FILL" and whole["order_status"] == "filled"
    # the id: New York time to the millisecond, '::', the execution id
    assert partial["id"].startswith("20261201100001000::")


def test_newest_first_by_default(db, traded):
    acct, _, _ = traded
    kinds = [(a["activity_type"], a.get("qty")) for a in activities(db, acct)]
    assert kinds == [("FILL", "10"), ("FILL", "50"), ("FILL", "100"), ("CSD", None)]


def test_category_and_types_filter(db, traded):
    acct, _, _ = traded
    assert [a["activity_type"] for a in activities(db, acct, category="non_trade_activity")] == ["CSD"]
    assert len(activities(db, acct, category="trade_activity")) == 3
    assert [a["activity_type"] for a in activities(db, acct, activity_types="CSD,DIV")] == ["CSD"]


def test_date_is_one_new_york_day(db, traded):
    acct, _, second = traded
    [fill] = activities(db, acct, date="2026-12-02")
    assert fill["order_id"] == second


def test_after_and_until_bound_the_period(db, traded):
    acct, _, _ = traded
    between = activities(db, acct, after=et("2026-12-01 10:00:01.5").isoformat(),
                         until=et("2026-12-02 10:00:01").isoformat())
    assert [a["qty"] for a in between] == ["50"]


def test_pages_follow_each_other_without_gap_or_repeat_in_both_directions(db, traded):
    acct, _, _ = traded
    everything = activities(db, acct, direction="asc")
    first = activities(db, acct, direction="asc", page_size="2")
    second = activities(db, acct, direction="asc", page_size="2", page_token=first[-1]["id"])
    assert first + second == everything and len(everything) == 4
    newest = activities(db, acct, page_size="3")
    rest = activities(db, acct, page_size="3", page_token=newest[-1]["id"])
    assert newest + rest == list(reversed(everything))
    assert activities(db, acct, page_size="3", page_token=rest[-1]["id"]) == []


def test_page_size_defaults_to_100_and_caps_there(db, acct):
    db.execute("insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount) "
               "select %s, 'INT', %s + g * interval '1 second', 0.01 from generate_series(1, 120) as g",
               [acct, et("2026-12-01 10:00")])
    assert len(activities(db, acct)) == 100
    assert refused(db, acct, page_size="101") == "MBL01"


@pytest.mark.parametrize("params", [
    {"activity_types": "FILL,NOPE"},
    {"activity_types": "FILL", "category": "trade_activity"},
    {"category": "trades"},
    {"date": "2026-12-01", "after": "2026-12-01T00:00:00Z"},
    {"date": "yesterday-ish"},
    {"after": "not a time"},
    {"direction": "sideways"},
    {"page_size": "0"},
    {"page_size": "ten"},
    {"order_id": "42"},
], ids=lambda p: ",".join(p))
def test_bad_parameters_are_refused_with_mbl01(db, acct, params):
    assert refused(db, acct, **params) == "MBL01"


def test_a_page_token_that_is_not_one_of_yours_is_refused_with_mbl02(db, acct):
    assert refused(db, acct, page_token="nonsense") == "MBL02"
    assert refused(db, acct, page_token="20261201100001000::00000000-0000-0000-0000-000000000000") == "MBL02"


def test_http_activities_page_through_the_gateway(api, user):
    r = api.get("/api/rpc/account_activities", params={"page_size": "1"}, headers=user.auth)
    assert r.status_code == 200, r.text
    [csd] = r.json()
    assert (csd["activity_type"], csd["net_amount"]) == ("CSD", "100000.00")
    r = api.get("/api/rpc/account_activities", params={"page_token": csd["id"]}, headers=user.auth)
    assert r.json() == []


def test_http_bad_activity_parameters_are_a_422(api, user):
    assert_error(api.get("/api/rpc/account_activities", params={"page_size": "500"}, headers=user.auth), 422, "MBL01")
    assert_error(api.get("/api/rpc/account_activities", params={"page_token": "x"}, headers=user.auth), 422, "MBL02")

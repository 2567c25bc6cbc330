"""The main order paths through the gateway, with quotes arriving as the ingestor writes them."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import psycopg
import pytest

from conftest import assert_error, assert_invariants, sign_up, sign_up_in_db
from engine import insert_quotes

# orders through the gateway are valued at now() against the session it falls in
# (make test-clock runs these at a matrix of instants)
pytestmark = pytest.mark.clock

LIMIT = {"qty": 10, "side": "buy", "type": "limit", "limit_price": "100.00", "time_in_force": "gtc"}


@pytest.fixture
def symbol(admin):
    name = "Z" + uuid.uuid4().hex[:6].upper()
    admin.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ')", [name])
    return name


@pytest.fixture
def next_open(admin):
    """The next regular-session open after now (from md.market_calendar): quotes are stamped then."""
    return admin.execute("select next_open from md.clock(now())").fetchone()[0]


def test_an_order_submitted_over_http_fills_when_a_marketable_quote_arrives(api, admin, user, symbol, next_open):
    r = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT}, headers=user.auth)
    assert r.status_code == 200, r.text
    order = r.json()
    assert (order["symbol"], order["qty"], order["limit_price"], order["filled_qty"]) == (symbol, "10", "100", "0")

    with admin.transaction():
        insert_quotes(admin, (symbol, "99.90", "99.95", next_open + timedelta(minutes=1)))

    [listed] = api.get("/api/orders", params={"id": f"eq.{order['id']}"}, headers=user.auth).json()
    assert (listed["status"], listed["filled_qty"], listed["filled_avg_price"]) == ("filled", "10", "99.95")
    [fill] = api.get("/api/fills", params={"order_id": f"eq.{order['id']}"}, headers=user.auth).json()
    assert (fill["price"], fill["rule"], fill["quote_bid_price"], fill["quote_ask_price"]) == (
        "99.95", "limit_marketable", "99.9", "99.95")
    [position] = api.get("/api/positions", params={"symbol": f"eq.{symbol}"}, headers=user.auth).json()
    assert (position["qty"], position["side"], position["avg_entry_price"]) == ("10", "long", "99.95")
    account = api.get("/api/account", headers=user.auth).json()
    assert D(account["cash"]) == D("100000.00") - 10 * D("99.95")
    assert D(account["long_market_value"]) == 10 * D("99.925")  # marked at the midpoint


def test_a_rejected_order_is_a_422_in_the_error_shape(api, user, symbol):
    r = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT, "limit_price": "100.005"}, headers=user.auth)
    body = assert_error(r, 422, "MBO05")
    assert body["hint"] and body["details"] == "limit_price = 100.005"


def test_not_enough_buying_power_is_a_403(api, user, symbol):
    r = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT, "qty": 3000}, headers=user.auth)
    assert_error(r, 403, "MBO11")


def test_cancelling_over_http_releases_the_hold(api, user, symbol):
    order = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT}, headers=user.auth).json()
    assert api.get("/api/account", headers=user.auth).json()["buying_power"] == "199000.00"
    r = api.post("/api/rpc/cancel_order", json={"id": order["id"]}, headers=user.auth)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert api.get("/api/account", headers=user.auth).json()["buying_power"] == "200000.00"
    assert_error(api.post("/api/rpc/cancel_order", json={"id": order["id"]}, headers=user.auth), 422, "MBO15")


def test_another_users_order_cannot_be_cancelled(api, user, symbol):
    order = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT}, headers=user.auth).json()
    stranger = sign_up(api)
    assert_error(api.post("/api/rpc/cancel_order", json={"id": order["id"]}, headers=stranger.auth), 404, "MBO14")


def test_twenty_parallel_submissions_never_overdraw_the_account(cfg, api, admin, symbol):
    user = sign_up(api)
    account_id = user.account_id
    # buying power 200,000.00; each order holds 100 x 150.00 = 15,000.00: 13 fit (195,000.00), 7 cannot

    def submit_one(_):
        with psycopg.connect(cfg.dsn()) as conn:
            try:
                conn.execute("select mbt.submit_order(%s, %s::jsonb, now())", [
                    account_id, f'{{"symbol": "{symbol}", "qty": 100, "side": "buy", "type": "limit", '
                                f'"limit_price": "150.00", "time_in_force": "gtc"}}'])
                conn.commit()
                return "ok"
            except psycopg.Error as exc:
                return exc.diag.sqlstate

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(submit_one, range(20)))
    assert outcomes.count("ok") == 13 and outcomes.count("MBO11") == 7
    assert api.get("/api/account", headers=user.auth).json()["buying_power"] == "5000.00"  # 200,000 - 13 x 15,000
    assert_invariants(admin)


def test_a_bracket_over_http_enters_then_exits_at_the_take_profit(api, admin, user, symbol, next_open):
    bracket = {"symbol": symbol, **LIMIT, "order_class": "bracket",
               "take_profit": {"limit_price": "110.00"}, "stop_loss": {"stop_price": "95.00"}}
    r = api.post("/api/rpc/submit_order", json=bracket, headers=user.auth)
    assert r.status_code == 200, r.text
    entry = r.json()
    assert [(leg["type"], leg["status"]) for leg in entry["legs"]] == [("limit", "held"), ("stop", "held")]

    with admin.transaction():
        insert_quotes(admin, (symbol, "99.90", "99.95", next_open + timedelta(minutes=1)),
                      (symbol, "110.00", "110.05", next_open + timedelta(minutes=2)))

    r = api.get("/api/rpc/list_orders", params={"status": "all", "nested": "true"}, headers=user.auth)
    assert r.status_code == 200, r.text
    [listed] = r.json()
    assert (listed["id"], listed["status"], listed["filled_avg_price"]) == (entry["id"], "filled", "99.95")
    assert [(leg["status"], leg["filled_avg_price"]) for leg in listed["legs"]] == [
        ("filled", "110"), ("canceled", None)]
    # not nested: the exits are orders of their own
    assert len(api.get("/api/rpc/list_orders", params={"status": "all"}, headers=user.auth).json()) == 3


def test_an_incomplete_bracket_is_a_422_naming_what_is_missing(api, user, symbol):
    r = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT, "order_class": "bracket",
                                                 "take_profit": {"limit_price": "110.00"}}, headers=user.auth)
    body = assert_error(r, 422, "MBO19")
    assert "stop_loss.stop_price" in body["message"]


@pytest.mark.parametrize("parameter", ["status", "max_orders", "direction", "nested"])
def test_list_orders_refuses_a_null_parameter_naming_it(api, user, parameter):
    # {"max_orders": null} listed every order, past the cap of 500; {"status": null} answered []
    err = assert_error(api.post("/api/rpc/list_orders", json={parameter: None}, headers=user.auth), 422, "MBV03")
    assert parameter in err["message"]
    assert "default" in err["hint"]


def test_list_orders_takes_null_as_all_where_all_is_the_default(api, user, symbol):
    r = api.post("/api/rpc/submit_order", json={"symbol": symbol, **LIMIT}, headers=user.auth)
    assert r.status_code == 200, r.text
    everything = {"side": None, "after": None, "until": None, "symbols": None}
    listed = api.post("/api/rpc/list_orders", json=everything, headers=user.auth)
    assert listed.status_code == 200, listed.text
    assert [o["id"] for o in listed.json()] == [r.json()["id"]]


def test_a_retried_post_after_the_order_filled_is_a_422_and_buys_nothing_more(api, admin, user, symbol):
    # alpaca-py re-sends a POST that timed out; the first one had gone through and filled. The quote is the
    # ingestor's: fresh now while the market is open (the order fills at submission), else at the next open
    # (the order rests until then)
    is_open, at = admin.execute("select is_open, case when is_open then now() else next_open end "
                                "from md.clock(now())").fetchone()
    request = {"symbol": symbol, "qty": 100, "side": "buy", "type": "limit", "limit_price": "100.00",
               "time_in_force": "gtc", "client_order_id": "retry-after-fill"}
    if is_open:
        with admin.transaction():
            insert_quotes(admin, (symbol, "99.90", "99.95", at, 100, 500))
    r = api.post("/api/rpc/submit_order", json=request, headers=user.auth)
    assert r.status_code == 200, r.text
    if not is_open:
        with admin.transaction():
            insert_quotes(admin, (symbol, "99.90", "99.95", at + timedelta(seconds=1), 100, 500))
    assert api.get("/api/orders", params={"id": f"eq.{r.json()['id']}"}, headers=user.auth).json()[0]["status"] \
        == "filled"

    retry = api.post("/api/rpc/submit_order", json=request, headers=user.auth)
    body = assert_error(retry, 422, "MBO09")
    assert body["details"] == "client_order_id = retry-after-fill"
    assert len(api.get("/api/orders", headers=user.auth).json()) == 1
    assert len(api.get("/api/fills", headers=user.auth).json()) == 1
    [position] = api.get("/api/positions", params={"symbol": f"eq.{symbol}"}, headers=user.auth).json()
    assert position["qty"] == "100"
    assert_invariants(admin)


def test_two_identical_submissions_at_once_make_one_order(cfg, admin, symbol):
    account_id = sign_up_in_db(admin)["account_id"]
    at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York, a Tuesday
    insert_quotes(admin, (symbol, "99.90", "99.95", at - timedelta(seconds=1), 100, 500))
    request = json.dumps({"symbol": symbol, "qty": 100, "side": "buy", "type": "market", "time_in_force": "day",
                          "client_order_id": "twice-at-once"})

    # a third connection holds the account's row, so both submissions wait for it and then run one after
    # the other: the second must see the first, filled (no longer open) at once
    with psycopg.connect(cfg.dsn()) as gate:
        gate.execute("select from mbt.accounts where account_id = %s for update", [account_id])

        def submit_one(_):
            with psycopg.connect(cfg.dsn()) as conn:
                try:
                    conn.execute("select mbt.submit_order(%s, %s::jsonb, %s)", [account_id, request, at])
                    conn.commit()
                    return "ok"
                except psycopg.Error as exc:
                    return exc.diag.sqlstate

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = pool.map(submit_one, range(2))
            while admin.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                                "and query like '%%submit_order%%'").fetchone()[0] < 2:
                time.sleep(0.02)
            gate.rollback()
            outcomes = sorted(outcomes)
    assert outcomes == ["MBO09", "ok"]
    assert admin.execute("select count(*), sum(filled_qty) from mbt.orders where account_id = %s",
                         [account_id]).fetchone() == (1, D(100))
    assert admin.execute("select qty from mbt.positions where account_id = %s", [account_id]).fetchone() == (D(100),)
    assert_invariants(admin)

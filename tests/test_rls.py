"""Who may reach what: every api endpoint for user A, user B and an anonymous caller, through HTTP,
and the same boundaries at the database."""

import httpx
import psycopg
import pytest

from conftest import act_as, sign_up, sign_up_in_db

# Every object of the api schema: how to call it over HTTP, and what each caller gets.
#   "own"  -> 200 and exactly the caller's own account, never the other user's
#   number -> that HTTP status
# A new endpoint fails test_every_api_object_is_in_the_matrix until its row is added here.
LIMIT_ORDER = {"symbol": "ZRLS", "qty": 1, "side": "buy", "type": "limit", "limit_price": "10.00",
               "time_in_force": "gtc"}
MATRIX = {
    ("view", "account"): ("GET", "/api/account", None, {"user A": "own", "user B": "own", "anonymous": 401}),
    ("view", "orders"): ("GET", "/api/orders", None,
                         {"user A": "own orders", "user B": "own orders", "anonymous": 401}),
    ("view", "positions"): ("GET", "/api/positions", None, {"user A": 200, "user B": 200, "anonymous": 401}),
    ("view", "fills"): ("GET", "/api/fills", None, {"user A": 200, "user B": 200, "anonymous": 401}),
    ("view", "position_marks"): ("GET", "/api/position_marks", None, {"user A": 403, "user B": 403, "anonymous": 401}),
    ("function", "ping"): ("GET", "/api/rpc/ping", None, {"user A": 200, "user B": 200, "anonymous": 200}),
    ("function", "submit_order"): ("POST", "/api/rpc/submit_order", LIMIT_ORDER,
                                   {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "cancel_order"): ("POST", "/api/rpc/cancel_order", {"id": "00000000-0000-0000-0000-000000000000"},
                                   {"user A": 404, "user B": 404, "anonymous": 401}),
    ("function", "replace_order"): ("POST", "/api/rpc/replace_order",
                                    {"id": "00000000-0000-0000-0000-000000000000", "changes": {"qty": 2}},
                                    {"user A": 404, "user B": 404, "anonymous": 401}),
    ("function", "list_orders"): ("GET", "/api/rpc/list_orders?status=all", None,
                                  {"user A": "own orders", "user B": "own orders", "anonymous": 401}),
    ("function", "cancel_all_orders"): ("POST", "/api/rpc/cancel_all_orders", None,
                                        {"user A": "own canceled", "user B": "own canceled", "anonymous": 401}),
    # market data: assets are reference data for everyone; prices need a signed-in caller (tier-gated)
    ("view", "assets"): ("GET", "/api/assets?symbol=eq.ZRLS", None, {"user A": 200, "user B": 200, "anonymous": 200}),
    ("function", "market_data_window"): ("GET", "/api/rpc/market_data_window", None,
                                         {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "latest_quotes"): ("GET", "/api/rpc/latest_quotes?symbols=ZRLS", None,
                                    {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "quotes"): ("GET", "/api/rpc/quotes?symbol=ZRLS", None,
                             {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "bars"): ("GET", "/api/rpc/bars?symbol=ZRLS", None, {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "option_chain"): ("GET", "/api/rpc/option_chain?underlying_symbol=ZRLS", None,
                                   {"user A": 200, "user B": 200, "anonymous": 401}),
    # order lifecycle: each works on the caller's own account only
    ("function", "account_activities"): ("GET", "/api/rpc/account_activities", None,
                                         {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "portfolio_history"): ("GET", "/api/rpc/portfolio_history", None,
                                        {"user A": 200, "user B": 200, "anonymous": 401}),
    ("function", "close_position"): ("POST", "/api/rpc/close_position", {"symbol": "ZRLS"},
                                     {"user A": 404, "user B": 404, "anonymous": 401}),
    ("function", "close_all_positions"): ("POST", "/api/rpc/close_all_positions", {},
                                          {"user A": 207, "user B": 207, "anonymous": 401}),
    ("function", "intraday_margin"): ("GET", "/api/rpc/intraday_margin", None,
                                      {"user A": 200, "user B": 200, "anonymous": 401}),
}
CALLERS = ["user A", "user B", "anonymous"]


def test_every_api_object_is_in_the_matrix(admin):
    objects = set(admin.execute("""
        select 'view', c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'api' and c.relkind in ('v', 'm', 'r', 'f', 'p')
        union all
        select 'function', p.proname from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = 'api'
    """).fetchall())
    assert objects == set(MATRIX)


@pytest.fixture(scope="module")
def pair(cfg):
    import psycopg
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        conn.execute("insert into md.assets (symbol, exchange) values ('ZRLS', 'NASDAQ') on conflict do nothing")
    with httpx.Client(base_url=cfg.base_url) as client:
        users = {"user A": sign_up(client), "user B": sign_up(client)}
        for user in users.values():  # one order each, to see whose rows come back
            r = client.post("/api/rpc/submit_order", json=LIMIT_ORDER, headers=user.auth)
            assert r.status_code == 200, r.text
            user.order_id = r.json()["id"]
        return users


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", list(MATRIX), ids=lambda e: f"{e[0]}-{e[1]}")
def test_rls_matrix(api, pair, endpoint, caller):
    method, path, body, expected = MATRIX[endpoint]
    user = pair.get(caller)
    r = api.request(method, path, headers=user.auth if user else {}, json=body)
    want = expected[caller]
    others = [u for name, u in pair.items() if name != caller]
    if want == "own":
        assert r.status_code == 200, r.text
        assert r.json()["id"] == user.account_id
        assert r.json()["id"] not in [u.account_id for u in others]
    elif want == "own canceled":
        assert r.status_code == 200, r.text
        assert not {row["id"] for row in r.json()} & {u.order_id for u in others}
    elif want == "own orders":
        assert r.status_code == 200, r.text
        ids = {row["id"] for row in r.json()}
        assert user.order_id in ids
        assert not ids & {u.order_id for u in others}
    else:
        assert r.status_code == want, r.text


def test_filtering_for_another_users_account_finds_nothing(postgrest, pair):
    a, b = pair["user A"], pair["user B"]
    r = postgrest.get("/account", params={"id": f"eq.{b.account_id}"}, headers=a.auth)
    assert r.status_code == 200 and r.json() == []
    everything = postgrest.get("/account", headers=a.auth).json()
    assert [row["id"] for row in everything] == [a.account_id]


def test_anonymous_callers_cannot_read_accounts_straight_at_postgrest(postgrest):
    assert postgrest.get("/account").status_code == 401


def test_openapi_document_shows_anonymous_callers_only_what_they_may_use(api, pair):
    anonymous = api.get("/api/").json()
    signed_in = api.get("/api/", headers=pair["user A"].auth).json()
    assert "/account" not in anonymous["paths"]
    assert "/account" in signed_in["paths"]
    assert signed_in["info"]["title"] == "MBT paper-trading API"


@pytest.mark.parametrize("table", ["mbt.accounts", "auth.users", "auth.sessions", "auth.refresh_tokens",
                                   "auth.login_throttle", "mbt.account_balances", "mbt.trailing_marks"])
@pytest.mark.parametrize("role", ["app_user", "web_anon"])
def test_web_roles_cannot_touch_private_tables(db, table, role):
    u = sign_up_in_db(db)
    act_as(db, role, u["user_id"] if role == "app_user" else None)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute(f"select * from {table}")


def test_the_view_owner_sees_only_the_callers_rows_at_the_database(db):
    a, b = sign_up_in_db(db), sign_up_in_db(db)
    act_as(db, "app_user", a["user_id"])
    assert db.execute("select id from api.account").fetchall() == [(a["account_id"],)]
    act_as(db, "app_user", b["user_id"])
    assert db.execute("select id from api.account").fetchall() == [(b["account_id"],)]
    act_as(db, "web_anon")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("select id from api.account")


def test_web_roles_cannot_call_auth_functions(db):
    act_as(db, "app_user")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("select auth.erase_user(gen_random_uuid())")

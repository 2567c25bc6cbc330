"""Bad input gets a clear 4xx in MBT's error shape, with a code from docs/errors.md, and writes nothing."""

import json

import pytest

from conftest import PASSWORD, assert_error, unique_email


def row_counts(admin) -> dict[str, int]:
    tables = admin.execute("""
        select c.oid::regclass::text from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('auth', 'mbt') and c.relkind in ('r', 'p') and not c.relispartition
    """).fetchall()
    return {t: admin.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}


@pytest.fixture
def users_unchanged(admin):
    """Nothing is written: every table of auth and mbt keeps its row count."""
    before = row_counts(admin)
    yield
    assert row_counts(admin) == before


JSON = {"Content-Type": "application/json"}


@pytest.mark.usefixtures("users_unchanged")
def test_malformed_json_is_400(api):
    r = api.post("/api/sessions/signup", content=b'{"email": "a@example.com", "password": ', headers=JSON)
    assert_error(r, 400, "MBV01")


@pytest.mark.usefixtures("users_unchanged")
@pytest.mark.parametrize("body", [
    {"email": 42, "password": PASSWORD},
    {"email": "wrong-types@example.com", "password": ["not", "a", "string"]},
    {"email": None, "password": PASSWORD},
])
def test_wrong_types_are_422_naming_the_field(api, body):
    r = api.post("/api/sessions/signup", json=body)
    err = assert_error(r, 422, "MBV03")
    assert "'email'" in err["message"] or "'password'" in err["message"]


@pytest.mark.usefixtures("users_unchanged")
def test_a_nul_character_is_422_not_a_server_error(api):
    assert_error(api.post("/api/sessions/signup", json={"email": "b\u0000@example.com", "password": PASSWORD}),
                 422, "MBV03")


@pytest.mark.usefixtures("users_unchanged")
def test_a_body_that_is_not_utf8_is_400(api):
    r = api.post("/api/sessions/login", content=b'{"email": "\xff\xfe", "password": "x"}', headers=JSON)
    assert r.status_code in (400, 422)
    assert r.json()["code"] in ("MBV01", "MBV03")


@pytest.mark.usefixtures("users_unchanged")
def test_a_body_that_is_not_an_object_is_422(api):
    assert_error(api.post("/api/sessions/signup", json=["a@example.com", PASSWORD]), 422, "MBV03")


@pytest.mark.usefixtures("users_unchanged")
@pytest.mark.parametrize("missing", ["email", "password"])
def test_missing_fields_are_422_naming_the_field(api, missing):
    body = {"email": unique_email(), "password": PASSWORD}
    del body[missing]
    err = assert_error(api.post("/api/sessions/signup", json=body), 422, "MBV04")
    assert f"'{missing}'" in err["message"]


@pytest.mark.usefixtures("users_unchanged")
def test_unknown_fields_are_422_naming_the_field(api):
    body = {"email": unique_email(), "password": PASSWORD, "tier": "pro_plus"}
    err = assert_error(api.post("/api/sessions/signup", json=body), 422, "MBV05")
    assert "'tier'" in err["message"]


@pytest.mark.usefixtures("users_unchanged")
def test_oversized_body_is_413_from_the_gateway(api):
    body = {"email": unique_email(), "password": "p" * 40_000}
    assert_error(api.post("/api/sessions/signup", json=body), 413, "MBV02")


@pytest.mark.usefixtures("users_unchanged")
def test_a_body_that_is_not_json_is_415(api):
    r = api.post("/api/sessions/signup", content=b"email=a@example.com&password=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "MBV07")


def test_unknown_paths_are_404_in_the_error_shape(api, user):
    assert_error(api.get("/nothing-here"), 404, "MBN01")
    assert_error(api.get("/api/sessions/nothing-here/at-all", headers=user.auth), 404, "MBN01")


def test_wrong_method_is_405(api):
    assert_error(api.get("/api/sessions/signup"), 405, "MBN02")


def test_anonymous_account_read_is_401_in_the_error_shape(api):
    assert_error(api.get("/api/account"), 401, "MBA08")  # PostgREST said 42501 'permission denied for view account'


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_api_resources_are_read_only_405(api, user, method):
    r = api.request(method, "/api/account", headers=user.auth, json={"cash": "1000000000.00"})
    assert_error(r, 405, "MBN02")
    assert r.headers["Allow"] == "GET, HEAD"
    assert api.get("/api/account", headers=user.auth).json()["cash"] == "100000.00"


def test_an_overlong_url_is_400_in_the_error_shape(api):
    assert_error(api.get("/api/" + "a" * 10_000), 400, "MBV08")


def test_an_overlong_header_is_400_in_the_error_shape(api):
    assert_error(api.get("/api/account", headers={"X-Padding": "p" * 10_000}), 400, "MBV08")


def test_malformed_json_to_an_api_function_is_400_from_the_gateway_and_writes_nothing(api, user, admin):
    before = row_counts(admin)
    r = api.post("/api/rpc/submit_order", content=b'{"symbol": "AAPL", "qty": 1, "side": "buy",',
                 headers={**user.auth, **JSON})
    assert_error(r, 400, "MBV01")
    assert row_counts(admin) == before


def test_a_body_of_another_type_to_an_api_function_is_415(api, user, admin):
    before = row_counts(admin)
    r = api.post("/api/rpc/submit_order", content=b"symbol=AAPL&qty=1&side=buy",
                 headers={**user.auth, "Content-Type": "text/plain"})
    assert_error(r, 415, "MBV07")
    assert row_counts(admin) == before


def test_an_api_function_without_arguments_needs_no_body(api, user):
    r = api.post("/api/rpc/cancel_all_orders", headers=user.auth)
    assert r.status_code == 200, r.text
    assert r.json() == []


# every optional parameter of the API's list and query functions, with the required ones it needs
OPTIONAL_PARAMETERS = [
    (function, required, parameter)
    for function, required, parameters in [
        ("list_orders", {}, ["after", "until", "symbols", "side"]),
        ("account_activities", {}, ["activity_types", "category", "date", "after", "until", "direction",
                                    "page_size", "page_token", "order_id"]),
        ("portfolio_history", {}, ["period", "timeframe", "date_end"]),
        ("quotes", {"symbol": "AAPL"}, ["start", "end", "page_size", "page_token", "sort"]),
        ("bars", {"symbol": "AAPL"}, ["start", "end", "page_size", "page_token", "sort"]),
        ("option_chain", {"underlying_symbol": "AAPL"}, ["expiration_date_gte", "expiration_date_lte", "type",
                                                         "strike_price_gte", "strike_price_lte", "page_size",
                                                         "page_token"]),
        ("close_all_positions", {}, ["cancel_orders"]),
    ]
    for parameter in parameters
]


@pytest.mark.parametrize(("function", "required", "parameter"), OPTIONAL_PARAMETERS)
def test_a_null_optional_parameter_means_its_default_or_is_refused_never_more(api, user, function, required,
                                                                              parameter):
    left_out = api.post(f"/api/rpc/{function}", json=required, headers=user.auth)
    as_null = api.post(f"/api/rpc/{function}", json={**required, parameter: None}, headers=user.auth)
    if as_null.status_code == 422:
        assert as_null.json()["code"] == "MBV03" and as_null.json()["hint"], as_null.text
    else:
        assert (as_null.status_code, as_null.json()) == (left_out.status_code, left_out.json())


# Bad requests of every kind PostgREST or PostgreSQL would have answered in their own words (commented:
# what it was before the gateway rewrote it), with the catalogued answer each gets now.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
ORDER = {"qty": 1, "side": "buy", "type": "market", "time_in_force": "day"}
BAD_REQUESTS = [
    # wrong types and values in a call's arguments: 400 22P02 'invalid input syntax for type uuid: "not-a-uuid"'
    ("POST", "/api/rpc/cancel_order", {"json": {"id": "not-a-uuid"}}, 422, "MBV03"),
    ("POST", "/api/rpc/replace_order", {"json": {"id": "nope", "changes": {}}}, 422, "MBV03"),
    ("POST", "/api/rpc/list_orders", {"json": {"max_orders": "abc"}}, 422, "MBV03"),
    ("GET", "/api/rpc/list_orders?max_orders=", {}, 422, "MBV03"),
    ("POST", "/api/rpc/list_orders", {"json": {"max_orders": 99999999999999999999}}, 422, "MBV03"),  # 22003
    ("POST", "/api/rpc/list_orders", {"json": {"after": "yesterday-ish"}}, 422, "MBV03"),  # 22007
    ("POST", "/api/rpc/list_orders", {"json": {"nested": "maybe"}}, 422, "MBV03"),
    ("POST", "/api/rpc/option_chain", {"json": {"underlying_symbol": "AAPL", "expiration_date_gte": "2026-02-30"}},
     422, "MBV03"),  # 22008 'date/time field value out of range'
    ("POST", "/api/rpc/option_chain", {"json": {"underlying_symbol": "AAPL", "strike_price_gte": "abc"}},
     422, "MBV03"),
    ("POST", "/api/rpc/submit_order", {"json": {"symbol": "SPY\u0000", **ORDER}}, 422, "MBV03"),  # 22P05
    ("POST", "/api/rpc/submit_order", {"json": [ORDER, ORDER]}, 422, "MBV03"),  # PGRST102 'All object keys must match'
    # arguments no call takes, calls and resources that do not exist: 404 PGRST202, 42P01, 42883
    ("POST", "/api/rpc/list_orders", {"json": {"bogus": 1}}, 404, "MBN01"),
    ("POST", "/api/rpc/no_such_call", {"json": {}}, 404, "MBN01"),
    ("GET", "/api/nothing", {}, 404, "MBN01"),
    ("GET", "/api/orders?created_at=like.abc", {}, 404, "MBN01"),  # 'operator does not exist: timestamp ... ~~'
    # filters of the wrong type, query strings PostgREST cannot use: 400 22P02, 42703, PGRST100/200/122, 416 PGRST103
    ("GET", "/api/orders?id=eq.abc", {}, 422, "MBV03"),
    ("GET", "/api/orders?created_at=eq.abc", {}, 422, "MBV03"),
    ("GET", "/api/orders?nocol=eq.abc", {}, 422, "MBV09"),  # 'column orders.nocol does not exist'
    ("GET", "/api/orders?select=nocol", {}, 422, "MBV09"),
    ("GET", "/api/orders?id=zz.abc", {}, 422, "MBV09"),
    ("GET", "/api/orders?and=(id.eq.1", {}, 422, "MBV09"),
    ("GET", "/api/orders?select=foo(*)", {}, 422, "MBV09"),
    ("GET", "/api/orders?order=id.sideways", {}, 422, "MBV09"),
    ("GET", "/api/orders?limit=-1", {}, 422, "MBV09"),
    ("GET", "/api/orders", {"headers": {"Range-Unit": "items", "Range": "5-1"}}, 422, "MBV09"),
    ("GET", "/api/orders", {"headers": {"Prefer": "handling=strict, bogus=1"}}, 422, "MBV09"),
    # media types and schemas: 415 PGRST107, 406 PGRST116 and PGRST106
    ("GET", "/api/orders", {"headers": {"Accept": "application/xml"}}, 415, "MBV07"),
    ("GET", "/api/", {"headers": {"Accept": "text/csv"}}, 415, "MBV07"),
    ("GET", "/api/orders", {"headers": {"Accept": "application/vnd.pgrst.object+json"}}, 406, "MBN03"),
    ("GET", f"/api/account?id=eq.{ZERO_UUID}", {}, 406, "MBN03"),
    ("GET", "/api/orders", {"headers": {"Accept-Profile": "mbt"}}, 406, "MBN03"),
    # methods: 405 25006 'cannot execute SELECT FOR UPDATE in a read-only transaction', PGRST101
    ("GET", "/api/rpc/cancel_all_orders", {}, 405, "MBN02"),
    ("DELETE", "/api/rpc/ping", {}, 405, "MBN02"),
    # privileges: 403 and 401 42501 'permission denied for view position_marks'
    ("GET", "/api/position_marks", {}, 403, "MBA13"),
    ("GET", "/api/account", {"anonymous": True}, 401, "MBA08"),
    ("POST", "/api/rpc/submit_order", {"json": ORDER, "anonymous": True}, 401, "MBA08"),
]
# what only PostgreSQL or PostgREST would say (lower case)
THEIR_WORDS = ["invalid input syntax", "function", "relation", "column", "operator", "violates", "schema cache",
               "does not exist", "permission denied", "pgrst", "read-only transaction", "out of range for type",
               "line 1"]


@pytest.mark.parametrize(("method", "path", "request_args", "status", "code"), BAD_REQUESTS,
                         ids=[f"{m} {p} {a.get('json', a.get('headers', ''))}" for m, p, a, _, _ in BAD_REQUESTS])
def test_every_error_body_is_catalogued_and_free_of_postgresqls_words(api, admin, user, method, path, request_args,
                                                                      status, code):
    request_args = dict(request_args)
    headers = {} if request_args.pop("anonymous", False) else dict(user.auth)
    headers.update(request_args.pop("headers", {}))
    r = api.request(method, path, headers=headers, **request_args)
    body = assert_error(r, status, code)
    catalogue = dict(admin.execute("select code, http_status from mbt.error_catalogue()").fetchall())
    assert catalogue[body["code"]] == r.status_code
    assert r.headers["Content-Type"].startswith("application/json")
    said = json.dumps(body).lower()
    assert [w for w in THEIR_WORDS if w in said] == [], body
    assert body["hint"], body


def test_a_wrong_type_names_the_value_and_the_type_it_must_be(api, user):
    err = assert_error(api.post("/api/rpc/cancel_order", json={"id": "not-a-uuid"}, headers=user.auth), 422, "MBV03")
    assert err["message"] == '"not-a-uuid" is not an id (a uuid).'
    assert err["details"] == "value = not-a-uuid"


def test_a_call_with_arguments_it_does_not_take_names_them(api, user):
    err = assert_error(api.post("/api/rpc/list_orders", json={"bogus": 1, "status": "all"}, headers=user.auth),
                       404, "MBN01")
    assert err["message"] == "No call /api/rpc/list_orders takes the arguments bogus, status."


def test_get_of_a_call_that_changes_data_is_405_allowing_post(api, user):
    r = api.get("/api/rpc/cancel_all_orders", headers=user.auth)
    assert_error(r, 405, "MBN02")
    assert r.headers["Allow"] == "POST"

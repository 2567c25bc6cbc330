"""Bad input gets a clear 4xx in MBT's error shape, with a code from docs/errors.md, and writes nothing."""

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
    r = api.get("/api/account")
    assert r.status_code == 401
    assert set(r.json()) == {"code", "message", "details", "hint"}
    assert r.json()["code"] == "42501"


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

"""A new user signs up over HTTP and reads their paper account through PostgREST at once."""

import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from conftest import PASSWORD, assert_error, money, sign_up, unique_email

ALPACA_ACCOUNT_FIELDS = {
    "id", "account_number", "status", "currency", "cash", "buying_power", "regt_buying_power",
    "non_marginable_buying_power", "options_buying_power", "accrued_fees", "pending_transfer_in",
    "pending_transfer_out", "portfolio_value", "equity", "last_equity", "long_market_value",
    "short_market_value", "initial_margin", "maintenance_margin", "multiplier", "shorting_enabled",
    "trading_blocked", "transfers_blocked", "account_blocked", "trade_suspended_by_user",
    "options_approved_level", "options_trading_level", "created_at", "last_maintenance_margin",
}
NEW_YORK = ZoneInfo("America/New_York")
# MBT's own, beside Alpaca's: the intraday margin standard that replaced the pattern-day-trader fields
MBT_ACCOUNT_FIELDS = {"intraday_margin_level", "intraday_buying_power"}


def test_signed_up_user_reads_their_100k_account_within_a_second(api):
    started = time.monotonic()
    user = sign_up(api)
    r = api.get("/api/account", headers=user.auth)
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    account = r.json()
    assert elapsed < 1.0
    assert account["id"] == user.account_id
    assert account["status"] == "ACTIVE"
    assert account["currency"] == "USD"
    assert account["cash"] == "100000.00"
    assert account["equity"] == "100000.00"


def test_account_has_alpacas_field_names_and_exact_decimal_strings(api, user):
    account = api.get("/api/account", headers=user.auth).json()
    assert set(account) == ALPACA_ACCOUNT_FIELDS | MBT_ACCOUNT_FIELDS
    assert account["account_number"].startswith("MB")
    for field in ("cash", "equity", "last_equity", "buying_power", "long_market_value"):
        assert isinstance(account[field], str)
    assert money(account["long_market_value"]) == 0
    assert money(account["short_market_value"]) == 0


def test_reg_t_buying_power_is_twice_equity_without_positions(api, user):
    account = api.get("/api/account", headers=user.auth).json()
    # multiplier 2, equity 100,000.00, no initial margin used: 2 x 100,000.00
    assert account["multiplier"] == "2"
    assert money(account["buying_power"]) == money("200000.00")
    assert money(account["regt_buying_power"]) == money("200000.00")
    assert money(account["non_marginable_buying_power"]) == money("100000.00")


@pytest.mark.clock  # the rule in force depends on today's date
def test_a_new_margin_account_may_open_four_times_its_deposit_intraday(api, user):
    account = api.get("/api/account", headers=user.auth).json()
    # no close yet: the deposit is the previous close, 4 x (100,000.00 - 0 maintenance)
    assert (account["last_equity"], account["last_maintenance_margin"]) == ("100000.00", "0.00")
    assert (account["intraday_margin_level"], account["intraday_buying_power"]) == ("400000.00", "400000.00")
    figures = api.get("/api/rpc/intraday_margin", headers=user.auth).json()
    # FINRA's intraday margin standard from 2026-06-04; the legacy pattern-day-trader rule before it
    rule = "intraday_margin_level" if datetime.now(NEW_YORK).date() >= date(2026, 6, 4) else "pattern_day_trader"
    assert figures == [{"rule": rule, "last_equity": "100000.00", "last_maintenance_margin": "0.00",
                        "intraday_margin_level": "400000.00", "opened_today": "0.00",
                        "intraday_buying_power": "400000.00"}]


def test_session_cookie_authenticates_as_well_as_the_bearer_header(api, user):
    r = api.get("/api/account", headers={"Cookie": f"mbt_access={user.token}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user.account_id


def test_the_openapi_document_describes_get_account_as_the_one_object_it_answers(api, user):
    # PostgREST describes every view as an array of rows ({"type": "array", "items": ...}, 200 or 206)
    document = api.get("/api/", headers=user.auth).json()
    responses = document["paths"]["/account"]["get"]["responses"]
    assert set(responses) == {"200"}
    assert responses["200"]["schema"] == {"$ref": "#/definitions/account"}
    account = api.get("/api/account", headers=user.auth).json()
    assert isinstance(account, dict)
    assert set(account) == set(document["definitions"]["account"]["properties"])


def test_signup_sets_http_only_secure_same_site_cookies(api):
    r = api.post("/api/sessions/signup", json={"email": unique_email(), "password": PASSWORD})
    cookies = {h.split("=", 1)[0]: h.lower() for h in r.headers.get_list("set-cookie")}
    assert set(cookies) == {"mbt_access", "mbt_refresh"}
    for header in cookies.values():
        assert "httponly" in header and "secure" in header and "samesite=strict" in header
    assert "path=/api/sessions" in cookies["mbt_refresh"]
    assert "path=/api;" in cookies["mbt_access"] or cookies["mbt_access"].endswith("path=/api")


def test_email_is_stored_lower_case_and_trimmed(api):
    email = unique_email("MiXeD").upper()
    r = api.post("/api/sessions/signup", json={"email": f"  {email} ", "password": PASSWORD})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["email"] == email.lower()


def test_signing_up_twice_with_one_email_is_a_conflict_and_writes_nothing(api, admin):
    email = unique_email()
    sign_up(api, email)
    users_before = admin.execute("select count(*) from auth.users").fetchone()[0]
    r = api.post("/api/sessions/signup", json={"email": email.upper(), "password": PASSWORD})
    assert_error(r, 409, "MBA02")
    assert admin.execute("select count(*) from auth.users").fetchone()[0] == users_before


def test_invalid_email_is_rejected_with_422_and_nothing_written(api, admin):
    users_before = admin.execute("select count(*) from auth.users").fetchone()[0]
    for email in ("not-an-email", "a@b", "two@@example.com", "spa ce@example.com", "x" * 250 + "@example.com"):
        r = api.post("/api/sessions/signup", json={"email": email, "password": PASSWORD})
        assert_error(r, 422, "MBV06")
    assert admin.execute("select count(*) from auth.users").fetchone()[0] == users_before


def test_weak_passwords_are_rejected_with_the_rule_in_the_message(api, admin):
    users_before = admin.execute("select count(*) from auth.users").fetchone()[0]
    email = unique_email()
    for password in ("short", "a" * 300, "aaaaaaaaaaaa", email):
        body = assert_error(api.post("/api/sessions/signup", json={"email": email, "password": password}),
                            422, "MBA03")
        assert body["hint"]
    assert admin.execute("select count(*) from auth.users").fetchone()[0] == users_before

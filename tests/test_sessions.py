"""Log-in, refresh rotation, log-out, session list and revocation, password change: /api/sessions/*."""

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest

from conftest import PASSWORD, User, assert_error, cookie_value, log_in, sign_up, unique_email

# token and session lifetimes run on the stack clock
# (make test-clock runs these at a matrix of instants)
pytestmark = pytest.mark.clock


def refresh(api, cookie: str):
    return api.post("/api/sessions/refresh", headers={"Cookie": f"mbt_refresh={cookie}"})


def test_log_in_returns_a_working_access_token(api, user):
    again = log_in(api, user)
    assert again.session_id != user.session_id
    assert api.get("/api/account", headers=again.auth).json()["id"] == user.account_id


def test_wrong_password_and_unknown_email_get_the_same_answer(api, user):
    wrong = api.post("/api/sessions/login", json={"email": user.email, "password": "wrong password 123"})
    unknown = api.post("/api/sessions/login", json={"email": unique_email(), "password": "wrong password 123"})
    assert assert_error(wrong, 401, "MBA01") == assert_error(unknown, 401, "MBA01")


def test_five_failed_log_ins_throttle_the_email_even_for_the_right_password(api, user):
    for _ in range(4):
        assert_error(api.post("/api/sessions/login", json={"email": user.email, "password": "nope nope nope"}),
                     401, "MBA01")
    fifth = api.post("/api/sessions/login", json={"email": user.email, "password": "nope nope nope"})
    assert_error(fifth, 429, "MBA04")
    assert int(fifth.headers["Retry-After"]) == 30
    right = api.post("/api/sessions/login", json={"email": user.email, "password": PASSWORD})
    assert_error(right, 429, "MBA04")
    assert 0 < int(right.headers["Retry-After"]) <= 30


def test_unknown_emails_are_throttled_too(api):
    email = unique_email()
    codes = [api.post("/api/sessions/login", json={"email": email, "password": "guess guess 1"}).status_code
             for _ in range(6)]
    assert codes == [401, 401, 401, 401, 429, 429]


def test_the_lock_doubles_from_30_s_to_the_15_minute_cap_and_stays_there_however_long_the_guessing(db):
    # 60 attempts on one e-mail, each after the previous lock ran out (one transaction: now() stands still);
    # the 45th once asked for 30 s x 2^39, beyond what an interval holds, and every attempt after it failed
    email = unique_email()
    waits = []
    for _ in range(60):
        db.execute("update auth.login_throttle set locked_until = now() - interval '1 second' "
                   "where email_digest = auth.email_digest(%s)", [email])
        waits.append(db.execute("select retry_after_seconds from auth.begin_login(%s)", [email]).fetchone()[0])
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5:11] == [30, 60, 120, 240, 480, 900]  # 30 s x 2^5 = 960 s is past the cap
    assert set(waits[11:]) == {900}


def test_after_fifty_failed_log_ins_the_right_password_is_429_with_retry_after_at_most_15_minutes(api, admin, user):
    for _ in range(50):
        assert api.post("/api/sessions/login", json={"email": user.email, "password": "nope nope nope"}
                        ).status_code in (401, 429)
    # the guesser waits out the lock: the next attempt is the 51st, locked for 30 s x 2^45 capped at 15 min
    admin.execute("update auth.login_throttle set locked_until = now() - interval '1 second' "
                  "where email_digest = auth.email_digest(%s)", [user.email])
    right = api.post("/api/sessions/login", json={"email": user.email, "password": PASSWORD})
    assert_error(right, 429, "MBA04")
    assert int(right.headers["Retry-After"]) == 900


def test_refresh_rotates_the_cookie_and_issues_a_new_access_token(api, user):
    r = refresh(api, user.refresh_cookie)
    assert r.status_code == 200, r.text
    new_cookie = cookie_value(r, "mbt_refresh")
    assert new_cookie != user.refresh_cookie
    assert r.json()["session"]["id"] == user.session_id
    token = r.json()["access_token"]
    assert api.get("/api/account", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert refresh(api, new_cookie).status_code == 200


def test_a_refresh_token_used_twice_revokes_the_whole_session(api, user):
    first = refresh(api, user.refresh_cookie)
    assert first.status_code == 200
    successor_token = first.json()["access_token"]
    assert_error(refresh(api, user.refresh_cookie), 401, "MBA07")
    # every token of the family is dead: the successor refresh cookie and both access tokens
    assert_error(refresh(api, cookie_value(first, "mbt_refresh")), 401, "MBA06")
    for token in (user.token, successor_token):
        assert_error(api.get("/api/account", headers={"Authorization": f"Bearer {token}"}), 401, "MBA05")


def test_refresh_without_or_with_a_forged_cookie_is_refused(api, user):
    assert_error(api.post("/api/sessions/refresh"), 401, "MBA06")
    assert_error(refresh(api, "garbage"), 401, "MBA06")
    forged = f"{user.id}.{user.session_id}.not-the-secret"
    assert_error(refresh(api, forged), 401, "MBA06")


def test_log_out_revokes_the_session_on_the_next_request(api, user):
    r = api.post("/api/sessions/logout", headers=user.auth)
    assert r.status_code == 204
    assert any(h.startswith("mbt_access=") and "max-age=0" in h.lower() for h in r.headers.get_list("set-cookie"))
    assert_error(api.get("/api/account", headers=user.auth), 401, "MBA05")
    assert_error(api.get("/api/sessions/me", headers=user.auth), 401, "MBA05")
    assert_error(refresh(api, user.refresh_cookie), 401, "MBA06")


def test_revocation_also_holds_straight_at_postgrest(api, postgrest, user):
    assert postgrest.get("/account", headers=user.auth).status_code == 200
    api.post("/api/sessions/logout", headers=user.auth)
    assert_error(postgrest.get("/account", headers=user.auth), 401, "MBA05")


def test_list_my_sessions_marks_the_current_one(api, user):
    other = log_in(api, user)
    r = api.get("/api/sessions", headers=other.auth, )
    assert r.status_code == 200, r.text
    sessions = {s["id"]: s for s in r.json()}
    assert set(sessions) >= {user.session_id, other.session_id}
    assert sessions[other.session_id]["current"] is True
    assert sessions[user.session_id]["current"] is False
    assert sessions[user.session_id]["user_agent"].startswith("python-httpx")


def test_revoking_one_session_signs_out_only_that_device(api, user):
    laptop = log_in(api, user)
    assert api.delete(f"/api/sessions/{user.session_id}", headers=laptop.auth).status_code == 204
    assert_error(api.get("/api/account", headers=user.auth), 401, "MBA05")
    assert api.get("/api/account", headers=laptop.auth).status_code == 200
    listed = {s["id"] for s in api.get("/api/sessions", headers=laptop.auth).json()}
    assert user.session_id not in listed


def test_revoking_an_unknown_or_someone_elses_session_is_not_found(api, user):
    stranger = sign_up(api)
    assert_error(api.delete(f"/api/sessions/{uuid.uuid4()}", headers=user.auth), 404, "MBA10")
    assert_error(api.delete(f"/api/sessions/{stranger.session_id}", headers=user.auth), 404, "MBA10")
    assert api.get("/api/account", headers=stranger.auth).status_code == 200


def test_me_tells_who_i_am(api, user):
    me = api.get("/api/sessions/me", headers=user.auth).json()
    assert me["id"] == user.id and me["email"] == user.email and me["tier"] == "free"


def test_changing_the_password_needs_the_current_one(api, user, admin):
    before = admin.execute("select password_hash from auth.users where user_id = %s", [user.id]).fetchone()
    r = api.post("/api/sessions/password", headers=user.auth,
                 json={"current_password": "not my password", "new_password": "another fine password"})
    assert_error(r, 403, "MBA09")
    after = admin.execute("select password_hash from auth.users where user_id = %s", [user.id]).fetchone()
    assert before == after


def test_changing_the_password_signs_out_every_other_session(api, user):
    phone = log_in(api, user)
    r = api.post("/api/sessions/password", headers=user.auth,
                 json={"current_password": PASSWORD, "new_password": "another fine password"})
    assert r.status_code == 200, r.text
    assert r.json() == {"revoked_sessions": 1}
    assert_error(api.get("/api/account", headers=phone.auth), 401, "MBA05")
    assert api.get("/api/account", headers=user.auth).status_code == 200
    assert_error(api.post("/api/sessions/login", json={"email": user.email, "password": PASSWORD}), 401, "MBA01")
    moved = User(user.id, user.email, "another fine password", "", "", user.account_id, "")
    assert log_in(api, moved).token


def test_expired_access_token_is_refused_by_the_gateway(api, user, jwt_secret):
    now = int(time.time())
    claims = {"sub": user.id, "role": "app_user", "tier": "free", "sid": user.session_id,
              "iat": now - 1000, "exp": now - 100}
    expired = jwt.encode(claims, jwt_secret, algorithm="HS256")
    body = assert_error(api.get("/api/account", headers={"Authorization": f"Bearer {expired}"}), 401, "MBA08")
    assert "expired" in body["message"]


def test_token_signed_with_another_key_is_refused_by_gateway_and_postgrest(api, postgrest, user):
    claims = {"sub": user.id, "role": "app_user", "tier": "pro_plus", "sid": user.session_id,
              "exp": int(time.time()) + 600}
    forged = jwt.encode(claims, "x" * 48, algorithm="HS256")
    headers = {"Authorization": f"Bearer {forged}"}
    assert_error(api.get("/api/account", headers=headers), 401, "MBA08")
    assert postgrest.get("/account", headers=headers).status_code == 401


def test_a_tier_change_applies_from_the_next_token(api, admin, user):
    assert api.get("/api/account", headers=user.auth).headers["X-RateLimit-Limit"] == "60"
    admin.execute("select auth.set_tier(%s, 'pro')", [user.id])
    assert api.get("/api/account", headers=user.auth).headers["X-RateLimit-Limit"] == "60"
    renewed = refresh(api, user.refresh_cookie)
    assert renewed.status_code == 200
    token = renewed.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["tier"] == "pro"
    r = api.get("/api/account", headers={"Authorization": f"Bearer {token}"})
    assert r.headers["X-RateLimit-Limit"] == "600"


def parallel(n, call):
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def test_a_burst_of_parallel_guesses_gets_no_more_than_five_password_checks(cfg, user):
    def guess():
        with httpx.Client(base_url=cfg.base_url) as client:
            return client.post("/api/sessions/login", json={"email": user.email, "password": "guess guess 42"})
    statuses = sorted(r.status_code for r in parallel(12, guess))
    assert statuses.count(401) <= 5
    assert statuses.count(429) >= 7


def test_re_entering_the_password_is_throttled_like_a_log_in(api, user):
    wrong = {"current_password": "not it, sorry", "new_password": "another fine password"}
    codes = [api.post("/api/sessions/password", headers=user.auth, json=wrong).status_code for _ in range(6)]
    assert codes == [403, 403, 403, 403, 429, 429]
    right = {"current_password": PASSWORD, "new_password": "another fine password"}
    assert_error(api.post("/api/sessions/password", headers=user.auth, json=right), 429, "MBA04")


def test_unknown_emails_are_checked_against_a_dummy_hash():
    from sessions.passwords import Passwords
    passwords = Passwords(time_cost=1, memory_kib=8192)
    calls = []

    class Spy:
        def __init__(self, hasher):
            self.hasher = hasher

        def verify(self, password_hash, password):
            calls.append(password_hash)
            return self.hasher.verify(password_hash, password)

    passwords.hasher = Spy(passwords.hasher)
    assert asyncio.run(passwords.verify(None, "whatever 123")) is False
    assert calls == [passwords.dummy_hash]  # the same slow work as for a real account


def test_parallel_refreshes_with_one_cookie_succeed_once_and_end_the_session(cfg, user):
    def attempt():
        with httpx.Client(base_url=cfg.base_url) as client:
            return refresh(client, user.refresh_cookie)
    results = parallel(5, attempt)
    assert sorted(r.status_code for r in results).count(200) == 1
    assert {r.json()["code"] for r in results if r.status_code != 200} <= {"MBA06", "MBA07"}
    winner = next(r for r in results if r.status_code == 200)
    token = winner.json()["access_token"]
    assert_error(httpx.get(f"{cfg.base_url}/api/account", headers={"Authorization": f"Bearer {token}"}), 401, "MBA05")


def test_log_out_works_with_the_refresh_cookie_alone(api, user):
    r = api.post("/api/sessions/logout", headers={"Cookie": f"mbt_refresh={user.refresh_cookie}"})
    assert r.status_code == 204, r.text
    assert_error(api.get("/api/account", headers=user.auth), 401, "MBA05")


def test_cookie_authenticated_changes_need_the_x_requested_with_header(api, user):
    cookie = {"Cookie": f"mbt_access={user.token}"}
    assert_error(api.post("/api/sessions/logout", headers=cookie), 403, "MBA11")
    assert api.get("/api/account", headers=cookie).status_code == 200  # reads need nothing
    r = api.post("/api/sessions/logout", headers={**cookie, "X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 204


def test_the_bearer_scheme_is_case_insensitive_and_counts_against_the_user(api, user):
    for scheme in ("BEARER", "bEaReR"):
        r = api.get("/api/account", headers={"Authorization": f"{scheme} {user.token}"})
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "60"  # the user's free budget, not the anonymous one


def test_a_malformed_authorization_header_is_refused_and_counted(api):
    r = api.get("/api/account", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(r, 401, "MBA08")
    assert "X-RateLimit-Remaining" in r.headers

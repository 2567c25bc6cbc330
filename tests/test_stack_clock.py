"""The stack clock, MBT_CLOCK=<instant>: every process of the stack starts at that instant and runs on from
there (mbtctl/clock.py); PostgREST, which stays on the real clock, still takes the stack's tokens."""

import base64
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psycopg
import pytest

from conftest import PASSWORD, own_make_run, unique_email
from mbtctl import clock
from mbtctl.config import PROJECT_ROOT

# Tuesday 2026-12-15, 10:00 in New York: the simulated market is open
TUESDAY_10_00 = datetime(2026, 12, 15, 15, 0, tzinfo=UTC)


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def without_stack_clock(env: dict[str, str]) -> dict[str, str]:
    """The environment for a stack with a clock of its own (the suite may itself run on one)."""
    return {k: v for k, v in env.items() if k not in clock.ENV_VARS}


def test_make_run_at_mbt_clock_lives_at_that_instant_and_the_simulated_market_trades(cfg):
    env = {name: "" for name in clock.ENV_VARS}  # a clock of its own, whichever the suite runs on
    env.update(MBT_CLOCK=TUESDAY_10_00.isoformat(), MBT_WATCHLIST="AAPL,MSFT")
    with own_make_run(cfg, "clock-run", env) as run, psycopg.connect(run.dsn, autocommit=True) as conn:
        soon_after = (TUESDAY_10_00, TUESDAY_10_00 + timedelta(minutes=3))
        db_now = conn.execute("select now()").fetchone()[0]
        assert soon_after[0] <= db_now <= soon_after[1]

        with httpx.Client(base_url=run.url, timeout=10) as client:
            r = client.post("/api/sessions/signup", json={"email": unique_email(), "password": PASSWORD})
            assert r.status_code == 201, r.text
            token = r.json()["access_token"]
            issued = datetime.fromtimestamp(claims_of(token)["iat"], UTC)
            assert soon_after[0] <= issued <= soon_after[1]
            # PostgREST checks exp on the real clock: the gateway hands it the token on that clock
            account = client.get("/api/account", headers={"Authorization": f"Bearer {token}"})
            assert account.status_code == 200, account.text
            assert account.json()["cash"] == "100000.00"

        # marketsim's market is open at 10:00 on a Tuesday: its quotes, stamped on the stack clock, arrive
        deadline = time.monotonic() + 30
        newest = None
        while time.monotonic() < deadline and newest is None:
            newest = conn.execute("select max(quote_time) from md.quotes where symbol = 'AAPL'").fetchone()[0]
            time.sleep(0.5)
        assert newest is not None, "no AAPL quote reached md.quotes"
        assert soon_after[0] <= newest <= soon_after[1]


def test_mbt_clock_is_refused_with_real_alpaca_data():
    env = {**without_stack_clock(os.environ), "MBT_CLOCK": "2026-12-12T15:00:00Z",
           "ALPACA_API_KEY": "AK-TEST", "ALPACA_SECRET_KEY": "secret", "MBT_DATA_DIR": "/nonexistent/mbt"}
    out = subprocess.run([sys.executable, "-m", "mbtctl", "run"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "MBT_CLOCK cannot be used with real Alpaca market data" in out.stderr


def test_mbt_clock_without_a_time_zone_is_refused_with_the_fix():
    with pytest.raises(clock.ClockError, match="add Z"):
        clock.parse_instant("2026-12-12T10:00:00")


def test_postgrest_gets_the_token_with_exp_on_the_real_clock_and_no_iat():
    secret = "s" * 48
    token = jwt.encode({"sub": "u", "iat": 2_000_000_000, "exp": 2_000_000_900}, secret, algorithm="HS256")
    moved = clock.postgrest_token(token, secret, offset=86_400)  # the stack lives a day ahead
    assert jwt.decode(moved, secret, algorithms=["HS256"], options={"verify_exp": False}) == \
        {"sub": "u", "exp": 2_000_000_900 - 86_400}
    assert clock.postgrest_token(token, secret, offset=0) == token


def test_a_token_signed_with_another_key_is_not_re_signed_for_postgrest():
    token = jwt.encode({"sub": "u", "exp": 2_000_000_900}, "x" * 48, algorithm="HS256")
    assert clock.postgrest_token(token, "s" * 48, offset=86_400) == token


@pytest.mark.clock
def test_the_suite_and_its_database_share_one_clock(db):
    """Under MBT_CLOCK (make test-clock) both live at that instant; without it, both at the real time."""
    db_now = db.execute("select clock_timestamp()").fetchone()[0]
    assert abs((db_now - datetime.now(UTC)).total_seconds()) < 5
    if os.environ.get("MBT_CLOCK"):
        stack_start = clock.parse_instant(os.environ["MBT_CLOCK"])
        assert stack_start <= db_now <= stack_start + timedelta(hours=1)

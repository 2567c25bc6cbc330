"""Per-tier budgets at the gateway: free 60, pro 600, pro_plus 3000 requests a minute; anonymous
callers per address. Every response carries X-RateLimit-*; over budget is 429 with Retry-After."""

import time
import uuid

import httpx
import pytest

from conftest import another_gateway, assert_error, log_in, sign_up
from mbtctl.config import RateLimits


def test_every_response_carries_the_rate_limit_headers(api, user):
    now = int(time.time())
    first = api.get("/api/account", headers=user.auth)
    second = api.get("/api/sessions/me", headers=user.auth)
    assert first.headers["X-RateLimit-Limit"] == "60"
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1
    assert now < int(first.headers["X-RateLimit-Reset"]) <= now + 61


@pytest.fixture
def two_worker_gateway(cfg):
    """A second gateway in front of the same services with two nginx worker processes (one by default)."""
    with another_gateway(cfg, gateway_workers=2) as second:
        yield second


def test_free_tier_gets_60_requests_a_minute_across_services_and_worker_processes(two_worker_gateway, user):
    # sign-up was anonymous; alternate PostgREST and sessions paths, each on a fresh connection,
    # so that both nginx worker processes add to the one count
    gateway = two_worker_gateway
    probe = uuid.uuid4().hex
    statuses = []
    for i in range(61):
        path = "/api/account" if i % 2 else "/api/sessions/me"
        with httpx.Client(base_url=gateway.base_url) as fresh:
            statuses.append(fresh.get(path, headers={**user.auth, "X-Probe": probe}).status_code)
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    assert len(worker_pids(gateway, probe, expected=61)) >= 2


def worker_pids(cfg, probe: str, expected: int) -> set[str]:
    """The nginx worker pids that answered the requests tagged with probe (from the access log)."""
    deadline = time.monotonic() + 5
    while True:
        log = (cfg.log_dir / "nginx-access.log").read_text()
        lines = [line for line in log.splitlines() if f"probe={probe}" in line]
        if len(lines) >= expected or time.monotonic() > deadline:
            return {line.split("pid=")[1].split()[0] for line in lines}
        time.sleep(0.2)


def test_over_budget_is_429_with_retry_after_and_a_clear_message(api, user):
    for _ in range(60):
        api.get("/api/account", headers=user.auth)
    r = api.get("/api/account", headers=user.auth)
    body = assert_error(r, 429, "MBR01")
    assert "60 requests a minute" in body["message"]
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert r.headers["X-RateLimit-Remaining"] == "0"


def test_pro_tier_gets_600_requests_a_minute(api, admin):
    user = sign_up(api)
    admin.execute("select auth.set_tier(%s, 'pro')", [user.id])
    pro = log_in(api, user)
    statuses = [api.get("/api/account", headers=pro.auth).status_code for _ in range(601)]
    assert statuses.count(200) == 600
    assert statuses[-1] == 429


def test_pro_plus_tier_gets_3000_requests_a_minute(api, admin):
    user = sign_up(api)
    admin.execute("select auth.set_tier(%s, 'pro_plus')", [user.id])
    pro_plus = log_in(api, user)
    r = api.get("/api/account", headers=pro_plus.auth)
    assert r.headers["X-RateLimit-Limit"] == "3000"
    assert r.headers["X-RateLimit-Remaining"] == "2999"


def test_budgets_are_per_user_not_per_session(api, user):
    second_device = log_in(api, user)  # the log-in itself is anonymous
    a = int(api.get("/api/account", headers=user.auth).headers["X-RateLimit-Remaining"])
    b = int(api.get("/api/account", headers=second_device.auth).headers["X-RateLimit-Remaining"])
    assert b == a - 1


@pytest.fixture
def strict_gateway(cfg):
    """A second gateway in front of the same services with an anonymous budget of 5 a minute."""
    with another_gateway(cfg, rate_limits=RateLimits(anonymous=5)) as second:
        yield second


def test_anonymous_callers_share_a_small_budget_per_address(strict_gateway):
    with httpx.Client(base_url=strict_gateway.base_url) as client:
        # the gateway's own readiness check spent one request
        statuses = [client.get("/api/sessions/health").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


def test_signing_in_gives_a_budget_of_its_own(strict_gateway, api):
    user = sign_up(api)
    with httpx.Client(base_url=strict_gateway.base_url) as client:
        for _ in range(5):
            client.get("/api/sessions/health")
        assert client.get("/api/account", headers=user.auth).status_code == 200

"""One real stack per test run: a fresh PostgreSQL cluster, PostgREST, the sessions service and the
nginx gateway, on free ports, in .data/test. Database tests run in transactions that are rolled
back; HTTP tests go through the gateway."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import crash
import httpx
import psycopg
import psycopg.sql
import pytest

from mbtctl import clock, procs, services, stack
from mbtctl.config import PROJECT_ROOT, Config, RateLimits

# one directory per test run (its pid), so two runs on one machine never share a stack
TEST_DATA_DIR = PROJECT_ROOT / ".data" / f"test-{os.getpid()}"
LAST_LOGS = PROJECT_ROOT / ".data" / "test-logs"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def another_gateway(cfg: Config, **changes) -> Iterator[Config]:
    """A gateway of its own (own directory and port) in front of the same services, its configuration
    changed by changes; stopped at the end of the block."""
    second = cfg.with_(data_dir=cfg.data_dir / f"gateway-{uuid.uuid4().hex[:8]}", http_port=free_port(), **changes)
    services.start_gateway(second)
    try:
        yield second
    finally:
        procs.stop(second, "gateway")


def pytest_configure(config: pytest.Config) -> None:
    """MBT_CLOCK: the suite and every process it starts live at that instant. make test puts pytest on the
    stack clock; a plain `pytest` with MBT_CLOCK set starts itself again on it (output capture suspended
    first, so that the new process writes to the terminal, not to this one's capture files)."""
    if clock.env() and not os.environ.get("LD_PRELOAD"):
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(in_=True)
        clock.run_on_stack_clock()


@pytest.fixture(scope="session")
def cfg() -> Iterator[Config]:
    # one signing key for every gateway a test starts; light Argon2 parameters keep sign-ups fast
    os.environ["MBT_JWT_SECRET"] = secrets.token_urlsafe(48)
    os.environ["MBT_ARGON2_TIME_COST"] = "1"
    os.environ["MBT_ARGON2_MEMORY_KIB"] = "8192"
    config = Config(
        data_dir=TEST_DATA_DIR, pg_port=free_port(), http_port=free_port(), postgrest_port=free_port(),
        postgrest_admin_port=free_port(), sessions_port=free_port(), fast_unsafe_cluster=True,
        # tier budgets as in production; the anonymous budget is raised because the suite signs
        # up hundreds of users from one address (test_rate_limits checks it on a gateway of its own)
        rate_limits=RateLimits(anonymous=1_000_000),
    )
    remove_stacks_of_dead_runs()
    try:
        stack.up(config)
        yield config
    finally:
        stack.down(config)
        # the logs of the last run stay in .data/test-logs, for looking into a failure
        shutil.rmtree(LAST_LOGS, ignore_errors=True)
        shutil.copytree(config.log_dir, LAST_LOGS, dirs_exist_ok=True)
        shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def _crash_stacks() -> Iterator[list[crash.MakeRun]]:
    runs: list[crash.MakeRun] = []
    yield runs
    for i, run in enumerate(runs):
        run.stop(f"shared-{i}")


@pytest.fixture
def make_run(_crash_stacks) -> crash.MakeRun:
    """The crash tests' own `make run` (tests/crash.py), shared by them: what they kill is never the stack of
    `cfg`. Started again if a test stopped it."""
    if not _crash_stacks or not _crash_stacks[-1].up():
        _crash_stacks.append(crash.start(f"shared-{len(_crash_stacks)}"))
    return _crash_stacks[-1]


def remove_stacks_of_dead_runs() -> None:
    """Stop and remove what an interrupted earlier run left behind (its pid is gone)."""
    for old in TEST_DATA_DIR.parent.glob("test-*"):
        pid = old.name.removeprefix("test-")
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            stack.down(Config(data_dir=old))
            shutil.rmtree(old, ignore_errors=True)


@dataclass
class MadeRun:
    """A `make run` (python -m mbtctl run) of its own: its process, data directory, environment and ports."""

    process: subprocess.Popen
    data_dir: Path
    env: dict[str, str]
    ports: dict[str, int]
    output: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['MBT_HTTP_PORT']}"

    @property
    def dsn(self) -> str:
        return f"host={self.data_dir / 'run'} port={self.ports['MBT_PG_PORT']} user=postgres dbname=mbt"

    def stop(self) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mbtctl", "stop"], cwd=PROJECT_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)


@contextmanager
def own_make_run(cfg: Config, name: str, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[MadeRun]:
    """`make run` in cfg.data_dir/name on free ports, with env on top of this process's environment, up
    ("MBT is up" printed) for the block; stopped and removed afterwards."""
    data_dir = cfg.data_dir / name
    shutil.rmtree(data_dir, ignore_errors=True)
    ports = {name: free_port() for name in ("MBT_PG_PORT", "MBT_HTTP_PORT", "MBT_POSTGREST_PORT",
                                             "MBT_POSTGREST_ADMIN_PORT", "MBT_SESSIONS_PORT")}
    full_env = {**os.environ, **(env or {}), "MBT_DATA_DIR": str(data_dir), **{k: str(v) for k, v in ports.items()}}
    process = subprocess.Popen([sys.executable, "-m", "mbtctl", "run"], cwd=PROJECT_ROOT, env=full_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run = MadeRun(process, data_dir, full_env, ports, "")
    try:
        lines = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "MBT is up" in line or not line:
                break
        run.output = "".join(lines)
        assert f"MBT is up: {run.url}/api/" in run.output, run.output
        yield run
    finally:
        run.stop()
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def jwt_secret(cfg: Config) -> str:
    return cfg.jwt_secret()


@pytest.fixture
def db(cfg: Config) -> Iterator[psycopg.Connection]:
    """A superuser connection inside a transaction that is rolled back after the test."""
    with psycopg.connect(cfg.dsn()) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def admin(cfg: Config) -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit, for checks on what HTTP calls committed."""
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        yield conn


def act_as(conn: psycopg.Connection, role: str, user_id: uuid.UUID | None = None) -> None:
    """Become an HTTP caller the way PostgREST does: SET LOCAL ROLE plus the JWT claims."""
    claims = {"role": role} if user_id is None else {"role": role, "sub": str(user_id)}
    conn.execute("select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                 [role, json.dumps(claims)])


ACCOUNTS_OPENED_AT = datetime(2026, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 New York


def sign_up_in_db(conn: psycopg.Connection, email: str | None = None) -> dict:
    email = email or f"db-{uuid.uuid4().hex[:12]}@example.com"
    row = conn.execute(
        "select * from auth.sign_up(%s, 'argon2-hash', %s, interval '30 days')",
        [email, secrets.token_bytes(32)],
    ).fetchone()
    # The scripted quotes of the tests lie on fixed days; the account (and its opening deposit, a CSD)
    # must predate them whatever today's date is, so it is opened at ACCOUNTS_OPENED_AT.
    conn.execute("update mbt.accounts set created_at = %s where account_id = %s", [ACCOUNTS_OPENED_AT, row[3]])
    conn.execute("update mbt.cash_activities set activity_at = %s where account_id = %s and activity_type = 'CSD'",
                 [ACCOUNTS_OPENED_AT, row[3]])
    return {"user_id": row[0], "session_id": row[1], "tier": row[2], "account_id": row[3], "email": email}


@pytest.fixture
def api(cfg: Config) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cfg.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def postgrest(cfg: Config) -> Iterator[httpx.Client]:
    """PostgREST straight, bypassing the gateway: what must hold even for a caller who reaches it. On a
    stack clock its tokens are put on the real clock first, as the gateway does (PostgREST cannot be
    put on the stack clock)."""
    secret = cfg.jwt_secret()

    def real_clock_token(request: httpx.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.count(".") == 2:
            request.headers["Authorization"] = f"Bearer {clock.postgrest_token(token, secret)}"

    with httpx.Client(base_url=f"http://127.0.0.1:{cfg.postgrest_port}", timeout=10,
                      event_hooks={"request": [real_clock_token]}) as client:
        yield client


@dataclass
class User:
    id: str
    email: str
    password: str
    token: str
    session_id: str
    account_id: str
    refresh_cookie: str
    order_id: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def cookie_value(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def sign_up(api: httpx.Client, email: str | None = None, password: str = PASSWORD) -> User:
    email = email or unique_email()
    r = api.post("/api/sessions/signup", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    body = r.json()
    return User(body["user"]["id"], email.lower(), password, body["access_token"], body["session"]["id"],
                body["account_id"], cookie_value(r, "mbt_refresh"))


def log_in(api: httpx.Client, user: User) -> User:
    r = api.post("/api/sessions/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200, r.text
    body = r.json()
    return User(user.id, user.email, user.password, body["access_token"], body["session"]["id"],
                user.account_id, cookie_value(r, "mbt_refresh"))


@pytest.fixture
def user(api: httpx.Client) -> User:
    return sign_up(api)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """MBT's one error shape: {code, message, details, hint}, with a message a person can act on."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details", "hint"}, body
    assert body["code"] == code, body
    assert body["message"], body
    return body


def money(value: str) -> Decimal:
    return Decimal(value)


def invariant_violations(conn: psycopg.Connection, as_of: datetime | str = "infinity") -> list[tuple]:
    """mbt.check_invariants at as_of (by default everything recorded, whatever its time): (account_id,
    invariant, details) of every violation, over every account of the test database. Run as the connection's
    own (superuser) role: a test that became a caller (act_as, SET LOCAL ROLE) is that caller again afterwards."""
    role, login = conn.execute("select current_user, session_user").fetchone()
    if role != login:
        conn.execute("reset role")
    try:
        return conn.execute("select account_id, invariant, details from mbt.check_invariants(%s::timestamptz)",
                            [as_of]).fetchall()
    finally:
        if role != login:
            conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))


def assert_invariants(conn: psycopg.Connection, as_of: datetime | str = "infinity") -> None:
    """The ledger's truths hold (after a test that stresses the engine): mbt.check_invariants is empty."""
    assert invariant_violations(conn, as_of) == []

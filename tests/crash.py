"""The crash tests' own `make run`: `python -m mbtctl run` as a user starts it, in a data directory and
on ports of its own, so that killing its processes never touches the suite's shared stack (conftest
`cfg`). Its cluster is durable (fsync, synchronous_commit and full_page_writes on, as `make run`'s),
so crash recovery is real, and its supervisor restarts what the tests kill. Its marketsim runs from
MARKET_START, a Tuesday in session, so quotes flow whatever the wall clock says.

Also here: clients that submit orders through the gateway the way a careful client does (an answer
lost to a crash is looked up by client_order_id before the order is sent again), and the checks every
crash test ends with."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from mbtctl import cluster, services, stack, supervise
from mbtctl.config import PROJECT_ROOT, Config

MARKET_START = "2026-11-24T15:00:00Z"  # Tuesday 2026-11-24, 10:00 in New York
MARKET_SYMBOLS = "AAPL,MSFT,SPY,THIN"
PASSWORD = "correct horse battery staple"


def lost_mid_query(status: int | None, code: str | None) -> bool:
    """The answer to a request whose database connection closed in the middle of its query as PostgreSQL died.
    PostgREST 12.0.2 takes the lost connection for a query error without a code (400; PostgREST issue #4681,
    open), which the gateway, choosing the status from PostgREST's alone before the body arrives
    (gateway/postgrest_answers.lua), answers as a value it cannot use. Only requests in flight at that instant
    get it. The orders sent here are all valid, so these clients know it for a lost answer; a client in
    general cannot."""
    return status == 422 and code == "MBV03"
CRASH_LOGS = PROJECT_ROOT / ".data" / "test-logs" / "crash"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MakeRun:
    cfg: Config
    env: dict[str, str]
    proc: subprocess.Popen
    output: Path

    # ---- the supervisor's view --------------------------------------------------------------------
    def status(self) -> dict:
        return supervise.read_status(self.cfg) or {}

    def restarts(self, name: str) -> int:
        return self.status().get("services", {}).get(name, {}).get("restarts", 0)

    def supervisor_log(self) -> str:
        return (self.cfg.log_dir / "supervisor.log").read_text()

    def pid(self, name: str) -> int | None:
        if name == supervise.POSTGRESQL:
            return supervise.postmaster_pid(self.cfg)
        pid = services.pid_of(self.cfg, name)
        return pid if supervise.alive(pid) else None

    def running(self) -> dict[str, int | None]:
        return {name: self.pid(name) for name in [supervise.POSTGRESQL, *services.expected(self.cfg)]}

    def wait_restarted(self, name: str, restarts: int, timeout: float = 30.0) -> float:
        """Until the supervisor has restarted `name` `restarts` times and everything runs; returns when
        (monotonic)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.restarts(name) >= restarts and all(self.running().values()):
                return time.monotonic()
            assert self.proc.poll() is None, f"make run ended:\n{self.output.read_text()[-3000:]}"
            time.sleep(0.05)
        raise AssertionError(f"{name} not restarted {restarts} times within {timeout} s: {self.running()}\n"
                             f"{self.supervisor_log()[-3000:]}")

    def up(self) -> bool:
        """Its make run still runs (a test may have stopped it)."""
        return self.proc.poll() is None

    def stop(self, name: str) -> None:
        stop(self, name)

    def mbtctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mbtctl", *args], env=self.env, capture_output=True,
                              text=True, timeout=180, cwd=PROJECT_ROOT, check=False)

    # ---- killing ----------------------------------------------------------------------------------
    def kill(self, name: str, whole_group: bool = False) -> int:
        """SIGKILL the service's main process (whole_group: with its children, as a power cut would)."""
        pid = self.pid(name)
        assert pid is not None, f"{name} is not running"
        if whole_group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return pid

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.cfg.dsn(), autocommit=True)

    def wait_db(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.cfg.dsn(), connect_timeout=2) as conn:
                    conn.execute("select 1")
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def crash_env(data_dir: Path, market_data: bool) -> dict[str, str]:
    # the stack clock (MBT_CLOCK, MBT_CLOCK_OFFSET, libfaketime), if any, is kept: the crash stack lives on it too
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MBT_", "ALPACA_", "PGRST_")) or k.startswith("MBT_CLOCK")}
    env.update({
        "MBT_DATA_DIR": str(data_dir), "MBT_PG_PORT": str(free_port()), "MBT_HTTP_PORT": str(free_port()),
        "MBT_POSTGREST_PORT": str(free_port()), "MBT_POSTGREST_ADMIN_PORT": str(free_port()),
        "MBT_SESSIONS_PORT": str(free_port()), "MBT_JWT_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        # light password hashing and budgets no test reaches: the load here is about crashes
        "MBT_ARGON2_TIME_COST": "1", "MBT_ARGON2_MEMORY_KIB": "8192",
        "MBT_RATE_FREE": "1000000", "MBT_RATE_ANONYMOUS": "1000000",
        "MBT_MARKET_DATA": "1" if market_data else "0",
        "MBT_MARKETSIM_ARGS": f"--start {MARKET_START} --symbols {MARKET_SYMBOLS}",
        "MBT_WATCHLIST": MARKET_SYMBOLS,
        # restarts 1 s after a crash as by default; the back-off starts over after 3 s up (not 60), so that one
        # test's kill does not lengthen the next test's restart
        "MBT_RESTART_BACKOFF": "1,30,3",
    })
    return env


def config_of(env: dict[str, str]) -> Config:
    return Config(data_dir=Path(env["MBT_DATA_DIR"]), pg_port=int(env["MBT_PG_PORT"]),
                  http_port=int(env["MBT_HTTP_PORT"]), postgrest_port=int(env["MBT_POSTGREST_PORT"]),
                  postgrest_admin_port=int(env["MBT_POSTGREST_ADMIN_PORT"]),
                  sessions_port=int(env["MBT_SESSIONS_PORT"]), market_data=env["MBT_MARKET_DATA"] == "1",
                  watchlist=env["MBT_WATCHLIST"])


def stop_leftovers() -> None:
    """What a crash-test run that was itself killed left behind (its pid is gone): stop and remove it."""
    for old in (PROJECT_ROOT / ".data").glob("crash-*"):
        pid = old.name.removeprefix("crash-").split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            cfg = Config(data_dir=old)
            supervise.stop_supervisor(cfg)
            stack.down(cfg)
            shutil.rmtree(old, ignore_errors=True)


def start(name: str, market_data: bool = True, timeout: float = 180.0) -> MakeRun:
    """`python -m mbtctl run` in .data/crash-<pid>-<name>, up once its supervisor runs."""
    stop_leftovers()
    data_dir = PROJECT_ROOT / ".data" / f"crash-{os.getpid()}-{name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = crash_env(data_dir, market_data)
    cfg = config_of(env)
    # initdb without its final flush to disk: what is tested here is processes killed, not the machine
    # (the cluster's settings are make run's own: fsync, synchronous_commit, full_page_writes on)
    cluster.init(cfg, sync=False)
    output = data_dir / "make-run.out"
    with open(output, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mbtctl", "run"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT, start_new_session=True)
    run = MakeRun(cfg, env, proc, output)
    deadline = time.monotonic() + timeout
    while supervise.supervisor_pid(cfg) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            run.stop(name)
            raise AssertionError(f"make run did not come up:\n{output.read_text()[-5000:]}")
        time.sleep(0.1)
    return run


def stop(run: MakeRun, name: str) -> None:
    """make stop, then the logs to .data/test-logs/crash/<name> and the data directory removed."""
    run.mbtctl("stop")
    try:
        run.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        run.proc.kill()
    shutil.rmtree(CRASH_LOGS / name, ignore_errors=True)
    if run.cfg.log_dir.exists():
        shutil.copytree(run.cfg.log_dir, CRASH_LOGS / name, dirs_exist_ok=True)
        shutil.copy(run.output, CRASH_LOGS / name / "make-run.out")
    shutil.rmtree(run.cfg.data_dir, ignore_errors=True)


@contextlib.contextmanager
def make_run(name: str, market_data: bool = True) -> Iterator[MakeRun]:
    run = start(name, market_data)
    try:
        yield run
    finally:
        run.stop(name)


# ---- clients --------------------------------------------------------------------------------------

@dataclass
class User:
    token: str
    account_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(api: httpx.Client) -> User:
    r = api.post("/api/sessions/signup", json={"email": f"crash-{uuid.uuid4().hex[:12]}@example.com",
                                                "password": PASSWORD})
    assert r.status_code == 201, r.text
    return User(r.json()["access_token"], r.json()["account_id"])


def resting_order(symbol: str, client_order_id: str) -> dict:
    """A $10.00 limit buy of one share, good till canceled: it rests (the quotes ask $50.01) and holds $10."""
    return {"symbol": symbol, "qty": 1, "side": "buy", "type": "limit", "limit_price": "10.00",
            "time_in_force": "gtc", "client_order_id": client_order_id}


@dataclass
class Answer:
    what: str  # "submit", "lookup", "sessions"
    status: int | None  # None: no HTTP answer (the connection was refused or dropped)
    code: str | None  # our error code, when the body is our error shape
    body: str
    seconds: float
    at: float  # monotonic, when it came


@dataclass
class Client:
    user: User
    symbols: list[str]
    answers: list[Answer] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # client_order_ids answered 2xx
    found_after_error: list[str] = field(default_factory=list)  # lost answers whose order exists
    sent: list[str] = field(default_factory=list)  # every client_order_id sent at least once
    with_sessions: bool = False  # also read GET /api/sessions (the sessions service) between orders

    def call(self, api: httpx.Client, what: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        started = time.monotonic()
        try:
            r = api.request(method, url, headers=self.user.auth, **kwargs)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError as exc:
            self.answers.append(Answer(what, None, None, type(exc).__name__, time.monotonic() - started,
                                       time.monotonic()))
            time.sleep(0.1)
            return None
        code = None
        with contextlib.suppress(ValueError, AttributeError):
            code = r.json().get("code")
        self.answers.append(Answer(what, r.status_code, code, r.text[:300], time.monotonic() - started,
                                   time.monotonic()))
        if r.status_code >= 500:
            time.sleep(0.1)
        return r

    def submit_one(self, api: httpx.Client, n: int) -> None:
        """Until the order is known to exist once: an answer lost to a crash is followed by a look-up."""
        client_order_id = f"crash-{uuid.uuid4().hex[:16]}"
        body = resting_order(self.symbols[n % len(self.symbols)], client_order_id)
        self.sent.append(client_order_id)
        while True:
            r = self.call(api, "submit", "POST", "/api/rpc/submit_order", json=body)
            if r is not None and r.status_code == 200:
                self.acknowledged.append(client_order_id)
                return
            if r is not None and r.status_code < 500 and not lost_mid_query(r.status_code, self.answers[-1].code):
                return  # a refusal: recorded in answers, the test says whether it may happen
            while True:  # did it commit before the answer was lost?
                found = self.call(api, "lookup", "GET", "/api/orders",
                                  params={"client_order_id": f"eq.{client_order_id}", "select": "id"})
                if found is not None and found.status_code == 200:
                    break
            if found.json():
                self.found_after_error.append(client_order_id)
                return

    def run(self, api: httpx.Client, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            self.submit_one(api, n)
            if self.with_sessions:
                self.call(api, "sessions", "GET", "/api/sessions")
            n += 1


class Load:
    """n clients, each its own user and thread, submitting resting orders through the gateway until stopped."""

    def __init__(self, run: MakeRun, users: list[User], symbols: list[str], with_sessions: bool = False) -> None:
        self.run = run
        self.clients = [Client(u, symbols, with_sessions=with_sessions) for u in users]
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._client, args=(c,), daemon=True) for c in self.clients]

    def _client(self, client: Client) -> None:
        try:
            with httpx.Client(base_url=self.run.cfg.base_url, timeout=10) as api:
                client.run(api, self.stop)
        except BaseException as exc:  # a hang (timeout) or a bug: the test fails with it
            self.errors.append(exc)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    @property
    def answers(self) -> list[Answer]:
        return [a for c in self.clients for a in c.answers]

    def successes_after(self, at: float) -> int:
        return sum(1 for a in self.answers if a.at > at and a.status is not None and a.status < 300)

    def wait_successes_after(self, at: float, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.successes_after(at) < n:
            assert time.monotonic() < deadline, f"no recovery: {self.answers[-5:]}"
            assert not self.errors, self.errors
            time.sleep(0.05)

    def wait_answers(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while sum(1 for a in self.answers if a.status == 200) < n:
            assert time.monotonic() < deadline, f"too few answers: {self.answers[-5:]}"
            assert not self.errors, self.errors
            time.sleep(0.05)


def assert_clean_outage(answers: list[Answer], connection_errors: bool = False,
                        database_killed_at: float | None = None) -> list[Answer]:
    """Every answer that is not a success is our 503 MBS01 in our error shape (no HTML, no PostgREST or
    PostgreSQL text), or, when the gateway itself is down, a refused connection; none waited long. When the
    database was killed, requests in flight at that instant may get lost_mid_query's answer."""
    failures = [a for a in answers if a.status is None or a.status >= 300]
    for a in failures:
        if database_killed_at is not None and lost_mid_query(a.status, a.code):
            assert abs(a.at - database_killed_at) < 1.0, a
        elif a.status is None:
            assert connection_errors, a
            assert a.body in ("ConnectError", "RemoteProtocolError", "ReadError", "WriteError"), a
        else:
            assert (a.status, a.code) == (503, "MBS01"), a
            body = json.loads(a.body)
            assert set(body) == {"code", "message", "details", "hint"}, a
            assert "PGRST" not in a.body and "postgres" not in a.body.lower() and "<html" not in a.body.lower(), a
    assert max((a.seconds for a in answers), default=0) < 8, max(answers, key=lambda a: a.seconds)
    return failures


def order_counts(conn: psycopg.Connection, client_order_ids: list[str]) -> dict[str, int]:
    rows = conn.execute("select client_order_id, count(*) from mbt.orders where client_order_id = any(%s) "
                        "group by client_order_id", [client_order_ids]).fetchall()
    return dict(rows)


def assert_each_order_once(conn: psycopg.Connection, clients: list[Client]) -> None:
    """Every order a client got a 2xx for, or found after a lost answer, exists exactly once; no other
    order of theirs exists."""
    kept = [cid for c in clients for cid in c.acknowledged + c.found_after_error]
    counts = order_counts(conn, [cid for c in clients for cid in c.sent])
    assert {cid: counts.get(cid, 0) for cid in kept} == dict.fromkeys(kept, 1)
    assert set(counts) == set(kept)


def assert_invariants_clean(conn: psycopg.Connection) -> None:
    """mbt.check_invariants: no violation in any account."""
    violations = conn.execute("select account_id, invariant, details from mbt.check_invariants(now())").fetchall()
    assert violations == []


def assert_replay_reproduces_fills(conn: psycopg.Connection, accounts: list[str]) -> None:
    for account in accounts:
        differences = conn.execute("select * from mbt.replay_fills(%s, '-infinity', 'infinity')", [account]).fetchall()
        assert differences == [], account


def fill_resting_orders(conn: psycopg.Connection, symbols: list[str]) -> int:
    """A quote batch at the next regular session's first minute asking $9.99 for a million shares of each
    symbol: every resting $10.00 buy fills (the engine decides on the quote's time, never the wall clock)."""
    at = conn.execute("select next_open + interval '1 minute' from md.clock(now())").fetchone()[0]
    conn.execute("select md.ensure_quote_partitions((%s at time zone 'America/New_York')::date, "
                 "(%s at time zone 'America/New_York')::date)", [at, at])
    before = conn.execute("select count(*) from mbt.fills").fetchone()[0]
    conn.execute("insert into md.quotes (symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange, "
                 "quote_time, received_at) select s, 9.98, 9.99, 1000000, 1000000, 'Q', 'Q', %s, %s + interval '50 ms' "
                 "from unnest(%s::text[]) as s", [at, at, symbols])
    return conn.execute("select count(*) from mbt.fills").fetchone()[0] - before


def prepare_symbols(conn: psycopg.Connection, symbols: list[str]) -> None:
    """The symbols, with a latest quote far from $10 (orders rest), and streamed by the ingestor as in
    steady state (no NOTIFY per order)."""
    for symbol in symbols:
        conn.execute("insert into md.assets (symbol, exchange, name) values (%s, 'NASDAQ', 'Crash test') "
                     "on conflict do nothing", [symbol])
    conn.execute("select md.ensure_quote_partitions((now() at time zone 'America/New_York')::date - 1, "
                 "(now() at time zone 'America/New_York')::date + 1)")
    conn.execute("insert into md.quotes (symbol, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange, "
                 "quote_time, received_at) select s, 49.99, 50.01, 100, 100, 'Q', 'Q', now(), now() "
                 "from unnest(%s::text[]) as s", [symbols])


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)

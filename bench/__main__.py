"""`make bench`: the price of the gateway, order submission, and the fill engine, each against a ceiling
or a target, measured twice in the same run: on a fresh private stack whose cluster is durable (fsync,
synchronous_commit and full_page_writes on, as `make run`'s), then on one whose cluster is not (all three
off, as the test suite's). bench/report.md has one table of the headline figures, durable and unsafe side
by side, the targets judged on the durable column; then each stack's details. `--durability durable|unsafe`
runs one of the two; `--quick` cuts every part to a few seconds (to check the bench itself); a part alone:
`python -m bench engine|submit|market_data|tier_retention|lifecycle_jobs|gateway` (bench/<part>.md).

The gateway part is below; order submission (c) is in bench/submit.py and the engine parts (a) and (b) in
bench/engine.py; the later parts (lifecycle jobs, market data, tier retention beside submission) each have
their own file; bench/figures.py makes the headline table.

Every API request goes through the nginx gateway, which verifies the access JWT, counts the request
against the caller's per-minute budget (a shared-memory counter) and proxies to PostgREST, whose
pre-request hook then re-checks the session in PostgreSQL. The question this bench answers is how
much of PostgREST's own throughput that front door costs. So, on one fresh stack (its own cluster
and free ports, default rate limits: the limiter stays on while we measure), wrk runs:

  (a) GET /api/account       through the gateway   - the real call: auth, rate limit, proxy, a view;
  (b) GET /account           straight to PostgREST - the ceiling for (a): same query, same token;
  (c) GET /rpc/ping          straight to PostgREST - a no-op RPC: PostgREST + pre-request hook only;
  (d) GET /api/rpc/ping      through the gateway   - the gateway's cost when the work behind it is nil.

Requests rotate over 64 pro_plus users' access tokens, so no user comes near its 3000/min budget
and every response must be a 2xx (any other status fails the bench). Targets: (a)/(b) >= 0.75 (the
gateway costs at most a quarter of direct throughput) and (a) >= 1000 req/s. wrk, nginx, PostgREST
and PostgreSQL share the machine's CPUs, so the figures are for the whole box, not a single tier.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from mbtctl import stack
from mbtctl.config import PROJECT_ROOT, Config
from mbtctl.services import postgrest_env

from . import cpu, engine, lifecycle_engine, lifecycle_jobs, market_data, submit, tier_retention
from .figures import (
    DURABILITIES,
    DURABILITY_SETTINGS,
    DURABLE,
    REQUIRED,
    SETTINGS,
    UNSAFE,
    Figure,
    headline_table,
    misses,
)

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = PROJECT_ROOT / ".data" / "bench"
REPORT = BENCH_DIR / "report.md"
WRK = "/usr/bin/wrk"
WRK_SCRIPT = BENCH_DIR / "rotate_tokens.lua"

USERS = 64
THREADS, CONNECTIONS = 2, 32
WARM_UP_SECONDS, MEASURE_SECONDS = 2, 10
OBJECT = "application/vnd.pgrst.object+json"
TARGET_ACCOUNT_RATIO = 0.75  # gateway / direct PostgREST, GET account
TARGET_ACCOUNT_RPS = 1000  # gateway GET /api/account, requests per second
OTHER_LOAD_WARNING = 0.25  # CPUs used by processes outside the bench: the report then says so


class BenchError(RuntimeError):
    """The bench itself failed (an error, a non-2xx response), as opposed to a target being missed."""


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    url: str
    expect: str  # a fragment of a good response body, checked once before the load
    accept: str | None = None  # Accept header wrk sends (the gateway adds it itself for /api/account)


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    usage: cpu.Usage  # where the CPU went during the measured run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def cpu_ms_per_request(self, cores: float) -> float:
        return cores / self.rps * 1000

    @property
    def total_cpu_ms_per_request(self) -> float:
        """Stack and wrk together: on a CPU-bound machine, throughput is about CPUs / this."""
        return self.cpu_ms_per_request(sum(self.usage.components.values()) + self.usage.wrk)


# --- the stack ------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out for port 0, all held open together so that they are distinct."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def bench_config(durability: str = DURABLE) -> Config:
    """A private stack on free ports in .data/bench/<durability>: durable is `make run`'s cluster settings
    (fsync, synchronous_commit, full_page_writes on), unsafe the test suite's (all three off)."""
    pg, http, postgrest, admin, sessions = free_ports(5)
    # the bench users' access tokens are issued once per stack and must outlive its parts (about 15 minutes of
    # one stack; at 15 minutes, make run's lifetime, the last retention windows got 401s)
    return Config(data_dir=DATA_DIR / durability, pg_port=pg, http_port=http, postgrest_port=postgrest,
                  postgrest_admin_port=admin, sessions_port=sessions, fast_unsafe_cluster=durability == UNSAFE,
                  access_token_seconds=4 * 3600)


def start_fresh_stack(cfg: Config) -> None:
    """Remove the previous bench stack of this durability (stopping whatever of it still runs) and start a
    new one."""
    if (DATA_DIR / "pg").exists():  # a bench stack of before the durable/unsafe pair: one directory
        stack.down(Config(data_dir=DATA_DIR))
        shutil.rmtree(DATA_DIR)
    if cfg.data_dir.exists():
        stack.down(cfg)  # by pid files and pg_ctl -D: the ports do not matter
        shutil.rmtree(cfg.data_dir)
    # cheap password hashing: 128 sign-ups/log-ins in seconds; nothing measured hashes a password
    os.environ["MBT_ARGON2_TIME_COST"] = "1"
    os.environ["MBT_ARGON2_MEMORY_KIB"] = "8192"
    print(f"bench: starting a fresh stack in {cfg.data_dir} (gateway on port {cfg.http_port})", flush=True)
    stack.up(cfg)


def stop_stack(cfg: Config) -> None:
    stopped = stack.down(cfg)
    print(f"bench: stopped {', '.join(stopped) or 'nothing'}", flush=True)


SHOWN_SETTINGS = (*DURABILITY_SETTINGS, "wal_compression", "wal_buffers", "max_wal_size", "checkpoint_timeout",
                  "commit_delay")


def cluster_settings(cfg: Config, durability: str) -> dict[str, str]:
    """The running cluster's settings that decide what a commit costs. A durable run on a cluster with any of
    fsync, synchronous_commit, full_page_writes off (or an unsafe one with any on) is refused."""
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        settings = {name: db.execute(f"show {name}").fetchone()[0] for name in SHOWN_SETTINGS}
    wrong = [name for name in DURABILITY_SETTINGS if settings[name] != REQUIRED[durability]]
    if wrong:
        raise BenchError(f"the {durability} stack has {', '.join(f'{n} = {settings[n]}' for n in wrong)}: "
                         f"a {durability} run needs {', '.join(DURABILITY_SETTINGS)} {REQUIRED[durability]}")
    return settings


@dataclass(frozen=True)
class Activity:
    """The cluster's WAL position and checkpoint counts at one moment."""

    at: float  # monotonic seconds
    wal_bytes: int
    checkpoints_timed: int
    checkpoints_requested: int  # by the WAL's volume or by a CHECKPOINT statement
    checkpoints_taken: int  # of those, the bench's own CHECKPOINT statements

    @classmethod
    def sample(cls, cfg: Config) -> Activity:
        with psycopg.connect(cfg.dsn(), autocommit=True) as db:
            row = db.execute("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint, checkpoints_timed, "
                             "checkpoints_req from pg_stat_bgwriter").fetchone()
        return cls(time.monotonic(), *row, engine.checkpoints_taken)

    def until(self, later: Activity) -> tuple[float, float, int, int, int]:
        """seconds, WAL megabytes, checkpoints timed, checkpoints the WAL's volume brought, the bench's own
        checkpoints, between the two."""
        taken = later.checkpoints_taken - self.checkpoints_taken
        return (later.at - self.at, (later.wal_bytes - self.wal_bytes) / 1e6,
                later.checkpoints_timed - self.checkpoints_timed,
                later.checkpoints_requested - self.checkpoints_requested - taken, taken)


def checkpoint(cfg: Config) -> None:
    """A checkpoint before each part: a checkpoint that the previous part's writes would bring (its WAL, or
    checkpoint_timeout) then falls after this part rather than inside its measurement. Each part starts
    with every page's next change writing a full page image (full_page_writes): the costlier start."""
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        engine.checkpoint(db)


# --- the users ------------------------------------------------------------------------------------


def post_credentials(cfg: Config, client: httpx.Client, path: str, email: str, password: str, status: int) -> dict:
    response = client.post(f"{cfg.base_url}{path}", json={"email": email, "password": password})
    if response.status_code != status:
        raise BenchError(f"POST {path} for {email}: HTTP {response.status_code}, expected {status}: {response.text}")
    return response.json()


def pro_plus_tokens(cfg: Config) -> list[str]:
    """Sign USERS users up through the gateway, make them pro_plus, and log them in again for tokens
    carrying that tier. Each user talks from a loopback address of its own (127.77.0.n): sign-up and
    log-in are anonymous, and the gateway's anonymous budget (60 a minute per address) stays as it is."""
    tokens = []
    with psycopg.connect(cfg.dsn(), autocommit=True) as db:
        for n in range(1, USERS + 1):
            email, password = f"bench-user-{n}@example.com", f"bench password {n}"
            transport = httpx.HTTPTransport(local_address=f"127.77.0.{n}")
            with httpx.Client(transport=transport, timeout=30) as client:
                user_id = post_credentials(cfg, client, "/api/sessions/signup", email, password, 201)["user"]["id"]
                db.execute("select auth.set_tier(%s, 'pro_plus')", [user_id])
                session = post_credentials(cfg, client, "/api/sessions/login", email, password, 200)
            if session["user"]["tier"] != "pro_plus":
                raise BenchError(f"{email} logged in with tier {session['user']['tier']!r}, expected pro_plus")
            tokens.append(session["access_token"])
    return tokens


# --- the load -------------------------------------------------------------------------------------


def scenarios(cfg: Config) -> list[Scenario]:
    gateway, direct = cfg.base_url, f"http://127.0.0.1:{cfg.postgrest_port}"
    return [
        Scenario("a", "account, through the gateway", f"{gateway}/api/account", expect='"account_number"'),
        Scenario("b", "account, straight to PostgREST", f"{direct}/account", expect='"account_number"',
                 accept=OBJECT),
        Scenario("c", "no-op RPC, straight to PostgREST", f"{direct}/rpc/ping", expect="pong"),
        Scenario("d", "no-op RPC, through the gateway", f"{gateway}/api/rpc/ping", expect="pong"),
    ]


def probe(scenario: Scenario, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if scenario.accept:
        headers["Accept"] = scenario.accept
    return httpx.get(scenario.url, headers=headers, timeout=10)


def check_once(scenario: Scenario, token: str) -> None:
    """One request by hand first: wrk counts statuses, not what the body says."""
    response = probe(scenario, token)
    if response.status_code != 200 or scenario.expect not in response.text:
        raise BenchError(f"({scenario.key}) GET {scenario.url}: HTTP {response.status_code}: {response.text[:500]}")


def run_wrk(scenario: Scenario, tokens_file: Path, seconds: int) -> dict[str, float]:
    """One wrk run; the figures that rotate_tokens.lua's done() prints. Any error or non-2xx fails the bench
    (a 429 would mean the users' budgets ran out: the machine is fast enough to need more than USERS users)."""
    cmd = [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(WRK_SCRIPT),
           scenario.url, "--", str(tokens_file), scenario.accept or ""]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if proc.returncode != 0:
        raise BenchError(f"({scenario.key}) wrk exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    figures = {m[1]: float(m[2]) for m in re.finditer(r"^mbt-bench (\S+) (\S+)$", proc.stdout, re.MULTILINE)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", proc.stdout)
    errors = {key: value for key, value in figures.items() if key.startswith("errors_") and value}
    if non_2xx or errors or not figures.get("requests"):
        after = probe(scenario, tokens_file.read_text().split()[0])
        raise BenchError(f"({scenario.key}) GET {scenario.url} under load: {errors or 'no requests'}\n{proc.stdout}\n"
                         f"one request just after: HTTP {after.status_code}: {after.text[:500]}")
    return figures


def measure(cfg: Config, scenario: Scenario, tokens: list[str], tokens_file: Path) -> Result:
    check_once(scenario, tokens[0])
    print(f"bench: ({scenario.key}) {scenario.title}: {scenario.url}", flush=True)
    run_wrk(scenario, tokens_file, WARM_UP_SECONDS)
    before = cpu.sample(cfg)
    figures = run_wrk(scenario, tokens_file, MEASURE_SECONDS)
    usage = cpu.Usage.between(before, cpu.sample(cfg))
    result = Result(scenario, requests=int(figures["requests"]), seconds=figures["duration_us"] / 1e6,
                    p50_ms=figures["latency_p50_us"] / 1000, p90_ms=figures["latency_p90_us"] / 1000,
                    p99_ms=figures["latency_p99_us"] / 1000, usage=usage)
    print(f"bench:     {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms", flush=True)
    return result


def tokens_of(cfg: Config) -> tuple[list[str], Path]:
    """USERS pro_plus users' access tokens, also in a file for wrk (mode 600)."""
    tokens = pro_plus_tokens(cfg)
    tokens_file = cfg.data_dir / "bench-tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    tokens_file.chmod(0o600)
    return tokens, tokens_file


def run_gateway(cfg: Config, tokens: list[str], tokens_file: Path) -> dict[str, Result]:
    # (a) and (d) are apart so that each user's gateway count in any one minute stays far below 3000
    return {scenario.key: measure(cfg, scenario, tokens, tokens_file) for scenario in scenarios(cfg)}


# --- the report -----------------------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def nginx_workers(cfg: Config) -> str:
    conf = (cfg.data_dir / "nginx" / "nginx.conf").read_text()
    found = re.search(r"^worker_processes\s+(\S+);", conf, re.MULTILINE)
    return found[1] if found else "?"


def machine() -> list[str]:
    return [
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu_model()}; Linux {platform.release()}",
    ]


def stack_line(cfg: Config, settings: dict[str, str]) -> str:
    shown = ", ".join(f"{name} {value}" for name, value in settings.items())
    return (f"- Stack: nginx {nginx_workers(cfg)} workers, PostgREST pool {postgrest_env(cfg)['PGRST_DB_POOL']}, "
            f"PostgreSQL 15 ({shown}), default rate limits; wrk on the same machine")


def gateway_load_line() -> str:
    return (f"- Gateway load: wrk, {THREADS} threads, {CONNECTIONS} connections, {WARM_UP_SECONDS} s warm-up then "
            f"{MEASURE_SECONDS} s per scenario; requests rotate over {USERS} pro_plus users' access tokens; "
            "every response was a 2xx")


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "MISS"


def figures_table(results: dict[str, Result]) -> list[str]:
    lines = ["| | Scenario | Request | req/s | p50 ms | p90 ms | p99 ms |", "|---|---|---|---:|---:|---:|---:|"]
    for r in results.values():
        path = r.scenario.url.split("/", 3)[3]
        lines.append(f"| ({r.scenario.key}) | {r.scenario.title} | `GET /{path}` | {r.rps:,.0f} | "
                     f"{r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} |")
    return lines


def cpu_table(results: dict[str, Result]) -> list[str]:
    names = [*cpu.COMPONENTS, "wrk"]
    lines = ["CPU milliseconds per request, by process (less noisy than req/s on a shared machine):", "",
             f"| | {' | '.join(names)} | all | other load, CPUs |", "|---|" + "---:|" * (len(names) + 2)]
    for r in results.values():
        cores = [*(r.usage.components[name] for name in cpu.COMPONENTS), r.usage.wrk]
        per_request = " | ".join(f"{r.cpu_ms_per_request(c):.3f}" for c in cores)
        lines.append(f"| ({r.scenario.key}) | {per_request} | {r.total_cpu_ms_per_request:.3f} | "
                     f"{r.usage.other:.2f} |")
    return lines


def ratios_table(results: dict[str, Result]) -> list[str]:
    a, b, c, d = (results[key] for key in "abcd")
    account_ratio, ping_ratio = a.rps / b.rps, d.rps / c.rps
    return [
        "| Figure | Value | Target | Result |", "|---|---:|---:|---|",
        f"| gateway / direct, account: (a) / (b) | {account_ratio:.2f} | ≥ {TARGET_ACCOUNT_RATIO:.2f} | "
        f"{verdict(account_ratio, TARGET_ACCOUNT_RATIO)} |",
        f"| gateway account, req/s: (a) | {a.rps:,.0f} | ≥ {TARGET_ACCOUNT_RPS:,} | "
        f"{verdict(a.rps, TARGET_ACCOUNT_RPS)} |",
        f"| gateway / direct, no-op RPC: (d) / (c) | {ping_ratio:.2f} | | (for information) |",
        f"| gateway / direct from CPU per request, account: all (b) / all (a) | "
        f"{b.total_cpu_ms_per_request / a.total_cpu_ms_per_request:.2f} | | (what a CPU-bound machine would give) |",
        f"| gateway / direct from CPU per request, no-op RPC: all (c) / all (d) | "
        f"{c.total_cpu_ms_per_request / d.total_cpu_ms_per_request:.2f} | | (what a CPU-bound machine would give) |",
        f"| gateway p50 latency added, account: (a) - (b) | {a.p50_ms - b.p50_ms:+.2f} ms | | (for information) |",
    ]


def disturbance_note(results: dict[str, Result]) -> list[str]:
    worst = max(r.usage.other for r in results.values())
    if worst < OTHER_LOAD_WARNING:
        return []
    return ["", f"**Note:** other processes on this machine used up to {worst:.2f} CPUs during a measurement; "
            "req/s and the ratios are disturbed by it (the CPU per request much less). Re-run on a quiet machine."]


def gateway_figures(results: dict[str, Result]) -> list[Figure]:
    a, b = results["a"], results["b"]
    ratio = a.rps / b.rps
    return [
        Figure("gateway: GET /api/account, req/s (a)", f"{a.rps:,.0f}", f"≥ {TARGET_ACCOUNT_RPS:,}",
               a.rps >= TARGET_ACCOUNT_RPS),
        Figure("gateway / direct PostgREST, GET account: (a) / (b)", f"{ratio:.2f}", f"≥ {TARGET_ACCOUNT_RATIO:.2f}",
               ratio >= TARGET_ACCOUNT_RATIO),
    ]


def gateway_sections(results: dict[str, Result]) -> list[list[str]]:
    return [["## The gateway against PostgREST", "", gateway_load_line()[2:]], figures_table(results),
            ratios_table(results) + disturbance_note(results), cpu_table(results)]


# --- the parts and their runs ---------------------------------------------------------------------


@dataclass
class Stack:
    """One fresh private stack, with the pro_plus users' tokens once a part has asked for them."""

    cfg: Config
    args: argparse.Namespace
    _tokens: tuple[list[str], Path] | None = None

    def tokens(self) -> tuple[list[str], Path]:
        if self._tokens is None:
            self._tokens = tokens_of(self.cfg)
        return self._tokens


@dataclass(frozen=True)
class Part:
    """One part's figures and detail sections on one stack."""

    figures: list[Figure]
    sections: list[list[str]]


def part_gateway(st: Stack) -> Part:
    results = run_gateway(st.cfg, *st.tokens())
    return Part(gateway_figures(results), gateway_sections(results))


def part_submit(st: Stack) -> Part:
    result = submit.run(st.cfg, *st.tokens())
    return Part(submit.figures(result), [submit.section(result)])


def part_engine(st: Stack) -> Part:
    result = engine.run(st.cfg, quotes=st.args.engine_quotes)
    return Part(engine.figures(result), engine.render(result))


def part_lifecycle_jobs(st: Stack) -> Part:
    result = lifecycle_jobs.run(st.cfg)
    return Part(lifecycle_jobs.figures(result), [lifecycle_jobs.section(result)])


def part_market_data(st: Stack) -> Part:
    result = market_data.run(st.cfg)
    return Part(market_data.figures(result), [market_data.render(result)])


def part_tier_retention(st: Stack) -> Part:
    result = tier_retention.run(st.cfg, *st.tokens(), pause=st.args.pause)
    return Part(tier_retention.figures(result), [tier_retention.section(result)])


PARTS: dict[str, tuple[str, Callable[[Stack], Part]]] = {  # in the order `make bench` runs them
    "gateway": ("the gateway against PostgREST", part_gateway),
    "submit": ("order submission through the gateway", part_submit),
    "engine": ("the fill engine", part_engine),
    "lifecycle_jobs": ("the jobs at the close", part_lifecycle_jobs),
    "market_data": ("market data", part_market_data),
    "tier_retention": ("tier retention beside order submission", part_tier_retention),
}
# `--quick` shrinks every part to a few seconds: each module's quick() sets its sizes
QUICK = (submit.quick, engine.quick, lifecycle_engine.quick, lifecycle_jobs.quick, market_data.quick,
         tier_retention.quick)


def quick() -> None:
    global USERS, WARM_UP_SECONDS, MEASURE_SECONDS
    USERS, WARM_UP_SECONDS, MEASURE_SECONDS = 16, 1, 2
    for shrink in QUICK:
        shrink()


@dataclass
class StackRun:
    """What the chosen parts measured on one stack of one durability."""

    durability: str
    stack: list[str] = field(default_factory=list)  # the stack's description lines
    parts: dict[str, Part] = field(default_factory=dict)
    activity: dict[str, tuple[float, float, int, int, int]] = field(default_factory=dict)  # by part: Activity.until
    seconds: float = 0.0

    @property
    def figures(self) -> list[Figure]:
        return [f for part in self.parts.values() for f in part.figures]


@contextmanager
def fresh_stack(durability: str) -> Iterator[Config]:
    cfg = bench_config(durability)
    try:
        start_fresh_stack(cfg)
        yield cfg
    finally:
        stop_stack(cfg)


def run_stack(durability: str, parts: list[str], args: argparse.Namespace) -> StackRun:
    started = time.monotonic()
    run = StackRun(durability)
    with fresh_stack(durability) as cfg:
        run.stack = [stack_line(cfg, cluster_settings(cfg, durability))]
        st = Stack(cfg, args)
        for name in parts:
            print(f"bench: {durability} stack: {PARTS[name][0]}", flush=True)
            checkpoint(cfg)
            before = Activity.sample(cfg)
            run.parts[name] = PARTS[name][1](st)
            run.activity[name] = before.until(Activity.sample(cfg))
    run.seconds = time.monotonic() - started
    return run


def demote(section: list[str]) -> list[str]:
    """A part's section under the report's per-stack heading: its headings one level down."""
    return [f"#{line}" if line.startswith("#") else line for line in section]


def activity_table(run: StackRun) -> list[str]:
    lines = ["What each part wrote and the checkpoints in it: timed (checkpoint_timeout), brought by the WAL's "
             "volume (max_wal_size), and the bench's own (before each part and each of the engine's measured runs, "
             "so that a checkpoint the set-up's writes would bring does not fall inside a measurement):",
             "", "| Part | minutes | WAL written, MB | checkpoints timed | by WAL volume | the bench's own |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, (seconds, wal_mb, timed, by_wal, taken) in run.activity.items():
        lines.append(f"| {PARTS[name][0]} | {seconds / 60:.1f} | {wal_mb:,.0f} | {timed} | {by_wal} | {taken} |")
    return lines


def render(title: str, runs: list[StackRun], args: argparse.Namespace, seconds: float) -> str:
    by_durability = {run.durability: run.figures for run in runs}
    judged = DURABLE if DURABLE in by_durability else UNSAFE
    missed = misses(by_durability)
    sections = [[f"# MBT bench: {title}"], machine()]
    if args.quick:
        sections.append(["**Quick run (`--quick`):** every part cut to a few seconds to check the bench itself. "
                         "Its figures are not the bench's figures and its verdicts mean nothing."])
    sections += [
        ["## Headline figures", "",
         ("Each part ran on a fresh private stack of each durability, the durable one first, then the unsafe one, "
          "in this run: " if len(runs) > 1 else f"Each part ran on a fresh private stack, {runs[0].durability} only "
          f"(`--durability {runs[0].durability}`): ")
         + "; ".join(f"**{d}**: {SETTINGS[d]}" for d in DURABILITIES if d in by_durability) + ". "
         + ("The targets are judged on the durable column." if judged == DURABLE else
            "The result column judges the unsafe figures (there was no durable run), but the targets apply to "
            "durable figures: run `--durability durable` or `both` for a verdict.")],
        headline_table(by_durability),
    ]
    if judged == DURABLE:
        sections.append([f"**Durable figures that miss their targets:** {'; '.join(missed)}."] if missed else
                        ["Every durable figure meets its target."])
    for run in runs:
        sections.append([f"## Details: the {run.durability} stack", "", f"Its cluster: {SETTINGS[run.durability]}.",
                         "", *run.stack,
                         f"- This stack's run: {run.seconds / 60:.1f} minutes (start, set-up, parts, stop)"])
        sections.append(activity_table(run))
        sections += [demote(section) for part in run.parts.values() for section in part.sections]
    sections.append([f"Whole run: {seconds / 60:.1f} minutes."])
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def report_path(part: str, quick_run: bool) -> Path:
    name = "report" if part == "all" else part
    if quick_run:  # never over a committed report: bench/report*.md is ignored by git
        name = "report-quick" if part == "all" else f"report-quick-{part}"
    return BENCH_DIR / f"{name}.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=["all", *PARTS], default="all",
                        help="all (make bench: bench/report.md), or one part alone, its report in bench/<part>.md: "
                             "gateway, submit (order submission, part (c)), engine ((a) with its ceiling, the "
                             "lifecycle mix, (b)), lifecycle_jobs, market_data, tier_retention")
    parser.add_argument("--durability", choices=["durable", "unsafe", "both"], default="both",
                        help="durable: a stack with fsync, synchronous_commit and full_page_writes on (make run's "
                             "cluster); unsafe: all three off (the test suite's); both (default): each part on a "
                             "durable stack, then on an unsafe one, in one report (targets judged on durable)")
    parser.add_argument("--quick", action="store_true",
                        help="every part cut to a few seconds (a few minutes in all, both stacks): checks the bench "
                             "itself; the report goes to bench/report-quick*.md, which git ignores")
    parser.add_argument("--engine-quotes", type=int, default=None, metavar="N",
                        help=f"quotes for the engine's throughput run (a), a multiple of {engine.BATCH:,} "
                             f"(default {engine.QUOTES:,}); less only to scale the run down (the report says so)")
    parser.add_argument("--pause", type=float, default=tier_retention.PAUSE,
                        help="tier retention: the job's pause after each batch, in multiples of the batch's time "
                             f"(default {tier_retention.PAUSE:g})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        quick()
    parts = list(PARTS) if args.part == "all" else [args.part]
    durabilities = list(DURABILITIES) if args.durability == "both" else [args.durability]
    title = ("the gateway, order submission, the fill engine, the jobs at the close, market data, tier retention"
             if args.part == "all" else PARTS[args.part][0])
    started = time.monotonic()
    try:
        runs = [run_stack(durability, parts, args) for durability in durabilities]
    except (BenchError, submit.SubmitError) as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    report = render(title, runs, args, time.monotonic() - started)
    path = report_path(args.part, args.quick)
    path.write_text(report)
    print(f"\n{report}\nbench: report written to {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

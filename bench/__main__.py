"""`make bench`: the price of the gateway, order submission, and the fill engine, each against a ceiling
or a target, measured in the same run on one fresh private stack. The gateway part is below; order
submission (c) is in bench/submit.py and the engine parts (a) and (b) in bench/engine.py; the later parts
(lifecycle jobs, market data, tier retention beside submission) each have their own file.

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
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from mbtctl import stack
from mbtctl.config import PROJECT_ROOT, Config
from mbtctl.services import postgrest_env

from . import cpu, engine, lifecycle_jobs, market_data, submit, tier_retention

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


def bench_config() -> Config:
    pg, http, postgrest, admin, sessions = free_ports(5)
    return Config(data_dir=DATA_DIR, pg_port=pg, http_port=http, postgrest_port=postgrest,
                  postgrest_admin_port=admin, sessions_port=sessions, fast_unsafe_cluster=True)


def start_fresh_stack(cfg: Config) -> None:
    """Remove the previous bench stack (stopping whatever of it still runs) and start a new one."""
    if DATA_DIR.exists():
        stack.down(cfg)  # by pid files and pg_ctl -D: the ports do not matter
        shutil.rmtree(DATA_DIR)
    # cheap password hashing: 128 sign-ups/log-ins in seconds; nothing measured hashes a password
    os.environ["MBT_ARGON2_TIME_COST"] = "1"
    os.environ["MBT_ARGON2_MEMORY_KIB"] = "8192"
    print(f"bench: starting a fresh stack in {DATA_DIR} (gateway on port {cfg.http_port})", flush=True)
    stack.up(cfg)


def stop_stack(cfg: Config) -> None:
    stopped = stack.down(cfg)
    print(f"bench: stopped {', '.join(stopped) or 'nothing'}", flush=True)


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


def run_bench(cfg: Config) -> tuple[dict[str, Result], list[str], Path]:
    tokens = pro_plus_tokens(cfg)
    tokens_file = cfg.data_dir / "bench-tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    tokens_file.chmod(0o600)
    # (a) and (d) are apart so that each user's gateway count in any one minute stays far below 3000
    results = {scenario.key: measure(cfg, scenario, tokens, tokens_file) for scenario in scenarios(cfg)}
    return results, tokens, tokens_file


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


def machine(cfg: Config) -> list[str]:
    return [
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu_model()}; Linux {platform.release()}",
        f"- Stack: nginx {nginx_workers(cfg)} workers, PostgREST pool {postgrest_env(cfg)['PGRST_DB_POOL']}, "
        "PostgreSQL 15 (fsync off), default rate limits; wrk on the same machine",
        f"- Load: wrk, {THREADS} threads, {CONNECTIONS} connections, {WARM_UP_SECONDS} s warm-up then "
        f"{MEASURE_SECONDS} s per scenario; requests rotate over {USERS} pro_plus users' access tokens; "
        "every response was a 2xx",
    ]


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


def render_report(cfg: Config, results: dict[str, Result], submitted: submit.SubmitResult,
                  engine_results: engine.EngineResults, seconds: float, extra: list[list[str]] = ()) -> str:
    sections = [["# MBT bench: the gateway, order submission and the fill engine"], machine(cfg),
                ["## The gateway against PostgREST"], figures_table(results),
                ratios_table(results) + disturbance_note(results), cpu_table(results),
                submit.section(submitted), *engine.render(engine_results), *extra,
                [f"Whole run (stack, gateway, submission, engine): {seconds / 60:.1f} minutes."]]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine-quotes", type=int, default=engine.QUOTES, metavar="N",
                        help=f"quotes for the engine's throughput run (a), a multiple of {engine.BATCH:,} "
                             f"(default {engine.QUOTES:,}); less only to scale the run down (the report says so)")
    parser.add_argument("part", nargs="?", choices=["all", "market_data", "engine", "submit"], default="all",
                        help="market_data: only the market-data part (report in bench/market_data.md); engine: only "
                             "the engine's parts: (a) with its ceiling, the lifecycle mix, (b) (bench/engine.md); "
                             "submit: only order submission, part (c) (report in bench/submit.md)")
    return parser.parse_args()


def main_market_data() -> int:
    """python -m bench market_data: only the market-data part, on a fresh stack of its own."""
    cfg = bench_config()
    try:
        start_fresh_stack(cfg)
        lines = [*market_data.report_header(cfg), "", *machine(cfg)[1:3], "", *market_data.render(market_data.run(cfg))]
    finally:
        stop_stack(cfg)
    path = BENCH_DIR / "market_data.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines) + f"\n\nbench: report written to {path.relative_to(PROJECT_ROOT)}")
    return 0


def main_engine(quotes: int) -> int:
    """python -m bench engine: only the fill engine's parts (ceiling and engine in the same run), on a fresh
    stack of its own."""
    cfg = bench_config()
    started = datetime.datetime.now(datetime.UTC)
    try:
        start_fresh_stack(cfg)
        results = engine.run(cfg, quotes=quotes)
        seconds = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
        sections = [["# MBT bench: the fill engine"], machine(cfg)[:3], *engine.render(results),
                    [f"Whole run (stack and engine parts): {seconds / 60:.1f} minutes."]]
    finally:
        stop_stack(cfg)
    path = BENCH_DIR / "engine.md"
    report = "\n\n".join("\n".join(section) for section in sections) + "\n"
    path.write_text(report)
    print(f"\n{report}\nbench: report written to {path.relative_to(PROJECT_ROOT)}")
    return 0


def main_submit() -> int:
    """python -m bench submit: only order submission through the gateway, part (c), on a fresh stack."""
    cfg = bench_config()
    try:
        start_fresh_stack(cfg)
        tokens = pro_plus_tokens(cfg)
        tokens_file = cfg.data_dir / "bench-tokens.txt"
        tokens_file.write_text("\n".join(tokens) + "\n")
        tokens_file.chmod(0o600)
        lines = ["# MBT bench: order submission through the gateway (part (c) alone)", "", *machine(cfg)[:3], "",
                 *submit.section(submit.run(cfg, tokens, tokens_file))]
    except submit.SubmitError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_stack(cfg)
    path = BENCH_DIR / "submit.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines) + f"\n\nbench: report written to {path.relative_to(PROJECT_ROOT)}")
    return 0


def main() -> int:
    args = parse_args()
    if args.part == "market_data":
        return main_market_data()
    if args.part == "engine":
        return main_engine(args.engine_quotes)
    if args.part == "submit":
        return main_submit()
    cfg = bench_config()
    started = datetime.datetime.now(datetime.UTC)
    try:
        start_fresh_stack(cfg)
        results, tokens, tokens_file = run_bench(cfg)
        submitted = submit.run(cfg, tokens, tokens_file)
        engine_results = engine.run(cfg, quotes=args.engine_quotes)
        # later parts: one section each
        extra = [lifecycle_jobs.section(lifecycle_jobs.run(cfg)), market_data.render(market_data.run(cfg)),
                 tier_retention.section(tier_retention.run(cfg, tokens, tokens_file))]
        seconds = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
        report = render_report(cfg, results, submitted, engine_results, seconds, extra)
    except (BenchError, submit.SubmitError) as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_stack(cfg)
    REPORT.write_text(report)
    print(f"\n{report}\nbench: report written to {REPORT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

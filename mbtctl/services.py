"""The stack's services: PostgREST, the sessions service and the nginx gateway; with market data on
(`make run`), marketsim (unless Alpaca keys are set), the ingestor, the trade_updates consumer and the jobs
scheduler."""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request

from .config import PROJECT_ROOT, Config
from .procs import give_to_run_user, pid_of, spawn, stop, tail

POSTGREST_BIN = PROJECT_ROOT / ".tools" / "postgrest"
GATEWAY_DIR = PROJECT_ROOT / "gateway"
# start order; stopped in reverse. Market data comes after the gateway: the API is up first, and
# `make stop` still ends with "gateway, sessions, postgrest".
SERVICES = ("postgrest", "sessions", "gateway", "marketsim", "ingest", "trade_updates", "scheduler")
MARKET_DATA_SERVICES = ("marketsim", "ingest", "trade_updates", "scheduler")


class ServiceError(RuntimeError):
    pass


def _secret_env(cfg: Config) -> dict[str, str]:
    limits = cfg.rate_limits
    return {
        "MBT_JWT_SECRET": cfg.jwt_secret(),
        "MBT_RATE_FREE": str(limits.free),
        "MBT_RATE_PRO": str(limits.pro),
        "MBT_RATE_PRO_PLUS": str(limits.pro_plus),
        "MBT_RATE_ANONYMOUS": str(limits.anonymous),
        # requests each nginx worker lets through to PostgREST at once (gateway.lua): together PostgREST's
        # pool, so the others wait in the gateway's first-come-first-served queue, not for a pool connection
        "MBT_POSTGREST_SLOTS": str(cfg.postgrest_slots or -(-postgrest_pool_size() // cfg.gateway_workers)),
    }


def postgrest_pool_size() -> int:
    """PostgREST's connections to PostgreSQL: a few per core (see postgrest_env), and as many again for those
    that wait on a durable commit's WAL flush (I/O, not CPU): under 32 submitting clients, a third of 6."""
    return int(os.environ.get("MBT_POSTGREST_POOL", str(4 * (os.cpu_count() or 2) + 4)))


def postgrest_env(cfg: Config) -> dict[str, str]:
    """PostgREST is configured entirely through PGRST_* variables (nothing secret on disk)."""
    return {
        "PGRST_DB_URI": f"postgresql:///{cfg.db_name}?host={cfg.run_dir}&port={cfg.pg_port}&user=authenticator",
        "PGRST_DB_SCHEMAS": "api",
        "PGRST_DB_ANON_ROLE": "web_anon",
        "PGRST_DB_PRE_REQUEST": "auth.check_request",
        # a few connections per core, not 20: more backends than cores only contend (buffer locks held
        # by a preempted backend, context switches); order submission on 2 cores: 1.9 ms of PostgreSQL
        # CPU per order with 20, 1.4 ms with 4 to 6, and more orders/s
        "PGRST_DB_POOL": str(postgrest_pool_size()),
        "PGRST_DB_EXTRA_SEARCH_PATH": "",
        "PGRST_JWT_SECRET": cfg.jwt_secret(),
        # verified tokens are cached (revocation is still checked per request by the pre-request hook)
        "PGRST_JWT_CACHE_MAX_LIFETIME": str(cfg.access_token_seconds),
        "PGRST_SERVER_HOST": "127.0.0.1",
        "PGRST_SERVER_PORT": str(cfg.postgrest_port),
        "PGRST_ADMIN_SERVER_PORT": str(cfg.postgrest_admin_port),
        "PGRST_OPENAPI_SERVER_PROXY_URI": f"{cfg.base_url}/api",
        "PGRST_LOG_LEVEL": "error",
        # the Haskell runtime on one core (PostgREST 12 is built with -N, a capability per core): on a
        # machine PostgreSQL and nginx share, the second capability's synchronisation cost more CPU
        # than it gave (order submission: 0.75 -> 0.45 ms of PostgREST CPU per request on 2 cores)
        "GHCRTS": os.environ.get("MBT_POSTGREST_RTS", "-N1"),
    }


def sessions_env(cfg: Config) -> dict[str, str]:
    return {
        "MBT_SESSIONS_DSN": f"host={cfg.run_dir} port={cfg.pg_port} user=mbt_sessions dbname={cfg.db_name} "
                            "application_name=sessions",
        "MBT_JWT_SECRET": cfg.jwt_secret(),
        "MBT_ACCESS_TOKEN_SECONDS": str(cfg.access_token_seconds),
        "MBT_SESSION_DAYS": str(cfg.session_days),
        "MBT_ARGON2_TIME_COST": os.environ.get("MBT_ARGON2_TIME_COST", "3"),
        "MBT_ARGON2_MEMORY_KIB": os.environ.get("MBT_ARGON2_MEMORY_KIB", "65536"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }


def render_gateway_conf(cfg: Config) -> str:
    nginx_dir = cfg.data_dir / "nginx"
    values = {
        # one by default (Config.gateway_workers), so that the requests waiting for a turn at PostgREST
        # (gateway.lua) wait in one first-come-first-served queue; it takes a fraction of a core at the
        # rate PostgreSQL serves. Measured (order submission, 32 clients, 2 cores): p99 / p50 latency
        # 2.3 with no queue, 1.5 to 1.9 with two workers' queues, 1.35 to 1.42 with one
        "workers": str(cfg.gateway_workers),
        "nginx_dir": str(nginx_dir),
        "log_dir": str(cfg.log_dir),
        "gateway_dir": str(GATEWAY_DIR),
        "postgrest_port": str(cfg.postgrest_port),
        "sessions_port": str(cfg.sessions_port),
        "http_port": str(cfg.http_port),
        "listen_address": "127.0.0.1",
        "postgrest_host": "127.0.0.1",
        "sessions_host": "127.0.0.1",
    }
    text = (GATEWAY_DIR / "nginx.conf.in").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _wait_http(url: str, name: str, cfg: Config, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_of(cfg, name) is None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own loopback service
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise ServiceError(f"{name} did not become ready at {url}:\n{tail(cfg.log_dir / f'{name}.log')}")


def start_postgrest(cfg: Config) -> None:
    spawn(cfg, "postgrest", [str(POSTGREST_BIN)], postgrest_env(cfg))
    _wait_http(f"http://127.0.0.1:{cfg.postgrest_admin_port}/ready", "postgrest", cfg)


def start_sessions(cfg: Config) -> None:
    spawn(cfg, "sessions", [
        sys.executable, "-m", "uvicorn", "sessions.app:app", "--host", "127.0.0.1",
        "--port", str(cfg.sessions_port), "--no-access-log", "--log-level", "warning",
    ], sessions_env(cfg))
    _wait_http(f"http://127.0.0.1:{cfg.sessions_port}/api/sessions/health", "sessions", cfg)


def start_gateway(cfg: Config) -> None:
    give_to_run_user(cfg, cfg.log_dir, cfg.run_dir, cfg.data_dir / "nginx")
    conf = cfg.data_dir / "nginx" / "nginx.conf"
    conf.write_text(render_gateway_conf(cfg))
    spawn(cfg, "gateway", ["nginx", "-p", str(cfg.data_dir / "nginx"), "-c", str(conf),
                           "-e", str(cfg.log_dir / "nginx-error.log")], _secret_env(cfg))
    _wait_http(f"{cfg.base_url}/api/sessions/health", "gateway", cfg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marketsim_url(cfg: Config) -> str | None:
    """The running marketsim's URL (its port is written next to its pid file)."""
    try:
        return f"http://127.0.0.1:{int((cfg.run_dir / 'marketsim.port').read_text())}"
    except (FileNotFoundError, ValueError):
        return None


def start_marketsim(cfg: Config) -> str:
    """The embedded market: real-time clock, the default universe; quotes in XNYS sessions only."""
    port = cfg.marketsim_port or _free_port()
    spawn(cfg, "marketsim", [sys.executable, "-m", "marketsim", "--host", "127.0.0.1", "--port", str(port),
                             *cfg.marketsim_args],
          {"PYTHONPATH": str(PROJECT_ROOT)})
    (cfg.run_dir / "marketsim.port").write_text(str(port))
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/v2/clock", "marketsim", cfg)  # 401 without keys: it answers
    return url


def ingest_env(cfg: Config, url: str | None) -> dict[str, str]:
    env = {
        "MBT_INGEST_DSN": f"host={cfg.run_dir} port={cfg.pg_port} user=mbt_jobs dbname={cfg.db_name} "
                          "application_name=ingest",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    if cfg.uses_alpaca:  # config only: the same ingestor, alpaca-py's default (Alpaca) URLs
        env.update(ALPACA_API_KEY=cfg.alpaca_key, ALPACA_SECRET_KEY=cfg.alpaca_secret,
                   MBT_ALPACA_FEED=os.environ.get("MBT_ALPACA_FEED", "iex"), MBT_WATCHLIST=cfg.watchlist or "")
    else:
        env.update(MBT_MARKETSIM_URL=url or "", MBT_WATCHLIST="*" if cfg.watchlist is None else cfg.watchlist)
    return env


def start_ingest(cfg: Config, url: str | None, timeout: float = 30.0) -> None:
    """Start the ingestor; ready once it has written its first figures (md.ingest_stats)."""
    import psycopg

    started = time.time()
    spawn(cfg, "ingest", [sys.executable, "-m", "ingest"], ingest_env(cfg, url))
    deadline = time.monotonic() + timeout
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        while time.monotonic() < deadline and pid_of(cfg, "ingest") is not None:
            row = conn.execute("select extract(epoch from updated_at) from md.ingest_stats where ingestor = 'ingest'"
                               ).fetchone()
            if row and float(row[0]) >= started:
                return
            time.sleep(0.1)
    raise ServiceError(f"the ingestor did not start:\n{tail(cfg.log_dir / 'ingest.log')}")


def start_trade_updates(cfg: Config) -> None:
    spawn(cfg, "trade_updates", [sys.executable, "-m", "jobs.trade_updates"], {
        "MBT_JOBS_DSN": f"host={cfg.run_dir} port={cfg.pg_port} user=mbt_jobs dbname={cfg.db_name} "
                        "application_name=trade_updates",
        "PYTHONPATH": str(PROJECT_ROOT)})
    time.sleep(0.3)
    if pid_of(cfg, "trade_updates") is None:
        raise ServiceError(f"the trade_updates consumer stopped:\n{tail(cfg.log_dir / 'trade_updates.log')}")


def start_scheduler(cfg: Config) -> None:
    """The jobs (expiry, end-of-day snapshots, market-data retention) at the times md.market_calendar gives."""
    spawn(cfg, "scheduler", [sys.executable, "-m", "jobs.scheduler"], {
        "MBT_JOBS_DSN": f"host={cfg.run_dir} port={cfg.pg_port} user=mbt_jobs dbname={cfg.db_name} "
                        "application_name=scheduler",
        "PYTHONPATH": str(PROJECT_ROOT)})
    time.sleep(0.3)
    if pid_of(cfg, "scheduler") is None:
        raise ServiceError(f"the jobs scheduler stopped:\n{tail(cfg.log_dir / 'scheduler.log')}")


def expected(cfg: Config) -> list[str]:
    """The services this configuration runs."""
    names = [name for name in SERVICES if name not in MARKET_DATA_SERVICES]
    if cfg.market_data:
        names += [name for name in MARKET_DATA_SERVICES if name != "marketsim" or not cfg.uses_alpaca]
    return names


def running(cfg: Config) -> list[str]:
    return [name for name in SERVICES if pid_of(cfg, name) is not None]


def start(cfg: Config) -> None:
    """Start every service; refuses when any of them already runs (stop them first)."""
    already = running(cfg)
    if already:
        raise ServiceError(f"already running: {', '.join(already)} (make stop first)")
    give_to_run_user(cfg, cfg.log_dir, cfg.run_dir)
    start_postgrest(cfg)
    start_sessions(cfg)
    start_gateway(cfg)
    if cfg.market_data:
        url = None if cfg.uses_alpaca else start_marketsim(cfg)
        start_ingest(cfg, url)
        start_trade_updates(cfg)
        start_scheduler(cfg)


def stop_all(cfg: Config) -> list[str]:
    stopped = [name for name in reversed(SERVICES) if stop(cfg, name)]
    (cfg.run_dir / "marketsim.port").unlink(missing_ok=True)
    return stopped

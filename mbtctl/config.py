"""Configuration of one MBT stack, from the environment, with defaults for a developer machine.

Every process the stack starts gets its settings from here; tests build a Config of their own
(another data directory, free ports) and start a second, independent stack.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("MBT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class RateLimits:
    """Requests per minute by tier; anonymous callers are counted per client address."""

    free: int = 60
    pro: int = 600
    pro_plus: int = 3000
    anonymous: int = 60

    @classmethod
    def from_env(cls) -> RateLimits:
        return cls(
            free=_int("MBT_RATE_FREE", 60),
            pro=_int("MBT_RATE_PRO", 600),
            pro_plus=_int("MBT_RATE_PRO_PLUS", 3000),
            anonymous=_int("MBT_RATE_ANONYMOUS", 60),
        )


@dataclass(frozen=True)
class Config:
    data_dir: Path
    pg_port: int = 54329
    http_port: int = 8080
    postgrest_port: int = 3001
    postgrest_admin_port: int = 3003
    sessions_port: int = 3002
    db_name: str = "mbt"
    rate_limits: RateLimits = field(default_factory=RateLimits)
    access_token_seconds: int = 900
    session_days: int = 30
    starting_cash: str | None = None
    fast_unsafe_cluster: bool = False  # fsync off: for throw-away test clusters only
    # nginx worker processes, and the requests each lets through to PostgREST at once (gateway.lua;
    # None: PostgREST's pool shared between the workers)
    gateway_workers: int = 1
    postgrest_slots: int | None = None
    # libpq URI of a superuser (or owner) on an existing server; set, mbtctl runs no cluster of its own
    database_url: str | None = None
    # market data: with both Alpaca keys the ingestor reads Alpaca; without, the embedded marketsim
    # (on marketsim_port, 0 = any free port) is started and read instead
    alpaca_key: str | None = None
    alpaca_secret: str | None = None
    marketsim_port: int = 0
    marketsim_args: tuple[str, ...] = ()  # MBT_MARKETSIM_ARGS: more marketsim options, e.g. --start, --speed, --symbols
    watchlist: str | None = None  # MBT_WATCHLIST; default: every marketsim symbol ('*'), none with Alpaca
    # start the market-data services (marketsim, ingestor) and the trade_updates consumer: `make run` does
    # (MBT_MARKET_DATA=0 turns them off); a stack built in code (tests, bench) runs its own, if any
    market_data: bool = False
    # WAL archiving into the pgBackRest repository (mbtctl/backup.py: make backup / make restore): `make run`'s
    # cluster archives (MBT_WAL_ARCHIVING=0 turns it off); a cluster built in code does when asked to
    wal_archiving: bool = False
    backup_dir: Path | None = None  # MBT_BACKUP_DIR: the pgBackRest repository; None: <data_dir>/backup

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            data_dir=Path(os.environ.get("MBT_DATA_DIR", PROJECT_ROOT / ".data")).resolve(),
            pg_port=_int("MBT_PG_PORT", 54329),
            http_port=_int("MBT_HTTP_PORT", 8080),
            postgrest_port=_int("MBT_POSTGREST_PORT", 3001),
            postgrest_admin_port=_int("MBT_POSTGREST_ADMIN_PORT", 3003),
            sessions_port=_int("MBT_SESSIONS_PORT", 3002),
            db_name=os.environ.get("MBT_DB_NAME", "mbt"),
            rate_limits=RateLimits.from_env(),
            access_token_seconds=_int("MBT_ACCESS_TOKEN_SECONDS", 900),
            session_days=_int("MBT_SESSION_DAYS", 30),
            starting_cash=os.environ.get("MBT_STARTING_CASH"),
            database_url=os.environ.get("MBT_DATABASE_URL") or None,
            alpaca_key=os.environ.get("ALPACA_API_KEY") or None,
            alpaca_secret=os.environ.get("ALPACA_SECRET_KEY") or None,
            marketsim_port=_int("MBT_MARKETSIM_PORT", 0),
            marketsim_args=tuple(shlex.split(os.environ.get("MBT_MARKETSIM_ARGS", ""))),
            watchlist=os.environ.get("MBT_WATCHLIST"),
            market_data=os.environ.get("MBT_MARKET_DATA", "1") not in ("0", "false", "no"),
            gateway_workers=_int("MBT_GATEWAY_WORKERS", 1),
            postgrest_slots=_int("MBT_POSTGREST_SLOTS", 0) or None,
            wal_archiving=os.environ.get("MBT_WAL_ARCHIVING", "1") not in ("0", "false", "no"),
            backup_dir=Path(os.environ["MBT_BACKUP_DIR"]).resolve() if os.environ.get("MBT_BACKUP_DIR") else None,
        )

    def with_(self, **changes) -> Config:
        return replace(self, **changes)

    # --- where things live ---------------------------------------------------------------
    @property
    def pg_data(self) -> Path:
        return self.data_dir / "pg"

    @property
    def run_dir(self) -> Path:
        """Unix sockets and pid files."""
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def backup_repo(self) -> Path:
        """The pgBackRest repository of the local cluster's backups and archived WAL."""
        return self.backup_dir or self.data_dir / "backup"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.env"

    # --- who runs it ---------------------------------------------------------------------
    @property
    def run_user(self) -> str | None:
        """The unprivileged OS user that runs everything when we are root; None otherwise."""
        if os.geteuid() != 0:
            return None
        return os.environ.get("MBT_RUN_USER", "mbt")

    def run_user_ids(self) -> tuple[int, int] | None:
        if self.run_user is None:
            return None
        entry = pwd.getpwnam(self.run_user)
        return entry.pw_uid, entry.pw_gid

    # --- connections -----------------------------------------------------------------------
    def dsn(self, user: str = "postgres", dbname: str | None = None) -> str:
        """The local cluster over its unix socket; with database_url, that server (its host, port and
        options; its user and password stand for the default user, another user gets no password)."""
        if self.database_url:
            params = conninfo_to_dict(self.database_url)
            if user != "postgres":
                params.pop("password", None)
                params["user"] = user
            params.setdefault("user", user)
            params["dbname"] = dbname or self.db_name
            params.setdefault("application_name", "mbtctl")
            return make_conninfo(**params)
        return (
            f"host={self.run_dir} port={self.pg_port} user={user} dbname={dbname or self.db_name} "
            "application_name=mbtctl"
        )

    @property
    def uses_alpaca(self) -> bool:
        """Both Alpaca keys set: market data from Alpaca, no marketsim."""
        return bool(self.alpaca_key and self.alpaca_secret)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def jwt_secret(self) -> str:
        """The HS256 signing key: MBT_JWT_SECRET, else one generated into .data/secrets.env."""
        if os.environ.get("MBT_JWT_SECRET"):
            return os.environ["MBT_JWT_SECRET"]
        if self.secrets_file.exists():
            for line in self.secrets_file.read_text().splitlines():
                if line.startswith("MBT_JWT_SECRET="):
                    return line.split("=", 1)[1]
        secret = secrets.token_urlsafe(48)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.secrets_file.write_text(f"MBT_JWT_SECRET={secret}\n")
        self.secrets_file.chmod(0o600)
        return secret

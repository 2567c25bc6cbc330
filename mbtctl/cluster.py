"""The local PostgreSQL 15 cluster: data directory under the project, a project port, and the
unprivileged run user when we are root (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg

from .config import PG_BIN, Config
from .procs import give_to_run_user, run_as_user, tail


class ClusterError(RuntimeError):
    pass


def _settings(cfg: Config) -> str:
    lines = [
        "# --- MBT settings (written by mbtctl) ---",
        "listen_addresses = '127.0.0.1'",
        f"port = {cfg.pg_port}",
        f"unix_socket_directories = '{cfg.run_dir}'",
        "unix_socket_permissions = 0770",
        "max_connections = 300",
        "shared_buffers = 512MB",
        "work_mem = 16MB",
        "timezone = 'UTC'",
        "log_timezone = 'UTC'",
        "log_min_messages = warning",
        "log_min_error_statement = panic",
        "jit = off",
        # crash recovery first flushes the data directory to disk: one syncfs() of its file system instead of an
        # fsync() per file (a fresh cluster has ~1,000): a restart after a crash took 3-5 s, mostly that
        "recovery_init_sync_method = syncfs",
        # for DBAs: `create extension pg_stat_statements` in a database shows what its statements cost
        "shared_preload_libraries = 'pg_stat_statements'",
        # durable and cheaper (fsync, synchronous_commit, full_page_writes stay on): full-page images compressed
        # in the WAL; a checkpoint every 15 min or ~2 GB of WAL, not every 5 min or ~0.5 GB of a burst of writes
        "wal_compression = lz4",
        "max_wal_size = 4GB",
        "checkpoint_timeout = 15min",
    ]
    if cfg.fast_unsafe_cluster:  # throw-away clusters only (tests): a crash may lose or corrupt them
        lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    else:  # `make run`'s: every acknowledged commit survives a crash (PostgreSQL's defaults, said out loud)
        lines += ["fsync = on", "synchronous_commit = on", "full_page_writes = on"]
    return "\n".join(lines) + "\n"


ARCHIVING_CONF = "mbt_archiving.conf"  # in the data directory, included by postgresql.conf


def _write_archiving(cfg: Config) -> None:
    """WAL archiving into the pgBackRest repository (mbtctl/backup.py) when the cluster archives, else off:
    written before every start, so a restored data directory archives as its new cluster says."""
    if cfg.wal_archiving:
        from . import backup  # backup runs this module's start and stop

        backup.write_conf(cfg)
        command = backup.archive_command(cfg).replace("'", "''")
        text = f"wal_level = replica\narchive_mode = on\narchive_command = '{command}'\narchive_timeout = 60\n"
    else:
        text = "archive_mode = off\n"
    (cfg.pg_data / ARCHIVING_CONF).write_text("# written by mbtctl/cluster.py at every start\n" + text)
    ids = cfg.run_user_ids()
    if ids:
        os.chown(cfg.pg_data / ARCHIVING_CONF, *ids)
    conf = cfg.pg_data / "postgresql.conf"
    include = f"include_if_exists = '{ARCHIVING_CONF}'"
    if include not in conf.read_text():  # clusters made before backups existed
        with open(conf, "a") as f:
            f.write(f"{include}\n")


def init(cfg: Config, sync: bool | None = None) -> bool:
    """initdb once; returns True when it created the cluster. sync=False (default for a fast_unsafe_cluster)
    skips initdb's final flush of the new files to disk, a few seconds: for clusters no machine crash can
    reach before they are thrown away (tests)."""
    give_to_run_user(cfg, cfg.data_dir, cfg.run_dir, cfg.log_dir)
    cfg.run_dir.chmod(0o700)  # the socket trusts whoever reaches it: only the run user (and root) may
    if (cfg.pg_data / "PG_VERSION").exists():
        return False
    give_to_run_user(cfg, cfg.pg_data)
    run_as_user(cfg, [
        str(PG_BIN / "initdb"), "-D", str(cfg.pg_data), "--username=postgres", "--encoding=UTF8",
        "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
        *([] if (not cfg.fast_unsafe_cluster if sync is None else sync) else ["--no-sync"]),
    ])
    with open(cfg.pg_data / "postgresql.conf", "a") as conf:
        conf.write(_settings(cfg))
    return True


def is_running(cfg: Config) -> bool:
    try:
        run_as_user(cfg, [str(PG_BIN / "pg_ctl"), "-D", str(cfg.pg_data), "status"])
        return True
    except subprocess.CalledProcessError:
        return False


def start(cfg: Config, timeout: float = 60) -> bool:
    """Start the cluster unless it runs; returns True when this call started it. A cluster that archives
    its WAL gets its pgBackRest stanza (once). timeout: seconds to wait for it to accept connections
    (a restored cluster replays WAL first)."""
    if is_running(cfg):
        return False
    _write_archiving(cfg)
    logfile = cfg.log_dir / "postgresql.log"
    try:
        run_as_user(cfg, [
            str(PG_BIN / "pg_ctl"), "-D", str(cfg.pg_data), "-l", str(logfile), "-w", "-t", str(int(timeout)),
            "-o", f"-p {cfg.pg_port} -k {cfg.run_dir}", "start",
        ])
    except subprocess.CalledProcessError as exc:
        raise ClusterError(f"PostgreSQL did not start:\n{exc.stdout}{exc.stderr}\n{tail(logfile)}") from exc
    wait_ready(cfg, timeout)
    if cfg.wal_archiving and not _recovering(cfg):
        from . import backup

        try:
            backup.ensure_stanza(cfg)
        except backup.BackupError as exc:  # the stack runs; its WAL waits in pg_wal until archiving works
            print(f"warning: {exc}", file=sys.stderr)
    return True


def _recovering(cfg: Config) -> bool:
    with psycopg.connect(cfg.dsn(dbname="postgres"), connect_timeout=5) as conn:
        return conn.execute("select pg_is_in_recovery()").fetchone()[0]


def wait_ready(cfg: Config, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(cfg.dsn(dbname="postgres"), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop(cfg: Config) -> bool:
    if not (cfg.pg_data / "PG_VERSION").exists() or not is_running(cfg):
        return False
    if cfg.wal_archiving:  # the last WAL is archived as the cluster shuts down: a restore finds every commit
        try:
            with psycopg.connect(cfg.dsn(dbname="postgres"), autocommit=True, connect_timeout=5) as conn:
                conn.execute("select pg_switch_wal()")
        except psycopg.Error:
            pass  # in recovery, or not answering: pg_ctl stops it all the same
    run_as_user(cfg, [str(PG_BIN / "pg_ctl"), "-D", str(cfg.pg_data), "-m", "fast", "-w", "stop"])
    return True

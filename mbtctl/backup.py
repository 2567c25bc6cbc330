"""Backups of the local cluster with pgBackRest (docs/dba.md): full and incremental backups into a
repository (MBT_BACKUP_DIR, default .data/backup), WAL archived continuously (archive_command, set by
mbtctl/cluster.py when the cluster archives), and restore to the latest archived state or to a point in
time. Everything runs as the cluster's OS user; this module only writes the configuration and runs
pgBackRest.

    python -m mbtctl.backup backup [--type full|diff|incr]     (make backup [TYPE=...])
    python -m mbtctl.backup restore [--target-time TIME]       (make restore [TARGET_TIME=...])
    python -m mbtctl.backup info                               (make backup-info)
    python -m mbtctl.backup check                              (WAL archiving works: one segment archived now)
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg

from . import clock, cluster
from .config import Config
from .procs import give_to_run_user, run_as_user

STANZA = "mbt"
PGBACKREST = "pgbackrest"


class BackupError(RuntimeError):
    pass


def conf_path(cfg: Config):
    return cfg.data_dir / "pgbackrest.conf"


def archive_command(cfg: Config) -> str:
    """What PostgreSQL runs for each finished WAL segment (%p: its path)."""
    return f"{PGBACKREST} --config={shlex.quote(str(conf_path(cfg)))} --stanza={STANZA} archive-push %p"


def write_conf(cfg: Config) -> None:
    """pgBackRest's configuration for this cluster and its repository, rewritten at every start."""
    give_to_run_user(cfg, cfg.data_dir, cfg.log_dir, cfg.run_dir, cfg.backup_repo)
    conf_path(cfg).write_text("\n".join([
        "# written by mbtctl/backup.py at every start of the cluster: set MBT_BACKUP_DIR, do not edit",
        "[global]",
        f"repo1-path={cfg.backup_repo}",
        "repo1-retention-full=2",       # two full backups and what depends on them; older ones expire
        "compress-type=lz4",            # fast: a laptop's cores are busy with the stack
        "process-max=2",
        "start-fast=y",                 # an immediate checkpoint: the backup starts at once
        "archive-timeout=60",
        f"log-path={cfg.log_dir}",
        f"lock-path={cfg.run_dir / 'pgbackrest'}",
        f"spool-path={cfg.backup_repo / 'spool'}",
        "",
        f"[{STANZA}]",
        f"pg1-path={cfg.pg_data}",
        f"pg1-port={cfg.pg_port}",
        f"pg1-socket-path={cfg.run_dir}",
        "pg1-user=postgres",
        "",
    ]))


def pgbackrest(cfg: Config, command: str, *options: str) -> str:
    try:
        done = run_as_user(cfg, [PGBACKREST, f"--config={conf_path(cfg)}", f"--stanza={STANZA}",
                                 "--log-level-console=info", *options, command])
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"pgbackrest {command} failed:\n{exc.stdout}{exc.stderr}") from exc
    return done.stdout


def ensure_stanza(cfg: Config) -> None:
    """The repository's stanza for this cluster, made once (the cluster must run). A repository that
    belongs to another cluster (a new initdb beside an old .data/backup) is left alone: archiving and
    backups then fail with pgBackRest's word for it (system-id mismatch; docs/dba.md)."""
    write_conf(cfg)
    if not (cfg.backup_repo / "archive" / STANZA / "archive.info").exists():
        pgbackrest(cfg, "stanza-create")


def _refuse_remote(cfg: Config) -> None:
    if cfg.database_url:
        raise BackupError("MBT_DATABASE_URL is set: that server is backed up by whoever runs it, not by make backup.")
    if not cfg.wal_archiving:
        raise BackupError("WAL archiving is off (MBT_WAL_ARCHIVING=0): without the WAL a backup cannot be restored "
                          "to a point in time. Turn it on and restart the stack.")


@contextmanager
def running(cfg: Config):
    """The cluster for one command: started if needed (with its archiving and stanza), stopped again if
    this started it."""
    cluster.init(cfg)
    started = cluster.start(cfg)
    try:
        ensure_stanza(cfg)
        yield
    finally:
        if started:
            cluster.stop(cfg)


def backup(cfg: Config, kind: str = "incr") -> str:
    """A backup of the running cluster: full, diff (what changed since the last full) or incr (since the
    last backup; the first one is full). Returns pgBackRest's report."""
    _refuse_remote(cfg)
    if kind not in ("full", "diff", "incr"):
        raise BackupError(f"the backup type is full, diff or incr (not {kind!r})")
    with running(cfg):
        out = pgbackrest(cfg, "backup", f"--type={kind}")
        return out + pgbackrest(cfg, "info")


def info(cfg: Config) -> str:
    """The backups in the repository and the range of archived WAL they can be restored with."""
    write_conf(cfg)
    return pgbackrest(cfg, "info")


def check(cfg: Config) -> str:
    """pgBackRest's check of the running cluster: the configuration, and a WAL segment archived now."""
    _refuse_remote(cfg)
    with running(cfg):
        return pgbackrest(cfg, "check")


def archive_now(cfg: Config, timeout: float = 60.0) -> str:
    """Close the current WAL segment and wait until the repository holds it: what was committed so far
    can be restored. Returns the segment's name."""
    with psycopg.connect(cfg.dsn(dbname="postgres"), autocommit=True) as conn:
        segment = conn.execute("select pg_walfile_name(pg_switch_wal())").fetchone()[0]
    deadline = time.monotonic() + timeout
    while not any((cfg.backup_repo / "archive" / STANZA).glob(f"*/{segment[:16]}/{segment}-*")):
        if time.monotonic() > deadline:
            raise BackupError(f"WAL segment {segment} did not reach {cfg.backup_repo} within {timeout:.0f} s; "
                              f"see {cfg.log_dir}/postgresql.log and pg_stat_archiver")
        time.sleep(0.1)
    return segment


def recovery_time(text: str) -> str:
    """An instant as pgBackRest and PostgreSQL both read it, in UTC: '2026-12-07 15:30:00.123456+00'. A time
    without a zone is UTC."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BackupError(f"TARGET_TIME {text!r} is not a timestamp such as '2026-12-07 15:30:00+00'") from exc
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def restore(cfg: Config, target_time: str | None = None, timeout: float = 600.0) -> str:
    """Restore the cluster from the repository, to the latest archived WAL or to target_time (a timestamp
    with its zone, e.g. '2026-12-07 15:30:00+00'), then start it and wait until it leaves recovery (a new
    timeline). The cluster must be stopped (make stop); its data directory is overwritten (a delta restore:
    files that already match are kept). Returns pgBackRest's report."""
    if cfg.database_url:
        raise BackupError("MBT_DATABASE_URL is set: restore that server with its own tools.")
    if (cfg.pg_data / "PG_VERSION").exists() and cluster.is_running(cfg):
        raise BackupError(f"the cluster in {cfg.pg_data} is running: stop the stack first (make stop).")
    write_conf(cfg)
    give_to_run_user(cfg, cfg.pg_data)
    cfg.run_dir.chmod(0o700)  # the socket trusts whoever reaches it (as cluster.init does)
    # over an existing data directory: a delta restore (files that already match are kept)
    options = ["--delta"] if (cfg.pg_data / "PG_VERSION").exists() else []
    if target_time:
        options += ["--type=time", f"--target={recovery_time(target_time)}", "--target-action=promote"]
    out = pgbackrest(cfg, "restore", *options)
    cluster.start(cfg, timeout=timeout)
    with psycopg.connect(cfg.dsn(dbname="postgres"), autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while conn.execute("select pg_is_in_recovery()").fetchone()[0]:
            if time.monotonic() > deadline:
                raise BackupError(f"the restored cluster is still recovering after {timeout:.0f} s; "
                                  f"see {cfg.log_dir}/postgresql.log")
            time.sleep(0.1)
    if cfg.wal_archiving:
        ensure_stanza(cfg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mbtctl.backup", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="back up the local cluster (started for the backup if it is not running)")
    b.add_argument("--type", default="incr", choices=["full", "diff", "incr"],
                   help="full; diff: changes since the last full; incr (default): since the last backup")
    r = sub.add_parser("restore", help="restore the local cluster (stopped) from the repository")
    r.add_argument("--target-time", help="recover to this instant, e.g. '2026-12-07 15:30:00+00' (default: latest)")
    sub.add_parser("info", help="the backups in the repository")
    sub.add_parser("check", help="check that WAL archiving works (archives a segment now)")
    args = parser.parse_args(argv)
    try:
        clock.run_on_stack_clock()  # MBT_CLOCK: the cluster and pgBackRest live at the stack's instant
    except clock.ClockError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    cfg = Config.from_env()
    try:
        if args.command == "backup":
            print(backup(cfg, args.type))
        elif args.command == "restore":
            print(restore(cfg, args.target_time))
            cluster.stop(cfg)
            print(f"restored {cfg.pg_data} (recovered and on a new timeline): `make run` starts it. "
                  "Take a full backup when it runs (make backup TYPE=full).")
        elif args.command == "check":
            print(check(cfg))
        else:
            print(info(cfg))
    except (BackupError, cluster.ClusterError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

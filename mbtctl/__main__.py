"""python -m mbtctl run | stop | status | migrate | migrate-status | deploy"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager

import psycopg

from . import clock, cluster, migrate, services, stack, supervise
from .config import Config


def cmd_run(cfg: Config) -> int:
    if supervise.supervisor_pid(cfg) is not None:
        print(f"run: already running (pid {supervise.supervisor_pid(cfg)}); make stop first", file=sys.stderr)
        return 1
    supervise.become_subreaper()  # before anything starts: what it starts and orphans is reaped here
    try:
        started = stack.up(cfg)
    except services.ServiceError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    for m in started.applied:
        print(f"applied migration {m.filename}")
    url = cfg.base_url
    print(f"\nMBT is up: {url}/api/  (OpenAPI at {url}/api/, sessions API docs at {url}/api/sessions/docs)")
    print("Try it:\n"
          f"  curl -s -X POST {url}/api/sessions/signup -H 'Content-Type: application/json' "
          "-d '{\"email\":\"you@example.com\",\"password\":\"correct horse battery\"}'")
    print("  then: curl -s " + url + "/api/account -H 'Authorization: Bearer <access_token>'")
    if cfg.market_data:
        source = "Alpaca (ALPACA_API_KEY is set)" if cfg.uses_alpaca else \
            f"marketsim at {services.marketsim_url(cfg)} (simulated; quotes in NYSE sessions, 04:00-20:00 ET)"
        print(f"Market data: {source} -> ingestor -> md.quotes (figures: md.ingest_stats, {cfg.log_dir}/ingest.log)")
    print(f"A service that dies is restarted (log: {cfg.log_dir}/supervisor.log; counts: python -m mbtctl status).")
    print("\nCtrl-C (or make stop) stops everything this started.", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    supervisor = supervise.Supervisor(cfg, started)
    try:
        supervisor.run(done)
    finally:
        stopped = stack.down(cfg, started)
        supervisor.close(stopped)
    print("stopping: " + ", ".join(stopped))
    return 0


def cmd_stop(cfg: Config) -> int:
    stopped = []
    if supervise.stop_supervisor(cfg):  # the supervising make run stops the stack itself (nothing is restarted)
        stopped = (supervise.read_status(cfg) or {}).get("stopped", [])
    stopped += [name for name in stack.down(cfg) if name not in stopped]
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_services_status(cfg: Config) -> int:
    """What runs, and how often the supervisor of make run restarted each service."""
    status = supervise.read_status(cfg) or {}
    counts = status.get("services", {})
    pid = supervise.supervisor_pid(cfg)
    print(f"supervisor: {'pid ' + str(pid) if pid else 'not running'}")
    names = [supervise.POSTGRESQL, *services.SERVICES]
    for name in names:
        running = supervise.postmaster_pid(cfg) if name == supervise.POSTGRESQL else \
            services.pid_of(cfg, name) if supervise.alive(services.pid_of(cfg, name)) else None
        seen = counts.get(name, {})
        if running is None and not seen:
            continue
        line = f"{name:<14} {'running, pid ' + str(running) if running else 'not running':<22}"
        line += f" restarts {seen.get('restarts', 0)}"
        if seen.get("last_exit"):
            line += f"; last exit: {seen['last_exit']}, restarted {seen.get('last_restart') or '-'}"
        print(line)
    return 0


@contextmanager
def local_cluster(cfg: Config):
    """The local cluster for one command: started if needed, and stopped again if this started it.
    With MBT_DATABASE_URL the server is someone else's: nothing is started or stopped."""
    if cfg.database_url:
        yield
        return
    cluster.init(cfg)
    started = cluster.start(cfg)
    try:
        yield
    finally:
        if started:
            cluster.stop(cfg)


def cmd_migrate(cfg: Config) -> int:
    with local_cluster(cfg):
        try:
            applied = migrate.upgrade(cfg)
        except migrate.MigrationError as exc:
            print(f"migrate: {exc}", file=sys.stderr)
            return 1
    print("\n".join(f"applied {m.filename}" for m in applied) or "no pending migrations")
    print("functions and policies re-applied")
    return 0


def cmd_deploy(cfg: Config) -> int:
    """Re-apply functions and policies only (no migration)."""
    with local_cluster(cfg), psycopg.connect(cfg.dsn()) as conn:
        try:
            count = migrate.deploy(conn)
        except migrate.MigrationError as exc:
            print(f"deploy: {exc}", file=sys.stderr)
            return 1
    print(f"re-applied {count} function and policy files")
    return 0


def cmd_status(cfg: Config) -> int:
    """Applied and pending migrations; reads only."""
    with local_cluster(cfg):
        try:
            with psycopg.connect(cfg.dsn()) as conn:
                states = migrate.status(conn)
        except psycopg.OperationalError:  # no database yet: everything is pending
            states = migrate.status(None)
    bad = False
    for s in states:
        mark = "applied " + s.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC") if s.applied_at else "pending"
        print(f"{s.version:04d}_{s.name:<40} {mark}")
        if s.problem:
            bad = True
            print(f"  !! {s.problem}")
    return 1 if bad else 0


COMMANDS = {"run": cmd_run, "stop": cmd_stop, "status": cmd_services_status, "migrate": cmd_migrate,
            "migrate-status": cmd_status, "deploy": cmd_deploy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mbtctl")
    parser.add_argument("command", choices=list(COMMANDS))
    args = parser.parse_args(argv)
    try:
        clock.run_on_stack_clock()  # MBT_CLOCK: this process and all it starts live at that instant
    except clock.ClockError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](Config.from_env())


if __name__ == "__main__":
    sys.exit(main())

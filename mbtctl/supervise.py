"""Supervision of what `make run` started: a service that dies is restarted, logged and counted.

`make run` (mbtctl run) starts the stack, then stays in the foreground and checks twice a second
that each service it started still runs: PostgreSQL (the postmaster of postmaster.pid), PostgREST,
the sessions service, the nginx gateway and, with market data, marketsim, the ingestor, the
trade_updates consumer and the jobs scheduler. A dead one is restarted with the same start
function `make run` used, after a back-off: 1 s after a crash, then 2, 4, 8 ... at most 30 s while
it keeps crashing (a restart that fails counts as a crash); a minute of uptime resets it
(MBT_RESTART_BACKOFF="1,30,60": first wait, longest wait, uptime that resets, in seconds).

- PostgreSQL first: while it is down (or waiting for its restart) nothing that needs it is restarted.
  A service that dies while it is down died of the database's crash: it is restarted right after
  PostgreSQL, and that death does not add to its own back-off.
  What is left of the dead server (backends still running after their postmaster died) is killed
  before `pg_ctl start`, as PostgreSQL's own postmaster does after a backend crash; then crash
  recovery replays the WAL. PostgREST reconnects by itself; if it has not within
  POSTGREST_RECONNECT_SECONDS of the database's return (its own retry interval grows to 32 s), it is
  restarted.
- A dead service's process group is killed before its restart (nginx's workers outlive a killed
  master and would keep the port).
- `make run` becomes the "child subreaper" of what it starts (Linux): processes whose parent dies
  (the postmaster once pg_ctl has returned, nginx workers) are re-parented to it and reaped here,
  so a dead postmaster never lingers as a zombie whose pid would block the restart.
- Every death and restart is a line in .data/log/supervisor.log (and on make run's terminal); the
  counts are in .data/run/supervisor.json, shown by `python -m mbtctl status`.
- `make stop` (mbtctl stop) asks the supervising `make run` to stop (SIGTERM, as Ctrl-C does) and
  waits for it: the stack is stopped by the process that would otherwise restart it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import cluster, services, stack
from .config import Config

CHECK_SECONDS = 0.5
FIRST_DELAY, MAX_DELAY, RESET_AFTER = 1.0, 30.0, 60.0
POSTGREST_RECONNECT_SECONDS = 10.0
POSTGRESQL = "postgresql"
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Backoff:
    """The wait before a restart: FIRST_DELAY after a crash, doubling while the service keeps crashing,
    at most MAX_DELAY; a service that ran RESET_AFTER seconds starts again from FIRST_DELAY."""

    first: float = FIRST_DELAY
    cap: float = MAX_DELAY
    reset_after: float = RESET_AFTER
    crashes: int = 0  # in a row, without reset_after seconds of uptime between them

    @classmethod
    def from_env(cls) -> Backoff:
        """MBT_RESTART_BACKOFF="first,cap,reset_after" (seconds), else the defaults."""
        text = os.environ.get("MBT_RESTART_BACKOFF")
        if not text:
            return cls()
        first, cap, reset_after = (float(x) for x in text.split(","))
        return cls(first, cap, reset_after)

    def delay(self, uptime: float) -> float:
        """The wait before restarting a service that crashed after `uptime` seconds."""
        if uptime >= self.reset_after:
            self.crashes = 0
        delay = min(self.first * 2 ** self.crashes, self.cap)
        self.crashes += 1
        return delay


@dataclass
class Watched:
    name: str
    up_since: float
    backoff: Backoff = field(default_factory=Backoff.from_env)
    restarts: int = 0
    pid: int | None = None
    down_since: float | None = None  # it died (or its restart failed) and waits for restart_at
    restart_at: float | None = None
    last_exit: str | None = None
    last_restart: str | None = None  # UTC, ISO 8601


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (Linux), which reaps them."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (R, S, D, Z ...), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    return pid is not None and process_state(pid) not in (None, "Z", "X")


def postmaster_pid(cfg: Config) -> int | None:
    """The running postmaster of the local cluster (first line of postmaster.pid), if it lives."""
    try:
        pid = int((cfg.pg_data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(sig).name}"
        return f"killed by signal {sig}"
    return f"exited with status {os.WEXITSTATUS(status)}"


class Supervisor:
    def __init__(self, cfg: Config, started: stack.Started | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg, self.started, self.clock = cfg, started or stack.Started(), clock
        self.names = ([] if cfg.database_url else [POSTGRESQL]) + services.expected(cfg)
        now = clock()
        self.watched = {name: Watched(name, now, pid=self.pid(name)) for name in self.names}
        self.exits: dict[int, str] = {}  # pid -> how it ended, for the processes this one reaped
        self.postgrest_deadline: float | None = None
        self.started_at = _now()
        self.log = _logger(cfg)
        self.pid_file = cfg.run_dir / "supervisor.pid"
        self.status_file = cfg.run_dir / "supervisor.json"
        self.pid_file.write_text(f"{os.getpid()} {_start_time(os.getpid())}")
        self.write_status("running")

    # ---- what runs -----------------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        if name == POSTGRESQL:
            return postmaster_pid(self.cfg)
        pid = services.pid_of(self.cfg, name)
        return pid if alive(pid) else None

    def reap(self) -> None:
        """Collect the exit status of every child that ended (ours, and orphans re-parented to us)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exits[pid] = _describe(status)

    # ---- one round -----------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Notice what died, restart what is due; returns the names restarted in this round."""
        self.reap()
        restarted = []
        for name in self.names:
            w = self.watched[name]
            if w.down_since is None:
                pid = self.pid(name)
                if pid is not None:
                    w.pid = pid
                    continue
                self._died(w)
            if self.clock() < w.restart_at or (name != POSTGRESQL and self._database_down()):
                continue
            if self._restart(w):
                restarted.append(name)
        self._check_postgrest()
        return restarted

    def _database_down(self) -> bool:
        return POSTGRESQL in self.watched and self.watched[POSTGRESQL].down_since is not None

    def _died(self, w: Watched) -> None:
        now = self.clock()
        self.reap()  # it may have ended after this round's first reap
        w.last_exit = self.exits.pop(w.pid, "gone") if w.pid else "gone"
        w.down_since = now
        if w.name != POSTGRESQL and self._database_down():
            w.restart_at = now  # as soon as the database is back
            self.log.warning("%s died (pid %s, %s) while PostgreSQL is down; restart after it", w.name, w.pid,
                             w.last_exit)
        else:
            delay = w.backoff.delay(now - w.up_since)
            w.restart_at = now + delay
            self.log.warning("%s died (pid %s, %s); restart in %g s (crash %d in a row)", w.name, w.pid,
                             w.last_exit, delay, w.backoff.crashes)
        self.write_status("running")

    def _restart(self, w: Watched) -> bool:
        self._kill_leftovers(w)
        started = self.clock()
        try:
            start(self.cfg, w.name)
        except Exception as exc:  # any failure to start is logged and retried later
            now = self.clock()
            delay = w.backoff.delay(0.0)
            w.restart_at = now + delay
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.log.error("%s did not restart (%s); next attempt in %g s", w.name, first_line, delay)
            self.write_status("running")
            return False
        now = self.clock()
        w.pid = self.pid(w.name)
        w.restarts += 1
        w.last_restart = _now()
        self.log.warning("%s restarted (pid %s) after %.1f s down, start took %.1f s; restarts: %d", w.name, w.pid,
                         now - w.down_since, now - started, w.restarts)
        w.down_since = w.restart_at = None
        w.up_since = now
        if w.name == POSTGRESQL:
            self.started.cluster = True  # ours now: stopped with the rest
            self.postgrest_deadline = now + POSTGREST_RECONNECT_SECONDS
        elif w.name == "postgrest":
            self.postgrest_deadline = None
        self.write_status("running")
        return True

    def _kill_leftovers(self, w: Watched) -> None:
        """End what is left of a dead service's process group (each is a group leader: start_new_session, or
        pg_ctl's setsid for the postmaster) and wait for it to go. PostgreSQL's backends get SIGQUIT first, as
        their postmaster would send them: each tells its client (FATAL 57P02, which PostgREST answers 503)
        before it exits; a backend SIGKILLed mid-query leaves PostgREST an error without a code (a 400)."""
        if w.pid is None:
            return
        for sig, wait in ((signal.SIGQUIT, 3.0), (signal.SIGKILL, 5.0)) if w.name == POSTGRESQL else \
                ((signal.SIGKILL, 5.0),):
            try:
                os.killpg(w.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            deadline = self.clock() + wait
            while self.clock() < deadline:
                self.reap()
                try:
                    os.killpg(w.pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.02)

    def _check_postgrest(self) -> None:
        """After the database came back: PostgREST must be ready within POSTGREST_RECONNECT_SECONDS."""
        if self.postgrest_deadline is None or "postgrest" not in self.watched:
            return
        w = self.watched["postgrest"]
        if w.down_since is not None or postgrest_ready(self.cfg):
            self.postgrest_deadline = None
            return
        if self.clock() < self.postgrest_deadline:
            return
        self.log.warning("postgrest has not reconnected to the database within %.0f s; restarting it",
                         POSTGREST_RECONNECT_SECONDS)
        self.postgrest_deadline = None
        services.stop(self.cfg, "postgrest")
        self.reap()
        w.last_exit = "stopped: no database connection"
        w.down_since = w.restart_at = self.clock()
        self._restart(w)

    # ---- the loop ------------------------------------------------------------------------------
    def run(self, done: threading.Event) -> None:
        """Check every CHECK_SECONDS until done is set (Ctrl-C, SIGTERM from make stop)."""
        self.log.info("supervising %s (pid %d)", ", ".join(self.names), os.getpid())
        while not done.wait(CHECK_SECONDS):
            self.check()

    def close(self, stopped: list[str]) -> None:
        self.reap()
        self.log.info("stopped: %s", ", ".join(stopped) or "nothing was running")
        self.write_status("stopped", stopped)
        self.pid_file.unlink(missing_ok=True)

    def write_status(self, state: str, stopped: list[str] | None = None) -> None:
        status = {
            "supervisor": {"pid": os.getpid(), "state": state, "since": self.started_at},
            "services": {w.name: {"state": "running" if w.down_since is None else "restarting", "pid": w.pid,
                                  "restarts": w.restarts, "last_exit": w.last_exit,
                                  "last_restart": w.last_restart} for w in self.watched.values()},
        }
        if stopped is not None:
            status["stopped"] = stopped
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(self.status_file)


def start(cfg: Config, name: str) -> None:
    """Start one service again with the function `make run` started it with."""
    if name == POSTGRESQL:
        cluster.start(cfg)
    elif name == "postgrest":
        services.start_postgrest(cfg)
    elif name == "sessions":
        services.start_sessions(cfg)
    elif name == "gateway":
        services.start_gateway(cfg)
    elif name == "marketsim":
        # on its port of before: the ingestor reconnects to the same URL
        port = services.marketsim_url(cfg)
        services.start_marketsim(cfg.with_(marketsim_port=int(port.rsplit(":", 1)[1])) if port else cfg)
    elif name == "ingest":
        services.start_ingest(cfg, None if cfg.uses_alpaca else services.marketsim_url(cfg))
    elif name == "trade_updates":
        services.start_trade_updates(cfg)
    elif name == "scheduler":
        services.start_scheduler(cfg)
    else:
        raise ValueError(f"unknown service {name}")


def postgrest_ready(cfg: Config) -> bool:
    """PostgREST's admin endpoint: 200 once it has a database connection and its schema cache."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{cfg.postgrest_admin_port}/ready", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _logger(cfg: Config) -> logging.Logger:
    """supervisor.log in the log directory, and make run's terminal."""
    logger = logging.getLogger(f"mbtctl.supervise.{cfg.data_dir}")
    if not logger.handlers:
        logger.setLevel(logging.INFO)
        logger.propagate = False
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        formatter.converter = time.gmtime
        for handler in (logging.FileHandler(cfg.log_dir / "supervisor.log"), logging.StreamHandler()):
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    return logger


def supervisor_pid(cfg: Config) -> int | None:
    """The pid of the `make run` that supervises this stack, if it runs."""
    try:
        pid_text, started = (cfg.run_dir / "supervisor.pid").read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if alive(pid) and _start_time(pid) == started else None


def stop_supervisor(cfg: Config, timeout: float = 120.0) -> bool:
    """Ask the supervising `make run` to stop the stack (SIGTERM) and wait for it; False if none runs."""
    pid = supervisor_pid(cfg)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def read_status(cfg: Config) -> dict | None:
    try:
        return json.loads((cfg.run_dir / "supervisor.json").read_text())
    except (OSError, ValueError):
        return None

"""Start and stop the stack's processes, as the unprivileged run user when we are root."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import clock
from .config import Config


def give_to_run_user(cfg: Config, *paths: Path) -> None:
    """Create the directories and hand them to the run user (no-op when not root)."""
    ids = cfg.run_user_ids()
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        if ids:
            os.chown(path, *ids)


def run_as_user(cfg: Config, cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    ids = cfg.run_user_ids()
    if ids:
        kwargs.update(user=ids[0], group=ids[1], extra_groups=[])
    kwargs.setdefault("cwd", cfg.data_dir)
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kwargs)


def spawn(cfg: Config, name: str, cmd: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Start a long-running service in the background; its pid goes to .data/run/<name>.pid."""
    ids = cfg.run_user_ids()
    kwargs: dict = {}
    if ids:
        kwargs.update(user=ids[0], group=ids[1], extra_groups=[])
    # the child runs on this process's stack clock (MBT_CLOCK), if any
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **clock.inherited_env(),
                **(env or {})}
    log = open(cfg.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=full_env, cwd=cfg.data_dir, start_new_session=True, **kwargs,
    )
    log.close()
    (cfg.run_dir / f"{name}.pid").write_text(f"{proc.pid} {_start_time(proc.pid)}")
    return proc.pid


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process for
    good, so a pid reused after a reboot or a crash is never mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_of(cfg: Config, name: str) -> int | None:
    """The pid of the service we started, if that very process is still running."""
    try:
        pid_text, started = (cfg.run_dir / f"{name}.pid").read_text().split()
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    return pid if _start_time(pid) == started else None


def stop(cfg: Config, name: str, timeout: float = 10.0) -> bool:
    """SIGTERM the service we started (by its pid file), then SIGKILL if it lingers."""
    pid = pid_of(cfg, name)
    pid_file = cfg.run_dir / f"{name}.pid"
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"

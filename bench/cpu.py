"""Where the CPU went during a wrk run: per stack component, for wrk itself, and for everything else.

On a small machine every tier shares the same CPUs, so throughput ratios move with whatever else runs;
CPU milliseconds per request by component do not, and they say directly what the gateway costs.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from mbtctl.config import Config
from mbtctl.procs import pid_of

TICK = os.sysconf("SC_CLK_TCK")
COMPONENTS = ("nginx", "PostgREST", "PostgreSQL")


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    components: dict[str, float]  # CPU seconds so far, by component (process trees)
    wrk: float  # CPU seconds of our waited-for children: the wrk runs
    machine_busy: float  # CPU seconds the whole machine was not idle


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on; comm may contain spaces


def tree_cpu(root: int | None) -> float:
    """CPU seconds (user + system) of root and all its descendants; those that ended (a PostgreSQL backend,
    an autovacuum worker) count through their parent's cutime/cstime once it has reaped them."""
    if root is None:
        return 0.0
    parents, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            parents[int(entry)] = int(fields[1])
            ticks[int(entry)] = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in tree) / TICK


def postmaster_pid(cfg: Config) -> int | None:
    try:
        return int((cfg.pg_data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def machine_busy() -> float:
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, irq, softirq, steal = ticks[0], ticks[1], ticks[2], ticks[5], ticks[6], ticks[7]
    return (user + nice + system + irq + softirq + steal) / TICK  # not idle, not iowait


def sample(cfg: Config) -> Sample:
    roots = {"nginx": pid_of(cfg, "gateway"), "PostgREST": pid_of(cfg, "postgrest"), "PostgreSQL": postmaster_pid(cfg)}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Sample(at=time.monotonic(), components={name: tree_cpu(pid) for name, pid in roots.items()},
                  wrk=children.ru_utime + children.ru_stime, machine_busy=machine_busy())


@dataclass(frozen=True)
class Usage:
    """CPU used between two samples, in cores (CPU seconds per wall second)."""

    components: dict[str, float]
    wrk: float
    other: float  # everything else on the machine: other people's work, the kernel's

    @classmethod
    def between(cls, before: Sample, after: Sample) -> Usage:
        wall = after.at - before.at
        components = {name: (after.components[name] - before.components[name]) / wall for name in COMPONENTS}
        wrk = (after.wrk - before.wrk) / wall
        busy = (after.machine_busy - before.machine_busy) / wall
        return cls(components, wrk, max(busy - sum(components.values()) - wrk, 0.0))

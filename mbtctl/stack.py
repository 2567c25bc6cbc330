"""The whole stack: cluster, database (migrated and deployed) and services."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cluster, migrate, services
from .config import Config


@dataclass
class Started:
    """What one `up` started, so that it stops that and nothing else."""

    cluster: bool = False
    applied: list[migrate.Migration] = field(default_factory=list)


def up(cfg: Config) -> Started:
    cluster.init(cfg)
    started = Started(cluster=cluster.start(cfg))
    try:
        started.applied = migrate.upgrade(cfg)
        services.start(cfg)
    except Exception:
        down(cfg, started)
        raise
    return started


def down(cfg: Config, started: Started | None = None) -> list[str]:
    """Stop the services and the cluster; with `started`, the cluster only if that `up` started it."""
    stopped = services.stop_all(cfg)
    if (started is None or started.cluster) and cluster.stop(cfg):
        stopped.append("postgresql")
    return stopped

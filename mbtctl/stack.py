"""The whole stack: cluster, database (migrated and deployed) and services."""

from __future__ import annotations

from . import cluster, migrate, services
from .config import Config


def up(cfg: Config) -> list[migrate.Migration]:
    cluster.init(cfg)
    cluster.start(cfg)
    applied = migrate.upgrade(cfg)
    services.start(cfg)
    return applied


def down(cfg: Config) -> list[str]:
    stopped = services.stop_all(cfg)
    if cluster.stop(cfg):
        stopped.append("postgresql")
    return stopped

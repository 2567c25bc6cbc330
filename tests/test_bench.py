"""`make bench` measures its headline figures on a durable cluster (fsync, synchronous_commit and
full_page_writes on, as `make run`'s) with the unsafe figures beside them, and judges the targets on the
durable column. The clusters here are the bench's own configurations, started in the suite's directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import psycopg
import pytest

from bench.__main__ import BenchError, bench_config, cluster_settings
from bench.figures import DURABLE, UNSAFE, Figure, headline_table
from mbtctl import cluster
from mbtctl.config import Config


@pytest.fixture(scope="module")
def bench_clusters(cfg: Config) -> Iterator[dict[str, Config]]:
    """The bench's durable and unsafe clusters (no services: the settings are the cluster's)."""
    clusters = {d: bench_config(d).with_(data_dir=cfg.data_dir / f"bench-{d}") for d in (DURABLE, UNSAFE)}
    try:
        for c in clusters.values():
            cluster.init(c)
            cluster.start(c)
            with psycopg.connect(c.dsn(dbname="postgres"), autocommit=True) as conn:
                conn.execute(f"create database {c.db_name}")
        yield clusters
    finally:
        for c in clusters.values():
            cluster.stop(c)
            shutil.rmtree(c.data_dir, ignore_errors=True)


def test_the_bench_durable_cluster_has_fsync_synchronous_commit_and_full_page_writes_on(bench_clusters):
    settings = cluster_settings(bench_clusters[DURABLE], DURABLE)
    assert (settings["fsync"], settings["synchronous_commit"], settings["full_page_writes"]) == ("on", "on", "on")


def test_the_bench_unsafe_cluster_has_all_three_off(bench_clusters):
    settings = cluster_settings(bench_clusters[UNSAFE], UNSAFE)
    assert (settings["fsync"], settings["synchronous_commit"], settings["full_page_writes"]) == ("off", "off", "off")


def test_a_durable_run_on_a_cluster_with_fsync_off_is_refused(bench_clusters):
    with pytest.raises(BenchError, match="fsync = off"):
        cluster_settings(bench_clusters[UNSAFE], DURABLE)


def test_the_headline_table_judges_each_target_on_the_durable_column():
    runs = {
        DURABLE: [Figure("orders/s", "700", "≥ 800", False), Figure("p50", "30 ms")],
        UNSAFE: [Figure("orders/s", "1,005", "≥ 800", True), Figure("p50", "25 ms")],
    }
    assert headline_table(runs) == [
        "| Figure | durable | unsafe | target | result |",
        "|---|---:|---:|---:|---|",
        "| orders/s | 700 | 1,005 | ≥ 800 | MISS |",
        "| p50 | 30 ms | 25 ms |  |  |",
    ]

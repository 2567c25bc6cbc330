"""The README's commands: `make setup` is idempotent; `make run` brings the whole stack up and
prints the URL, on a durable cluster; `make stop` stops everything it started and nothing else."""

import subprocess
import time

import httpx
import psycopg

from conftest import PASSWORD, own_make_run, unique_email
from mbtctl.config import PROJECT_ROOT


def test_setup_run_again_installs_nothing_within_15_seconds():
    started = time.monotonic()
    out = subprocess.run(["scripts/setup.sh"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "setup: ok"
    assert time.monotonic() - started < 15  # the bound for a second run


def test_run_serves_the_stack_and_stop_ends_everything_it_started(cfg):
    with own_make_run(cfg, "make-run") as run:
        with httpx.Client(base_url=run.url) as client:
            r = client.post("/api/sessions/signup", json={"email": unique_email(), "password": PASSWORD})
            assert r.status_code == 201
            token = r.json()["access_token"]
            account = client.get("/api/account", headers={"Authorization": f"Bearer {token}"}).json()
            assert account["cash"] == "100000.00"

        # make run's cluster is durable: a commit acknowledged is a commit kept, whatever crashes; its WAL settings
        # keep that cheaper: full-page images compressed, a checkpoint every 15 min or ~2 GB of WAL
        with psycopg.connect(run.dsn) as conn:
            settings = {name: conn.execute(f"show {name}").fetchone()[0] for name in (
                "fsync", "synchronous_commit", "full_page_writes", "wal_compression", "max_wal_size",
                "checkpoint_timeout")}
        assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
                            "wal_compression": "lz4", "max_wal_size": "4GB", "checkpoint_timeout": "15min"}

        stop = run.stop()
        assert stop.returncode == 0, stop.stderr
        assert "gateway, sessions, postgrest, postgresql" in stop.stdout
        run.process.wait(timeout=30)
        assert not list((run.data_dir / "run").glob("*.pid"))
        # the test suite's own stack, started by someone else, is untouched
        assert httpx.get(f"{cfg.base_url}/api/sessions/health").status_code == 200

"""Crash safety (issue 17, part 6): PostgREST, the sessions service and nginx killed with SIGKILL under load,
restarted by `make run`'s supervisor; its back-off; and `make stop`, which the supervisor never undoes. On
the crash tests' own stacks (tests/crash.py)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from crash import (
    Load,
    assert_clean_outage,
    assert_each_order_once,
    assert_invariants_clean,
    assert_replay_reproduces_fills,
    fill_resting_orders,
    prepare_symbols,
    sign_up,
)

from mbtctl import supervise


def test_a_service_that_keeps_crashing_waits_1_2_4_up_to_30_s_and_a_minute_up_starts_it_over():
    backoff = supervise.Backoff()
    waits = [backoff.delay(uptime=5) for _ in range(7)]
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(uptime=59) == 30  # still crashing within a minute
    assert backoff.delay(uptime=60) == 1  # a minute up: a new first crash


@pytest.mark.parametrize("service", ["postgrest", "sessions", "gateway"])
def test_a_service_killed_under_load_is_restarted_within_seconds_and_clients_see_503_then_recovery(
        make_run, service):
    # 8 users submit resting $10.00 limit buys (PostgREST) and list their sessions (the sessions service)
    # through the gateway; the service is killed mid-flow (nginx: its master and workers)
    symbols = ["CV" + uuid.uuid4().hex[:6].upper() for _ in range(4)]
    with make_run.db() as conn:
        prepare_symbols(conn, symbols)
    with httpx.Client(base_url=make_run.cfg.base_url, timeout=10) as api:
        users = [sign_up(api) for _ in range(8)]
    restarts = make_run.restarts(service)
    with Load(make_run, users, symbols, with_sessions=True) as load:
        load.wait_answers(50)
        pid = make_run.kill(service, whole_group=service == "gateway")
        killed = time.monotonic()
        back = make_run.wait_restarted(service, restarts + 1)
        load.wait_successes_after(back, 50)
    assert not load.errors
    assert back - killed < 15  # about 2 s on an idle machine

    failures = assert_clean_outage(load.answers, connection_errors=service == "gateway")
    assert failures, "no client saw the outage"
    assert f"{service} died (pid {pid}, killed by SIGKILL); restart in 1 s" in make_run.supervisor_log()
    with make_run.db() as conn:
        assert_each_order_once(conn, load.clients)
        assert fill_resting_orders(conn, symbols) == sum(len(c.acknowledged) + len(c.found_after_error)
                                                         for c in load.clients)
        assert_replay_reproduces_fills(conn, [u.account_id for u in users])
        assert_invariants_clean(conn)


def test_killed_again_within_seconds_a_service_waits_twice_as_long(make_run):
    restarts = make_run.restarts("trade_updates")
    make_run.kill("trade_updates")
    make_run.wait_restarted("trade_updates", restarts + 1)
    pid = make_run.kill("trade_updates")  # up for less than the 3 s that start the back-off over (crash.py)
    killed = time.monotonic()
    back = make_run.wait_restarted("trade_updates", restarts + 2)
    assert f"trade_updates died (pid {pid}, killed by SIGKILL); restart in 2 s (crash 2 in a row)" in \
        make_run.supervisor_log()
    assert back - killed >= 2


def test_make_stop_stops_everything_and_nothing_is_restarted_even_during_a_pending_restart(make_run):
    # the crash tests' stack ends here (a test after this one would get a new one)
    logged = len(make_run.supervisor_log())
    make_run.kill("postgrest")  # the supervisor restarts it 1 s after it notices ...
    stop = make_run.mbtctl("stop")  # ... but make stop comes first
    assert stop.returncode == 0, stop.stderr
    stopped = stop.stdout.strip().removeprefix("stopped: ").split(", ")
    # postgrest too, when the supervisor had not collected its end yet
    assert set(stopped) - {"postgrest"} == {"scheduler", "trade_updates", "ingest", "marketsim", "gateway", "sessions",
                                            "postgresql"}, stop.stdout
    make_run.proc.wait(timeout=30)
    time.sleep(1.5)  # longer than the restart's wait
    assert not any(make_run.running().values()), make_run.running()
    assert not list(make_run.cfg.run_dir.glob("*.pid"))
    assert "supervisor: not running" in make_run.mbtctl("status").stdout
    assert "restarted" not in make_run.supervisor_log()[logged:]

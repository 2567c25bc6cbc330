"""Crash safety (issue 17, part 6): PostgreSQL killed with SIGKILL under `make run`, which restarts it
(crash recovery on a durable cluster). Each test runs on the crash tests' own stack (tests/crash.py), never
on the suite's shared one, and ends with every service running again, every acknowledged order there
once, mbt.replay_fills reproducing every fill and mbt.check_invariants empty."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import psycopg
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
    wait_until,
)

from conftest import sign_up_in_db
from engine import et, insert_quotes, submit

T0 = et("2026-11-24 10:00:00")  # a Tuesday in session; the batch's quotes and the orders carry their own times


def symbol() -> str:
    return "CR" + uuid.uuid4().hex[:6].upper()


def batch_waiting_for_a_lock(conn: psycopg.Connection) -> bool:
    return conn.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                        "and query like 'insert into md.quotes%%'").fetchone()[0] == 1


@pytest.mark.parametrize("kill", ["postmaster", "postmaster and backends"])
def test_a_quote_batch_cut_by_a_crash_leaves_nothing_and_sent_again_fills_each_order_once(make_run, kill):
    # 30 accounts each rest a $20.00 limit buy of 10 CR... shares; a batch asking $19.99 fills them all.
    # The batch is mid-statement (its fills wait for one account's row) when PostgreSQL is killed: the
    # postmaster alone (its backends end when they notice), or with every backend at once (a power cut).
    sym = symbol()
    with make_run.db() as conn:
        conn.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ')", [sym])
        insert_quotes(conn, (sym, "24.99", "25.01", T0))
        accounts = [sign_up_in_db(conn)["account_id"] for _ in range(30)]
        for account in accounts:
            submit(conn, account, T0 + timedelta(seconds=1), symbol=sym, qty=10, side="buy", type="limit",
                   limit_price="20.00", time_in_force="gtc")
    batch = (sym, "19.98", "19.99", T0 + timedelta(seconds=2), 100_000, 100_000)

    blocker = make_run.db()
    blocker.execute("begin")
    blocker.execute("select from mbt.accounts where account_id = %s for update", [accounts[-1]])
    outcome: dict[str, BaseException | None] = {}

    def send_batch() -> None:
        try:
            with make_run.db() as conn:
                insert_quotes(conn, batch)
            outcome["error"] = None
        except psycopg.OperationalError as exc:
            outcome["error"] = exc

    sender = threading.Thread(target=send_batch)
    sender.start()
    with make_run.db() as watcher:
        wait_until(lambda: batch_waiting_for_a_lock(watcher), what="the batch to be mid-statement")
    restarts = make_run.restarts("postgresql")
    make_run.kill("postgresql", whole_group=kill != "postmaster")
    sender.join(timeout=20)
    blocker.close()
    assert outcome["error"] is not None  # the batch's statement never finished
    make_run.wait_restarted("postgresql", restarts + 1)

    with make_run.db() as conn:
        # nothing of the batch: not one of its quotes, no fill; the orders rest as they did, cash untouched
        assert conn.execute("select count(*) from md.quotes where symbol = %s", [sym]).fetchone()[0] == 1
        assert conn.execute("select count(*) from mbt.fills where account_id = any(%s)", [accounts]).fetchone()[0] == 0
        assert conn.execute("select array_agg(distinct status::text), sum(filled_qty) from mbt.orders "
                            "where account_id = any(%s)", [accounts]).fetchone() == (["new"], 0)
        assert conn.execute("select array_agg(distinct cash) from mbt.accounts where account_id = any(%s)",
                            [accounts]).fetchone()[0] == [Decimal("100000.00")]

        # sent again, as the ingestor sends a batch whose COPY failed: each order fills once, at $19.99
        insert_quotes(conn, batch)
        fills = conn.execute("select account_id, qty, price from mbt.fills where account_id = any(%s)",
                             [accounts]).fetchall()
        assert sorted(f[0] for f in fills) == sorted(accounts)
        assert {(f[1], f[2]) for f in fills} == {(10, Decimal("19.99"))}
        assert conn.execute("select array_agg(distinct cash), array_agg(distinct qty) from mbt.accounts "
                            "join mbt.positions using (account_id) where account_id = any(%s)",
                            [accounts]).fetchone() == ([Decimal("99800.10")], [10])
        assert_replay_reproduces_fills(conn, accounts)
        assert_invariants_clean(conn)


def test_32_clients_submitting_through_a_postmaster_kill_see_503_then_every_acknowledged_order_is_there_once(
        make_run):
    # 32 users submit resting $10.00 limit buys through the gateway, each from its own connection; the
    # postmaster is killed mid-flow. A client whose answer is lost (503) looks its order up by
    # client_order_id before sending it again, as a careful client does.
    symbols = [symbol() for _ in range(8)]
    with make_run.db() as conn:
        prepare_symbols(conn, symbols)
    with httpx.Client(base_url=make_run.cfg.base_url, timeout=10) as api:
        users = [sign_up(api) for _ in range(32)]
    restarts = make_run.restarts("postgresql")
    with Load(make_run, users, symbols) as load:
        load.wait_answers(200)
        killed = time.monotonic()
        make_run.kill("postgresql")
        back = make_run.wait_restarted("postgresql", restarts + 1)
        load.wait_successes_after(back, 200)
    assert not load.errors

    failures = assert_clean_outage(load.answers, database_killed_at=killed)
    assert len([a for a in failures if a.code == "MBS01"]) > len(failures) / 2, "no client saw the outage"
    outage = max(a.at for a in failures) - killed
    assert outage < 15, f"503s for {outage:.1f} s"  # about 2 s on an idle machine

    with make_run.db() as conn:
        assert_each_order_once(conn, load.clients)
        orders = sum(len(c.acknowledged) + len(c.found_after_error) for c in load.clients)
        assert fill_resting_orders(conn, symbols) == orders  # afterwards each fills, once
        assert_replay_reproduces_fills(conn, [u.account_id for u in users])
        assert_invariants_clean(conn)


def test_after_a_kill_9_of_the_postmaster_requests_succeed_again_within_seconds(make_run):
    # before supervision, every request answered 503 until a person restarted the stack
    with httpx.Client(base_url=make_run.cfg.base_url, timeout=10) as api:
        user = sign_up(api)
        restarts = make_run.restarts("postgresql")
        pid = make_run.kill("postgresql")
        killed = time.monotonic()
        answers = []
        while True:
            r = api.get("/api/account", headers=user.auth)
            answers.append((r.status_code, r.text))
            if r.status_code == 200:
                break
            assert r.status_code == 503 and r.json()["code"] == "MBS01", r.text
            assert time.monotonic() - killed < 30, answers[-1]
            time.sleep(0.1)
        recovered = time.monotonic() - killed
        assert api.post("/api/sessions/signup", json={"email": f"back-{uuid.uuid4().hex[:8]}@example.com",
                                                       "password": "correct horse battery"}).status_code == 201
    assert recovered < 10, f"{recovered:.1f} s"
    make_run.wait_restarted("postgresql", restarts + 1)
    log = make_run.supervisor_log()
    assert f"postgresql died (pid {pid}, killed by SIGKILL)" in log
    assert f"restarts: {restarts + 1}" in log
    status = make_run.mbtctl("status").stdout
    assert f"restarts {restarts + 1}; last exit: killed by SIGKILL" in status, status

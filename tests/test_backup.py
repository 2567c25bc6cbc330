"""Backups with pgBackRest (mbtctl/backup.py, docs/dba.md): a cluster of its own that archives its WAL, a full
backup, then an incremental one taken while four clients submit orders and quotes fill them; restored into a
fresh cluster (its own data directory and port) it is the source to the row, and its ledger is clean. A
point-in-time restore to an instant between two commits sees the first and not the second."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from conftest import free_port, invariant_violations, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit
from mbtctl import backup, cluster, migrate
from mbtctl.config import Config
from mbtctl.procs import give_to_run_user

CLIENTS = 4
START = et("2026-11-24 10:00")


def state(conn: psycopg.Connection) -> dict:
    """Every account's balances, positions and order counts, as a restore must reproduce them."""
    return {
        "balances": conn.execute("select a.account_id, a.cash, b.held, b.buying_power, b.equity "
                                 "from mbt.accounts as a join mbt.account_balances as b using (account_id) "
                                 "order by 1").fetchall(),
        "positions": conn.execute("select account_id, symbol, qty, avg_entry_price, realized_pl from mbt.positions "
                                  "order by 1, 2").fetchall(),
        "orders": conn.execute("select account_id, status, count(*) from mbt.orders group by 1, 2 "
                               "order by 1, 2").fetchall(),
        "fills": conn.execute("select account_id, count(*), sum(qty) from mbt.fills group by 1 order by 1").fetchall(),
    }


def trader(cfg: Config, account_id, symbol: str, stop: threading.Event, errors: list) -> None:
    """One client: a quote a second (from 10:00 on 2026-11-24), a market buy of 1 on it, every third
    second a resting limit buy, every fifth a cancel of the oldest resting one."""
    try:
        with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
            resting, k = [], 0
            while not stop.is_set():
                at = START + timedelta(seconds=k)
                price = Decimal("100.00") + Decimal(k % 17) / 10
                insert_quotes(conn, (symbol, price - Decimal("0.05"), price, at, 500, 500))
                submit(conn, account_id, at + timedelta(seconds=0.5), symbol=symbol, qty=1, side="buy",
                       type="market", time_in_force="day")
                if k % 3 == 0:
                    resting.append(submit(conn, account_id, at + timedelta(seconds=0.6), symbol=symbol, qty=2,
                                          side="buy", type="limit", limit_price="50.00", time_in_force="gtc")["id"])
                if k % 5 == 4 and resting:
                    conn.execute("select mbt.cancel_order(%s, %s, %s)",
                                 [account_id, resting.pop(0), at + timedelta(seconds=0.7)])
                k += 1
    except Exception as exc:  # reported by the test
        errors.append(exc)


def fresh_target(base: Config, name: str) -> Config:
    """A cluster of its own (data directory, port) that restores from base's repository and archives nothing."""
    target = Config(data_dir=base.data_dir.parent / name, pg_port=free_port(), backup_dir=base.backup_repo)
    give_to_run_user(target, target.data_dir)
    return target


@pytest.fixture(scope="module")
def source(cfg) -> Iterator[dict]:
    """A cluster that archives its WAL, migrated; a full backup; four clients trading while an incremental
    backup runs; then the state they left, all of it archived."""
    src = Config(data_dir=cfg.data_dir / "backup-source", pg_port=free_port(), wal_archiving=True,
                 fast_unsafe_cluster=True)
    targets: list[Config] = []
    cluster.init(src)
    cluster.start(src)
    try:
        migrate.upgrade(src)
        with psycopg.connect(src.dsn(), autocommit=True) as conn:
            symbols = [f"ZBK{i}" for i in range(CLIENTS)]
            for symbol in symbols:
                add_asset(conn, symbol)
            accounts = [sign_up_in_db(conn)["account_id"] for _ in symbols]
            conn.execute("select md.ensure_quote_partitions(%s, %s)", [START.date(), START.date()])  # not in a race
        full = backup.backup(src, "full")
        stop, errors = threading.Event(), []
        clients = [threading.Thread(target=trader, args=(src, a, s, stop, errors)) for a, s in zip(accounts, symbols,
                                                                                                       strict=True)]
        for c in clients:
            c.start()
        time.sleep(1)  # the clients are trading when the backup starts
        with psycopg.connect(src.dsn()) as conn:
            orders_at_start = conn.execute("select count(*) from mbt.orders").fetchone()[0]
        incr = backup.backup(src, "incr")
        with psycopg.connect(src.dsn()) as conn:
            orders_at_end = conn.execute("select count(*) from mbt.orders").fetchone()[0]
        time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join()
        assert errors == []
        backup.archive_now(src)
        with psycopg.connect(src.dsn()) as conn:
            final = state(conn)
        yield {"cfg": src, "targets": targets, "full": full, "incr": incr, "state": final,
               "orders during the backup": orders_at_end - orders_at_start, "accounts": accounts}
    finally:
        for target in targets:
            cluster.stop(target)
            shutil.rmtree(target.data_dir, ignore_errors=True)
        cluster.stop(src)
        shutil.rmtree(src.data_dir, ignore_errors=True)


def test_a_full_then_an_incremental_backup_taken_while_clients_trade(source):
    assert "full backup: " in source["full"] and "incr backup: " in source["incr"]
    assert source["orders during the backup"] > 0


def test_restored_into_a_fresh_cluster_it_is_the_source_to_the_row_and_its_ledger_is_clean(source):
    target = fresh_target(source["cfg"], "backup-restored")
    source["targets"].append(target)
    report = backup.restore(target)
    assert "restore backup set" in report and "I" in report.split("restore backup set")[1].split()[0]  # the incr
    with psycopg.connect(target.dsn()) as conn:
        restored = state(conn)
        assert invariant_violations(conn) == []
        assert conn.execute("select pg_is_in_recovery(), current_setting('archive_mode')").fetchone() == (False, "off")
    assert restored == source["state"]
    assert sum(n for _, n, _ in restored["fills"]) > 20 and len(restored["balances"]) == CLIENTS


def test_a_point_in_time_restore_sees_the_first_of_two_writes_but_not_the_second(source):
    src, account = source["cfg"], source["accounts"][0]
    order = {"symbol": "ZBK0", "qty": 1, "side": "buy", "type": "limit", "limit_price": "10.00", "time_in_force": "gtc"}
    with psycopg.connect(src.dsn(), autocommit=True) as conn:
        conn.execute("select mbt.submit_order(%s, %s::jsonb, %s)",
                     [account, json.dumps({**order, "client_order_id": "pitr-first"}), START + timedelta(days=1)])
        between = conn.execute("select clock_timestamp()").fetchone()[0]
        conn.execute("select mbt.submit_order(%s, %s::jsonb, %s)",
                     [account, json.dumps({**order, "client_order_id": "pitr-second"}), START + timedelta(days=1)])
    backup.archive_now(src)
    target = fresh_target(src, "backup-pitr")
    source["targets"].append(target)
    backup.restore(target, target_time=between.isoformat())
    with psycopg.connect(target.dsn()) as conn:
        found = conn.execute("select client_order_id from mbt.orders where client_order_id like 'pitr-%' "
                             "order by 1").fetchall()
        assert invariant_violations(conn) == []
    assert found == [("pitr-first",)]

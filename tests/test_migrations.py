"""Migrations for DBAs: forward-only, one transaction each, checksummed; and the declarative
sql/schema never drifts from what the migrations build."""

import shutil
import subprocess
import sys
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

from mbtctl import migrate
from mbtctl.config import PROJECT_ROOT


@pytest.fixture
def scratch_db(cfg):
    """Empty databases of their own (pytest-postgresql's janitor creates and drops them)."""
    janitors = []

    def create() -> str:
        janitor = DatabaseJanitor(user="postgres", host=str(cfg.run_dir), port=cfg.pg_port,
                                  dbname=f"scratch_{uuid.uuid4().hex[:10]}")
        janitor.init()
        janitors.append(janitor)
        with psycopg.connect(cfg.dsn(dbname="postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("grant create on database {} to dba").format(sql.Identifier(janitor.dbname)))
        return janitor.dbname

    yield create
    for janitor in janitors:
        janitor.drop()


def schema_dump(cfg, dbname: str) -> str:
    out = subprocess.run(
        ["/usr/lib/postgresql/15/bin/pg_dump", "--schema-only", "--no-owner", "--exclude-schema=ops",
         "-h", str(cfg.run_dir), "-p", str(cfg.pg_port), "-U", "postgres", dbname],
        check=True, capture_output=True, text=True,
    ).stdout
    # comments and the random \\restrict keys of pg_dump >= 15.14 differ from one dump to the next
    return "\n".join(line for line in out.splitlines() if not line.startswith(("--", "\\restrict", "\\unrestrict")))


def test_migrations_build_exactly_the_schema_that_sql_schema_declares(cfg, scratch_db):
    from_migrations, from_schema = scratch_db(), scratch_db()
    with psycopg.connect(cfg.dsn(dbname=from_migrations)) as conn:
        migrate.install_pgmq(conn)
        migrate.migrate(conn)
        migrate.deploy(conn)
    with psycopg.connect(cfg.dsn(dbname=from_schema)) as conn:
        migrate.install_pgmq(conn)
        migrate.build_from_schema(conn)
        migrate.deploy(conn)
    a, b = schema_dump(cfg, from_migrations), schema_dump(cfg, from_schema)
    assert "create table auth.users" in a.lower()
    assert a == b


@pytest.fixture
def migrations_dir(tmp_path):
    target = tmp_path / "migrations"
    shutil.copytree(PROJECT_ROOT / "sql" / "migrations", target)
    return target


def test_pending_migrations_apply_once_each_with_their_checksum(cfg, scratch_db, migrations_dir):
    (migrations_dir / "9001_add_note.sql").write_text("create table mbt.test_note (id int primary key);\n")
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        applied = migrate.migrate(conn, migrate.discover(migrations_dir))
        assert [m.version for m in applied] == [m.version for m in migrate.discover()] + [9001]
        assert migrate.migrate(conn, migrate.discover(migrations_dir)) == []
        rows = conn.execute("select version, checksum from ops.schema_migrations order by version").fetchall()
    assert rows[-1] == (9001, migrate.discover(migrations_dir)[-1].checksum)


def test_a_changed_applied_migration_is_refused_naming_the_file(cfg, scratch_db, migrations_dir):
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        migrate.migrate(conn, migrate.discover(migrations_dir))
        first = migrations_dir / "0001_foundation.sql"
        first.write_text(first.read_text() + "\n-- an edit after the fact\n")
        with pytest.raises(migrate.MigrationError, match=r"0001_foundation\.sql was changed after it was applied"):
            migrate.migrate(conn, migrate.discover(migrations_dir))


def test_a_failing_migration_rolls_back_whole_and_is_not_recorded(cfg, scratch_db, migrations_dir):
    (migrations_dir / "9002_half_done.sql").write_text(
        "create table mbt.half_done (id int primary key);\nselect 1 / 0;\n")
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        with pytest.raises(migrate.MigrationError, match=r"9002_half_done\.sql failed and was rolled back"):
            migrate.migrate(conn, migrate.discover(migrations_dir))
        assert conn.execute("select to_regclass('mbt.half_done')").fetchone()[0] is None
        versions = [v for (v,) in conn.execute("select version from ops.schema_migrations")]
    assert sorted(versions) == [m.version for m in migrate.discover()]


def test_badly_named_migration_files_are_refused(tmp_path):
    (tmp_path / "2_oops.sql").write_text("select 1;")
    with pytest.raises(migrate.MigrationError, match=r"NNNN_slug\.sql"):
        migrate.discover(tmp_path)


def test_deploy_is_repeatable_and_asks_postgrest_to_reload(cfg):
    with psycopg.connect(cfg.dsn(), autocommit=True) as listener, psycopg.connect(cfg.dsn()) as conn:
        listener.execute("listen pgrst")
        migrate.deploy(conn)
        migrate.deploy(conn)
        notices = [n.payload for n in listener.notifies(timeout=2, stop_after=2)]
    assert notices == ["reload schema", "reload schema"]


def test_migrate_status_lists_applied_and_pending(cfg):
    env = {"MBT_DATA_DIR": str(cfg.data_dir), "MBT_PG_PORT": str(cfg.pg_port), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "mbtctl", "migrate-status"], env=env, cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "0001_foundation" in out.stdout and "applied" in out.stdout


@pytest.mark.parametrize("statement", ["begin;", "COMMIT;", "rollback;", "set role postgres;", "end;"])
def test_a_migration_with_its_own_transaction_control_is_refused(cfg, scratch_db, migrations_dir, statement):
    (migrations_dir / "9003_sneaky.sql").write_text(f"create table mbt.sneaky (id int);\n{statement}\n")
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        with pytest.raises(migrate.MigrationError, match=r"9003_sneaky\.sql: .* is not allowed in a migration"):
            migrate.migrate(conn, migrate.discover(migrations_dir))
        assert conn.execute("select to_regclass('mbt.sneaky')").fetchone()[0] is None


def test_plpgsql_blocks_in_a_migration_are_not_mistaken_for_transaction_control(cfg, scratch_db, migrations_dir):
    (migrations_dir / "9004_block.sql").write_text("do $$\nbegin\n    perform 1;\nend\n$$;\n")
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        assert migrate.migrate(conn, migrate.discover(migrations_dir))[-1].version == 9004


def test_deploy_refuses_to_cascade_into_a_view_it_does_not_own(cfg, scratch_db):
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        migrate.install_pgmq(conn)
        migrate.migrate(conn)
        migrate.deploy(conn)
        conn.execute("create view ops.dba_report as select count(*) from mbt.account_balances")
        conn.commit()
        with pytest.raises(migrate.MigrationError, match=r"ops\.dba_report depends on them"):
            migrate.deploy(conn)
        assert conn.execute("select to_regclass('ops.dba_report')").fetchone()[0] is not None


def test_migrate_status_only_reads(cfg, scratch_db):
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        states = migrate.status(conn)
        assert all(s.applied_at is None for s in states)
        assert conn.execute("select to_regnamespace('ops')").fetchone()[0] is None


def test_0024_carries_the_cash_that_earlier_purges_removed(cfg, scratch_db):
    """An account purged before 0024: its opening deposit and first trades are gone. Kept: a deposit of
    1,000.00 and a sell of 5 at 60.00 (+300.00); cash 100,800.00. What the purged rows moved is what the kept
    ones do not explain: 100,800.00 - 1,000.00 - 300.00 = 99,500.00, carried so the ledger still adds up."""
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        migrate.migrate(conn, [m for m in migrate.discover() if m.version < 24])
        conn.execute("""
            with u as (
                insert into auth.users (email, password_hash) values ('purged@example.com', 'x') returning user_id
            ), a as (
                insert into mbt.accounts (user_id, cash) select user_id, 100800.00 from u returning account_id
            ), d as (
                insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount)
                select account_id, 'CSD', '2026-11-02 15:00+00', 1000.00 from a
            ), o as (
                insert into mbt.orders (account_id, client_order_id, symbol, asset_id, asset_class, side, order_type,
                    time_in_force, position_intent, qty, status, filled_qty, created_at, updated_at, submitted_at)
                select account_id, 'kept', 'ZMIG', gen_random_uuid(), 'us_equity', 'sell', 'market', 'day',
                    'sell_to_close', 5, 'filled', 5, '2026-11-02 15:00+00', '2026-11-02 15:00+00', '2026-11-02 15:00+00'
                from a returning account_id, order_id
            ), f as (
                insert into mbt.fills (account_id, order_id, symbol, side, qty, price, rule, engine_version, quote_id,
                    quote_bid_price, quote_ask_price, quote_bid_size, quote_ask_size, quote_bid_exchange,
                    quote_ask_exchange, quote_time, cum_qty, leaves_qty, position_qty, transaction_time)
                select account_id, order_id, 'ZMIG', 'sell', 5, 60.00, 'market_at_bid', 'test', 1, 60.00, 60.10, 100,
                    100, 'Q', 'Q', '2026-11-02 15:00+00', 5, 0, 5, '2026-11-02 15:00+00'
                from o
            )
            insert into mbt.retention_carry (account_id, purged_before, net_deposits, updated_at)
            select account_id, '2026-08-03', 100000.00, '2026-11-02 01:45+00' from a
        """)
        conn.commit()
        migrate.migrate(conn)
        assert conn.execute("select cash from mbt.retention_carry").fetchone()[0] == Decimal("99500.00")


def test_0022_leaves_each_client_order_id_to_the_newest_order_that_had_it(cfg, scratch_db, migrations_dir):
    # before 0022 a replaced entry passed its client_order_id on, and a retried request made a second order
    # once the first had filled: the newest keeps the id, the older ones take '<id>~<their order id>'
    for later in migrations_dir.glob("*.sql"):
        if int(later.name[:4]) >= 22:
            later.unlink()
    db = scratch_db()
    with psycopg.connect(cfg.dsn(dbname=db)) as conn:
        migrate.migrate(conn, migrate.discover(migrations_dir))
        [(account,)] = conn.execute(
            "with u as (insert into auth.users (email, password_hash) values ('old@example.com', 'x') "
            "returning user_id) insert into mbt.accounts (user_id, cash) select user_id, 0 from u "
            "returning account_id").fetchall()
        orders = {}
        for name, client_order_id, minute in [("first", "mine", 0), ("replacing", "mine", 1), ("other", "x" * 128, 2),
                                              ("retried", "x" * 128, 3)]:
            orders[name] = conn.execute(
                "insert into mbt.orders (account_id, client_order_id, symbol, asset_id, asset_class, side, order_type, "
                "time_in_force, position_intent, qty, status, created_at, updated_at, submitted_at) values (%s, %s, "
                "'ZOLD', gen_random_uuid(), 'us_equity', 'buy', 'market', 'day', 'buy_to_open', 1, 'filled', "
                "'2026-11-24 15:00Z'::timestamptz + %s * interval '1 minute', now(), now()) returning order_id",
                [account, client_order_id, minute]).fetchone()[0]
        conn.commit()
        migrate.migrate(conn)
        got = dict(conn.execute("select order_id, client_order_id from mbt.orders").fetchall())
    assert got[orders["replacing"]] == "mine" and got[orders["retried"]] == "x" * 128
    assert got[orders["first"]] == f"mine~{orders['first']}"
    assert got[orders["other"]] == "x" * 91 + f"~{orders['other']}"

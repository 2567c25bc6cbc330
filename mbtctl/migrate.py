"""Migrations and deploys.

- sql/roles.sql: cluster-wide roles, idempotent, applied first.
- sql/migrations/NNNN_slug.sql: forward-only steps, each in one transaction, recorded in
  ops.schema_migrations with the SHA-256 of the file; an applied file that changed is refused.
- sql/functions/ and sql/policies/: stateless, re-applied whole on every deploy (one transaction),
  ending with NOTIFY pgrst, 'reload schema'.
- sql/schema/: the declarative truth; a test builds a database from it and compares it with one
  built from the migrations.
Everything stateful is created as the dba role, so dba owns it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg
from pgmq.install import get_embedded_install_sql, get_embedded_sql_version
from psycopg import sql

from . import market_calendar
from .config import PROJECT_ROOT, Config

SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 7_316_020  # advisory lock: one migrator or deployer at a time


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class MigrationState:
    migration: Migration | None
    version: int
    name: str
    applied_at: datetime | None
    problem: str | None = None


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_slug.sql (e.g. 0002_orders.sql)")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version:04d} is also {found[version].filename}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def apply_roles(conn: psycopg.Connection) -> None:
    conn.execute((SQL_DIR / "roles.sql").read_text())


def ensure_database(cfg: Config) -> None:
    """Create the database if missing; give dba the right to create schemas in it; apply settings."""
    with psycopg.connect(cfg.dsn(dbname="postgres"), autocommit=True) as conn:
        apply_roles(conn)
        exists = conn.execute("select 1 from pg_database where datname = %s", [cfg.db_name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(cfg.db_name)))
        conn.execute(sql.SQL("grant create, connect, temporary on database {} to dba").format(
            sql.Identifier(cfg.db_name)))
        conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(
            sql.Identifier(cfg.db_name)))
        conn.execute(sql.SQL("grant connect on database {} to authenticator, mbt_sessions, mbt_jobs, analyst")
                     .format(sql.Identifier(cfg.db_name)))
        if cfg.starting_cash is not None:
            _check_starting_cash(cfg.starting_cash)
            conn.execute(sql.SQL("alter database {} set mbt.starting_cash = {}").format(
                sql.Identifier(cfg.db_name), sql.Literal(cfg.starting_cash)))


def _check_starting_cash(value: str) -> None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise MigrationError(f"MBT_STARTING_CASH must be an amount in USD such as 100000.00 (it is {value!r}).")


def _ensure_ledger(conn: psycopg.Connection) -> None:
    conn.execute("""
        create schema if not exists ops authorization dba;
        comment on schema ops is 'Deployment bookkeeping: which migrations are applied.';
        create table if not exists ops.schema_migrations (
            version integer primary key,
            name text not null,
            checksum text not null,
            applied_at timestamptz not null default now(),
            applied_by text not null default session_user
        );
        alter table ops.schema_migrations owner to dba;
        comment on table ops.schema_migrations is 'One row per applied migration file (sql/migrations).';
        comment on column ops.schema_migrations.version is 'The NNNN of NNNN_slug.sql.';
        comment on column ops.schema_migrations.name is 'The slug of the file name.';
        comment on column ops.schema_migrations.checksum is
            'SHA-256 (hex) of the file as applied; a later change is refused.';
        comment on column ops.schema_migrations.applied_at is 'When it was applied.';
        comment on column ops.schema_migrations.applied_by is 'The database user that applied it.';
    """)


def install_pgmq(conn: psycopg.Connection) -> str:
    """pgmq from the pgmq PyPI package's bundled SQL (SQL-only install), once per database."""
    version = get_embedded_sql_version()
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
        if conn.execute("select to_regclass('pgmq.meta')").fetchone()[0] is None:
            conn.execute("set local role dba")
            conn.execute(get_embedded_install_sql())
            conn.execute("reset role")
            conn.execute(f"comment on schema pgmq is 'pgmq {version}, installed from the pgmq package''s SQL'")
    return version


def status(conn: psycopg.Connection | None, migrations: list[Migration] | None = None) -> list[MigrationState]:
    """Each migration file with when it was applied, and any applied file that changed or went
    missing. Reads only (conn None: a database that does not exist yet)."""
    migrations = discover() if migrations is None else migrations
    ledger = conn is not None and conn.execute("select to_regclass('ops.schema_migrations')").fetchone()[0]
    applied = {
        row[0]: row for row in conn.execute("select version, name, checksum, applied_at from ops.schema_migrations")
    } if ledger else {}
    states = []
    for m in migrations:
        row = applied.pop(m.version, None)
        if row is None:
            states.append(MigrationState(m, m.version, m.name, None))
        elif row[2] != m.checksum:
            states.append(MigrationState(m, m.version, m.name, row[3], problem=(
                f"{m.filename} was changed after it was applied on {row[3]:%Y-%m-%d %H:%M} UTC "
                f"(checksum {row[2][:12]} then, {m.checksum[:12]} now). Applied migrations are frozen: "
                "restore the file and put the change in a new migration.")))
        else:
            states.append(MigrationState(m, m.version, m.name, row[3]))
    for version, row in sorted(applied.items()):
        states.append(MigrationState(None, version, row[1], row[3], problem=(
            f"migration {version:04d}_{row[1]}.sql is applied but its file is missing from sql/migrations.")))
    return states


# Statements a migration file must not contain: the runner owns the transaction and the role.
TRANSACTION_CONTROL = re.compile(
    r"^\s*(begin\s*(;|(transaction|work|isolation)\b)|end\s*(;|(transaction|work)\b)"
    r"|(commit|rollback|abort|savepoint|release)\b|start\s+transaction\b|prepare\s+transaction\b"
    r"|set\s+role\b|reset\s+role\b|set\s+session\s+authorization\b)",
    re.IGNORECASE | re.MULTILINE,
)


def _check_file(m: Migration, text: str) -> None:
    # $$-quoted bodies may hold "begin"/"end" of PL/pgSQL blocks: look only outside them
    outside = re.sub(r"\$([A-Za-z_]*)\$.*?\$\1\$", "", text, flags=re.DOTALL)
    found = TRANSACTION_CONTROL.search(outside)
    if found:
        raise MigrationError(
            f"{m.filename}: '{found.group(0).strip()}' is not allowed in a migration: each file runs in one "
            "transaction as the dba role, which the runner opens and closes. Remove it.")


def migrate(conn: psycopg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration, each in its own transaction. Refuses to start if an applied
    migration's file changed or went missing. pgmq, which migrations build on, is installed first."""
    applied_now: list[Migration] = []
    install_pgmq(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
        _ensure_ledger(conn)
        states = status(conn, migrations)
    problems = [s.problem for s in states if s.problem]
    if problems:
        raise MigrationError("\n".join(problems))
    for state in states:
        if state.applied_at is not None or state.migration is None:
            continue
        m = state.migration
        text = m.path.read_text()
        _check_file(m, text)
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
                if conn.execute("select 1 from ops.schema_migrations where version = %s", [m.version]).fetchone():
                    continue  # applied meanwhile by another migrator
                conn.execute("set local role dba")
                conn.execute(text)
                still = conn.execute("select current_user = 'dba'").fetchone()[0]
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS or not still:
                    raise MigrationError(f"{m.filename} left its transaction or its role: it is rolled back.")
                conn.execute(
                    "insert into ops.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                    [m.version, m.name, m.checksum],
                )
        except psycopg.Error as exc:
            raise MigrationError(f"{m.filename} failed and was rolled back: {exc}") from exc
        applied_now.append(m)
    return applied_now


CREATES_VIEW = re.compile(r"^\s*create\s+(or\s+replace\s+)?view\b", re.IGNORECASE | re.MULTILINE)


def _deploy_files() -> list[Path]:
    """Private schemas before api; within each, files of functions before files that create views
    (a view needs the functions it calls); then name order. Policies last."""
    functions = SQL_DIR / "functions"

    def order(path: Path) -> tuple:
        is_api = path.relative_to(functions).parts[0] == "api"
        return (is_api, bool(CREATES_VIEW.search(path.read_text())), str(path))

    return sorted(functions.rglob("*.sql"), key=order) + sorted((SQL_DIR / "policies").rglob("*.sql"))


PRIVATE_SCHEMAS = ("auth", "mbt", "md", "jobs", "analytics")


def _clear_stateless(conn: psycopg.Connection) -> None:
    """Drop the api schema, and every view, policy and function of the private schemas, so that the
    files re-create them as written (a changed signature or return type needs a drop first).
    A function that a stateful object depends on (a trigger, a default) stays, and CREATE OR
    REPLACE updates it in place; changing its signature takes a migration.
    Refuses (before dropping anything) when an object that is not rebuilt here, such as a DBA's
    own view or a materialized view, depends on one that is: a cascade would silently drop it."""
    outsiders = conn.execute("""
        with stateless as (
            select c.oid from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = 'api' or (n.nspname = any(%(private)s) and c.relkind = 'v')
        )
        select distinct dependent.oid::regclass::text
        from pg_depend as d
        join pg_rewrite as r on r.oid = d.objid
        join pg_class as dependent on dependent.oid = r.ev_class
        where d.classid = 'pg_rewrite'::regclass and d.refobjid in (select oid from stateless)
            and dependent.oid not in (select oid from stateless)
    """, {"private": list(PRIVATE_SCHEMAS)}).fetchall()
    if outsiders:
        names = ", ".join(name for (name,) in outsiders)
        raise MigrationError(
            f"deploy rebuilds the api schema and the views of the private schemas, and {names} depends on them: "
            "it would be dropped. Move it into sql/functions (rebuilt on every deploy) or drop it first.")
    conn.execute("drop schema if exists api cascade")
    views = conn.execute(
        "select c.oid::regclass::text from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind = 'v'", [list(PRIVATE_SCHEMAS)]).fetchall()
    for (view,) in views:
        conn.execute(f"drop view if exists {view} cascade")
    policies = conn.execute(
        "select format('drop policy %%I on %%I.%%I', policyname, schemaname, tablename) "
        "from pg_policies where schemaname = any(%s)", [list(PRIVATE_SCHEMAS)]).fetchall()
    for (statement,) in policies:
        conn.execute(statement)
    functions = conn.execute(
        "select p.oid::regprocedure::text from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace "
        "where n.nspname = any(%s) and p.prokind in ('f', 'p') "
        "and not exists (select from pg_depend as d where d.objid = p.oid and d.deptype = 'e')",
        [list(PRIVATE_SCHEMAS)]).fetchall()
    for (signature,) in functions:
        try:
            with conn.transaction():
                conn.execute(f"drop function {signature}")
        except psycopg.errors.DependentObjectsStillExist:
            pass


def deploy(conn: psycopg.Connection) -> int:
    """Re-apply sql/functions (private schemas first, then api) and sql/policies in one transaction."""
    files = _deploy_files()
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
        conn.execute("set local role dba")
        conn.execute("set local check_function_bodies = off")
        _clear_stateless(conn)
        for path in files:
            try:
                conn.execute(path.read_text())
            except psycopg.Error as exc:
                raise MigrationError(f"{path.relative_to(PROJECT_ROOT)}: {exc}") from exc
        conn.execute("notify pgrst, 'reload schema'")
    return len(files)


def build_from_schema(conn: psycopg.Connection) -> None:
    """Create the stateful objects straight from sql/schema (the declarative truth)."""
    with conn.transaction():
        conn.execute("set local role dba")
        for path in sorted((SQL_DIR / "schema").glob("*.sql")):
            conn.execute(path.read_text())


def upgrade(cfg: Config) -> list[Migration]:
    """Everything a deploy does: roles, database, pgmq, pending migrations, functions and policies,
    then the reference data the engine needs: the NYSE calendar and the quote partitions of the
    coming days (the maintenance job keeps both current)."""
    ensure_database(cfg)
    with psycopg.connect(cfg.dsn()) as conn:
        applied = migrate(conn)
        deploy(conn)
        today = market_calendar.new_york_today()
        market_calendar.load(conn, today)
        market_calendar.ensure_quote_partitions(conn, today)
    return applied

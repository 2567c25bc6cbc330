"""Catalogue lints: the rules every schema object must keep, checked on the real database."""

import re
from pathlib import Path

import pytest

from mbtctl.config import PROJECT_ROOT

OUR_SCHEMAS = ["auth", "mbt", "md", "api", "jobs", "analytics", "ops"]
PRIVATE_SCHEMAS = ["auth", "mbt", "md", "jobs", "analytics"]


def test_every_table_in_auth_and_mbt_has_rls_on_and_a_policy(admin):
    rows = admin.execute("""
        select c.oid::regclass::text, c.relrowsecurity,
               (select count(*) from pg_policy as p where p.polrelid = c.oid)
        from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('auth', 'mbt') and c.relkind in ('r', 'p')
    """).fetchall()
    assert rows, "no tables found"
    offenders = [(name, rls, policies) for name, rls, policies in rows if not rls or policies == 0]
    assert offenders == []


def test_security_definer_functions_pin_search_path_and_are_closed_to_public_and_anonymous(admin):
    rows = admin.execute("""
        select p.oid::regprocedure::text,
               coalesce(exists (select from unnest(p.proconfig) as c where c like 'search_path=%%'), false),
               has_function_privilege('web_anon', p.oid, 'execute'),
               exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
                       where a.grantee = 0 and a.privilege_type = 'EXECUTE')
        from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname = any(%s)
    """, [OUR_SCHEMAS]).fetchall()
    assert rows
    allowed_for_anonymous = {"auth.check_request()"}  # PostgREST runs the pre-request hook as the caller
    for name, pinned, anon, public in rows:
        assert pinned, f"{name} does not set search_path"
        assert not public, f"{name} is executable by PUBLIC"
        assert not anon or name in allowed_for_anonymous, f"{name} is executable by web_anon"


def test_no_function_of_ours_or_pgmqs_is_executable_by_public(admin):
    rows = admin.execute("""
        select p.oid::regprocedure::text
        from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = any(%s)
          and exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
                      where a.grantee = 0 and a.privilege_type = 'EXECUTE')
    """, [[*OUR_SCHEMAS, "pgmq"]]).fetchall()
    assert rows == []


def test_every_foreign_key_is_indexed(admin):
    rows = admin.execute("""
        select c.conrelid::regclass::text, c.conname
        from pg_constraint as c
        where c.contype = 'f'
          and c.connamespace in (select oid from pg_namespace where nspname = any(%s))
          and not exists (
              select from pg_index as i
              where i.indrelid = c.conrelid
                and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
    """, [OUR_SCHEMAS]).fetchall()
    assert rows == []


def test_every_api_view_column_and_function_has_a_comment(admin):
    missing = admin.execute("""
        select 'relation ' || c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'api' and obj_description(c.oid, 'pg_class') is null
        union all
        select 'column ' || c.relname || '.' || a.attname
        from pg_attribute as a join pg_class as c on c.oid = a.attrelid join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'api' and a.attnum > 0 and not a.attisdropped and col_description(c.oid, a.attnum) is null
        union all
        select 'function ' || p.proname from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = 'api' and obj_description(p.oid, 'pg_proc') is null
    """).fetchall()
    assert missing == []


def test_every_private_table_and_column_has_a_comment(admin):
    missing = admin.execute("""
        select c.oid::regclass::text || coalesce('.' || a.attname, '')
        from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        left join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v') and not c.relispartition
          and (obj_description(c.oid, 'pg_class') is null
               or (a.attname is not null and col_description(c.oid, a.attnum) is null))
    """, [PRIVATE_SCHEMAS]).fetchall()
    assert missing == []


def test_every_function_of_ours_has_a_comment(admin):
    missing = admin.execute("""
        select p.oid::regprocedure::text from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = any(%s) and obj_description(p.oid, 'pg_proc') is null
    """, [OUR_SCHEMAS]).fetchall()
    assert missing == []


def test_nothing_of_ours_lives_in_public(admin):
    rows = admin.execute("""
        select c.relname from pg_class as c where c.relnamespace = 'public'::regnamespace
        union all
        select p.proname from pg_proc as p where p.pronamespace = 'public'::regnamespace
          and not exists (select from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
        union all
        select t.typname from pg_type as t where t.typnamespace = 'public'::regnamespace
          and not exists (select from pg_depend as d where d.objid = t.oid and d.deptype = 'e')
    """).fetchall()
    assert rows == []


def test_user_data_tables_carry_their_shard_key_in_the_primary_key(admin):
    rows = admin.execute("""
        select c.oid::regclass::text, array_agg(a.attname::text order by a.attname)
        from pg_constraint as k join pg_class as c on c.oid = k.conrelid
        join pg_namespace as n on n.oid = c.relnamespace
        join pg_attribute as a on a.attrelid = c.oid and a.attnum = any(k.conkey)
        where k.contype = 'p' and n.nspname in ('auth', 'mbt')
        group by c.oid
    """).fetchall()
    # auth.login_throttle: keyed by an e-mail digest, may be no user at all; mbt.trailing_extremes: a price per
    # symbol and side that a shard's riding trailing stops share (each shard keeps its own)
    not_user_data = {"auth.login_throttle", "mbt.trailing_extremes"}
    for table, key in rows:
        if table in not_user_data:
            continue
        shard_key = "user_id" if table.startswith("auth.") else "account_id"
        assert shard_key in key, f"{table} primary key {key} lacks {shard_key}"


def test_web_roles_reach_only_the_api_schema(admin):
    rows = admin.execute("""
        select r.rolname, c.oid::regclass::text, p.privilege
        from pg_roles as r
        cross join pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as p (privilege)
        where r.rolname in ('web_anon', 'app_user') and n.nspname = any(%s) and c.relkind in ('r', 'v', 'p', 'm')
          and has_table_privilege(r.oid, c.oid, p.privilege)
    """, [[*PRIVATE_SCHEMAS, "ops", "pgmq"]]).fetchall()
    assert rows == []
    functions = admin.execute("""
        select p.oid::regprocedure::text, p.provolatile = 'i' and not p.prosecdef
        from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = any(%s) and (has_function_privilege('app_user', p.oid, 'execute')
                                       or has_function_privilege('web_anon', p.oid, 'execute'))
    """, [PRIVATE_SCHEMAS]).fetchall()
    # the pre-request hook and the identity helper that policies call run as the caller, and so do
    # the rules the api views apply: those are pure (immutable, no table, no definer rights)
    hooks = {"auth.check_request()", "auth.current_user_id()"}
    assert {f for f, _ in functions} >= hooks
    assert [f for f, pure in functions if f not in hooks and not pure] == []


def test_pgmq_is_installed_from_the_bundled_sql(admin):
    assert admin.execute("select to_regclass('pgmq.meta') is not null").fetchone()[0]
    comment = admin.execute("select obj_description('pgmq'::regnamespace, 'pg_namespace')").fetchone()[0]
    assert comment.startswith("pgmq 1.13")


@pytest.fixture(scope="module")
def plpgsql_check(cfg):
    import psycopg
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        conn.execute("create schema if not exists extensions")
        conn.execute("create extension if not exists plpgsql_check schema extensions")
    return True


def test_plpgsql_check_finds_no_error_or_warning_in_any_function(admin, plpgsql_check):
    # trigger functions are checked against each table they are attached to
    functions = admin.execute("""
        select p.oid, p.oid::regprocedure::text, coalesce(t.tgrelid, 0), t.tgnewtable, t.tgoldtable
        from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace join pg_language as l on l.oid = p.prolang
        left join pg_trigger as t on t.tgfoid = p.oid and not t.tgisinternal
        where l.lanname = 'plpgsql' and n.nspname = any(%s)
    """, [OUR_SCHEMAS]).fetchall()
    assert len(functions) >= 9
    assert any(relid for _, _, relid, _, _ in functions), "no trigger function was checked"
    problems = []
    for oid, name, relid, new_table, old_table in functions:
        for (line,) in admin.execute(
                "select * from extensions.plpgsql_check_function(%s, %s, fatal_errors := false, "
                "extra_warnings := true, performance_warnings := false, security_warnings := true, "
                "newtable := %s, oldtable := %s, anyenumtype := 'mbt.order_side')",  # polymorphic ones on an enum
                [oid, relid, new_table, old_table]):
            problems.append(f"{name}: {line}")
    assert problems == [], "\n".join(problems)


def test_docs_errors_md_lists_exactly_the_catalogued_codes(admin):
    text = Path(PROJECT_ROOT / "docs" / "errors.md").read_text()
    documented = {(code, int(status)) for code, status in re.findall(r"^\| (MB[A-Z]\d\d) \| (\d{3}) \|", text, re.M)}
    catalogued = set(admin.execute("select code, http_status from mbt.error_catalogue()").fetchall())
    assert documented == catalogued

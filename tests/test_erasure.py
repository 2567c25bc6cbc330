"""DELETE /api/sessions/me erases the user and every row of theirs, in one transaction. The tables
are found from the catalogue, so a table added later with a user_id or account_id is covered."""

import psycopg
import pytest

from conftest import PASSWORD, assert_error, log_in

USER_COLUMNS = ("user_id", "account_id")


def rows_of(admin, user_id: str, account_id: str) -> dict[str, int]:
    """Rows per table, in every schema, whose user_id or account_id is this user's."""
    tables = admin.execute("""
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns as c
        join information_schema.tables as t using (table_schema, table_name)
        where c.column_name = any(%s) and t.table_type = 'BASE TABLE'
            and c.table_schema not in ('pg_catalog', 'information_schema')
    """, [list(USER_COLUMNS)]).fetchall()
    assert {(s, t) for s, t, _ in tables} >= {("auth", "users"), ("auth", "sessions"), ("mbt", "accounts")}
    counts = {}
    for schema, table, column in tables:
        value = user_id if column == "user_id" else account_id
        n = admin.execute(f'select count(*) from "{schema}"."{table}" where "{column}" = %s', [value]).fetchone()[0]
        counts[f"{schema}.{table}.{column}"] = n
    return counts


def test_erasing_needs_the_password_and_keeps_everything_when_it_is_wrong(api, admin, user):
    r = api.request("DELETE", "/api/sessions/me", headers=user.auth, json={"password": "not my password"})
    assert_error(r, 403, "MBA09")
    assert sum(rows_of(admin, user.id, user.account_id).values()) > 0
    assert api.get("/api/account", headers=user.auth).status_code == 200


def test_erasing_deletes_every_row_of_the_user_in_every_table(api, admin, user):
    log_in(api, user)  # a second session and refresh token
    api.post("/api/sessions/login", json={"email": user.email, "password": "a wrong one 1"})  # a throttle row
    before = rows_of(admin, user.id, user.account_id)
    assert before["auth.sessions.user_id"] == 2 and before["mbt.accounts.account_id"] == 1

    r = api.request("DELETE", "/api/sessions/me", headers=user.auth, json={"password": PASSWORD})
    assert r.status_code == 204, r.text

    after = rows_of(admin, user.id, user.account_id)
    assert after == dict.fromkeys(after, 0)
    throttled = admin.execute("select count(*) from auth.login_throttle "
                              "where email_digest = sha256(convert_to(%s, 'UTF8'))", [user.email]).fetchone()[0]
    assert throttled == 0


def test_an_erased_user_can_neither_use_old_tokens_nor_log_in(api, user):
    api.request("DELETE", "/api/sessions/me", headers=user.auth, json={"password": PASSWORD})
    assert_error(api.get("/api/account", headers=user.auth), 401, "MBA05")
    assert_error(api.post("/api/sessions/login", json={"email": user.email, "password": PASSWORD}), 401, "MBA01")


def test_erasure_is_one_transaction(db):
    # make the last step of the cascade fail: nothing of the user may be gone
    from conftest import sign_up_in_db
    u = sign_up_in_db(db)
    db.execute("""
        create function pg_temp.refuse() returns trigger language plpgsql as
        $$ begin raise exception 'refresh tokens refuse to go'; end $$;
        create trigger refuse_delete before delete on auth.refresh_tokens
        for each row execute function pg_temp.refuse();
    """)
    db.execute("savepoint before_erase")
    with pytest.raises(psycopg.errors.RaiseException):
        db.execute("select auth.erase_user(%s)", [u["user_id"]])
    db.execute("rollback to savepoint before_erase")
    assert db.execute("select count(*) from auth.users where user_id = %s", [u["user_id"]]).fetchone()[0] == 1
    assert db.execute("select count(*) from mbt.accounts where user_id = %s", [u["user_id"]]).fetchone()[0] == 1
    assert db.execute("select count(*) from auth.sessions where user_id = %s", [u["user_id"]]).fetchone()[0] == 1

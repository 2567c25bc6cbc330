"""The analytics schema (issue 7): what the analyst role sees and cannot do, the fill-quality figures against
hand-computed numbers, and every example query of docs/analytics.md run as the analyst.

The seeded day (TRADING_DAY, a Tuesday) in AAPL and MSFT, two trading accounts and one that never trades,
all opened on 5 March 2025 (a Wednesday: week cohort 2025-03-03, month cohort 2025-03-01):

  account A (pro)
    1  10:00:01  market buy 50 AAPL     arrival 99.98/100.02 (mid 100.00, quote of 10:00:00)
                 fills at once at the ask 100.02 (quote 10:00:00): 0 s
                 effective spread 2 x 0.02 / 100.00 = 4 bps; improvement (100.00 - 100.02) / 100.00 = -2 bps
    2  10:00:02  limit buy 150 AAPL @ 100.00, arrival mid 100.00; rests (ask 100.02)
                 10:00:30 quote 99.96/100.00 (size 100): 100 at 100.00, partial (50 left); 28 s after submission
                     spread 2 x 0.02 / 99.98 = 4.000800 bps; improvement 0 bps
                 10:01:32 quote 99.97/99.99: 50 at 99.99, filled (90 s)
                     spread 2 x 0.01 / 99.98 = 2.000400 bps; improvement (100.00 - 99.99) / 100.00 = 1 bp
  account B (free)
    3  10:00:03  limit sell 20 AAPL @ 101.00 (day): never fills, expires at the 16:00 close (21,597 s)
    4  10:02:00  market sell 10 AAPL: the latest quote (10:01:32, mid 99.98) is 28 s old, too stale to fill on;
                 10:02:10 quote 99.95/99.99: 10 at the bid 99.95 (10 s); a short sale
                     spread 2 x 0.02 / 99.97 = 4.001200 bps; improvement (99.95 - 99.98) / 99.98 = -3.000600 bps
    5  10:03:00  market buy 10 MSFT, quote 10:02:58 299.90/300.10: at once at 300.10 (0 s)
                     spread 2 x 0.10 / 300.00 = 6.666667 bps; improvement (300.00 - 300.10) / 300.00 = -3.333333 bps
  account C (pro_plus): signs up, never orders.

AAPL, the orders of the day: 4 orders, 3 with fills (0.75), 3 filled completely (0.75), 4 fills of which 1 partial
(0.25), 210 shares; effective spread (50 x 4 + 100 x 4.000800 + 50 x 2.000400 + 10 x 4.001200) / 210 = 3.524343 bps;
improvement (50 x -2 + 100 x 0 + 50 x 1 + 10 x -3.000600) / 210 = -0.380981 bps; times to first fill 0, 28, 10 s:
median 10, 90th percentile 10 + 0.8 x 18 = 24.4; within 60 s: 3 of 4 orders.

Closes (end-of-day snapshots; AAPL marks at 99.97 on the 13th, 100.10 on the 14th; MSFT at 300.00):
  A cash 100,000 - 5,001 - 10,000 - 4,999.50 = 79,999.50; 200 AAPL: 19,994.00 -> equity 99,993.50, P&L -6.50;
    on the 14th 20,020.00 -> 100,019.50, total 19.50, daily +26.00
  B cash 100,000 + 999.50 - 3,001 = 97,998.50; -10 AAPL -999.70, 10 MSFT 3,000 -> 99,998.80, P&L -1.20;
    on the 14th -1,001.00 -> 99,997.50, total -2.50, daily -1.30
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest

from engine import et, insert_quotes, submit
from mbtctl import migrate
from mbtctl.config import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "analytics.md"
TRADING_DAY = date(2026, 10, 13)
OPENED_AT = datetime(2025, 3, 5, 15, 0, tzinfo=UTC)  # 10:00 New York, a Wednesday
ANALYTICS_VIEWS = ["accounts", "orders", "fills", "daily_equity", "fill_quality", "cohorts", "tiers"]
PSEUDONYM = "encode(substr(sha256(k.secret || uuid_send(%s::uuid)), 1, 16), 'hex')"


def open_account(conn: psycopg.Connection, tier: str) -> dict:
    row = conn.execute("select user_id, account_id from auth.sign_up(%s, 'argon2-hash', %s, interval '30 days')",
                       [f"analytics-{uuid.uuid4().hex[:12]}@example.com", secrets.token_bytes(32)]).fetchone()
    conn.execute("select auth.set_tier(%s, %s)", [row[0], tier])
    conn.execute("update mbt.accounts set created_at = %s where account_id = %s", [OPENED_AT, row[1]])
    conn.execute("update mbt.cash_activities set activity_at = %s where account_id = %s and activity_type = 'CSD'",
                 [OPENED_AT, row[1]])
    key = conn.execute(f"select {PSEUDONYM} from analytics.pseudonym_secret as k", [row[1]]).fetchone()[0]
    return {"user_id": row[0], "account_id": row[1], "key": key}


def seed(conn: psycopg.Connection) -> dict:
    """The day of the module docstring, in the caller's transaction; returns the accounts."""
    for symbol in ("AAPL", "MSFT"):
        conn.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ') on conflict (symbol) do nothing",
                     [symbol])
    a, b, c = open_account(conn, "pro"), open_account(conn, "free"), open_account(conn, "pro_plus")
    d = "2026-10-13"
    insert_quotes(conn, ("AAPL", "99.98", "100.02", et(f"{d} 10:00:00")))
    submit(conn, a["account_id"], et(f"{d} 10:00:01"), symbol="AAPL", qty=50, side="buy", type="market",
           time_in_force="day")
    submit(conn, a["account_id"], et(f"{d} 10:00:02"), symbol="AAPL", qty=150, side="buy", type="limit",
           limit_price="100.00", time_in_force="day")
    submit(conn, b["account_id"], et(f"{d} 10:00:03"), symbol="AAPL", qty=20, side="sell", type="limit",
           limit_price="101.00", time_in_force="day")
    insert_quotes(conn, ("AAPL", "99.96", "100.00", et(f"{d} 10:00:30")))
    insert_quotes(conn, ("AAPL", "99.97", "99.99", et(f"{d} 10:01:32")))
    submit(conn, b["account_id"], et(f"{d} 10:02:00"), symbol="AAPL", qty=10, side="sell", type="market",
           time_in_force="day")
    insert_quotes(conn, ("AAPL", "99.95", "99.99", et(f"{d} 10:02:10")))
    insert_quotes(conn, ("MSFT", "299.90", "300.10", et(f"{d} 10:02:58")))
    submit(conn, b["account_id"], et(f"{d} 10:03:00"), symbol="MSFT", qty=10, side="buy", type="market",
           time_in_force="day")
    conn.execute("select mbt.expire_day_orders(%s)", [et(f"{d} 16:00")])
    conn.execute("select mbt.write_eod_snapshots(%s)", [et(f"{d} 16:00")])
    insert_quotes(conn, ("AAPL", "100.08", "100.12", et("2026-10-14 10:00")),
                  ("MSFT", "299.95", "300.05", et("2026-10-14 10:00")))
    conn.execute("select mbt.write_eod_snapshots(%s)", [et("2026-10-14 16:00")])
    return {"a": a, "b": b, "c": c}


def as_analyst(conn: psycopg.Connection) -> None:
    conn.execute("set local role analyst")


def rows(conn: psycopg.Connection, query: str, params=None) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def doc_queries() -> dict[int, str]:
    """The numbered questions of docs/analytics.md and the SQL block under each."""
    text = DOCS.read_text()
    found = re.findall(r"^### (\d+)\. .*?\n```sql\n(.*?)```", text, flags=re.MULTILINE | re.DOTALL)
    return {int(n): sql for n, sql in found}


@pytest.fixture
def seeded(db):
    return seed(db)


# --- what the analyst sees ---------------------------------------------------------------------------


def test_the_docs_hold_ten_example_questions_each_with_its_sql():
    assert sorted(doc_queries()) == list(range(1, 11))


def test_an_account_appears_under_a_keyed_hash_not_its_id_and_the_same_key_in_every_view(db, seeded):
    a = seeded["a"]
    assert re.fullmatch(r"[0-9a-f]{32}", a["key"])
    unkeyed = db.execute("select encode(substr(sha256(uuid_send(%s::uuid)), 1, 16), 'hex')",
                         [a["account_id"]]).fetchone()[0]
    assert a["key"] not in (unkeyed, a["account_id"].hex, a["user_id"].hex)
    as_analyst(db)
    counts = {view: db.execute(f"select count(*) from analytics.{view} where account_key = %s",
                               [a["key"]]).fetchone()[0] for view in ("accounts", "orders", "fills", "daily_equity")}
    assert counts == {"accounts": 1, "orders": 2, "fills": 3, "daily_equity": 2}


def test_the_pseudonymous_key_survives_a_deploy(db, seeded):
    before = db.execute("select secret from analytics.pseudonym_secret").fetchone()[0]
    migrate.deploy(db)
    as_analyst(db)
    assert db.execute("select count(*) from analytics.accounts where account_key = %s",
                      [seeded["a"]["key"]]).fetchone()[0] == 1
    db.execute("reset role")
    assert db.execute("select secret from analytics.pseudonym_secret").fetchone()[0] == before


def test_no_analytics_column_names_a_person_or_an_id_the_api_shows(db):
    columns = db.execute("""
        select c.relname || '.' || a.attname
        from pg_attribute as a join pg_class as c on c.oid = a.attrelid
        where c.relnamespace = 'analytics'::regnamespace and a.attnum > 0 and not a.attisdropped
          and has_column_privilege('analyst', c.oid, a.attnum, 'select')
    """).fetchall()
    names = {name for (name,) in columns}
    assert {f"{v}.account_key" for v in ("accounts", "orders", "fills", "daily_equity")} <= names
    personal = [n for n in names if re.search(r"email|name|password|account_id|user_id|order_id|fill_id"
                                              r"|account_number|session|ip$", n.split(".")[1])]
    assert personal == []


def test_every_analytics_view_and_column_has_a_comment_with_its_meaning(db):
    missing = db.execute("""
        select c.relname || coalesce('.' || a.attname, '')
        from pg_class as c
        left join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relnamespace = 'analytics'::regnamespace and c.relkind = 'v'
          and (obj_description(c.oid, 'pg_class') is null or col_description(c.oid, a.attnum) is null)
    """).fetchall()
    assert missing == []
    views = db.execute("select relname from pg_class where relnamespace = 'analytics'::regnamespace "
                       "and relkind = 'v' order by relname").fetchall()
    assert sorted(v for (v,) in views) == sorted(ANALYTICS_VIEWS)


def test_the_analyst_sees_every_account_despite_row_level_security(db, seeded):
    total = db.execute("select count(*) from mbt.accounts").fetchone()[0]
    as_analyst(db)
    assert db.execute("select count(*) from analytics.accounts").fetchone()[0] == total
    assert total >= 3


# --- what the analyst cannot do ----------------------------------------------------------------------


@pytest.mark.parametrize("relation", [
    "auth.users", "auth.sessions", "mbt.accounts", "mbt.orders", "mbt.fills", "md.quotes", "md.latest_quotes",
    "jobs.run_log", "api.account", "api.orders", "pgmq.q_trade_updates", "ops.schema_migrations",
    "analytics.pseudonym_secret",
])
def test_the_analyst_cannot_read_base_tables_the_api_or_the_pseudonym_key(db, relation):
    as_analyst(db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute(f"select * from {relation} limit 1")


def test_the_analyst_cannot_read_an_email_even_by_naming_the_column(db, seeded):
    as_analyst(db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("select email from auth.users")


@pytest.mark.parametrize("statement", [
    "insert into analytics.tiers (tier, account_count, ordered, traded) values ('free', 1, 0, 0)",
    "update analytics.accounts set tier = 'pro'",
    "delete from analytics.orders",
    "create table analytics.mine (x int)",
    "create view analytics.mine as select 1 as x",
    "create temporary table mine (x int)",
    "create table public.mine (x int)",
    "create function analytics.leak(text) returns boolean language sql as $$ select true $$",
    "update mbt.accounts set cash = 0",
])
def test_the_analyst_cannot_write_or_create_anything(db, statement):
    as_analyst(db)
    with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.WrongObjectType,
                        psycopg.errors.ObjectNotInPrerequisiteState, psycopg.errors.FeatureNotSupported)):
        db.execute(statement)


def test_an_analyst_session_is_read_only_with_a_30_second_statement_timeout_set_on_the_role(cfg, admin):
    settings = admin.execute("""
        select unnest(s.setconfig) from pg_db_role_setting as s
        where s.setrole = 'analyst'::regrole and s.setdatabase = 0
    """).fetchall()
    assert {"statement_timeout=30s", "default_transaction_read_only=on"} <= {s for (s,) in settings}
    with psycopg.connect(cfg.dsn(user="analyst"), autocommit=True) as conn:  # a fresh log-in, nothing set
        assert conn.execute("select current_user, current_setting('statement_timeout'), "
                            "current_setting('default_transaction_read_only')").fetchone() == ("analyst", "30s", "on")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("create table analytics.mine (x int)")


def test_the_roles_statement_timeout_cancels_a_long_query_at_log_in_without_any_set(cfg, admin):
    # the same mechanism as the 30 s default, shortened for this database so the test is quick: a setting of
    # the role (in this database) that the server applies at log-in; the session itself sets nothing
    admin.execute(f"alter role analyst in database {cfg.db_name} set statement_timeout = '300ms'")
    try:
        with psycopg.connect(cfg.dsn(user="analyst"), autocommit=True) as conn:
            assert conn.execute("select current_setting('statement_timeout')").fetchone()[0] == "300ms"
            with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
                conn.execute("select pg_sleep(5)")
    finally:
        admin.execute(f"alter role analyst in database {cfg.db_name} reset statement_timeout")
    with psycopg.connect(cfg.dsn(user="analyst"), autocommit=True) as conn:
        assert conn.execute("select current_setting('statement_timeout')").fetchone()[0] == "30s"


# --- the figures -------------------------------------------------------------------------------------


def test_each_fill_carries_its_quote_evidence_its_effective_spread_and_its_price_improvement(db, seeded):
    as_analyst(db)
    fills = rows(db, """
        select qty, price, quote_bid, quote_ask, quote_mid, arrival_mid, is_partial, seconds_since_submission,
               round(effective_spread_bps, 6) as spread, round(price_improvement_bps, 6) as improvement
        from analytics.fills where account_key = any(%s) order by transaction_time, symbol
    """, [[seeded["a"]["key"], seeded["b"]["key"]]])
    got = [(f["qty"], f["price"], f["quote_mid"], f["arrival_mid"], f["is_partial"], f["seconds_since_submission"],
            f["spread"], f["improvement"]) for f in fills]
    D = Decimal
    assert got == [
        (D(50), D("100.02"), D("100.00"), D("100.00"), False, 0, D("4.000000"), D("-2.000000")),
        (D(100), D("100.00"), D("99.98"), D("100.00"), True, 28, D("4.000800"), D("0.000000")),
        (D(50), D("99.99"), D("99.98"), D("100.00"), False, 90, D("2.000400"), D("1.000000")),
        (D(10), D("99.95"), D("99.97"), D("99.98"), False, 10, D("4.001200"), D("-3.000600")),
        (D(10), D("300.10"), D("300.00"), D("300.00"), False, 0, D("6.666667"), D("-3.333333")),
    ]
    assert fills[1]["quote_bid"] == D("99.96") and fills[1]["quote_ask"] == D("100.00")


def test_orders_show_their_arrival_quote_and_lifecycle_durations(db, seeded):
    as_analyst(db)
    orders = rows(db, """
        select order_type, side, status, arrival_bid, arrival_ask, arrival_mid, fills, seconds_to_first_fill,
               seconds_to_filled, seconds_to_end, filled_share
        from analytics.orders where account_key = any(%s) order by submitted_at
    """, [[seeded["a"]["key"], seeded["b"]["key"]]])
    D = Decimal
    got = [(o["order_type"], o["status"], o["arrival_mid"], o["fills"], o["seconds_to_first_fill"],
            o["seconds_to_filled"], o["seconds_to_end"], o["filled_share"]) for o in orders]
    assert got == [
        ("market", "filled", D("100.00"), 1, 0, 0, 0, 1),  # filled on submission, at the 10:00:00 quote
        ("limit", "filled", D("100.00"), 2, 28, 90, 90, 1),
        ("limit", "expired", D("100.00"), 0, None, None, 21597, 0),
        ("market", "filled", D("99.98"), 1, 10, 10, 10, 1),
        ("market", "filled", D("300.00"), 1, 0, 0, 0, 1),
    ]
    assert (orders[0]["arrival_bid"], orders[0]["arrival_ask"]) == (D("99.98"), D("100.02"))


def test_fill_quality_of_a_symbol_against_the_hand_computed_figures(db, seeded):
    as_analyst(db)
    q = rows(db, "select * from analytics.fill_quality where trading_date = %s and symbol = 'AAPL' "
                 "and order_type = '*'", [TRADING_DAY])[0]
    D = Decimal
    assert (q["orders"], q["orders_filled"], q["fill_rate"], q["complete_fill_rate"]) == (
        4, 3, D("0.7500"), D("0.7500"))
    assert (q["fills"], q["partial_fill_share"], q["shares_filled"]) == (4, D("0.2500"), D(210))
    assert q["notional"] == D("5001.00") + D("10000.00") + D("4999.50") + D("999.50")
    assert q["effective_spread_bps"] == D("3.5243")  # 740.112024 / 210
    assert q["price_improvement_bps"] == D("-0.3810")  # -80.006001 / 210
    assert (q["median_seconds_to_first_fill"], q["p90_seconds_to_first_fill"]) == (D("10.000"), D("24.400"))
    assert q["filled_within_60s_share"] == D("0.7500")


def test_fill_quality_per_order_type_and_in_total(db, seeded):
    as_analyst(db)
    q = {(r["symbol"], r["order_type"]): r for r in rows(
        db, "select * from analytics.fill_quality where trading_date = %s", [TRADING_DAY])}
    D = Decimal
    market = q[("*", "market")]
    # AAPL 50 x 4 + 10 x 4.001200, MSFT 10 x 6.666667: 306.678679 / 70; improvement (-100 - 30.006 - 33.333) / 70
    assert (market["orders"], market["fills"], market["effective_spread_bps"], market["price_improvement_bps"]) == (
        3, 3, D("4.3811"), D("-2.3334"))
    limit = q[("*", "limit")]
    # 100 x 4.000800 + 50 x 2.000400 = 500.100020 / 150; improvement 50 / 150; 1 of 2 orders filled
    assert (limit["orders"], limit["fill_rate"], limit["effective_spread_bps"], limit["price_improvement_bps"]) == (
        2, D("0.5000"), D("3.3340"), D("0.3333"))
    assert (q[("MSFT", "market")]["effective_spread_bps"], q[("AAPL", "limit")]["partial_fill_share"]) == (
        D("6.6667"), D("0.5000"))


def test_daily_equity_and_pl_from_the_end_of_day_snapshots(db, seeded):
    as_analyst(db)
    got = {(r["account_key"], r["trading_date"]): (r["equity"], r["total_pl"], r["daily_pl"]) for r in rows(
        db, "select * from analytics.daily_equity where account_key = any(%s)",
        [[seeded["a"]["key"], seeded["b"]["key"]]])}
    a, b, D = seeded["a"]["key"], seeded["b"]["key"], Decimal
    assert got == {
        (a, date(2026, 10, 13)): (D("99993.50"), D("-6.50"), D("-6.50")),
        (a, date(2026, 10, 14)): (D("100019.50"), D("19.50"), D("26.00")),
        (b, date(2026, 10, 13)): (D("99998.80"), D("-1.20"), D("-1.20")),
        (b, date(2026, 10, 14)): (D("99997.50"), D("-2.50"), D("-1.30")),
    }


def test_accounts_fall_into_week_and_month_cohorts_by_tier(db, seeded):
    as_analyst(db)
    got = {(r["grain"], r["cohort_start"], r["tier"]): (r["signups"], r["ordered"], r["traded"]) for r in rows(
        db, "select * from analytics.cohorts where cohort_start in (date '2025-03-01', date '2025-03-03')")}
    assert got == {
        ("week", date(2025, 3, 3), "pro"): (1, 1, 1), ("week", date(2025, 3, 3), "free"): (1, 1, 1),
        ("week", date(2025, 3, 3), "pro_plus"): (1, 0, 0),
        ("month", date(2025, 3, 1), "pro"): (1, 1, 1), ("month", date(2025, 3, 1), "free"): (1, 1, 1),
        ("month", date(2025, 3, 1), "pro_plus"): (1, 0, 0),
    }


# --- the example queries of docs/analytics.md, as the analyst ---------------------------------------


def run_doc_query(db, n: int) -> list[dict]:
    as_analyst(db)
    return rows(db, doc_queries()[n])


def test_doc_1_effective_spread_of_market_orders_in_aapl(db, seeded):
    # 50 x 4 + 10 x 4.001200 = 240.012 / 60
    assert run_doc_query(db, 1) == [{"fills": 2, "shares": Decimal(60), "effective_spread_bps": Decimal("4.0002")}]


def test_doc_2_share_of_limit_orders_filled_within_a_minute(db, seeded):
    assert run_doc_query(db, 2) == [{"limit_orders": 2, "filled_within_a_minute": 1, "share": Decimal("0.5000")}]


def test_doc_3_pro_signups_per_month_and_how_many_traded(db, seeded):
    march = [r for r in run_doc_query(db, 3) if r["month"] == date(2025, 3, 1)]
    assert march == [{"month": date(2025, 3, 1), "signups": 1, "traded": 1, "traded_share": Decimal("1.0000")}]


def test_doc_4_symbols_by_widest_effective_spread(db, seeded):
    got = [(r["symbol"], r["effective_spread_bps"]) for r in run_doc_query(db, 4)]
    assert got == [("MSFT", Decimal("6.6667")), ("AAPL", Decimal("3.5243"))]


def test_doc_5_price_improvement_per_order_type(db, seeded):
    got = {r["order_type"]: r["price_improvement_bps"] for r in run_doc_query(db, 5)}
    assert got == {"market": Decimal("-2.3334"), "limit": Decimal("0.3333")}


def test_doc_6_median_and_p90_time_to_first_fill_per_order_type(db, seeded):
    got = {r["order_type"]: (r["orders_filled"], r["median_seconds"], r["p90_seconds"]) for r in run_doc_query(db, 6)}
    # market: 0, 10, 0 s -> median 0, p90 0 + 0.8 x 10 = 8; limit: one of two filled, 28 s
    assert got == {"market": (3, 0.0, 8.0), "limit": (1, 28.0, 28.0)}


def test_doc_7_share_of_partial_fills_per_symbol(db, seeded):
    got = {r["symbol"]: (r["fills"], r["partial_fill_share"]) for r in run_doc_query(db, 7)}
    assert got == {"AAPL": (4, Decimal("0.2500")), "MSFT": (1, Decimal("0.0000"))}


def test_doc_8_equity_and_pl_at_each_close(db, seeded):
    mine = {seeded["a"]["key"]: "A", seeded["b"]["key"]: "B"}
    got = [(mine[r["account_key"]], r["trading_date"].day, r["daily_pl"]) for r in run_doc_query(db, 8)
           if r["account_key"] in mine]
    assert got == [("A", 13, Decimal("-6.50")), ("B", 13, Decimal("-1.20")),
                   ("B", 14, Decimal("-1.30")), ("A", 14, Decimal("26.00"))]


def test_doc_9_accounts_per_tier_match_the_users_table(db, seeded):
    expected = {r[0]: r[1] for r in db.execute(
        "select u.tier::text, count(*) from auth.users as u join mbt.accounts as a using (user_id) group by u.tier")}
    got = {r["tier"]: r["account_count"] for r in run_doc_query(db, 9)}
    assert got == expected and got["pro_plus"] >= 1


def test_doc_10_how_the_orders_of_the_day_ended(db, seeded):
    got = {r["status"]: (r["orders"], r["avg_seconds_to_end"]) for r in run_doc_query(db, 10)}
    # filled: 0 + 90 + 10 + 0 s over 4 orders (a fill on submission counts 0 s); expired at the close
    assert got == {"filled": (4, Decimal("25.0")), "expired": (1, Decimal("21597.0"))}


def test_every_doc_query_runs_as_the_analyst_on_a_fresh_log_in(cfg):
    with psycopg.connect(cfg.dsn(user="analyst"), autocommit=True) as conn:
        for n, query in sorted(doc_queries().items()):
            conn.execute(query)  # read-only session, the role's timeout: each answers, possibly with no rows
            assert conn.execute("select current_user").fetchone()[0] == "analyst", n

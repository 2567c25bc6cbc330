"""Tier retention: a user's history older than their tier keeps goes (free 90 days, pro 3 years, pro_plus
never, counted in New York days back from the run's as_of), and nothing the user still sees changes.

The script (an account opened 2026-01-02 with a $100,000.00 deposit, a CSD; the run at Monday
2026-11-30 20:45 ET, so a free user keeps New York days from 2026-09-01 = day 90 on):
  Fri 2026-08-28 (day 94) 10:00  buy 100 ZRT at the ask 50.00                  cash 95,000.00
                                 a gtc limit buy 10 ZRG at 40.00, still open
                                 a bracket: buy 10 ZRB at the ask 20.00, its exits (TP 30, SL 10) still open
                                                                               cash 94,800.00
                                 a gtc limit 5 ZRG at 30.00 replaced by one at 31.00, still open
                                 a gtc limit 5 ZRG at 29.00 replaced by one at 28.00, then canceled
                                 a $5,000.00 deposit (CSD)                      cash 99,800.00
  Mon 2026-08-31 (day 91) 10:00  sell 10 at the bid 50.90: realizes 10 x 0.90 = 9.00
                          23:30  a dividend of 12.34 (New York day 91, 2026-09-01 in UTC)
  Tue 2026-09-01 (day 90) 00:30  a dividend of 1.00
                          10:00  sell 10 at the bid 51.90: realizes 10 x 1.90 = 19.00
  Wed 2026-09-02 (day 89) 10:00  buy 5 at the ask 52.00
End-of-day snapshots are written at each of these closes. Positions: 100 - 10 - 10 + 5 = 85 ZRT, realized
9.00 + 19.00 = 28.00; 10 ZRB. Cash 99,800 + 509 + 12.34 + 1.00 + 519 - 260 = 100,581.34.
"""

import json
import threading
import uuid
from datetime import timedelta
from decimal import Decimal as D

import psycopg
import pytest

from conftest import act_as, assert_invariants, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit
from jobs import tier_retention

AS_OF = et("2026-11-30 20:45")
CUTOFF = "2026-09-01"  # the first New York day a free user keeps at AS_OF
MARKET = {"symbol": "ZRT", "type": "market", "time_in_force": "day"}
GTC = {"symbol": "ZRG", "type": "limit", "time_in_force": "gtc", "side": "buy"}
TABLES = ["orders", "order_events", "fills", "cash_activities", "account_snapshots", "position_snapshots"]


def close(db, day: str) -> None:
    insert_quotes(db, ("ZRT", "50.95", "51.05", et(f"{day} 15:59")), ("ZRB", "19.95", "20.05", et(f"{day} 15:59")))
    db.execute("select mbt.write_eod_snapshots(%s)", [et(f"{day} 16:00")])


def trade(db, acct, at: str, side: str, qty: int, bid: str, ask: str) -> dict:
    insert_quotes(db, ("ZRT", bid, ask, et(at), 1000, 1000))
    return submit(db, acct, et(at) + timedelta(seconds=1), **MARKET, side=side, qty=qty)


def cash_activity(db, acct, at, kind: str, amount: str) -> None:
    db.execute("insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount, description) "
               "values (%s, %s, %s, %s, 'scripted')", [acct, kind, at, D(amount)])
    db.execute("update mbt.accounts set cash = cash + %s where account_id = %s", [D(amount), acct])


def removed_so_far(db, acct, as_of) -> int:
    return db.execute("select coalesce(sum(orders + order_events + fills + cash_activities + account_snapshots "
                      "+ position_snapshots + trade_updates), 0) from jobs.tier_retention_log "
                      "where account_id = %s and as_of = %s", [acct, as_of]).fetchone()[0]


def purge(db, acct, as_of=AS_OF, limit: int = 1000) -> int:
    """A whole run (every due account: other tests' committed ones too); the rows it removed from acct."""
    before = removed_so_far(db, acct, as_of)
    db.execute("select mbt.apply_tier_retention(%s, %s)", [as_of, limit])
    return removed_so_far(db, acct, as_of) - before


def set_tier(db, user_id, tier: str) -> None:
    db.execute("select auth.set_tier(%s, %s)", [user_id, tier])


@pytest.fixture
def user(db):
    for symbol in ("ZRT", "ZRB", "ZRG"):
        add_asset(db, symbol)
    return sign_up_in_db(db)


@pytest.fixture
def acct(user):
    return user["account_id"]


@pytest.fixture
def script(db, acct) -> dict:
    ids = {}
    ids["old_buy"] = trade(db, acct, "2026-08-28 10:00", "buy", 100, "49.90", "50.00")["id"]
    at = et("2026-08-28 10:05")
    ids["open_gtc"] = submit(db, acct, at, **GTC, qty=10, limit_price="40.00")["id"]
    insert_quotes(db, ("ZRB", "19.90", "20.00", et("2026-08-28 10:04:59"), 1000, 1000))
    bracket = submit(db, acct, at, symbol="ZRB", qty=10, side="buy", type="market", time_in_force="gtc",
                     order_class="bracket", take_profit={"limit_price": "30.00"}, stop_loss={"stop_price": "10.00"})
    ids["bracket_entry"] = bracket["id"]
    first = submit(db, acct, at, **GTC, qty=5, limit_price="30.00")["id"]
    ids["replaced_by_open"] = first
    ids["open_replacement"] = db.execute("select (mbt.replace_order(%s, %s, %s, %s)).order_id",
                                         [acct, first, json.dumps({"limit_price": "31.00"}), at]).fetchone()[0]
    done = submit(db, acct, at, **GTC, qty=5, limit_price="29.00")["id"]
    ids["replaced_done"] = done
    replacement = db.execute("select (mbt.replace_order(%s, %s, %s, %s)).order_id",
                             [acct, done, json.dumps({"limit_price": "28.00"}), at]).fetchone()[0]
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, replacement, at])
    ids["canceled_replacement"] = replacement
    cash_activity(db, acct, et("2026-08-28 12:00"), "CSD", "5000.00")
    close(db, "2026-08-28")
    ids["day_91_sell"] = trade(db, acct, "2026-08-31 10:00", "sell", 10, "50.90", "51.10")["id"]
    close(db, "2026-08-31")
    cash_activity(db, acct, et("2026-08-31 23:30"), "DIV", "12.34")
    cash_activity(db, acct, et("2026-09-01 00:30"), "DIV", "1.00")
    ids["day_90_sell"] = trade(db, acct, "2026-09-01 10:00", "sell", 10, "51.90", "52.10")["id"]
    close(db, "2026-09-01")
    ids["day_89_buy"] = trade(db, acct, "2026-09-02 10:00", "buy", 5, "51.90", "52.00")["id"]
    close(db, "2026-09-02")
    insert_quotes(db, ("ZRT", "54.90", "55.10", et("2026-11-30 15:00")))
    return ids


def trading_days_since(db, day: str, until: str = "2026-11-30") -> int:
    """period=<n>D whose first point is the trading day after `day` (so its base is `day`'s close)."""
    return db.execute("select count(*) from md.market_calendar where trading_date > %s and trading_date <= %s",
                      [day, until]).fetchone()[0]


def visible(db, user) -> dict:
    """Everything the user sees of the retained period, as the API shows it."""
    acct = user["account_id"]
    period = f"{trading_days_since(db, '2026-08-31')}D"
    figures = {
        "history": db.execute("select mbt.portfolio_history(%s, %s, null, null, %s)",
                              [acct, period, AS_OF]).fetchone()[0],
        "activities": db.execute("select mbt.account_activities(%s, p_after => %s, p_direction => 'asc')",
                                 [acct, et("2026-09-01 00:00").isoformat()]).fetchone()[0],
        "positions_table": db.execute("select symbol, qty, avg_entry_price, realized_pl from mbt.positions "
                                      "where account_id = %s order by symbol", [acct]).fetchall(),
    }
    act_as(db, "app_user", user["user_id"])
    figures["account"] = db.execute("select to_jsonb(a) from api.account as a").fetchone()[0]
    figures["positions"] = db.execute("select jsonb_agg(to_jsonb(p) order by p.symbol) from api.positions as p"
                                      ).fetchone()[0]
    figures["orders"] = db.execute("select jsonb_agg(to_jsonb(o) order by o.created_at, o.id) from api.orders as o"
                                   " where o.created_at >= %s", [et(f"{CUTOFF} 00:00")]).fetchone()[0]
    figures["fills"] = db.execute("select jsonb_agg(to_jsonb(f) order by f.transaction_time, f.id) from api.fills as f"
                                  " where f.transaction_time >= %s", [et(f"{CUTOFF} 00:00")]).fetchone()[0]
    db.execute("reset role")
    return figures


def count_older(db, acct, before: str) -> dict:
    cut = et(f"{before} 00:00")
    return dict(zip(TABLES, db.execute("""
        select (select count(*) from mbt.orders where account_id = %(a)s and updated_at < %(t)s),
               (select count(*) from mbt.order_events where account_id = %(a)s and event_at < %(t)s),
               (select count(*) from mbt.fills where account_id = %(a)s and transaction_time < %(t)s),
               (select count(*) from mbt.cash_activities where account_id = %(a)s and activity_at < %(t)s),
               (select count(*) from mbt.account_snapshots where account_id = %(a)s and trading_date < %(d)s),
               (select count(*) from mbt.position_snapshots where account_id = %(a)s and trading_date < %(d)s)
    """, {"a": acct, "t": cut, "d": before}).fetchone(), strict=True))


def exists(db, order_id) -> bool:
    return db.execute("select exists (select from mbt.orders where order_id = %s)", [order_id]).fetchone()[0]


def log_row(db, acct, as_of=AS_OF) -> dict | None:
    cur = db.execute("select * from jobs.tier_retention_log where account_id = %s and as_of = %s", [acct, as_of])
    row = cur.fetchone()
    return None if row is None else dict(zip([c.name for c in cur.description], row, strict=True))


# --- boundaries ---------------------------------------------------------------------------------------

def test_free_keeps_new_york_days_89_and_90_and_purges_day_91(db, acct, script):
    purge(db, acct)
    assert not exists(db, script["day_91_sell"])
    assert exists(db, script["day_90_sell"]) and exists(db, script["day_89_buy"])
    days = [r[0].isoformat() for r in db.execute(
        "select trading_date from mbt.account_snapshots where account_id = %s and trading_date < '2026-09-03' "
        "order by 1", [acct])]
    assert days == ["2026-09-01", "2026-09-02"]
    assert_invariants(db)


def test_the_day_is_the_new_york_day_not_the_utc_one(db, acct, script):
    purge(db, acct)
    dividends = db.execute("select net_amount from mbt.cash_activities where account_id = %s and activity_type = 'DIV'",
                           [acct]).fetchall()
    assert dividends == [(D("1.00"),)]  # 12.34 at 23:30 on day 91 (already day 90 in UTC) is gone


def test_pro_keeps_three_years_to_the_day(db, user, acct):
    set_tier(db, user["user_id"], "pro")
    as_of = et("2029-06-01 20:45")  # keeps New York days from 2026-06-01 on
    cash_activity(db, acct, et("2026-05-31 12:00"), "DIV", "3.00")
    cash_activity(db, acct, et("2026-06-01 12:00"), "DIV", "4.00")
    purge(db, acct, as_of)
    assert db.execute("select net_amount from mbt.cash_activities where account_id = %s and activity_type = 'DIV'",
                      [acct]).fetchall() == [(D("4.00"),)]
    assert log_row(db, acct, as_of)["cutoff_day"].isoformat() == "2026-06-01"
    assert_invariants(db)


def test_pro_plus_keeps_everything(db, user, acct, script):
    set_tier(db, user["user_id"], "pro_plus")
    assert purge(db, acct, et("2036-11-30 20:45")) == 0
    assert count_older(db, acct, CUTOFF)["orders"] == 10


def test_four_days_earlier_day_94_is_day_90_and_stays(db, acct, script):
    purge(db, acct, et("2026-11-26 20:45"))  # cut-off 2026-08-28: only the opening deposit of 2026-01-02 is older
    assert all(exists(db, order_id) for order_id in script.values())
    assert count_older(db, acct, "2026-08-29")["account_snapshots"] == 1
    assert_invariants(db)


# --- what must stay, and what goes with what ----------------------------------------------------------

def test_nothing_older_than_the_horizon_remains_but_open_orders_and_what_they_need(db, acct, script):
    assert count_older(db, acct, CUTOFF) == {"orders": 10, "order_events": 18, "fills": 3, "cash_activities": 3,
                                             "account_snapshots": 2, "position_snapshots": 4}
    purge(db, acct)
    kept = {k for k, v in script.items() if exists(db, v)}
    # the open gtc, the bracket whose exits are open (its filled entry too), the open replacement and the
    # order it replaced; the rest of 08-28 and 08-31 is gone
    assert kept == {"open_gtc", "bracket_entry", "replaced_by_open", "open_replacement", "day_90_sell", "day_89_buy"}
    older = count_older(db, acct, CUTOFF)
    assert older["cash_activities"] == older["account_snapshots"] == older["position_snapshots"] == 0
    assert older["orders"] == 6  # the 4 open or needed orders and the bracket's 2 exits
    retained_orders = db.execute(
        "select order_id from mbt.orders where account_id = %s and updated_at < %s",
        [acct, et(f"{CUTOFF} 00:00")]).fetchall()
    orphans = db.execute(
        "select count(*) from mbt.order_events as e where e.account_id = %s and e.event_at < %s "
        "and e.order_id <> all(%s)", [acct, et(f"{CUTOFF} 00:00"), [r[0] for r in retained_orders]]).fetchone()[0]
    assert orphans == 0  # every old audit row left belongs to an order that stays
    assert_invariants(db)


def test_the_audit_trail_and_the_fills_go_with_their_order(db, acct, script):
    order_id = script["old_buy"]
    assert db.execute("select count(*) from mbt.order_events where order_id = %s", [order_id]).fetchone()[0] > 0
    purge(db, acct)
    assert db.execute("select (select count(*) from mbt.order_events where order_id = %(o)s), "
                      "(select count(*) from mbt.fills where order_id = %(o)s)", {"o": order_id}).fetchone() == (0, 0)


def test_erasure_takes_what_retention_carried_and_logged(db, user, acct, script):
    purge(db, acct)
    db.execute("select auth.erase_user(%s)", [user["user_id"]])
    assert db.execute("""
        select (select count(*) from mbt.retention_carry where account_id = %(a)s)
             + (select count(*) from mbt.retention_positions where account_id = %(a)s)
             + (select count(*) from jobs.tier_retention_log where account_id = %(a)s)
    """, {"a": acct}).fetchone()[0] == 0


def test_the_audit_trail_stays_append_only_outside_the_purge(db, acct, script):
    db.execute("select set_config('mbt.retention_purge', 'on', true)")  # the flag alone is not enough
    with pytest.raises(psycopg.Error) as err:
        db.execute("delete from mbt.order_events where order_id = %s", [script["old_buy"]])
    assert err.value.diag.sqlstate == "MBA12"


def test_queued_trade_updates_of_purged_orders_go_and_those_of_kept_orders_stay(db, acct, script):
    def queued(order_id) -> int:
        return db.execute("select count(*) from pgmq.q_trade_updates where message -> 'order' ->> 'id' = %s",
                          [str(order_id)]).fetchone()[0]
    assert queued(script["old_buy"]) > 0 and queued(script["open_gtc"]) > 0
    purge(db, acct)
    assert queued(script["old_buy"]) == 0 and queued(script["open_gtc"]) > 0
    assert log_row(db, acct)["trade_updates"] > 0


# --- nothing the user sees changes --------------------------------------------------------------------

def test_balances_positions_and_the_visible_history_are_unchanged(db, user, acct, script):
    before = visible(db, user)
    purge(db, acct)
    after = visible(db, user)
    for key in before:
        assert after[key] == before[key], key
    assert after["positions_table"] == [("ZRB", D("10"), D("20"), D("0")),
                                        ("ZRT", D("85"), before["positions_table"][1][2], D("28.0000"))]
    assert after["account"]["cash"] == "100581.34"
    assert_invariants(db)


def test_portfolio_history_keeps_its_base_from_the_carried_close(db, user, acct, script):
    before = visible(db, user)["history"]
    purge(db, acct)
    everything = db.execute("select mbt.portfolio_history(%s, 'all', null, null, %s)", [acct, AS_OF]).fetchone()[0]
    assert everything == before  # all that is left starts at day 90, on the close of day 91
    assert (everything["base_value_asof"], D(str(everything["base_value"]))) == (
        "2026-08-31", db.execute("select base_equity from mbt.retention_carry where account_id = %s",
                                 [acct]).fetchone()[0])


def test_a_snapshot_written_after_the_purge_still_counts_the_purged_deposits(db, acct, script):
    purge(db, acct)
    assert db.execute("select net_deposits from mbt.retention_carry where account_id = %s", [acct]).fetchone()[0] == \
        D("105000.00")  # the opening 100,000 and the 5,000 of 2026-08-28
    db.execute("select mbt.write_eod_snapshots(%s)", [et("2026-11-30 16:00")])
    assert db.execute("select net_deposits from mbt.account_snapshots where account_id = %s "
                      "and trading_date = '2026-11-30'", [acct]).fetchone()[0] == D("105000.00")


def test_replay_of_the_retained_period_reproduces_its_fills(db, acct, script):
    purge(db, acct)
    assert db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                      [acct, et("2026-09-01 00:00"), et("2026-09-03 00:00")]).fetchall() == []
    assert db.execute("select qty, avg_entry_price from mbt.retention_positions where account_id = %s",
                      [acct]).fetchone() == (D("90"), D("50.000000000"))  # 100 at 50.00 less 10 sold
    assert_invariants(db)


# --- tiers changing -----------------------------------------------------------------------------------

def test_an_upgrade_stops_the_purge_at_the_next_batch(db, user, acct, script):
    first = db.execute("select removed, more from mbt.purge_expired_history(%s, %s, 1)",
                       [[acct], AS_OF]).fetchone()
    assert first[0] > 0 and first[1]
    set_tier(db, user["user_id"], "pro")
    assert db.execute("select removed from mbt.purge_expired_history(%s, %s, 1)", [[acct], AS_OF]).fetchall() == [(0,)]
    assert count_older(db, acct, CUTOFF)["cash_activities"] == 2  # one of three went before the upgrade
    assert_invariants(db)


def test_a_downgrade_applies_the_shorter_history_at_the_next_run(db, user, acct, script):
    set_tier(db, user["user_id"], "pro")
    assert purge(db, acct) == 0
    set_tier(db, user["user_id"], "free")
    assert purge(db, acct, AS_OF + timedelta(days=1)) > 0
    assert count_older(db, acct, "2026-09-02")["cash_activities"] == 0
    assert_invariants(db)


# --- the job ------------------------------------------------------------------------------------------

def test_a_second_run_removes_nothing(db, acct, script):
    assert purge(db, acct) > 0
    assert db.execute("select mbt.apply_tier_retention(%s)", [AS_OF]).fetchone()[0] == 0  # for every account
    assert_invariants(db)


def test_the_job_log_records_what_went_per_table_with_the_horizon_and_cut_off(db, acct, script):
    purge(db, acct)
    row = log_row(db, acct)
    assert (row["tier"], row["history"], row["cutoff_day"].isoformat()) == ("free", timedelta(days=90), CUTOFF)
    # the buy of 08-28, the chain 29.00 -> 28.00 and the sell of 08-31, each with two audit rows (submitted,
    # then fill, replaced or canceled); the deposits of 01-02 and 08-28 and the dividend of 08-31; ZRT and ZRB
    # at the closes of 08-28 and 08-31
    assert {t: row[t] for t in TABLES} == {"orders": 4, "order_events": 8, "fills": 2, "cash_activities": 3,
                                           "account_snapshots": 2, "position_snapshots": 4}


def test_the_batched_job_logs_one_run_and_a_rerun_logs_zero(db, acct, script):
    first = tier_retention.run(db, AS_OF, accounts_per_batch=1, limit=1, pause=0)
    second = tier_retention.run(db, AS_OF, accounts_per_batch=1, limit=1, pause=0)
    assert first.rows > 0 and first.batches >= 4 and second.rows == 0
    assert log_row(db, acct)["batches"] >= 4
    runs = db.execute("select rows_affected from jobs.run_log where job = 'tier_retention' and as_of = %s "
                      "order by run_id", [AS_OF]).fetchall()
    assert runs[-2:] == [(first.rows,), (0,)]
    assert_invariants(db)


def test_a_second_run_meanwhile_is_refused(cfg, db):
    with psycopg.connect(cfg.dsn(), autocommit=True) as other:
        other.execute("select pg_advisory_lock(hashtext('jobs.tier_retention'))")  # a run in progress
        with pytest.raises(tier_retention.AlreadyRunning):
            tier_retention.run(db, AS_OF, pause=0)


def test_the_scheduler_runs_it_every_day_at_20_45(db):
    assert ("tier_retention", et("2026-11-30 20:45")) in db.execute(
        "select job, as_of from jobs.due_runs(%s, %s)", [et("2026-11-30 00:00"), et("2026-12-01 00:00")]).fetchall()


# --- concurrency --------------------------------------------------------------------------------------

def test_a_purge_running_while_orders_are_submitted_loses_nothing(cfg, admin):
    """Committed accounts with expired history; the batched job purges them while four other
    connections submit orders to the same accounts. No error, no deadlock, every order kept."""
    symbol = f"ZC{uuid.uuid4().hex[:4].upper()}"
    admin.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ')", [symbol])
    users = [sign_up_in_db(admin) for _ in range(8)]
    accounts = [u["account_id"] for u in users]
    admin.execute("""
        insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount, description)
        select a, 'DIV', %s::timestamptz + make_interval(mins => g), 0.01, 'old'
        from unnest(%s::uuid[]) as a cross join generate_series(1, 200) as g
    """, [et("2026-03-02 10:00"), accounts])
    admin.execute("update mbt.accounts set cash = cash + 2.00 where account_id = any(%s)", [accounts])  # 200 x 0.01
    errors, submitted = [], []

    def submitter(k: int) -> None:
        try:
            with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
                for i in range(25):
                    row = conn.execute("select (mbt.submit_order(%s, %s::jsonb, %s)).order_id", [
                        accounts[(k + i) % len(accounts)],
                        json.dumps({"symbol": symbol, "qty": 1, "side": "buy", "type": "limit",
                                    "limit_price": "1.00", "time_in_force": "gtc"}),
                        et("2026-11-30 19:00")]).fetchone()
                    submitted.append(row[0])
        except Exception as exc:  # every failure is reported by the assertion below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=submitter, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
            result = tier_retention.run(conn, AS_OF, accounts_per_batch=2, limit=20, log_run=False, pause=0)
        for t in threads:
            t.join()
        assert errors == []
        assert result.rows >= 8 * 201  # 200 old dividends and the opening deposit of each account
        left = admin.execute("select count(*) from mbt.cash_activities where account_id = any(%s) "
                             "and activity_at < %s", [accounts, et(f"{CUTOFF} 00:00")]).fetchone()[0]
        assert left == 0
        assert admin.execute("select count(*) from mbt.orders where order_id = any(%s)",
                             [submitted]).fetchone()[0] == len(submitted) == 100
        assert_invariants(admin)
    finally:
        for u in users:
            admin.execute("select auth.erase_user(%s)", [u["user_id"]])
        admin.execute("delete from md.assets where symbol = %s", [symbol])

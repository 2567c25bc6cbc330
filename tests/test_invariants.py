"""mbt.check_invariants(as_of): the ledger's truths, one row per violation, none when they hold. Ordinary trading
leaves it empty; each test below corrupts one thing (as the superuser, in the test's rolled-back transaction) and
finds exactly that invariant named, with the figures.

The book most tests corrupt (Tuesday 2026-11-24, New York time; the account opened with a $100,000.00 deposit):
  10:00:01  market buy 100 ZINV at the ask 50.00                         cash 100,000.00 - 5,000.00 = 95,000.00
  10:01     gtc limit buy 500 at 49.50: holds ceil(500 x 49.50) = 24,750.00
  10:05     a quote asks 49.50 for 200: 200 of the 500 fill               cash 95,000.00 - 9,900.00 = 85,100.00
            the limit now holds 24,750.00 x 300 / 500 = 14,850.00
Position 300 ZINV at (5,000.00 + 9,900.00) / 300 = 49.666666667.
"""

import json
from datetime import timedelta
from decimal import Decimal as D

import psycopg
import pytest

from conftest import act_as, assert_invariants, invariant_violations, sign_up_in_db
from engine import add_asset, et, insert_quotes, submit
from jobs import scheduler

BUY = {"symbol": "ZINV", "side": "buy", "time_in_force": "gtc"}


@pytest.fixture
def book(db) -> dict:
    add_asset(db, "ZINV")
    acct = sign_up_in_db(db)["account_id"]
    insert_quotes(db, ("ZINV", "49.90", "50.00", et("2026-11-24 10:00"), 300, 300))
    bought = submit(db, acct, et("2026-11-24 10:00:01"), **BUY, qty=100, type="market")
    resting = submit(db, acct, et("2026-11-24 10:01"), **BUY, qty=500, type="limit", limit_price="49.50")
    insert_quotes(db, ("ZINV", "49.40", "49.50", et("2026-11-24 10:05"), 300, 200))
    return {"account_id": acct, "bought": bought["id"], "resting": resting["id"]}


def violations(db, acct, as_of="infinity") -> list[tuple[str, dict]]:
    """The account's violations, their figures as exact decimals."""
    rows = db.execute("select invariant, details::text from mbt.check_invariants(%s::timestamptz) "
                      "where account_id = %s", [as_of, acct]).fetchall()
    return [(invariant, json.loads(details, parse_float=D)) for invariant, details in rows]


def fill_of(db, order_id) -> dict:
    cur = db.execute("select * from mbt.fills where order_id = %s", [order_id])
    return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def audit(db, acct, order_id, event: str) -> None:
    """Append the audit row a change would have written (the audit trail is append-only: inserts are fine)."""
    db.execute("insert into mbt.order_events (account_id, order_id, event, event_at, order_state) "
               "select account_id, order_id, %s, updated_at, mbt.order_json(o) from mbt.orders as o "
               "where account_id = %s and order_id = %s", [event, acct, order_id])


# --- clean ---------------------------------------------------------------------------------------------


def test_ordinary_trading_leaves_every_invariant_holding(db, book):
    acct = book["account_id"]
    at = et("2026-11-24 10:10")
    insert_quotes(db, ("ZINV", "49.30", "49.40", at, 1000, 1000))          # the other 300 of the limit at 49.40
    insert_quotes(db, ("ZINV", "51.00", "51.10", at + timedelta(minutes=1), 1000, 1000))
    submit(db, acct, at + timedelta(minutes=1, seconds=1), symbol="ZINV", side="sell", qty=50, type="market",
           time_in_force="day")                                            # realizes 50 x (51.00 - the average)
    at = et("2026-11-24 10:20")
    replaced = submit(db, acct, at, **BUY, qty=10, type="limit", limit_price="40.00")
    replacement = db.execute("select (mbt.replace_order(%s, %s, %s, %s)).order_id",
                             [acct, replaced["id"], json.dumps({"limit_price": "40.50"}), at]).fetchone()[0]
    db.execute("select mbt.cancel_order(%s, %s, %s)", [acct, replacement, at + timedelta(seconds=1)])
    submit(db, acct, at, **{**BUY, "time_in_force": "day"}, qty=10, type="limit", limit_price="41.00")
    db.execute("select mbt.expire_day_orders(%s)", [et("2026-11-24 16:00")])
    db.execute("insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount) "
               "values (%s, 'DIV', %s, 12.34), (%s, 'FEE', %s, -1.50)", [acct, at, acct, at])
    db.execute("update mbt.accounts set cash = cash + 12.34 - 1.50 where account_id = %s", [acct])
    assert db.execute("select count(*) from mbt.fills where account_id = %s", [acct]).fetchone()[0] == 4
    assert invariant_violations(db) == []


# --- each invariant, broken on purpose ----------------------------------------------------------------


def test_cash_the_ledger_does_not_explain_is_a_cash_violation_with_every_term(db, book):
    db.execute("update mbt.accounts set cash = cash + 0.01 where account_id = %s", [book["account_id"]])
    assert violations(db, book["account_id"]) == [("cash", {
        "cash": D("85100.01"), "expected": D("85100.00"), "difference": D("0.01"), "carried": 0,
        "deposits": D("100000.00"), "withdrawals": 0, "fills": D("-14900.00"), "fees": 0, "other": 0})]


def test_a_position_its_fills_do_not_add_up_to_is_a_position_qty_violation(db, book):
    db.execute("update mbt.positions set qty = 301 where account_id = %s", [book["account_id"]])
    assert violations(db, book["account_id"]) == [("position_qty", {
        "symbol": "ZINV", "qty": 301, "fills_qty": 300, "difference": 1})]


def test_a_position_without_its_row_is_a_position_qty_violation(db, book):
    db.execute("delete from mbt.positions where account_id = %s", [book["account_id"]])
    assert violations(db, book["account_id"]) == [("position_qty", {
        "symbol": "ZINV", "qty": 0, "fills_qty": 300, "difference": -300})]


def test_an_average_its_fills_do_not_give_is_a_position_avg_entry_price_violation(db, book):
    db.execute("update mbt.positions set avg_entry_price = 49.67 where account_id = %s", [book["account_id"]])
    assert violations(db, book["account_id"]) == [("position_avg_entry_price", {
        "symbol": "ZINV", "avg_entry_price": D("49.67"), "fills_avg_price": D("49.666666667")})]


def test_an_order_filled_beyond_its_qty_is_a_filled_qty_within_qty_violation(db, book):
    db.execute("alter table mbt.orders drop constraint orders_filled_within_qty")  # rolled back with the test
    db.execute("update mbt.orders set qty = 90 where order_id = %s", [book["bought"]])
    assert violations(db, book["account_id"]) == [("filled_qty_within_qty", {
        "order_id": str(book["bought"]), "qty": 90, "filled_qty": 100})]


def test_a_filled_qty_its_fills_do_not_add_up_to_is_a_filled_qty_violation(db, book):
    # the order and its audit row say 250 filled; its fills add up to 200
    db.execute("update mbt.orders set filled_qty = 250 where order_id = %s", [book["resting"]])
    audit(db, book["account_id"], book["resting"], "partial_fill")
    assert violations(db, book["account_id"]) == [("filled_qty", {
        "order_id": str(book["resting"]), "filled_qty": 250, "fills_qty": 200})]


def test_a_done_order_that_still_holds_buying_power_is_an_open_order_holds_violation(db, book):
    db.execute("update mbt.orders set buying_power_held = 100.00 where order_id = %s", [book["bought"]])
    assert violations(db, book["account_id"]) == [("open_order_holds", {
        "reserved": D("14850.00"), "held_by_orders": D("14950.00"),
        "done_orders_holding": [{"order_id": str(book["bought"]), "status": "filled", "buying_power_held": 100}]})]


def test_an_open_order_that_buying_power_does_not_reserve_is_an_open_order_holds_violation(db, book):
    # pending_new holds 14,850.00 that buying power does not count
    db.execute("update mbt.orders set status = 'pending_new' where order_id = %s", [book["resting"]])
    audit(db, book["account_id"], book["resting"], "accepted")
    assert violations(db, book["account_id"]) == [("open_order_holds", {
        "reserved": 0, "held_by_orders": D("14850.00"), "done_orders_holding": []})]


DIFFERS = "the quote copy differs from md.quotes"


@pytest.mark.parametrize(("corruption", "problems"), [
    ("quote_ask_price = 50.01", ["the price is not the quote's ask", DIFFERS]),
    ("quote_bid_size = 1", [DIFFERS]),
    ("quote_ask_size = 0", ["the quote copy shows no size on the fill's side", DIFFERS]),
    ("quote_bid_price = 50.00", ["the quote copy is crossed, locked or zero", DIFFERS]),
    ("quote_time = transaction_time + interval '1 second'", ["the quote is later than the fill"]),
])
def test_a_fill_without_its_quote_as_evidence_is_a_fill_evidence_violation(db, book, corruption, problems):
    fill = fill_of(db, book["bought"])
    db.execute(f"update mbt.fills set {corruption} where fill_id = %s", [fill["fill_id"]])
    [(invariant, details)] = violations(db, book["account_id"])
    assert (invariant, details["fill_id"], details["problems"]) == ("fill_evidence", str(fill["fill_id"]), problems)


def test_a_status_the_audit_trail_never_recorded_is_an_order_audit_violation(db, book):
    db.execute("update mbt.orders set status = 'partially_filled' where order_id = %s", [book["bought"]])
    [(invariant, details)] = violations(db, book["account_id"])
    assert invariant == "order_audit"
    assert (details["status"], details["audit_event"], details["audit_status"]) == (
        "partially_filled", "fill", "filled")


def test_a_fill_without_its_audit_row_is_an_order_audit_violation(db, book):
    fill = fill_of(db, book["resting"])
    db.execute("alter table mbt.order_events disable trigger order_events_append_only")  # rolled back
    db.execute("delete from mbt.order_events where fill_id = %s", [fill["fill_id"]])
    [(invariant, details)] = violations(db, book["account_id"])
    assert invariant == "order_audit"
    assert (details["order_id"], details["fills_without_audit_row"]) == (str(book["resting"]), [str(fill["fill_id"])])
    assert (details["audit_event"], details["audit_filled_qty"], details["filled_qty"]) == ("submitted", 0, 200)


def test_an_order_without_audit_rows_is_an_order_audit_violation(db, book):
    db.execute("alter table mbt.order_events disable trigger order_events_append_only")  # rolled back
    db.execute("delete from mbt.order_events where order_id = %s", [book["bought"]])
    [(invariant, details)] = violations(db, book["account_id"])
    assert (invariant, details["audit_event_id"], len(details["fills_without_audit_row"])) == ("order_audit", None, 1)


# --- as_of ---------------------------------------------------------------------------------------------


def test_at_an_earlier_as_of_later_rows_have_not_happened_and_the_figures_are_taken_back(db, book):
    # at 10:02 only the first buy had filled: 95,000.00, and the extra cent shows against it
    db.execute("update mbt.accounts set cash = cash + 0.01 where account_id = %s", [book["account_id"]])
    [(invariant, details)] = violations(db, book["account_id"], et("2026-11-24 10:02"))
    assert (invariant, details["cash"], details["expected"], details["fills"]) == (
        "cash", D("95000.01"), D("95000.00"), D("-5000.00"))


def test_an_order_created_after_as_of_is_not_looked_at(db, book):
    db.execute("update mbt.orders set status = 'new' where order_id = %s", [book["resting"]])  # submitted 10:01
    assert [i for i, _ in violations(db, book["account_id"], et("2026-11-24 10:00:30"))] == []
    assert "order_audit" in [i for i, _ in violations(db, book["account_id"])]


def test_a_clean_book_is_clean_at_every_instant(db, book):
    for at in ("2026-11-24 09:00", "2026-11-24 10:00:00.5", "2026-11-24 10:03", "2026-11-24 10:05", "2026-11-25 00:00"):
        assert violations(db, book["account_id"], et(at)) == [], at


# --- who may run it -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["app_user", "web_anon", "analyst"])
def test_web_roles_and_analysts_cannot_run_it(db, role):
    """It names accounts by the ids the API shows; analysts see accounts only under pseudonymous keys."""
    act_as(db, role)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("select * from mbt.check_invariants()")


def test_the_jobs_role_can_run_it(db, book):
    db.execute("update mbt.accounts set cash = cash + 0.01 where account_id = %s", [book["account_id"]])
    db.execute("set local role mbt_jobs")
    rows = db.execute("select invariant from mbt.check_invariants('infinity') where account_id = %s",
                      [book["account_id"]]).fetchall()
    assert rows == [("cash",)]


# --- the nightly job ----------------------------------------------------------------------------------


def test_the_scheduler_runs_the_check_every_night_at_21_30(db):
    runs = scheduler.due_runs(db, et("2026-11-28 00:00"), et("2026-11-29 00:00"))  # a Saturday
    assert runs[-1] == ("check_invariants", et("2026-11-28 21:30"))


def test_the_job_counts_the_violations_in_the_run_log_and_logs_each_one(db, book, caplog):
    db.execute("update mbt.accounts set cash = cash + 0.01 where account_id = %s", [book["account_id"]])
    db.add_notice_handler(scheduler.log_warnings)
    as_of = et("2026-11-24 21:30")
    with caplog.at_level("INFO", logger="jobs.scheduler"):
        run = scheduler.run_one(db, "check_invariants", as_of)
    expected = len(invariant_violations(db, as_of))  # ours; any other would be a finding of its own
    assert run.rows == expected >= 1
    assert db.execute("select rows_affected, violations, error from jobs.run_log "
                      "where job = 'check_invariants' and as_of = %s", [as_of]).fetchall() == [(0, expected, None)]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(f"invariant cash violated in account {book['account_id']}" in w and '"difference": 0.01' in w
               for w in warnings), warnings
    assert any(r.levelname == "ERROR" and f"{expected} violations" in r.getMessage() for r in caplog.records)


def test_a_clean_night_logs_zero_violations(db, book):
    as_of = et("2026-11-24 21:30")
    assert scheduler.run_one(db, "check_invariants", as_of).rows == 0
    assert db.execute("select violations from jobs.run_log where job = 'check_invariants' and as_of = %s",
                      [as_of]).fetchone() == (0,)
    assert_invariants(db)

"""Riding trailing stops give the fills and marks of stops that each trail on their own. A seeded random
walk of quotes, in batches, over many sell and buy trailing stops (dollar and percent trails, submitted along
the way, some canceled) is checked three ways: against a plain Python model of one stop trailing alone
(mark, stop, the quote that triggers it, its fill price), against the engine's replay (which trails every
stop on its own, riding nothing), and on every live stop's mark as the readers show it."""

import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from conftest import assert_invariants, sign_up_in_db
from engine import add_asset, et, insert_quotes, order, submit

START = et("2026-11-24 10:00:00")
CENT = Decimal("0.01")


def stop_price(side: str, mark: Decimal, trail_price, trail_percent) -> Decimal:
    trail = trail_price if trail_price is not None else mark * trail_percent / 100
    return (mark - trail if side == "sell" else mark + trail).quantize(CENT, rounding=ROUND_HALF_UP)


def model(stop: dict, quotes: list[tuple]) -> tuple:
    """One stop trailing alone: (mark, quote time it triggered at or None, fill price or None), up to
    stop['ends'] (its cancel), over the quotes at or after its submission."""
    mark, side = stop["hwm"], stop["side"]
    for bid, ask, at in quotes:
        if at < stop["submitted"] or (stop["ends"] is not None and at >= stop["ends"]):
            continue
        mark = max(mark, bid) if side == "sell" else min(mark, ask)
        level = stop_price(side, mark, stop["trail_price"], stop["trail_percent"])
        if side == "sell" and bid <= level:
            return mark, at, bid
        if side == "buy" and ask >= level:
            return mark, at, ask
    return mark, None, None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_riders_fill_and_trail_exactly_as_stops_trailing_alone(db, seed):
    rng = random.Random(seed)
    add_asset(db, "ZRDR")
    # sell stops in one account (it holds the shares), buy stops in another (wash-trade protection)
    accounts = {side: sign_up_in_db(db)["account_id"] for side in ("sell", "buy")}
    for account in accounts.values():  # a deposit of 9,900,000.00 each, as the ledger books one
        db.execute("insert into mbt.cash_activities (account_id, activity_type, activity_at, net_amount) "
                   "values (%s, 'CSD', %s, 9900000.00)", [account, START - timedelta(days=1)])
        db.execute("update mbt.accounts set cash = cash + 9900000.00 where account_id = %s", [account])
    bid = Decimal("100.00")
    at = START
    insert_quotes(db, ("ZRDR", bid, bid + CENT * 5, at))
    submit(db, accounts["sell"], at + timedelta(seconds=0.5), symbol="ZRDR", qty=100, side="buy", type="market",
           time_in_force="day")
    quotes, stops, riders_seen = [(bid, bid + CENT * 5, at)], [], 0
    for batch in range(40):
        # stops go in between batches, at the latest quote
        for _ in range(rng.randint(0, 3) if batch < 30 else 0):
            side = rng.choice(["sell", "sell", "buy"])
            trail = ({"trail_price": str(Decimal(rng.randint(20, 250)) / 100)} if rng.random() < 0.5
                     else {"trail_percent": str(Decimal(rng.randint(20, 300)) / 100)})
            submitted = at + timedelta(seconds=0.5)
            o = submit(db, accounts[side], submitted, symbol="ZRDR", qty=1, side=side, type="trailing_stop",
                       time_in_force="gtc", **trail)
            stops.append({
                "id": o["id"], "side": side, "account": accounts[side], "hwm": Decimal(o["hwm"]),
                "submitted": submitted, "ends": None,
                "trail_price": Decimal(trail["trail_price"]) if "trail_price" in trail else None,
                "trail_percent": Decimal(trail["trail_percent"]) if "trail_percent" in trail else None,
            })
        # now and then a live stop is canceled
        if stops and rng.random() < 0.2:
            victim = rng.choice(stops)
            if order(db, victim["id"])["status"] == "new":
                victim["ends"] = at + timedelta(seconds=0.7)
                db.execute("select mbt.cancel_order(%s, %s, %s)", [victim["account"], victim["id"], victim["ends"]])
        rows = []
        for _ in range(rng.randint(1, 6)):
            at += timedelta(seconds=rng.randint(1, 8))
            bid = max(Decimal("50"), bid + CENT * rng.randint(-60, 62))
            ask = bid + CENT * rng.randint(1, 6)
            rows.append(("ZRDR", bid, ask, at))
            quotes.append((bid, ask, at))
        insert_quotes(db, *rows)
        riders_seen = max(riders_seen, db.execute("select count(*) from mbt.trailing_marks where rides").fetchone()[0])

    triggered = 0
    for stop in stops:
        mark, trigger_at, price = model(stop, quotes)
        now = order(db, stop["id"])
        got = db.execute("select price, quote_time from mbt.fills where order_id = %s", [stop["id"]]).fetchall()
        if trigger_at is None:
            assert got == [], stop
            assert Decimal(now["hwm"]) == mark, stop
            expected_stop = stop_price(stop["side"], mark, stop["trail_price"], stop["trail_percent"])
            assert Decimal(now["stop_price"]) == expected_stop, stop
        else:
            triggered += 1
            assert got == [(price, trigger_at)], stop
            assert Decimal(now["hwm"]) == mark, stop
    # the walk made riders, and some of them triggered: the test exercised what it is about
    assert riders_seen > 1 and triggered > 0
    for account in accounts.values():
        assert db.execute("select * from mbt.replay_fills(%s, %s, %s)",
                          [account, et("2026-11-24 00:00"), et("2026-11-25 00:00")]).fetchall() == []
    assert_invariants(db)

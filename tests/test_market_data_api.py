"""Tier-gated market data through /api: assets, latest quotes, quote history, 1-minute bars and option
chains. The rule is md.quote_window(tier, now): Free sees market data delayed 15 minutes and the last
7 days, Pro real time and the last 30 days, Pro+ real time and the whole archive; anonymous callers
see assets only. The quote attached to a user's own fill is never hidden from that user."""

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal as D

import httpx
import pytest

from conftest import assert_error, log_in, sign_up
from engine import et, insert_quotes

# tier windows (free: delayed 15 minutes), history windows and the next open are read at now()
# (make test-clock runs these at a matrix of instants)
pytestmark = pytest.mark.clock

OBJECT = {"Accept": "application/vnd.pgrst.object+json"}


# --- the rule, once per tier, at a fixed instant ----------------------------------------------------

@pytest.mark.parametrize(("tier", "feed", "visible_from", "visible_until"), [
    ("free", "delayed_sip", et("2026-11-17 10:00"), et("2026-11-24 09:45")),
    ("pro", "sip", et("2026-10-25 10:00"), None),
    ("pro_plus", "sip", None, None),
])
def test_each_tier_sees_its_window(db, tier, feed, visible_from, visible_until):
    row = db.execute("select feed, visible_from, visible_until from md.quote_window(%s, %s)",
                     [tier, et("2026-11-24 10:00")]).fetchone()
    assert row == (feed, visible_from, visible_until)


def test_a_token_without_a_known_tier_gets_the_free_window(db):
    db.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"role": "app_user", "tier": "gold"})])
    assert db.execute("select md.request_tier()").fetchone()[0] == "free"


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture
def now(admin) -> datetime:
    return admin.execute("select now()").fetchone()[0]


@pytest.fixture
def symbol(admin) -> str:
    name = "Q" + uuid.uuid4().hex[:6].upper()
    admin.execute("insert into md.assets (symbol, exchange, name) values (%s, 'NASDAQ', 'Quote Test Inc')", [name])
    return name


@pytest.fixture
def quoted(admin, symbol, now) -> str:
    """Two quotes: 20 minutes old (99.00 x 99.10) and 10 minutes old (100.00 x 100.10)."""
    with admin.transaction():
        insert_quotes(admin, (symbol, "99.00", "99.10", now - timedelta(minutes=20)),
                      (symbol, "100.00", "100.10", now - timedelta(minutes=10)))
    return symbol


def user_of_tier(api: httpx.Client, admin, tier: str):
    user = sign_up(api)
    if tier != "free":
        admin.execute("select auth.set_tier(%s, %s)", [user.id, tier])
        user = log_in(api, user)  # the tier rides in the access token: a new one carries it
    return user


@pytest.fixture
def free(api, admin):
    return user_of_tier(api, admin, "free")


@pytest.fixture
def pro(api, admin):
    return user_of_tier(api, admin, "pro")


@pytest.fixture
def pro_plus(api, admin):
    return user_of_tier(api, admin, "pro_plus")


def latest(api, user, symbol) -> dict:
    r = api.get("/api/rpc/latest_quotes", params={"symbols": symbol}, headers=user.auth)
    assert r.status_code == 200, r.text
    return r.json()


# --- the window over HTTP -------------------------------------------------------------------------

@pytest.mark.parametrize(("tier", "expected"), [
    ("free", {"tier": "free", "feed": "delayed_sip", "delay_seconds": 900, "history_days": 7}),
    ("pro", {"tier": "pro", "feed": "sip", "delay_seconds": 0, "history_days": 30}),
    ("pro_plus", {"tier": "pro_plus", "feed": "sip", "delay_seconds": 0, "history_days": None}),
])
def test_the_caller_can_ask_which_window_their_tier_sees(api, admin, tier, expected):
    user = user_of_tier(api, admin, tier)
    r = api.get("/api/rpc/market_data_window", headers=user.auth)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in expected} == expected


# --- latest quotes --------------------------------------------------------------------------------

def test_free_sees_the_latest_quote_that_is_at_least_15_minutes_old(api, free, quoted):
    body = latest(api, free, quoted)
    assert body["feed"] == "delayed_sip"
    q = body["quotes"][quoted]
    # the 10-minute-old quote (100.00 x 100.10) is hidden; the 20-minute-old one is the latest free sees
    assert (D(str(q["bp"])), D(str(q["ap"]))) == (D("99.00"), D("99.10"))


def test_pro_sees_a_quote_10_minutes_old(api, pro, quoted):
    body = latest(api, pro, quoted)
    q = body["quotes"][quoted]
    assert (body["feed"], D(str(q["bp"])), D(str(q["ap"]))) == ("sip", D("100.00"), D("100.10"))


def test_pro_plus_sees_the_newest_quote(api, pro_plus, quoted):
    q = latest(api, pro_plus, quoted)["quotes"][quoted]
    assert (D(str(q["bp"])), D(str(q["ap"]))) == (D("100.00"), D("100.10"))


def test_a_latest_quote_is_in_alpacas_shape(api, pro, quoted, now):
    q = latest(api, pro, quoted)["quotes"][quoted]
    assert set(q) == {"t", "bx", "bp", "bs", "ax", "ap", "as", "c", "z"}
    assert (q["bx"], q["ax"], q["bs"], q["as"], q["c"]) == ("Q", "P", 100, 100, [])
    assert datetime.fromisoformat(q["t"]) == now - timedelta(minutes=10)


def test_free_gets_no_latest_quote_for_a_symbol_quoted_only_in_the_last_15_minutes(api, admin, free, symbol, now):
    with admin.transaction():
        insert_quotes(admin, (symbol, "50.00", "50.05", now - timedelta(minutes=5)))
    assert latest(api, free, symbol)["quotes"] == {}


def test_latest_quotes_of_several_symbols_leave_out_the_unknown_ones(api, pro, quoted):
    body = latest(api, pro, f"{quoted.lower()}, ZZNOPE")
    assert list(body["quotes"]) == [quoted]


def test_latest_quotes_without_symbols_is_a_422(api, pro):
    r = api.get("/api/rpc/latest_quotes", params={"symbols": " , "}, headers=pro.auth)
    assert_error(r, 422, "MBV04")


def test_anonymous_callers_get_no_quotes(api, quoted):
    r = api.get("/api/rpc/latest_quotes", params={"symbols": quoted})
    assert r.status_code == 401, r.text


# --- the quote of a user's own fill ----------------------------------------------------------------

def test_a_free_users_fill_shows_its_quote_even_while_the_quote_is_hidden_from_free(api, admin, free, symbol):
    next_open = admin.execute("select next_open from md.clock(now())").fetchone()[0]
    r = api.post("/api/rpc/submit_order", headers=free.auth, json={
        "symbol": symbol, "qty": 10, "side": "buy", "type": "limit", "limit_price": "100.00", "time_in_force": "gtc"})
    assert r.status_code == 200, r.text
    with admin.transaction():  # stamped at the next open: newer than now - 15 minutes
        insert_quotes(admin, (symbol, "99.90", "99.95", next_open + timedelta(minutes=1)))

    assert latest(api, free, symbol)["quotes"] == {}  # hidden from free quote data ...
    [fill] = api.get("/api/fills", params={"order_id": f"eq.{r.json()['id']}"}, headers=free.auth).json()
    # ... but the fill carries it: bought at the ask 99.95 of the 99.90 x 99.95 quote
    assert (fill["price"], fill["quote_bid_price"], fill["quote_ask_price"]) == ("99.95", "99.9", "99.95")
    assert datetime.fromisoformat(fill["quote_time"]) == next_open + timedelta(minutes=1)


# --- quote history --------------------------------------------------------------------------------

def history(api, user, symbol, **params) -> httpx.Response:
    return api.get("/api/rpc/quotes", params={"symbol": symbol, **params}, headers=user.auth)


def prices(body: dict) -> list[D]:
    return [D(str(q["bp"])) for q in body["quotes"]]


def test_free_quote_history_ends_15_minutes_ago(api, free, quoted, now):
    r = history(api, free, quoted, start=(now - timedelta(hours=1)).isoformat())
    assert r.status_code == 200, r.text
    assert (prices(r.json()), r.json()["feed"]) == ([D("99.00")], "delayed_sip")


def test_pro_quote_history_reaches_the_present(api, pro, quoted, now):
    r = history(api, pro, quoted, start=(now - timedelta(hours=1)).isoformat())
    assert prices(r.json()) == [D("99.00"), D("100.00")]


def test_free_asking_for_history_up_to_now_is_a_403_with_an_upgrade_hint(api, free, quoted, now):
    r = history(api, free, quoted, start=(now - timedelta(hours=1)).isoformat(), end=now.isoformat())
    body = assert_error(r, 403, "MBD01")
    assert "Pro" in body["hint"] and "15" in body["message"]


def test_pro_asking_for_history_older_than_30_days_is_a_403(api, pro, quoted, now):
    r = history(api, pro, quoted, start=(now - timedelta(days=31)).isoformat())
    body = assert_error(r, 403, "MBD02")
    assert "Pro+" in body["hint"]


def test_free_asking_for_history_older_than_7_days_is_a_403(api, free, quoted, now):
    r = history(api, free, quoted, start=(now - timedelta(days=8)).isoformat())
    assert_error(r, 403, "MBD02")


def test_pro_plus_sees_a_quote_40_days_old(api, admin, pro_plus, symbol, now):
    with admin.transaction():
        insert_quotes(admin, (symbol, "80.00", "80.10", now - timedelta(days=40)))
    r = history(api, pro_plus, symbol, start=(now - timedelta(days=41)).isoformat())
    assert r.status_code == 200, r.text
    assert prices(r.json()) == [D("80.00")]


def test_quote_history_pages_with_next_page_token(api, admin, pro, symbol, now):
    with admin.transaction():
        insert_quotes(admin, *[(symbol, f"{10 + i}.00", f"{10 + i}.05", now - timedelta(minutes=30 - i))
                               for i in range(3)])
    start = (now - timedelta(hours=1)).isoformat()
    first = history(api, pro, symbol, start=start, page_size=2).json()
    second = history(api, pro, symbol, start=start, page_size=2, page_token=first["next_page_token"]).json()
    assert (prices(first), prices(second)) == ([D("10.00"), D("11.00")], [D("12.00")])
    assert second["next_page_token"] is None


def test_quote_history_newest_first(api, pro, quoted, now):
    r = history(api, pro, quoted, start=(now - timedelta(hours=1)).isoformat(), sort="desc")
    assert prices(r.json()) == [D("100.00"), D("99.00")]


def test_a_page_token_that_is_not_ours_is_a_422(api, pro, quoted):
    assert_error(history(api, pro, quoted, page_token="not-a-token"), 422, "MBV03")


def test_a_page_size_over_10000_is_a_422(api, pro, quoted):
    assert_error(history(api, pro, quoted, page_size=10001), 422, "MBV03")


# --- bars -----------------------------------------------------------------------------------------

@pytest.fixture
def barred(admin, symbol, now) -> str:
    """Two 1-minute bars: one that started 20 minutes ago (close 99.50), one 10 minutes ago (close 100.50)."""
    for minutes, close in ((20, "99.50"), (10, "100.50")):
        admin.execute("insert into md.bars_1m (symbol, bar_time, open_price, high_price, low_price, close_price, "
                      "volume, trade_count, vwap) "
                      "values (%s, date_trunc('minute', %s::timestamptz), %s, %s, %s, %s, 1200, 12, %s)",
                      [symbol, now - timedelta(minutes=minutes), close, close, close, close, close])
    return symbol


def closes(body: dict) -> list[D]:
    return [D(str(b["c"])) for b in body["bars"]]


def test_free_sees_the_bar_of_20_minutes_ago_but_not_the_one_of_10(api, free, barred, now):
    r = api.get("/api/rpc/bars", params={"symbol": barred, "start": (now - timedelta(hours=1)).isoformat()},
                headers=free.auth)
    assert r.status_code == 200, r.text
    assert closes(r.json()) == [D("99.50")]


def test_pro_sees_both_bars_in_alpacas_shape(api, pro, barred, now):
    r = api.get("/api/rpc/bars", params={"symbol": barred, "start": (now - timedelta(hours=1)).isoformat()},
                headers=pro.auth)
    assert closes(r.json()) == [D("99.50"), D("100.50")]
    assert set(r.json()["bars"][0]) == {"t", "o", "h", "l", "c", "v", "n", "vw"}


# --- assets ---------------------------------------------------------------------------------------

def test_anonymous_callers_read_an_asset_in_alpacas_shape(api, symbol):
    r = api.get("/api/assets", params={"symbol": f"eq.{symbol}"}, headers=OBJECT)
    assert r.status_code == 200, r.text
    asset = r.json()
    assert {"id", "class", "exchange", "symbol", "status", "tradable", "marginable", "shortable", "easy_to_borrow",
            "fractionable"} <= set(asset)
    assert (asset["class"], asset["exchange"], asset["status"], asset["name"]) == (
        "us_equity", "NASDAQ", "active", "Quote Test Inc")


# --- option chains --------------------------------------------------------------------------------

@pytest.fixture
def chain(admin, symbol, now) -> dict:
    """Calls at 95 and 105 and a put at 100 on `symbol`, expiring 2026-12-18; the 105 call is an adjusted
    contract (multiplier 100, delivers 150 shares) quoted 10 minutes ago."""
    contracts = {}
    for kind, strike, shares in (("C", 95, 100), ("C", 105, 150), ("P", 100, 100)):
        occ = f"{symbol}261218{kind}{strike * 1000:08d}"
        with admin.transaction():
            asset_id = admin.execute(
                "insert into md.assets (symbol, asset_class, exchange, name) "
                "values (%s, 'us_option', 'OPRA', %s) returning asset_id", [occ, occ]).fetchone()[0]
            admin.execute("insert into md.option_contracts (symbol, asset_id, underlying_symbol, root_symbol, "
                          "expiration_date, option_type, strike_price, deliverables) "
                          "values (%s, %s, %s, %s, '2026-12-18', %s, %s, %s)",
                          [occ, asset_id, symbol, symbol, "call" if kind == "C" else "put", strike,
                           json.dumps([{"type": "equity", "symbol": symbol, "amount": str(shares)}])])
        contracts[(kind, strike)] = occ
    with admin.transaction():
        insert_quotes(admin, (contracts[("C", 105)], "2.10", "2.20", now - timedelta(minutes=10)))
    return {"underlying": symbol, **{f"{k}{s}": v for (k, s), v in contracts.items()}}


def option_chain(api, user, **params) -> dict:
    r = api.get("/api/rpc/option_chain", params=params, headers=user.auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_chain_filters_by_type_and_strike(api, pro, chain):
    body = option_chain(api, pro, underlying_symbol=chain["underlying"], type="call", strike_price_gte=100)
    assert [c["symbol"] for c in body["option_contracts"]] == [chain["C105"]]


def test_a_contract_shows_its_multiplier_and_deliverable(api, pro, chain):
    [c] = option_chain(api, pro, underlying_symbol=chain["underlying"], type="call", strike_price_gte=100)[
        "option_contracts"]
    assert (c["strike_price"], c["multiplier"], c["type"], c["style"], c["expiration_date"]) == (
        "105", "100", "call", "american", "2026-12-18")
    assert c["deliverables"] == [{"type": "equity", "symbol": chain["underlying"], "amount": "150"}]


def test_pro_sees_the_latest_quote_of_a_contract_quoted_10_minutes_ago(api, pro, chain):
    [c] = option_chain(api, pro, underlying_symbol=chain["underlying"], strike_price_gte=105)["option_contracts"]
    assert (D(str(c["latest_quote"]["bp"])), D(str(c["latest_quote"]["ap"]))) == (D("2.10"), D("2.20"))


def test_free_sees_no_latest_quote_for_a_contract_quoted_10_minutes_ago(api, free, chain):
    [c] = option_chain(api, free, underlying_symbol=chain["underlying"], strike_price_gte=105)["option_contracts"]
    assert c["latest_quote"] is None


def test_the_chain_pages_by_contract_symbol(api, pro, chain):
    first = option_chain(api, pro, underlying_symbol=chain["underlying"], page_size=2)
    second = option_chain(api, pro, underlying_symbol=chain["underlying"], page_size=2,
                          page_token=first["next_page_token"])
    symbols = [c["symbol"] for c in first["option_contracts"] + second["option_contracts"]]
    assert symbols == sorted([chain["C95"], chain["C105"], chain["P100"]])
    assert second["next_page_token"] is None


def test_an_option_type_other_than_call_or_put_is_a_422(api, pro, chain):
    r = api.get("/api/rpc/option_chain", params={"underlying_symbol": chain["underlying"], "type": "straddle"},
                headers=pro.auth)
    assert_error(r, 422, "MBV03")

"""The ingestor against marketsim over real sockets, with the real alpaca-py clients, writing as the
mbt_jobs role: quotes written in batches, subscriptions that follow orders and positions at once,
reconnect and backfill with nothing lost or duplicated, bad upstream data logged and survived, and
quotes that fill an order visible through /api. Each test runs its market at a time of its own, so
the quotes of one test never meet those of another in md.quotes."""

import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent / "marketsim"))
from simhelpers import KEY, SECRET, wait_for

from conftest import sign_up_in_db
from ingest.config import IngestConfig
from ingest.service import Ingestor
from marketsim.config import SimConfig
from marketsim.server import ServerThread

NS = 1_000_000_000


def market_at(start: str) -> ServerThread:
    return ServerThread(SimConfig(start=start, manual_clock=True, test_hooks=True, credentials=((KEY, SECRET),),
                                  max_connections=0)).start()


def ingestor_for(cfg, market, watchlist=(), **settings) -> Ingestor:
    icfg = IngestConfig.for_marketsim(
        market.url, KEY, SECRET, dsn=cfg.dsn(user="mbt_jobs"), watchlist=tuple(watchlist), simulated_clock=True,
        backoff=(0.1, 0.5), reconcile_seconds=0.5, stats_seconds=0.3, **settings)
    return Ingestor(icfg).start()


def stock_connections(market):
    return [c for c in list(market.hub.connections) if c.family == "stocks" and c.key and not c.closed]


def subscribed(market, channel="quotes") -> set[str]:
    return {s for c in stock_connections(market) for s in c.subs.get(channel, [])}


def advance(market, seconds: int, step: float = 1.0) -> None:
    for _ in range(int(seconds / step)):
        market.clock.advance(step)
        time.sleep(0.01)


def settle(market, ingestor: Ingestor) -> None:
    """Until the stream has sent everything up to the clock and the writer has written it."""
    now = market.clock.now_ns()
    wait_for(lambda: stock_connections(market) and all(c.cursor == now for c in stock_connections(market)),
             what="the stream to catch up")
    wait_for(lambda: ingestor.writer.buffered() == 0 and ingestor._backfills_pending == 0, what="the writer")
    time.sleep(0.4)  # one more flush round


def stored(admin, symbols, start_ns, end_ns) -> list[tuple]:
    return admin.execute(
        "select symbol, quote_time, bid_price, ask_price, bid_size, ask_size, bid_exchange, ask_exchange "
        "from md.quotes where symbol = any(%s) and quote_time >= %s and quote_time < %s order by 1, 2, quote_id",
        [list(symbols), ns_dt(start_ns), ns_dt(end_ns)]).fetchall()


def ns_dt(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def sent(market, symbols, start_ns, end_ns) -> list[tuple]:
    from decimal import Decimal
    out = []
    for s in symbols:
        for q in market.app.state.source.events("q", s, start_ns, end_ns):
            out.append((s, ns_dt(q.t), Decimal(str(q.bp)), Decimal(str(q.ap)), Decimal(q.bs), Decimal(q.as_),
                        q.bx, q.ax))
    return sorted(out, key=lambda r: (r[0], r[1]))


@pytest.fixture
def cleanup():
    stoppers = []
    yield stoppers.append
    for stop in reversed(stoppers):
        stop()


def test_streamed_quotes_are_written_in_batches_and_fill_a_resting_order(cfg, admin, cleanup):
    market = market_at("2026-03-12T14:30:00Z")
    cleanup(market.stop)
    start = datetime(2026, 3, 12, 14, 30, tzinfo=UTC)
    symbol = "AAPL"
    admin.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ') on conflict do nothing", [symbol])
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        account = sign_up_in_db(conn, f"ingest-{uuid.uuid4().hex[:8]}@example.com")["account_id"]
        order = conn.execute("select order_id from mbt.submit_order(%s, %s::jsonb, %s)", [
            account, json.dumps({"symbol": symbol, "qty": 1, "side": "buy", "type": "limit",
                                 "limit_price": "9999.00", "time_in_force": "day"}), start]).fetchone()[0]

    ingestor = ingestor_for(cfg, market, reference_data=False)
    cleanup(ingestor.stop)
    wait_for(lambda: symbol in subscribed(market), what="the open order's symbol subscribed")
    advance(market, 20)
    settle(market, ingestor)

    rows = stored(admin, [symbol], market.clock.now_ns() - 20 * NS, market.clock.now_ns())
    assert rows == sent(market, [symbol], market.clock.now_ns() - 20 * NS, market.clock.now_ns())
    assert ingestor.stats.written >= len(rows) > 0
    status, filled = admin.execute("select status, filled_qty from mbt.orders where order_id = %s", [order]).fetchone()
    assert (status, filled) == ("filled", 1)
    evidence = admin.execute("select count(*) from mbt.fills f join md.quotes q on q.quote_id = f.quote_id "
                             "where f.order_id = %s", [order]).fetchone()[0]
    assert evidence == 1
    stats = admin.execute("select quotes_total, connected, symbols from md.ingest_stats where ingestor = 'ingest'"
                          ).fetchone()
    assert stats[0] > 0 and stats[1] is True and stats[2] >= 1


def test_subscriptions_follow_new_orders_and_positions_at_once_and_drop_what_is_no_longer_wanted(
        cfg, admin, cleanup):
    market = market_at("2026-03-13T14:30:00Z")
    cleanup(market.stop)
    ingestor = ingestor_for(cfg, market, watchlist=["SPY"])
    cleanup(ingestor.stop)
    wait_for(lambda: "SPY" in subscribed(market), what="the watch-list")
    assert admin.execute("select count(*) from md.option_contracts where underlying_symbol = 'SPY'").fetchone()[0] > 0
    assert admin.execute("select asset_class, tradable from md.assets where symbol = 'NVDA'").fetchone() == (
        "us_equity", True)  # reference data loaded at start

    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        account = sign_up_in_db(conn)["account_id"]
        ordered = time.monotonic()
        order = conn.execute("select order_id from mbt.submit_order(%s, %s::jsonb, now())", [
            account, json.dumps({"symbol": "NVDA", "qty": 1, "side": "buy", "type": "limit", "limit_price": "1.00",
                                 "time_in_force": "gtc"})]).fetchone()[0]
    wait_for(lambda: "NVDA" in subscribed(market), timeout=2, what="the new order's symbol")
    assert time.monotonic() - ordered < 0.4  # NOTIFY, not the reconcile (0.5 s)
    assert "NVDA" in subscribed(market, "bars")
    wait_for(lambda: admin.execute("select count(*) from md.ingest_subscriptions where symbol = 'NVDA'"
                                   ).fetchone()[0] == 1, timeout=2, what="md.ingest_subscriptions")

    # a position opened outside an order (e.g. a transfer) is followed too
    admin.execute("insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, "
                  "opened_at, updated_at) select %s, 'TSLA', asset_id, 'us_equity', 5, 200, now(), now() "
                  "from md.assets where symbol = 'TSLA'", [account])
    wait_for(lambda: "TSLA" in subscribed(market), timeout=2, what="the new position's symbol")

    # an option position streams its contract on the option stream
    contract = admin.execute("select symbol from md.option_contracts where underlying_symbol = 'SPY' "
                             "order by expiration_date, strike_price limit 1").fetchone()[0]
    admin.execute("insert into mbt.positions (account_id, symbol, asset_id, asset_class, qty, avg_entry_price, "
                  "opened_at, updated_at) select %s, symbol, asset_id, 'us_option', 1, 2, now(), now() "
                  "from md.assets where symbol = %s", [account, contract])
    wait_for(lambda: any(contract in c.subs.get("quotes", []) for c in list(market.hub.connections)
                         if c.family == "options"), timeout=3, what="the option stream")

    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        conn.execute("select mbt.cancel_order(%s, %s, now())", [account, order])
        conn.execute("update mbt.positions set qty = 0 where account_id = %s", [account])

    def matches_wanted():
        wanted = {r[0] for r in admin.execute("select symbol from mbt.ingest_wanted_symbols(array['SPY'])")}
        options = {s for c in list(market.hub.connections) if c.family == "options" for s in c.subs["quotes"]}
        return subscribed(market) == {s for s in wanted if len(s) < 10} and not options

    wait_for(matches_wanted, timeout=5, what="the reconcile")
    assert "SPY" in subscribed(market)


def test_after_a_dropped_stream_the_backfill_leaves_no_quote_lost_or_duplicated(cfg, admin, cleanup):
    market = market_at("2026-03-11T15:00:00Z")
    cleanup(market.stop)
    symbols = ["AAPL", "MSFT", "SPY", "THIN"]
    t0 = market.clock.now_ns()
    ingestor = ingestor_for(cfg, market, watchlist=symbols, reference_data=False)
    cleanup(ingestor.stop)
    wait_for(lambda: set(symbols) <= subscribed(market), what="subscriptions")
    advance(market, 15, step=0.5)
    settle(market, ingestor)

    assert market.call(market.hub.drop("stocks")) == 1  # mid-flight: the server closes the connection
    advance(market, 10, step=0.5)  # quotes nobody streams
    wait_for(lambda: ingestor.stats.reconnects == 1 and stock_connections(market), what="the reconnect")
    wait_for(lambda: set(symbols) <= subscribed(market), what="the new subscriptions")
    advance(market, 10, step=0.5)
    settle(market, ingestor)
    t1 = market.clock.now_ns()

    expected = sent(market, symbols, t0, t1)
    rows = stored(admin, symbols, t0, t1)
    assert len(rows) == len(set(rows))  # no duplicate
    assert rows == expected  # no quote lost
    assert ingestor.stats.backfilled > 0 and ingestor.stats.duplicates > 0  # the backfill overlapped the stream

    # the same backfill again (as after a second drop) adds nothing: idempotent
    from alpaca.data.historical import StockHistoricalDataClient
    client = StockHistoricalDataClient(KEY, SECRET, raw_data=True, url_override=market.url)
    ingestor._backfills_pending += 1
    ingestor.writer.set_dedup_window(ingestor.writer.dedup_until)
    try:
        ingestor.backfill(client, symbols, t0)
    finally:
        ingestor._backfills_pending -= 1
    settle(market, ingestor)
    assert stored(admin, symbols, t0, t1) == expected


def test_malformed_out_of_order_and_crossed_messages_are_logged_and_the_ingestor_carries_on(
        cfg, admin, cleanup, caplog):
    caplog.set_level(logging.WARNING, logger="ingest")
    market = market_at("2026-03-16T14:30:00Z")
    cleanup(market.stop)
    ingestor = ingestor_for(cfg, market, watchlist=["MSFT"], reference_data=False)
    cleanup(ingestor.stop)
    wait_for(lambda: "MSFT" in subscribed(market), what="subscription")
    advance(market, 5)
    settle(market, ingestor)

    for kind in ("malformed", "not_array", "garbage", "unknown_type", "crossed", "out_of_order"):
        assert market.call(market.hub.inject("stocks", kind=kind, symbol="MSFT")) == 1
    market.call(market.hub.inject("stocks", messages=[
        {"T": "q", "S": "MSFT", "bp": float("nan"), "ap": 1.0, "bs": 1, "as": 1, "t": market.clock.now_ns()},
        {"T": "q", "S": "MSFT", "bp": -1.0, "ap": 1.0, "bs": 1, "as": 1, "t": market.clock.now_ns()},
        "a string", 42]))
    before = ingestor.stats.written
    advance(market, 10)
    settle(market, ingestor)

    s = ingestor.stats
    assert (s.malformed, s.crossed, s.out_of_order) == (8, 1, 1)
    assert s.written > before + 1  # the stream went on after the bad data
    assert ingestor.stocks.connections == 1  # ... on the same connection
    crossed = admin.execute("select count(*) from md.quotes where symbol = 'MSFT' and bid_price > ask_price "
                            "and quote_time >= '2026-03-16T14:30:00Z' and quote_time < '2026-03-16T15:00:00Z'"
                            ).fetchone()[0]
    assert crossed == 1  # stored as received; the engine never fills on it
    logged = " ".join(r.getMessage() for r in caplog.records)
    for fragment in ("upstream malformed", "upstream crossed", "upstream out-of-order", "unreadable frame",
                     "not an array", "unknown message type", "bad bp"):
        assert fragment in logged, fragment


@pytest.mark.http
def test_quotes_fill_a_resting_order_end_to_end_visible_through_the_api(cfg, api, admin, user, cleanup):
    next_open = admin.execute("select next_open from md.clock(now())").fetchone()[0]
    market = market_at((next_open + timedelta(minutes=1)).isoformat())
    cleanup(market.stop)
    ingestor = ingestor_for(cfg, market)  # loads the assets: the order below needs META in md.assets
    cleanup(ingestor.stop)
    wait_for(ingestor.followed.is_set, what="the first subscription set")

    r = api.post("/api/rpc/submit_order", headers=user.auth, json={
        "symbol": "META", "qty": 2, "side": "buy", "type": "limit", "limit_price": "5000", "time_in_force": "gtc"})
    assert r.status_code == 200, r.text
    order = r.json()
    wait_for(lambda: "META" in subscribed(market), timeout=2, what="the order's symbol")
    advance(market, 30)
    settle(market, ingestor)

    [listed] = api.get("/api/orders", params={"id": f"eq.{order['id']}"}, headers=user.auth).json()
    assert (listed["status"], listed["filled_qty"]) == ("filled", "2")
    [fill] = api.get("/api/fills", params={"order_id": f"eq.{order['id']}"}, headers=user.auth).json()
    quote = admin.execute("select ask_price, quote_time from md.quotes where quote_id = %s",
                          [fill["quote_id"]]).fetchone()
    assert fill["price"] == f"{quote[0].normalize():f}" and quote[1] >= next_open


def writer_rows(start_ns: int, n: int) -> list[tuple]:
    """n quotes of one symbol, a second apart, as the stream thread makes them."""
    from ingest.quotes import quote_row
    return [quote_row({"S": "WRT", "bp": 10.0, "ap": 10.01, "bs": 100, "as": 100, "bx": "Q", "ax": "Q"},
                      start_ns + i * NS, None) for i in range(n)]


def test_a_lost_connection_during_a_split_batch_puts_both_parts_back_in_order():
    # 6 streamed quotes, the first 4 inside a backfill's window: 4 take the duplicate-free path, 2 COPY.
    # The connection drops during the duplicate-free write: all 6 wait for the reconnect, none is lost.
    from ingest.quotes import QuoteWriter
    writer = QuoteWriter("", batch_size=10)
    rows = writer_rows(1_763_391_600 * NS, 6)
    for row in rows:
        writer.add(row)
    writer.set_dedup_window(rows[3][9])

    def connection_lost(conn, batch):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    writer.write_checked = connection_lost
    with pytest.raises(psycopg.OperationalError):
        writer.flush(None)
    assert writer.buffered() == 6
    assert list(writer._checked) == rows[:4]
    assert [row for row, _ in writer._buffer] == rows[4:]


def test_stopping_writes_everything_left_even_after_a_batch_of_only_duplicates(cfg):
    # two backfill batches queued at stop; the first is all duplicates (0 rows written): the second is
    # still written before the writer returns
    from ingest.quotes import QuoteWriter
    writer = QuoteWriter(cfg.dsn(user="mbt_jobs"), batch_size=3)
    writer.add_checked(writer_rows(1_763_391_600 * NS, 6))
    batches = []

    def duplicates_first(conn, batch):
        batches.append(batch)
        return 0 if len(batches) == 1 else len(batch)

    writer.write_checked = duplicates_first
    writer._loop = lambda conn: None  # stopped at once: run() goes straight to writing what is left
    writer.run()
    assert [len(b) for b in batches] == [3, 3]
    assert writer.buffered() == 0


def test_a_copy_committed_before_its_connection_broke_is_not_stored_twice_by_the_retry(cfg, admin):
    # the server commits a COPY of 3 quotes, then the connection breaks before its answer arrives (a crash
    # between the two): the writer retries the batch by the duplicate-free path, and each quote is stored once
    from ingest.quotes import QuoteWriter
    writer = QuoteWriter(cfg.dsn(user="mbt_jobs"), batch_size=10)
    rows = writer_rows(1_763_391_600 * NS + 7 * 3600 * NS, 3)  # 2025-11-17, WRT quotes no other test writes
    for row in rows:
        writer.add(row)
    copy = writer.write_plain

    def answer_lost(conn, entries):
        copy(conn, entries)
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    writer.write_plain = answer_lost
    with psycopg.connect(cfg.dsn(user="mbt_jobs"), autocommit=True) as conn:
        with pytest.raises(psycopg.OperationalError):
            writer.flush(conn)
        writer.write_plain = copy
        writer.flush(conn)
    assert writer.buffered() == 0
    stored = admin.execute("select count(*), count(distinct quote_time) from md.quotes where symbol = 'WRT' "
                           "and quote_time >= %s and quote_time < %s",
                           [ns_dt(rows[0][9]), ns_dt(rows[-1][9] + NS)]).fetchone()
    assert stored == (3, 3)

"""Quotes flow end to end through real parts: marketsim (Alpaca's protocol) -> alpaca-py stream ->
the ingestor's COPY batches -> md.quotes -> the statement trigger -> a resting order fills."""

import json
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent / "marketsim"))
from simhelpers import KEY, SECRET, START, manual_server, wait_for

from conftest import sign_up_in_db
from ingest.quotes import Ingestor


@pytest.fixture
def market():
    srv = manual_server()
    yield srv
    srv.stop()


def test_streamed_quotes_are_written_in_batches_and_fill_a_resting_order(cfg, admin, market):
    start = datetime.fromisoformat(START.replace("Z", "+00:00"))
    symbol = "AAPL"
    admin.execute("insert into md.assets (symbol, exchange) values (%s, 'NASDAQ') on conflict do nothing", [symbol])
    with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
        account = sign_up_in_db(conn, f"ingest-{uuid.uuid4().hex[:8]}@example.com")["account_id"]
        # a buy limit far above the market, submitted as the stream starts: its first quote fills it
        order = conn.execute("select order_id from mbt.submit_order(%s, %s::jsonb, %s)", [
            account, json.dumps({"symbol": symbol, "qty": 1, "side": "buy", "type": "limit",
                                 "limit_price": "9999.00", "time_in_force": "day"}),
            start]).fetchone()[0]

    ingestor = Ingestor(cfg.dsn(), KEY, SECRET, [symbol], url=f"{market.ws_url}/v2/sip", simulated_clock=True).start()
    try:
        wait_for(lambda: any(symbol in c.subs.get("quotes", []) for c in list(market.hub.connections)),
                 what="the ingestor's subscription")
        for _ in range(20):  # twenty simulated seconds of market
            market.clock.advance(1)
            time.sleep(0.02)
        wait_for(lambda: ingestor.writer.written > 0, what="quotes written")
    finally:
        ingestor.stop()

    stored = admin.execute("select count(*), min(quote_time) from md.quotes where symbol = %s and quote_time >= %s",
                           [symbol, start]).fetchone()
    assert stored[0] == ingestor.writer.written > 0
    status, filled = admin.execute("select status, filled_qty from mbt.orders where order_id = %s",
                                   [order]).fetchone()
    assert (status, filled) == ("filled", 1)
    evidence = admin.execute("select count(*) from mbt.fills f join md.quotes q on q.quote_id = f.quote_id "
                             "where f.order_id = %s", [order]).fetchone()[0]
    assert evidence == 1  # the fill's quote is a streamed quote in md.quotes

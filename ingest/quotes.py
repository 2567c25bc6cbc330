"""Stream NBBO quotes with alpaca-py (from marketsim/ or Alpaca, by configuration only) and write them
into md.quotes in batches: one COPY per batch, flushed every `flush_seconds` or `batch_size` quotes.
Each COPY is one statement, so the engine's statement trigger sees the batch whole.

This is the first slice of the ingestor: quotes for a fixed watch-list. Following the symbols with
open orders (LISTEN/NOTIFY), backfill after a reconnect and backpressure come next.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from alpaca.data.enums import DataFeed
from alpaca.data.live import StockDataStream
from alpaca.data.models import Quote

log = logging.getLogger("ingest.quotes")
NEW_YORK = ZoneInfo("America/New_York")
COLUMNS = ("symbol", "bid_price", "ask_price", "bid_size", "ask_size", "bid_exchange", "ask_exchange",
           "conditions", "tape", "quote_time", "received_at")


class QuoteWriter:
    """Buffers quotes from the stream's thread and COPYs them into md.quotes from its own."""

    def __init__(self, dsn: str, batch_size: int = 5000, flush_seconds: float = 0.1, simulated_clock: bool = False):
        self.dsn, self.batch_size, self.flush_seconds = dsn, batch_size, flush_seconds
        # a simulated market (marketsim with a start time or speed) stamps quotes on its own clock: arrival is
        # then taken as the quote's time (no lag), since the wall clock says nothing about that market
        self.simulated_clock = simulated_clock
        self._buffer: list[tuple] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._days: set = set()
        self.written = 0

    async def on_quote(self, quote: Quote) -> None:
        """alpaca-py handler: keep the quote with the time it arrived."""
        row = (quote.symbol, quote.bid_price, quote.ask_price, quote.bid_size, quote.ask_size,
               quote.bid_exchange or "", quote.ask_exchange or "", list(quote.conditions or []), quote.tape,
               quote.timestamp, quote.timestamp if self.simulated_clock else datetime.now(UTC))
        with self._lock:
            self._buffer.append(row)

    def _take(self) -> list[tuple]:
        with self._lock:
            rows, self._buffer = self._buffer[: self.batch_size], self._buffer[self.batch_size:]
        return rows

    def flush(self, conn: psycopg.Connection) -> int:
        rows = self._take()
        if not rows:
            return 0
        days = {r[9].astimezone(NEW_YORK).date() for r in rows} - self._days
        for day in sorted(days):  # the quote store is partitioned by New York day
            conn.execute("select md.ensure_quote_partitions(%s, %s)", [day, day + timedelta(days=1)])
            self._days.add(day)
        with conn.transaction(), conn.cursor().copy(
                f"copy md.quotes ({', '.join(COLUMNS)}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        self.written += len(rows)
        return len(rows)

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                started = time.monotonic()
                while self.flush(conn) == self.batch_size:
                    pass
                self._stop.wait(max(0.0, self.flush_seconds - (time.monotonic() - started)))
            while self.flush(conn):
                pass

    def stop(self) -> None:
        self._stop.set()


class Ingestor:
    """The stream (alpaca-py's own thread and event loop) and the writer (a thread of its own)."""

    def __init__(self, dsn: str, key: str, secret: str, symbols: list[str], url: str | None = None,
                 feed: DataFeed = DataFeed.SIP, simulated_clock: bool = False):
        self.writer = QuoteWriter(dsn, simulated_clock=simulated_clock)
        self.stream = StockDataStream(key, secret, feed=feed, url_override=url)
        self.stream.subscribe_quotes(self.writer.on_quote, *symbols)
        self._threads = [threading.Thread(target=self.stream.run, daemon=True, name="ingest-stream"),
                         threading.Thread(target=self.writer.run, daemon=True, name="ingest-writer")]

    def start(self) -> Ingestor:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stream.stop()
        self.writer.stop()
        for thread in self._threads:
            thread.join(timeout=10)

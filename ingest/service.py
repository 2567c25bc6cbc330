"""The ingestor: alpaca-py streams -> the bounded buffer -> COPY batches into md.quotes.

Threads: one per alpaca-py stream (stocks; options once an option symbol is wanted), the writer
(ingest.quotes), the symbol follower (LISTEN mbt_ingest_symbols plus a periodic reconcile), and the
backfiller (historical REST after a reconnect). Reference data (assets, option contracts) is loaded
once at start. Figures go to the log and md.ingest_stats every ``stats_seconds``.

Subscriptions: every symbol with an open order or a non-zero position, plus the watch-list
(mbt.ingest_wanted_symbols). New symbols arrive at once by NOTIFY from the statement triggers on
mbt.orders and mbt.positions (only symbols not yet streamed, read from md.ingest_subscriptions);
symbols no longer wanted are unsubscribed at the next reconcile (every ``reconcile_seconds``).

Backfill after a reconnect: from the newest quote received before the drop (less a margin, since
a real feed is not strictly time-ordered across symbols) to now, for every stock symbol streamed,
through StockHistoricalDataClient.get_stock_quotes (paged by alpaca-py). The new connection
streams from its subscription on, and the backfill is asked for only once that subscription is
acknowledged, so the two overlap and nothing falls between them; the overlap goes through the
writer's duplicate-free path. Alpaca has no historical option quotes: an option stream's gap is
logged, not backfilled.

Resume after a crash: a clean stop writes everything the buffer holds and stamps
md.ingest_stats.stopped_at. A start that finds the previous run without it (killed, or stopped with
quotes unwritten) backfills from that run's newest written quote (last_quote_time) exactly as after a
reconnect: what the dead process held in its buffer or in an unfinished COPY is fetched again, and
what it had written is dropped as a duplicate.

Bars: the stream's bar channel (Alpaca's one-minute bars, built from trades), not an aggregate of
quotes: a bar's open/high/low/close and volume are trade prices and sizes, which quotes do not carry.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import statistics
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import psycopg
from alpaca.data.enums import DataFeed, OptionsFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockQuotesRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetStatus
from alpaca.trading.requests import GetAssetsRequest, GetOptionContractsRequest

from ingest.config import IngestConfig
from ingest.quotes import (
    EPOCH,
    MAX_NS,
    NS,
    BadQuote,
    QuoteWriter,
    Stats,
    ns_to_datetime,
    parse_rfc3339_ns,
    quote_row,
)
from ingest.streams import FeedMixin, OptionFeed, StockFeed

log = logging.getLogger("ingest")
OCC = re.compile(r"^[A-Z]{1,6}\d{6}[CP]\d{8}$")
CHANNEL = "mbt_ingest_symbols"
STATS_COLUMNS = ("connected", "symbols", "quotes_total", "quotes_per_second", "lag_p50_ms", "lag_max_ms",
                 "last_quote_time", "buffered", "reconnects", "backfilled", "duplicates_dropped", "malformed",
                 "out_of_order", "crossed")
# last_quote_time is kept until this run writes a quote: it is where a start after a crash resumes from
STATS_SQL = (
    f"insert into md.ingest_stats (ingestor, started_at, updated_at, {', '.join(STATS_COLUMNS)}) "  # noqa: S608
    f"values (%(ingestor)s, %(started_at)s, now(), {', '.join(f'%({c})s' for c in STATS_COLUMNS)}) "
    "on conflict (ingestor) do update set updated_at = excluded.updated_at, started_at = excluded.started_at, "
    "stopped_at = null, "
    + ", ".join(f"{c} = coalesce(excluded.{c}, md.ingest_stats.{c})" if c == "last_quote_time"
                else f"{c} = excluded.{c}" for c in STATS_COLUMNS))


def is_option(symbol: str) -> bool:
    return OCC.match(symbol) is not None


class Ingestor:
    def __init__(self, cfg: IngestConfig) -> None:
        self.cfg = cfg
        self.stats = Stats()
        self.started_at = datetime.now(UTC)
        self.writer = QuoteWriter(cfg.dsn, cfg.batch_size, cfg.flush_seconds, cfg.max_buffer, self.stats,
                                  on_flush=self._after_flush, simulated_clock=cfg.simulated_clock)
        common = {"writer": self.writer, "stats": self.stats, "simulated_clock": cfg.simulated_clock,
                  "on_reconnect": self._on_reconnect, "on_gap": self._on_gap, "backoff": cfg.backoff}
        self.stocks = StockFeed(cfg.key, cfg.secret, url=cfg.stock_stream_url, feed=DataFeed(cfg.feed),
                                on_bar=self._on_bar, **common)
        self.options = OptionFeed(cfg.key, cfg.secret, url=cfg.option_stream_url,
                                  feed=OptionsFeed(cfg.option_feed), **common)
        self.wanted: set[str] = set()
        self._bars: deque[dict] = deque(maxlen=100_000)
        self._gaps: queue.Queue = queue.Queue()
        self._backfills_pending = 0
        self._dedup_high: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stream_threads: dict[str, threading.Thread] = {}
        self._threads = [threading.Thread(target=self.writer.run, daemon=True, name="ingest-writer"),
                         threading.Thread(target=self._follow_symbols, daemon=True, name="ingest-symbols"),
                         threading.Thread(target=self._backfill_loop, daemon=True, name="ingest-backfill")]
        self._last_report = time.monotonic() - cfg.stats_seconds  # the first figures at once (readiness)
        self._last_written = 0
        self.followed = threading.Event()  # set once the first wanted set is streamed
        self._reported_quote_time = None  # last_quote_time as the latest figures wrote it
        self.resume_from_ns: int | None = None  # after a crash of the previous run: where its backfill starts

    # ---- life cycle ---------------------------------------------------------------------------------
    def start(self) -> Ingestor:
        self.resume_from_ns = self._resume_point()
        if self.resume_from_ns is not None:
            # as after a reconnect: the first subscription's acknowledgement backfills from there
            log.warning("the previous run did not stop cleanly: backfilling from its newest quote, %s",
                        ns_to_datetime(self.resume_from_ns).isoformat())
            self._on_reconnect(self.stocks)
            self.stocks.gap_from_ns, self.stocks._gap_pending = self.resume_from_ns, True
        if self.cfg.reference_data:
            try:
                load_reference_data(self.cfg)
            except Exception:
                log.exception("reference data not loaded (assets, option contracts); streaming anyway")
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for feed in (self.stocks, self.options):
            feed.close_now()
        for thread in self._stream_threads.values():
            thread.join(timeout=10)
        self.writer.stop()
        self._gaps.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._record_clean_stop()

    def _resume_point(self) -> int | None:
        """The newest quote time (ns) the previous run wrote, when that run did not stop cleanly."""
        with psycopg.connect(self.cfg.dsn, autocommit=True, application_name="ingest-resume") as conn:
            row = conn.execute("select last_quote_time from md.ingest_stats where ingestor = %s and stopped_at is null",
                               [self.cfg.name]).fetchone()
        if row is None or row[0] is None:
            return None
        return int((row[0] - EPOCH).total_seconds()) * NS + row[0].microsecond * 1000

    def _record_clean_stop(self) -> None:
        """Everything was written: the next start has no gap of ours to backfill."""
        if self.writer.buffered() or self._threads[0].is_alive():  # the writer thread, still on a batch
            log.error("stopped with %d quotes unwritten: the next start backfills them", self.writer.buffered())
            return
        try:
            with psycopg.connect(self.cfg.dsn, autocommit=True, application_name="ingest-stop") as conn:
                conn.execute("update md.ingest_stats set stopped_at = now(), connected = false, buffered = 0, "
                             "last_quote_time = coalesce(%s, last_quote_time) where ingestor = %s",
                             [self.stats.last_quote_time, self.cfg.name])
        except psycopg.OperationalError as exc:
            log.error("could not record the clean stop (%s): the next start backfills from the last figures", exc)

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    # ---- subscriptions ------------------------------------------------------------------------------
    def apply(self, symbols: set[str]) -> None:
        """Stream exactly these symbols: stocks (quotes and bars) and options (quotes)."""
        with self._lock:
            stocks = {s for s in symbols if not is_option(s)}
            options = symbols - stocks if self.cfg.options else set()
            added, removed = symbols - self.wanted, self.wanted - symbols
            self.stocks.set_symbols(stocks, stocks if self.cfg.bars else set())
            self.options.set_symbols(options)
            for feed in (self.stocks, self.options):
                if feed.has_symbols() and feed.name not in self._stream_threads:
                    # alpaca-py spins until it has a subscription: a stream starts with its first symbol
                    thread = threading.Thread(target=feed.run, daemon=True, name=f"ingest-{feed.name}-stream")
                    self._stream_threads[feed.name] = thread
                    thread.start()
            self.wanted = set(symbols)
        if added or removed:
            log.info("subscriptions: +%d -%d, %d symbols (%s%s)", len(added), len(removed), len(symbols),
                     ",".join(sorted(added)[:10]), "..." if len(added) > 10 else "")

    def _read_wanted(self, conn: psycopg.Connection) -> set[str]:
        rows = conn.execute("select symbol from mbt.ingest_wanted_symbols(%s)", [list(self.cfg.watchlist)])
        return {r[0] for r in rows}

    def _record(self, conn: psycopg.Connection) -> None:
        conn.execute("select mbt.ingest_set_subscriptions(%s)", [sorted(self.wanted)])

    def _follow_symbols(self) -> None:
        """LISTEN for new symbols (applied at once) and reconcile with the wanted set periodically."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.cfg.dsn, autocommit=True, application_name="ingest-symbols") as conn:
                    conn.execute(f"listen {CHANNEL}")
                    self.apply(self._read_wanted(conn))
                    self._record(conn)
                    self.followed.set()
                    delay = 0.5
                    next_reconcile = time.monotonic() + self.cfg.reconcile_seconds
                    while not self._stop.is_set():
                        added, everything = set(), False
                        for note in conn.notifies(timeout=0.2, stop_after=1000):
                            if note.payload == "*":
                                everything = True
                            else:
                                added.update(s for s in note.payload.split(",") if s)
                        if everything or time.monotonic() >= next_reconcile:
                            self.apply(self._read_wanted(conn))
                            self._record(conn)
                            next_reconcile = time.monotonic() + self.cfg.reconcile_seconds
                        elif added - self.wanted:
                            self.apply(self.wanted | added)
                            self._record(conn)
            except psycopg.OperationalError as exc:
                log.error("symbol follower lost the database (%s); retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                log.exception("symbol follower failed; restarting it")
                self._stop.wait(delay)

    # ---- reconnects and backfill --------------------------------------------------------------------
    def _on_reconnect(self, feed: FeedMixin) -> None:
        """On the stream's thread, before the new connection's first quote: quotes may now arrive twice."""
        if isinstance(feed, StockFeed):
            with self._lock:
                self._backfills_pending += 1
                self.writer.set_dedup_window(MAX_NS)

    def _on_gap(self, feed: FeedMixin, from_ns: int | None) -> None:
        if isinstance(feed, StockFeed):
            self._gaps.put((sorted(feed.quote_symbols), from_ns))
        else:
            log.warning("option stream gap since %s: no historical option quotes to backfill from",
                        ns_to_datetime(from_ns).isoformat() if from_ns else "-")

    def _backfill_loop(self) -> None:
        client = StockHistoricalDataClient(self.cfg.key, self.cfg.secret, raw_data=True, url_override=self.cfg.data_url)
        while True:
            job = self._gaps.get()
            if job is None:
                return
            symbols, from_ns = job
            newest = None
            try:
                newest = self.backfill(client, symbols, from_ns)
            except Exception:
                log.exception("backfill of %d symbols failed; the gap stays (logged)", len(symbols))
            finally:
                with self._lock:
                    if newest is not None and (self._dedup_high is None or newest > self._dedup_high):
                        self._dedup_high = newest
                    self._backfills_pending -= 1
                    if self._backfills_pending == 0:
                        # streamed quotes after the newest backfilled one cannot be duplicates
                        self.writer.set_dedup_window(self._dedup_high)

    def backfill(self, client: StockHistoricalDataClient, symbols: list[str], from_ns: int | None) -> int | None:
        """Fetch the gap's quotes and queue them for the duplicate-free path; returns the newest quote time (ns)."""
        if not symbols or from_ns is None:
            log.warning("nothing to backfill from (no quote received before the drop)")
            return None
        start = ns_to_datetime(from_ns) - timedelta(seconds=self.cfg.backfill_margin_seconds)
        started = time.monotonic()
        feed = DataFeed(self.cfg.feed)
        data = client.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=symbols, start=start, feed=feed))
        received = self.stocks.max_ns if self.cfg.simulated_clock else time.time_ns()
        rows, newest = [], None
        for symbol, quotes in (data or {}).items():
            for q in quotes:
                try:
                    row = quote_row({**q, "S": symbol}, parse_rfc3339_ns(q["t"]), received)
                except (BadQuote, KeyError, ValueError, TypeError) as exc:
                    self.stats.bad("malformed", "backfilled quote %s: %.200r", exc, q)
                    continue
                rows.append(row)
                if newest is None or row[9] > newest:
                    newest = row[9]
        rows.sort(key=lambda r: r[9])
        self.stats.backfilled += len(rows)
        for i in range(0, len(rows), self.cfg.batch_size):
            while self.writer.full() and not self._stop.is_set():
                time.sleep(0.01)
            self.writer.add_checked(rows[i:i + self.cfg.batch_size])
        log.info("backfill: %d quotes of %d symbols since %s in %.2f s", len(rows), len(symbols), start.isoformat(),
                 time.monotonic() - started)
        return newest

    # ---- bars ---------------------------------------------------------------------------------------
    def _on_bar(self, msg: dict) -> None:
        self._bars.append(msg)

    def _write_bars(self, conn: psycopg.Connection) -> None:
        rows = []
        while self._bars:
            m = self._bars.popleft()
            try:
                rows.append((str(m["S"]).upper(), ns_to_datetime(int(m["t"])), float(m["o"]),
                             float(m["h"]), float(m["l"]), float(m["c"]), float(m["v"]), int(m.get("n") or 0),
                             float(m["vw"]) if m.get("vw") is not None else None))
            except (KeyError, AttributeError, TypeError, ValueError) as exc:
                self.stats.bad("malformed", "bar %s: %.200r", exc, m)
        if not rows:
            return
        columns = [list(c) for c in zip(*rows, strict=True)]
        try:
            conn.execute("select md.ingest_upsert_bars(%s::text[], %s::timestamptz[], %s::numeric[], %s::numeric[], "
                         "%s::numeric[], %s::numeric[], %s::numeric[], %s::integer[], %s::numeric[])", columns)
            self.stats.bars += len(rows)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            log.error("%d bars refused by the database, skipped: %s", len(rows), exc)

    # ---- figures ------------------------------------------------------------------------------------
    def _after_flush(self, conn: psycopg.Connection) -> None:
        if self._bars:
            self._write_bars(conn)
        now = time.monotonic()
        # also at once after the first quotes are written: from then on a crash has a point to resume from
        first_written = self._reported_quote_time is None and self.stats.last_quote_time is not None
        if first_written or now - self._last_report >= self.cfg.stats_seconds:
            self.report(conn, now - self._last_report)
            self._last_report = now

    def figures(self, seconds: float) -> dict:
        s = self.stats
        lags, s.lag_samples = s.lag_samples, []
        written, self._last_written = s.written - self._last_written, s.written
        return {
            "connected": self.stocks.connected, "symbols": len(self.wanted), "quotes_total": s.written,
            "quotes_per_second": round(written / seconds, 1) if seconds > 0 else 0.0,
            "lag_p50_ms": round(statistics.median(lags), 1) if lags else None,
            "lag_max_ms": round(max(lags), 1) if lags else None,
            "last_quote_time": s.last_quote_time, "buffered": self.writer.buffered(), "reconnects": s.reconnects,
            "backfilled": s.backfilled, "duplicates_dropped": s.duplicates, "malformed": s.malformed,
            "out_of_order": s.out_of_order, "crossed": s.crossed,
        }

    def report(self, conn: psycopg.Connection, seconds: float) -> dict:
        f = self.figures(seconds)
        self.stats.new_interval()
        log.info("quotes/s %.0f, lag p50 %s ms max %s ms, %d symbols, buffered %d, total %d, reconnects %d, "
                 "backfilled %d, duplicates %d, malformed %d, out-of-order %d, crossed %d, blocked %d",
                 f["quotes_per_second"], f["lag_p50_ms"], f["lag_max_ms"], f["symbols"], f["buffered"],
                 f["quotes_total"], f["reconnects"], f["backfilled"], f["duplicates_dropped"], f["malformed"],
                 f["out_of_order"], f["crossed"], self.stats.blocked)
        conn.execute(STATS_SQL, {"ingestor": self.cfg.name, "started_at": self.started_at, **f})
        self._reported_quote_time = f["last_quote_time"]
        return f


def load_reference_data(cfg: IngestConfig) -> tuple[int, int]:
    """Assets (us_equity, active) and the option contracts of the optionable watch-list symbols (all
    optionable assets when the watch-list is empty or '*'), from the trading API, into md."""
    started = time.monotonic()
    trading = TradingClient(cfg.key, cfg.secret, paper=True, raw_data=True, url_override=cfg.data_url)
    assets = trading.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE, asset_class=AssetClass.US_EQUITY))
    optionable = sorted(a["symbol"] for a in assets if "has_options" in (a.get("attributes") or []))
    watch = set(cfg.watchlist)
    underlyings = optionable if not watch or "*" in watch else [s for s in optionable if s in watch]
    contracts: list[dict] = []
    for i in range(0, len(underlyings), 50):
        token = None
        while True:
            page = trading.get_option_contracts(GetOptionContractsRequest(
                underlying_symbols=underlyings[i:i + 50], limit=10_000, page_token=token))
            contracts.extend(page.get("option_contracts") or [])
            token = page.get("next_page_token")
            if not token:
                break
    with psycopg.connect(cfg.dsn, autocommit=True, application_name="ingest-reference") as conn:
        n_assets = conn.execute("select md.ingest_load_assets(%s::jsonb)", [json.dumps(assets)]).fetchone()[0]
        n_contracts = 0
        for i in range(0, len(contracts), 5000):
            n_contracts += conn.execute("select md.ingest_load_option_contracts(%s::jsonb)",
                                        [json.dumps(contracts[i:i + 5000])]).fetchone()[0]
    log.info("reference data: %d assets, %d option contracts of %d underlyings in %.1f s", n_assets, n_contracts,
             len(underlyings), time.monotonic() - started)
    return n_assets, n_contracts

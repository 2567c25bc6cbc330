"""Quotes from upstream messages into md.quotes: validation, the bounded buffer, and the writer.

Rows are validated on arrival (the stream's thread) and written from a thread of their own, in
batches flushed every ``flush_seconds`` (100 ms) or every ``batch_size`` (5,000) quotes:

- the plain path, for streamed quotes: one ``COPY md.quotes`` per batch. One statement, so the
  statement triggers (latest quotes, the fill engine) see the batch whole.
- the duplicate-free path, for quotes that may have arrived twice: a backfill after a reconnect,
  and the streamed quotes whose time falls in the window the backfill covers. They go through
  ``md.ingest_insert_new_quotes`` (an anti-join against md.quotes on every column of the quote,
  after removing duplicates within the batch here): an exact duplicate is dropped, idempotently.
  Outside a reconnect's window nothing pays for it.

Backpressure: the buffer is bounded (``max_buffer`` quotes). When it is full the stream stops
reading its socket until the writer has caught up (block, never drop): a quote is evidence a fill
may rest on, and dropping the oldest would lose exactly the quotes a slow database has not yet seen.
While the stream does not read, the kernel's socket buffers fill and the upstream server either
waits or, as Alpaca does with a slow client, closes the connection; then the reconnect's backfill
fetches what was missed. Memory stays bounded either way.

Bad data never stops the ingestor: a message that cannot be read is logged and counted
(``malformed``) and skipped; a quote older than the previous one of its symbol is logged and
counted (``out_of_order``) and stored, since the latest-quote trigger keeps the newest by time and
the engine checks each quote's own time; a crossed quote (bid above ask) is logged and counted and
stored as received, because the store is a record of what the market sent and the engine never
fills on a crossed or locked quote.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

log = logging.getLogger("ingest.quotes")
NEW_YORK = ZoneInfo("America/New_York")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_NS = 2**63 - 1
HOUR_NS = 3600 * 1_000_000_000
FIRST_NS, LAST_NS = 946_684_800 * 1_000_000_000, 4_102_444_800 * 1_000_000_000  # 2000 .. 2100
NS = 1_000_000_000
COLUMNS = ("symbol", "bid_price", "ask_price", "bid_size", "ask_size", "bid_exchange", "ask_exchange",
           "conditions", "tape", "quote_time", "received_at")
QUOTE_TIME, RECEIVED_AT = 9, 10
NUMBER = frozenset((int, float))
MAX_PRICE, MAX_SIZE = 1e10, 1e12  # numeric(14, 4) and (14, 2)
LOG_PER_KIND = 5  # bad messages logged in full per kind and stats interval (all are counted)


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as a datetime, truncated to microseconds (what PostgreSQL keeps).
    The stream and the historical API go through here alike, so the same quote has the same time."""
    return EPOCH + timedelta(microseconds=ns // 1000)


_second = (-1, "")  # the last second formatted: (seconds since the epoch, its text), replaced whole


def ts_text(ns: int) -> str:
    """ns since the epoch as COPY text for timestamptz (microseconds, truncated like ns_to_datetime); the
    seconds part is formatted once per second. The cache is one tuple swapped whole, so any thread may call."""
    global _second
    sec, rest = divmod(ns, NS)
    cached = _second
    if sec != cached[0]:
        cached = _second = (sec, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec)))
    return f"{cached[1]}.{rest // 1000:06d}+00"


def copy_line(r: tuple) -> str:
    """A row as a line of COPY text. Text fields were checked for tabs, newlines and backslashes."""
    quoted = ts_text(r[9])
    received = quoted if r[10] == r[9] else ts_text(r[10])
    return (f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]}\t{r[8] if r[8] is not None else NULL}"
            f"\t{quoted}\t{received}\n")


NULL = "\\N"
UNSAFE = ("\\", "\t", "\n", "\r", '"')


def parse_rfc3339_ns(text: str) -> int:
    """An RFC 3339 time with up to nanoseconds (the historical API's ``t``) as ns since the epoch."""
    body = text.strip()
    if body.endswith(("Z", "z")):
        body, offset = body[:-1], "+00:00"
    elif len(body) > 6 and body[-6] in "+-" and body[-3] == ":":
        body, offset = body[:-6], body[-6:]
    else:
        offset = "+00:00"
    frac = 0
    if "." in body:
        body, digits = body.split(".", 1)
        frac = int((digits + "000000000")[:9])
    return int(datetime.fromisoformat(body + offset).timestamp()) * NS + frac


_ARRAY_LITERALS: dict[tuple, str] = {}
_ONE_CONDITION: dict[str, str] = {}


def array_literal(conditions) -> str:
    """Quote conditions as a text[] literal (cached: there are few distinct combinations)."""
    if len(conditions) == 1:
        found = _ONE_CONDITION.get(conditions[0])
        if found is not None:
            return found
    key = tuple(conditions)
    found = _ARRAY_LITERALS.get(key)
    if found is None:
        if not all(isinstance(c, str) and not any(u in c for u in UNSAFE) for c in key):
            raise TypeError("conditions must be strings without quotes, backslashes or control characters")
        found = "{" + ",".join('"' + c + '"' for c in key) + "}"
        if len(_ARRAY_LITERALS) < 10_000:
            _ARRAY_LITERALS[key] = found
            if len(key) == 1:
                _ONE_CONDITION[key[0]] = found
    return found


class BadQuote(ValueError):
    pass


def quote_row(m: dict, t_ns: int, received_ns: int | None) -> tuple:
    """One upstream quote map (Alpaca's keys: S, bp, ap, bs, as, bx, ax, c, z; the time already as
    ns) as a row of COLUMNS, times as ns since the epoch (received_ns None: the quote's own time).
    Raises BadQuote for anything that is not a usable quote."""
    try:
        sym, bp, ap, bs, as_ = m["S"], m["bp"], m["ap"], m["bs"], m["as"]
    except KeyError as exc:
        raise BadQuote(f"missing {exc.args[0]!r}") from None
    if type(sym) is not str or not sym or len(sym) > 32:
        raise BadQuote("bad symbol")
    # numbers, not negative, finite and within the columns' range (nan fails every comparison)
    if not (type(bp) in NUMBER and type(ap) in NUMBER and 0 <= bp < MAX_PRICE and 0 <= ap < MAX_PRICE):
        raise BadQuote(f"bad bp/ap: {bp!r}/{ap!r}")
    if not (type(bs) in NUMBER and type(as_) in NUMBER and 0 <= bs < MAX_SIZE and 0 <= as_ < MAX_SIZE):
        raise BadQuote(f"bad bs/as: {bs!r}/{as_!r}")
    bx, ax, z = m.get("bx") or "", m.get("ax") or "", m.get("z")
    if type(bx) is not str or type(ax) is not str or (z is not None and type(z) is not str):
        raise BadQuote("bad exchange or tape")
    text = sym + bx + ax + (z or "")
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        raise BadQuote("control characters or backslashes in a text field")
    if not FIRST_NS < t_ns < LAST_NS:
        raise BadQuote(f"time out of range: {t_ns}")
    c = m.get("c")
    if c is None:
        cond = "{}"
    elif type(c) is str:  # options: one condition letter
        cond = array_literal((c,))
    elif type(c) is list:
        try:
            cond = array_literal(c)
        except TypeError:
            raise BadQuote("bad conditions") from None
    else:
        raise BadQuote("bad conditions")
    return (sym.upper(), bp, ap, bs, as_, bx, ax, cond, z, t_ns, received_ns or t_ns)


@dataclass
class Stats:
    """Counters shared by the stream, backfill and writer threads (int += under the GIL is enough
    for figures that are only reported)."""

    written: int = 0
    backfilled: int = 0
    duplicates: int = 0
    malformed: int = 0
    out_of_order: int = 0
    crossed: int = 0
    reconnects: int = 0
    blocked: int = 0
    bars: int = 0
    lag_samples: list = field(default_factory=list)
    last_quote_time: datetime | None = None
    _logged: dict = field(default_factory=dict)

    def bad(self, kind: str, message: str, *args) -> None:
        """Count a bad upstream message; log the first few of each kind per interval."""
        setattr(self, kind, getattr(self, kind) + 1)
        n = self._logged.get(kind, 0) + 1
        self._logged[kind] = n
        if n <= LOG_PER_KIND:
            log.warning("upstream %s: " + message, kind.replace("_", "-"), *args)
        elif n == LOG_PER_KIND + 1:
            log.warning("upstream %s: more this interval, counted but not logged", kind.replace("_", "-"))

    def new_interval(self) -> None:
        self._logged = {}


class QuoteWriter:
    """The bounded buffer and the thread that empties it into md.quotes."""

    def __init__(self, dsn: str, batch_size: int = 5000, flush_seconds: float = 0.1, max_buffer: int = 100_000,
                 stats: Stats | None = None, on_flush: Callable[[psycopg.Connection], None] | None = None,
                 simulated_clock: bool = False) -> None:
        self.dsn, self.batch_size, self.flush_seconds, self.max_buffer = dsn, batch_size, flush_seconds, max_buffer
        self.simulated_clock = simulated_clock
        self.stats = stats or Stats()
        self.on_flush = on_flush  # called on the writer's connection after each round (the stats report)
        self._buffer: deque[tuple[tuple, str]] = deque()  # streamed quotes: (row, its COPY line)
        self._checked: deque[tuple] = deque()  # quotes that must take the duplicate-free path
        # streamed quotes with quote_time <= this take the duplicate-free path (the window a backfill covers;
        # MAX_NS while a backfill is under way and its end is not known yet)
        self.dedup_until: int | None = None
        self._window_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._days: set = set()
        self.failed_batches = 0

    # ---- the producers' side ------------------------------------------------------------------
    def buffered(self) -> int:
        return len(self._buffer) + len(self._checked)

    def full(self) -> bool:
        return self.buffered() >= self.max_buffer

    def add(self, row: tuple) -> None:
        """A streamed quote (called on the stream's thread; the caller waits while ``full()``). Its COPY
        line is made here, on the stream's thread, so that the writer only joins lines: formatting a batch
        on the writer's thread would compete for the GIL with the stream while PostgreSQL waits for it."""
        self._buffer.append((row, copy_line(row)))
        if len(self._buffer) >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def add_checked(self, rows: list[tuple]) -> None:
        """Quotes that may already be stored (a backfill): written through the duplicate-free path."""
        self._checked.extend(rows)
        self._wake.set()

    # ---- the writer's side --------------------------------------------------------------------
    def _take(self, queue: deque, n: int) -> list[tuple]:
        pop = queue.popleft
        return [pop() for _ in range(min(n, len(queue)))]

    def _ensure_partitions(self, conn: psycopg.Connection, rows: list[tuple]) -> None:
        days = {ns_to_datetime(r[QUOTE_TIME]).astimezone(NEW_YORK).date() for r in (rows[0], rows[-1])}
        if len(days) == 1 and days <= self._days:
            return
        hours = {r[QUOTE_TIME] // HOUR_NS * HOUR_NS for r in rows}  # New York midnight is a UTC hour
        days = {ns_to_datetime(t).astimezone(NEW_YORK).date() for t in hours} - self._days
        for day in sorted(days):  # the quote store is partitioned by New York day
            conn.execute("select md.ensure_quote_partitions(%s, %s)", [day, day])
            self._days.add(day)

    def write_plain(self, conn: psycopg.Connection, entries: list[tuple[tuple, str]]) -> int:
        """Streamed quotes, (row, COPY line) each, by one COPY."""
        self._ensure_partitions(conn, [row for row, _ in entries])
        data = "".join([line for _, line in entries]).encode()
        with conn.cursor().copy(f"copy md.quotes ({', '.join(COLUMNS)}) from stdin") as copy:  # one transaction
            copy.write(data)
        return len(entries)

    def write_checked(self, conn: psycopg.Connection, rows: list[tuple]) -> int:
        unique = list({row[:RECEIVED_AT]: row for row in reversed(rows)}.values())  # first arrival kept
        unique.sort(key=lambda r: r[QUOTE_TIME])
        self._ensure_partitions(conn, unique)
        columns = [list(c) for c in zip(*unique, strict=True)]
        columns[QUOTE_TIME] = [ns_to_datetime(t) for t in columns[QUOTE_TIME]]
        columns[RECEIVED_AT] = [ns_to_datetime(t) for t in columns[RECEIVED_AT]]
        inserted = conn.execute(
            "select md.ingest_insert_new_quotes(%s::text[], %s::numeric[], %s::numeric[], %s::numeric[], "
            "%s::numeric[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])",
            columns).fetchone()[0]
        self.stats.duplicates += len(rows) - inserted
        return inserted

    def _note(self, rows: list[tuple]) -> None:
        """Lag samples (ms): written - quote_time; on a simulated clock, received_at - quote_time (the wall
        clock says nothing about the simulated market's time)."""
        step = max(1, len(rows) // 20)
        now = time.time_ns()
        self.stats.lag_samples.extend(
            ((r[RECEIVED_AT] if self.simulated_clock else now) - r[QUOTE_TIME]) / 1e6 for r in rows[::step])
        newest = ns_to_datetime(max(rows[0][QUOTE_TIME], rows[-1][QUOTE_TIME]))
        if self.stats.last_quote_time is None or newest > self.stats.last_quote_time:
            self.stats.last_quote_time = newest

    def flush(self, conn: psycopg.Connection) -> int:
        """Write one batch: the checked queue first, then streamed quotes (split by the dedup window)."""
        done = 0
        if self._checked:
            rows = self._take(self._checked, self.batch_size)
            done += self._write(conn, rows, checked=True)
        entries = self._take(self._buffer, self.batch_size)
        if entries:
            until = self.dedup_until
            checked = [] if until is None else [row for row, _ in entries if row[QUOTE_TIME] <= until]
            if not checked:
                done += self._write(conn, entries, checked=False)
                if until is not None and until != MAX_NS:
                    with self._window_lock:  # the window is behind the stream now: close it
                        if self.dedup_until is until:
                            self.dedup_until = None
            else:
                plain = [e for e in entries if e[0][QUOTE_TIME] > until]
                try:
                    done += self._write(conn, checked, checked=True)
                except psycopg.OperationalError:
                    self._buffer.extendleft(reversed(plain))  # not written either: back to the front too
                    raise
                if plain:
                    done += self._write(conn, plain, checked=False)
        return done

    def set_dedup_window(self, until: int | None) -> None:
        """Streamed quotes up to ``until`` (ns) take the duplicate-free path (MAX_NS: all of them)."""
        with self._window_lock:
            self.dedup_until = until

    def _write(self, conn: psycopg.Connection, items: list[tuple], checked: bool) -> int:
        """Rows by the duplicate-free path (checked), or (row, COPY line) entries by COPY."""
        try:
            n = self.write_checked(conn, items) if checked else self.write_plain(conn, items)
        except psycopg.OperationalError:
            # the connection is gone: the batch goes back to the front, run() reconnects and retries it, by the
            # duplicate-free path: the server may have committed it before the connection broke (a crash between
            # the commit and its answer), and a second COPY would store it twice
            self._checked.extendleft(reversed(items if checked else [row for row, _ in items]))
            raise
        except psycopg.Error as exc:
            # a batch the database refuses (it should not happen: rows are validated) is logged and set
            # aside, never retried forever; the rest of the stream goes on
            self.failed_batches += 1
            log.error("batch of %d quotes refused by the database, skipped: %s", len(items), exc)
            return 0
        self.stats.written += n
        if n:
            self._note(items if checked else [row for row, _ in items])
        return n

    def run(self) -> None:
        """Flush until stopped; reconnect to the database with backoff if it goes away (the buffer waits,
        bounded, and the stream blocks when it is full)."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, application_name="ingest-writer") as conn:
                    delay = 0.5
                    self._loop(conn)
                    while self.buffered():  # stopping: write what is left (a round may write 0: all duplicates)
                        self.flush(conn)
                    return
            except psycopg.OperationalError as exc:
                log.error("database connection lost (%s); retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _loop(self, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            while self.flush(conn) >= self.batch_size or len(self._buffer) >= self.batch_size:
                pass
            if self.on_flush is not None:
                self.on_flush(conn)
            self._wake.wait(max(0.0, self.flush_seconds - (time.monotonic() - started)))
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

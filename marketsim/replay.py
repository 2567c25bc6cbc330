"""Replay a recorded quote file instead of simulating.

Formats, by extension: ``.csv`` with a header row, or JSON lines (``.jsonl``/``.json``/other), one
quote per line. Column names are either long (symbol, bid, ask, bid_size, ask_size, bid_exchange,
ask_exchange, timestamp, conditions, tape) or Alpaca's short keys (S, bp, ap, bs, as, bx, ax, t,
c, z). Timestamps are RFC 3339 (nanoseconds allowed) or integers in ns since the epoch. Symbols
that look like OCC option symbols go to the options stream.

The file's own timestamps are kept: the server's clock starts at the first quote unless told
otherwise, and the stream sends each quote when the clock passes it (at ``speed``). Only quotes are
replayed (no trades, so no bars). History endpoints return the file's quotes up to the clock.
"""

from __future__ import annotations

import bisect
import csv
import json
from collections.abc import Iterator
from pathlib import Path

from marketsim.calendar import MINUTE, xnys
from marketsim.market import EMPTY, MinuteSource, Quote, Segment
from marketsim.options import OCC
from marketsim.protocol import parse_rfc3339

ALIASES = {
    "S": "symbol", "bp": "bid", "ap": "ask", "bs": "bid_size", "as": "ask_size", "bx": "bid_exchange",
    "ax": "ask_exchange", "t": "timestamp", "c": "conditions", "z": "tape",
    "bid_price": "bid", "ask_price": "ask", "quote_time": "timestamp", "time": "timestamp",
}


def read_rows(path: Path) -> Iterator[dict]:
    with path.open(newline="") as fh:
        if path.suffix.lower() == ".csv":
            yield from csv.DictReader(fh)
        else:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def to_quote(row: dict) -> Quote:
    r = {ALIASES.get(k, k): v for k, v in row.items()}
    sym = str(r["symbol"]).strip().upper()
    ts = r["timestamp"]
    t = int(ts) if isinstance(ts, int) or (isinstance(ts, str) and ts.isdigit()) else parse_rfc3339(str(ts))
    option = OCC.match(sym) is not None
    cond = r.get("conditions")
    if option:
        cond = cond if isinstance(cond, str) and cond else " "
    elif isinstance(cond, str):
        cond = [c for c in cond.replace(";", ",").split(",") if c] or ["R"]
    elif cond is None:
        cond = ["R"]
    tape = None if option else (r.get("tape") or "C")
    return Quote(sym, t, float(r["bid"]), float(r["ask"]), int(float(r.get("bid_size") or 0)),
                 int(float(r.get("ask_size") or 0)), r.get("bid_exchange") or "V", r.get("ask_exchange") or "V",
                 cond, tape)


class ReplaySource(MinuteSource):
    """A MinuteSource over a recorded file (everything held in memory)."""

    options = None

    def __init__(self, path: Path) -> None:
        super().__init__(cache_size=0)
        self.calendar = xnys()
        quotes = sorted((to_quote(row) for row in read_rows(Path(path))), key=lambda q: (q.symbol, q.t))
        by_key: dict[tuple[str, int], list[Quote]] = {}
        for q in quotes:
            by_key.setdefault((q.symbol, q.t - q.t % MINUTE), []).append(q)
        self._segments = {k: Segment(v) for k, v in by_key.items()}
        self._minutes: dict[str, list[int]] = {}
        for sym, m in sorted(by_key):
            self._minutes.setdefault(sym, []).append(m)
        self.first_ns = min((q.t for q in quotes), default=0)
        self.count = len(quotes)

    def stock_symbols(self) -> list[str]:
        return [s for s in self._minutes if not OCC.match(s)]

    def option_symbols(self, now_ns: int) -> list[str]:
        return [s for s in self._minutes if OCC.match(s)]

    def is_known(self, symbol: str) -> bool:
        return symbol in self._minutes

    def segment(self, symbol: str, minute: int) -> Segment:
        return self._segments.get((symbol, minute), EMPTY)

    def minutes(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[int]:
        ms = self._minutes.get(symbol, [])
        lo = bisect.bisect_left(ms, start_ns - start_ns % MINUTE)
        hi = bisect.bisect_left(ms, end_ns)
        return iter(ms[lo:hi])

    def minutes_desc(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[int]:
        return reversed(list(self.minutes(symbol, start_ns, end_ns)))

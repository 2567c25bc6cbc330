"""The simulated equity market: quotes, trades and minute bars, deterministic for a seed.

Model (and its approximations):

- Daily level: each symbol's log price is a mean-reverting AR(1) over calendar days around its
  configured level (stationary deviation 10 %, daily innovation sigma/sqrt(252)). This gives one
  "anchor" price per day at 04:00 ET, independent of how the server was started.
- Intraday: between one session's anchor (04:00 ET) and the next session's anchor (its 04:00 ET)
  the log price follows a Brownian bridge sampled at every minute of the extended session, with
  more variance in regular hours than in pre/after-hours. Closing at 20:00 on the next session's
  anchor means there is no overnight gap (approximation).
- Within a minute: quote times are a Poisson process (rate per symbol); the mid follows a finer
  Brownian bridge between the two minute points; the NBBO is the mid +/- half a spread drawn
  around the symbol's typical spread (x3 in extended hours), whole cents, never crossed or locked;
  displayed sizes are round lots (100 x 1..max_lots); exchanges are drawn from the SIP codes.
- Trades: a Poisson process per minute, at the prevailing bid or ask (or the mid); minute bars
  aggregate them (no bar for a minute without trades).

Random access: every minute of every symbol is generated from its own RNG stream keyed by
(seed, symbol, minute), so any period can be regenerated exactly; this is how the historical
endpoints return what the stream sent (plus an LRU cache of generated minutes).

``MinuteSource`` is the interface the server reads (the simulation and ``replay`` implement it).
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from marketsim.calendar import FIRST_DAY, LAST_DAY, MINUTE, NS, Session, xnys
from marketsim.config import SimConfig, SymbolSpec

STOCK_EXCHANGES = ("Q", "P", "Z", "K", "V", "N", "J", "Y", "X", "B", "H", "A", "U")
STATIONARY_SIGMA = 0.10


class Quote:
    """One NBBO quote. ``option`` quotes carry a string condition and no tape (Alpaca's shape)."""

    __slots__ = ("_js", "_mp", "ap", "as_", "ax", "bp", "bs", "bx", "c", "symbol", "t", "z")
    kind = "q"

    def __init__(self, symbol, t, bp, ap, bs, as_, bx, ax, c, z):
        self.symbol, self.t = symbol, t
        self.bp, self.ap, self.bs, self.as_, self.bx, self.ax, self.c, self.z = bp, ap, bs, as_, bx, ax, c, z
        self._mp = self._js = None

    def fields(self) -> dict:
        d = {"ax": self.ax, "ap": self.ap, "as": self.as_, "bx": self.bx, "bp": self.bp, "bs": self.bs, "c": self.c}
        if self.z is not None:
            d["z"] = self.z
        return d

    def __repr__(self) -> str:
        return f"Quote({self.symbol} {self.t} {self.bs}x{self.bp} / {self.ap}x{self.as_})"


class Trade:
    __slots__ = ("_js", "_mp", "c", "i", "p", "s", "symbol", "t", "x", "z")
    kind = "t"

    def __init__(self, symbol, t, i, x, p, s, c, z):
        self.symbol, self.t, self.i, self.x, self.p, self.s, self.c, self.z = symbol, t, i, x, p, s, c, z
        self._mp = self._js = None

    def fields(self) -> dict:
        d = {"i": self.i, "x": self.x, "p": self.p, "s": self.s, "c": self.c}
        if self.z is not None:
            d["z"] = self.z
        return d


class Bar:
    __slots__ = ("_js", "_mp", "c", "h", "l", "n", "o", "symbol", "t", "v", "vw")
    kind = "b"

    def __init__(self, symbol, t, o, h, l, c, v, n, vw):  # noqa: E741 (Alpaca's field name)
        self.symbol, self.t, self.o, self.h, self.l, self.c, self.v, self.n, self.vw = symbol, t, o, h, l, c, v, n, vw
        self._mp = self._js = None

    def fields(self) -> dict:
        return {"o": self.o, "h": self.h, "l": self.l, "c": self.c, "v": self.v, "n": self.n, "vw": self.vw}

    @staticmethod
    def aggregate(symbol: str, t: int, trades: list[Trade]) -> Bar | None:
        if not trades:
            return None
        prices = [tr.p for tr in trades]
        vol = sum(tr.s for tr in trades)
        vw = sum(tr.p * tr.s for tr in trades) / vol
        return Bar(symbol, t, prices[0], max(prices), min(prices), prices[-1], vol, len(trades), round(vw, 4))


def merge_bars(symbol: str, t: int, bars: list[Bar]) -> Bar:
    vol = sum(b.v for b in bars)
    vw = sum(b.vw * b.v for b in bars) / vol if vol else bars[-1].c
    return Bar(symbol, t, bars[0].o, max(b.h for b in bars), min(b.l for b in bars), bars[-1].c, vol,
               sum(b.n for b in bars), round(vw, 4))


@dataclass
class Segment:
    """Everything one symbol did in one minute, time-ordered."""

    quotes: list[Quote] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    bar: Bar | None = None

    def __post_init__(self) -> None:
        self.q_times = [q.t for q in self.quotes]
        self.t_times = [t.t for t in self.trades]


EMPTY = Segment()


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())


def rng_for(seed: int, *parts: str | int) -> np.random.Generator:
    key = [seed & 0xFFFFFFFF] + [p if isinstance(p, int) else stable_hash(p) for p in parts]
    return np.random.default_rng(np.random.SeedSequence(key))


class MinuteSource:
    """What the server reads: per-symbol minute segments over the minutes a symbol is active.

    Subclasses implement ``segment``, ``minutes`` and ``minutes_desc``; the rest is generic.
    """

    def __init__(self, cache_size: int = 50_000) -> None:
        self._cache: OrderedDict[tuple[str, int], Segment] = OrderedDict()
        self._cache_size = cache_size

    # --- to implement -------------------------------------------------------------------------
    def stock_symbols(self) -> list[str]:
        raise NotImplementedError

    def is_known(self, symbol: str) -> bool:
        raise NotImplementedError

    def _generate(self, symbol: str, minute: int) -> Segment:
        raise NotImplementedError

    def minutes(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[int]:
        """Minute starts (ascending) at which the symbol can have events, overlapping [start, end)."""
        raise NotImplementedError

    def minutes_desc(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[int]:
        raise NotImplementedError

    # --- generic ------------------------------------------------------------------------------
    def segment(self, symbol: str, minute: int) -> Segment:
        key = (symbol, minute)
        seg = self._cache.get(key)
        if seg is None:
            seg = self._generate(symbol, minute)
            self._cache[key] = seg
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return seg

    def events(self, kind: str, symbol: str, start_ns: int, end_ns: int) -> Iterator:
        """Quotes ("q") or trades ("t") with start <= t < end, ascending."""
        import bisect

        for m in self.minutes(symbol, start_ns, end_ns):
            seg = self.segment(symbol, m)
            items, times = (seg.quotes, seg.q_times) if kind == "q" else (seg.trades, seg.t_times)
            if not items:
                continue
            lo = bisect.bisect_left(times, start_ns) if start_ns > m else 0
            hi = bisect.bisect_left(times, end_ns) if end_ns < m + MINUTE else len(items)
            yield from items[lo:hi]

    def events_desc(self, kind: str, symbol: str, start_ns: int, end_ns: int) -> Iterator:
        import bisect

        for m in self.minutes_desc(symbol, start_ns, end_ns):
            seg = self.segment(symbol, m)
            items, times = (seg.quotes, seg.q_times) if kind == "q" else (seg.trades, seg.t_times)
            lo = bisect.bisect_left(times, start_ns)
            hi = bisect.bisect_left(times, end_ns)
            yield from reversed(items[lo:hi])

    def minute_bars(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[Bar]:
        """Minute bars whose minute starts in [start, end) and has ended, ascending."""
        first = -(-start_ns // MINUTE) * MINUTE
        for m in self.minutes(symbol, first, end_ns):
            if m >= first:
                bar = self.segment(symbol, m).bar
                if bar is not None:
                    yield bar

    def latest(self, kind: str, symbol: str, at_ns: int, lookback_days: int = 7) -> Quote | Trade | None:
        """The last quote/trade at or before ``at``."""
        for ev in self.events_desc(kind, symbol, at_ns - lookback_days * 86400 * NS, at_ns + 1):
            return ev
        return None

    def latest_bar(self, symbol: str, at_ns: int, lookback_days: int = 7) -> Bar | None:
        for m in self.minutes_desc(symbol, at_ns - lookback_days * 86400 * NS, at_ns - MINUTE + 1):
            bar = self.segment(symbol, m).bar
            if bar is not None:
                return bar
        return None


def session_minutes(sessions: list[Session], start_ns: int, end_ns: int, regular_only: bool) -> Iterator[int]:
    for s in sessions:
        lo, hi = (s.open, s.close) if regular_only else (s.pre_open, s.post_close)
        m = max(lo, start_ns - start_ns % MINUTE)
        while m < min(hi, end_ns):
            yield m
            m += MINUTE


def session_minutes_desc(sessions, start_ns: int, end_ns: int, regular_only: bool) -> Iterator[int]:
    for s in sessions:
        lo, hi = (s.open, s.close) if regular_only else (s.pre_open, s.post_close)
        last = end_ns - 1
        m = min(hi - MINUTE, last - last % MINUTE)
        while m >= lo and m + MINUTE > start_ns:
            yield m
            m -= MINUTE


class EquityModel:
    """The price path of one symbol: daily anchors and per-session minute bridges."""

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.spec, self.seed = spec, seed
        self.sigma_day = spec.sigma / math.sqrt(252)
        ratio = min(self.sigma_day / STATIONARY_SIGMA, 0.9)
        phi = math.sqrt(1 - ratio * ratio)
        n = (LAST_DAY - FIRST_DAY).days + 2
        eps = rng_for(seed, "anchor", spec.symbol).standard_normal(n).tolist()
        x, log_anchor, base = eps[0] * STATIONARY_SIGMA, [], math.log(spec.price)
        for e in eps:
            x = phi * x + self.sigma_day * e
            log_anchor.append(base + x)
        self._log_anchor = log_anchor
        self._paths: OrderedDict[date, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def log_anchor(self, day: date) -> float:
        i = min(max((day - FIRST_DAY).days, 0), len(self._log_anchor) - 1)
        return self._log_anchor[i]

    def anchor(self, day: date) -> float:
        return math.exp(self.log_anchor(day))

    def day_path(self, s: Session) -> tuple[np.ndarray, np.ndarray]:
        """(log mid at each minute boundary of the extended session, per-minute sigma)."""
        hit = self._paths.get(s.day)
        if hit is not None:
            return hit
        cal = xnys()
        nxt = cal.next_session(s)
        a = self.log_anchor(s.day)
        b = self.log_anchor(nxt.day) if nxt else a
        n = (s.post_close - s.pre_open) // MINUTE
        starts = s.pre_open + MINUTE * np.arange(n)
        weights = np.where((starts >= s.open) & (starts < s.close), 1.3, 0.5)
        sig = self.sigma_day * weights / math.sqrt(float(np.sum(weights * weights)))
        z = rng_for(self.seed, "day", self.spec.symbol, s.day.toordinal()).standard_normal(n) * sig
        w = np.concatenate(([0.0], np.cumsum(z)))
        var = np.concatenate(([0.0], np.cumsum(sig * sig)))
        frac = var / var[-1]
        path = a + (b - a) * frac + w - frac * w[-1]
        self._paths[s.day] = (path, sig)
        if len(self._paths) > 64:
            self._paths.popitem(last=False)
        return path, sig

    def minute(self, s: Session, minute: int, rate_scale: float) -> Segment:
        spec = self.spec
        path, sig = self.day_path(s)
        i = (minute - s.pre_open) // MINUTE
        a, b, sigma = float(path[i]), float(path[i + 1]), float(sig[i])
        regular = s.open <= minute < s.close
        rng = rng_for(self.seed, "q", spec.symbol, minute // MINUTE)
        n = int(rng.poisson(spec.quote_rate * 60 * rate_scale))
        offs = np.sort(rng.integers(0, MINUTE, n))
        f = offs / MINUTE
        steps = np.sqrt(np.diff(np.concatenate(([0.0], f, [1.0])))) * rng.standard_normal(n + 1)
        w = np.cumsum(steps)
        mids = np.exp(a + (b - a) * f + sigma * (w[:-1] - f * w[-1]))
        typical = spec.spread * 100 * (1 if regular else 3)
        spread_c = np.maximum(1, np.rint(typical * np.exp(0.3 * rng.standard_normal(n))))
        bid_c = np.maximum(1, np.rint(mids * 100 - spread_c / 2))
        ask_c = bid_c + spread_c
        lots = rng.integers(1, spec.max_lots + 1, (n, 2)) * 100
        exch = rng.integers(0, len(STOCK_EXCHANGES), (n, 2))
        sym, tape, cond = spec.symbol, spec.tape, ["R"]
        times = (minute + offs).tolist()
        quotes = [
            Quote(sym, t, bc / 100, ac / 100, ls[0], ls[1], STOCK_EXCHANGES[ex[0]], STOCK_EXCHANGES[ex[1]], cond, tape)
            for t, bc, ac, ls, ex in zip(times, bid_c.tolist(), ask_c.tolist(), lots.tolist(), exch.tolist(),
                                         strict=True)
        ]
        trades = self._trades(minute, regular, quotes, math.exp(a), rate_scale)
        return Segment(quotes, trades, Bar.aggregate(sym, minute, trades))

    def _trades(self, minute: int, regular: bool, quotes: list[Quote], ref: float, rate_scale: float) -> list[Trade]:
        import bisect

        spec = self.spec
        rng = rng_for(self.seed, "t", spec.symbol, minute // MINUTE)
        n = int(rng.poisson(spec.trade_rate * 60 * rate_scale))
        if n == 0:
            return []
        offs = np.sort(rng.integers(0, MINUTE, n)).tolist()
        side = rng.random(n).tolist()
        is_odd = (rng.random(n) < 0.6).tolist()
        odd = rng.integers(1, 100, n).tolist()
        lots = rng.integers(1, 6, n).tolist()
        exch = rng.integers(0, len(STOCK_EXCHANGES), n).tolist()
        q_times = [q.t for q in quotes]
        cond = ["@"] if regular else ["@", "T"]
        out = []
        for k in range(n):
            t = minute + offs[k]
            j = bisect.bisect_right(q_times, t) - 1
            q = quotes[max(j, 0)] if quotes else None
            if q is None:
                price = round(ref, 2)
            elif side[k] < 0.45:
                price = q.bp
            elif side[k] < 0.9:
                price = q.ap
            else:
                price = round((q.bp + q.ap) / 2, 2)
            size = odd[k] if is_odd[k] else lots[k] * 100
            tid = (minute // MINUTE) * 1000 + k
            out.append(Trade(spec.symbol, t, tid, STOCK_EXCHANGES[exch[k]], price, size, cond, spec.tape))
        return out


class SimMarket(MinuteSource):
    """The deterministic simulated market (equities here, options via ``options.OptionBook``)."""

    def __init__(self, config: SimConfig) -> None:
        super().__init__()
        from marketsim.options import OptionBook

        self.config = config
        self.calendar = xnys()
        self.models = {s.symbol: EquityModel(s, config.seed) for s in config.symbols}
        self.options = OptionBook(self, config)

    def stock_symbols(self) -> list[str]:
        return list(self.models)

    def is_known(self, symbol: str) -> bool:
        return symbol in self.models or self.options.parse(symbol) is not None

    def option_symbols(self, now_ns: int) -> list[str]:
        """Every listed contract of the trading day at now (the options stream's "*")."""
        s = self.calendar.session_at(now_ns) or self.calendar.sessions[self.calendar.session_index_at_or_before(now_ns)]
        return [c.symbol for u in self.options.underlyings for c in self.options.chain(u, s.day)]

    def is_option(self, symbol: str) -> bool:
        return symbol not in self.models and self.options.parse(symbol) is not None

    def _generate(self, symbol: str, minute: int) -> Segment:
        model = self.models.get(symbol)
        if model is None:
            return self.options.segment(symbol, minute)
        s = self.calendar.session_at(minute)
        if s is None:
            return EMPTY
        return model.minute(s, minute, self.config.rate_scale)

    def minutes(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[int]:
        if symbol in self.models:
            return session_minutes(self.calendar.sessions_overlapping(start_ns, end_ns), start_ns, end_ns, False)
        contract = self.options.parse(symbol)
        if contract is None:
            return iter(())
        end_ns = min(end_ns, contract.expires_ns)
        return session_minutes(self.calendar.sessions_overlapping(start_ns, end_ns), start_ns, end_ns, True)

    def minutes_desc(self, symbol: str, start_ns: int, end_ns: int) -> Iterator[int]:
        regular = symbol not in self.models
        if regular:
            contract = self.options.parse(symbol)
            if contract is None:
                return iter(())
            end_ns = min(end_ns, contract.expires_ns)
        return session_minutes_desc(self.calendar.sessions_overlapping_desc(start_ns, end_ns), start_ns, end_ns,
                                    regular)

    def underlying_mid(self, symbol: str, t_ns: int) -> float:
        """Mid of the prevailing quote of an underlying at t (the day anchor if it has none yet)."""
        import bisect

        m = t_ns - t_ns % MINUTE
        seg = self.segment(symbol, m)
        j = bisect.bisect_right(seg.q_times, t_ns) - 1
        if j >= 0:
            q = seg.quotes[j]
            return (q.bp + q.ap) / 2
        q = self.latest("q", symbol, t_ns, lookback_days=5)
        if q is not None:
            return (q.bp + q.ap) / 2
        s = self.calendar.session_at(t_ns)
        return self.models[symbol].anchor(s.day if s else FIRST_DAY)

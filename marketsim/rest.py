"""REST endpoints, shaped as alpaca-py's clients build and parse them.

Market data (base ``/v2`` for stocks, ``/v1beta1`` for options): latest quotes/trades/bars,
historical quotes/trades/bars with paging (``limit`` <= 10000, ``next_page_token``, ``sort``),
stock snapshots, option chain snapshots. Trading-API reference data (``/v2``): clock, calendar,
assets, option contracts. Every route needs the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers;
errors are Alpaca's ``{"code": N, "message": "..."}``.

History never extends past the simulated clock: ``end`` defaults to, and is clamped at, now.
Historical answers are regenerated from the same minute segments the stream sent, so they agree
exactly with what a subscriber received. ``end`` is inclusive, like Alpaca's.

Approximation: daily bars are drawn from the minute price path (open, high, low, close of the
regular session's minute points; volume from the trade rate), not aggregated from simulated trades.
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse

from marketsim.calendar import MINUTE, NS, NY, hhmm
from marketsim.market import Bar, merge_bars, rng_for
from marketsim.options import asset_id
from marketsim.protocol import parse_rfc3339, rest_fields

MAX_LIMIT = 10_000
TIMEFRAME = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D)$")


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "message": self.message}, status_code=self.status)


def bad_request(message: str) -> ApiError:
    return ApiError(400, 40010001, message)


# ---- parameters -----------------------------------------------------------------------------

def symbols_param(req: Request, name: str = "symbols") -> list[str]:
    raw = req.query_params.get(name)
    if not raw:
        raise bad_request(f"{name} is required")
    return [s.strip().upper() for s in raw.split(",") if s.strip()]


def time_param(req: Request, name: str) -> int | None:
    raw = req.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {raw!r}") from exc


def limit_param(req: Request, default: int = 1000, maximum: int = MAX_LIMIT) -> int:
    raw = req.query_params.get("limit")
    if raw is None or raw == "":
        return default
    try:
        n = int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid limit: {raw!r}") from exc
    if not 1 <= n <= maximum:
        raise bad_request(f"invalid limit: must be between 1 and {maximum}")
    return n


def sort_desc(req: Request) -> bool:
    raw = req.query_params.get("sort", "asc")
    if raw not in ("asc", "desc"):
        raise bad_request(f"invalid sort: {raw!r}")
    return raw == "desc"


def encode_token(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def decode_token(token: str | None) -> list | None:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except Exception as exc:
        raise bad_request("invalid page_token") from exc


def day_start_ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=NY).timestamp()) * NS


class Rest:
    """The route handlers; ``app`` holds the source, clock and config."""

    def __init__(self, config, source, clock) -> None:
        self.config, self.source, self.clock = config, source, clock
        self.credentials = {tuple(c) for c in config.credentials}

    def check_auth(self, req: Request) -> None:
        key, secret = req.headers.get("apca-api-key-id"), req.headers.get("apca-api-secret-key")
        if (key, secret) not in self.credentials:
            raise ApiError(401, 40110000, "request is not authorized")

    def window(self, req: Request) -> tuple[int, int]:
        """[start, end] in ns: start defaults to the start of today (ET), end to now (clamped)."""
        now = self.clock.now_ns()
        start = time_param(req, "start")
        end = time_param(req, "end")
        if start is None:
            start = day_start_ns(datetime.fromtimestamp(now / NS, NY).date())
        end = now if end is None else min(end, now)
        return start, end

    # ---- historical events with paging ------------------------------------------------------
    def history(self, req: Request, kind: str, key: str) -> dict:
        symbols = sorted(set(symbols_param(req)))
        start, end = self.window(req)
        limit, desc = limit_param(req), sort_desc(req)
        token = decode_token(req.query_params.get("page_token"))
        out: dict[str, list] = {}
        count = 0
        if token:
            t_sym, t_time, t_skip = token
            symbols = [s for s in symbols if s >= t_sym]
        for sym in symbols:
            a, b = start, end + 1
            skip = 0
            if token and sym == t_sym:
                skip = t_skip
                if desc:
                    b = min(b, t_time + 1)
                else:
                    a = max(a, t_time)
            events = self.source.events_desc(kind, sym, a, b) if desc else self.source.events(kind, sym, a, b)
            run_t, run_n = None, 0
            for ev in events:
                if ev.t == run_t:
                    run_n += 1
                else:
                    run_t, run_n = ev.t, 1
                if skip:
                    skip -= 1
                    continue
                if count == limit:
                    return {key: out, "next_page_token": encode_token(sym, ev.t, run_n - 1)}
                out.setdefault(sym, []).append(rest_fields(ev))
                count += 1
        return {key: out, "next_page_token": None}

    def bars(self, req: Request) -> dict:
        symbols = sorted(set(symbols_param(req)))
        tf = req.query_params.get("timeframe", "1Min")
        m = TIMEFRAME.match(tf)
        if not m:
            raise bad_request(f"invalid timeframe: {tf!r}")
        n, unit = int(m.group(1)), m.group(2)
        start, end = self.window(req)
        limit, desc = limit_param(req), sort_desc(req)
        token = decode_token(req.query_params.get("page_token"))
        if token:
            symbols = [s for s in symbols if s >= token[0]]
        out: dict[str, list] = {}
        count = 0
        for sym in symbols:
            if not self.source.is_known(sym):
                continue
            if unit in ("Day", "D"):
                if n != 1:
                    raise bad_request("only 1Day bars are supported")
                bars = list(self.daily_bars(sym, start, end))
            else:
                width = n * (MINUTE if unit in ("Min", "T") else 60 * MINUTE)
                if not 0 < width <= 24 * 60 * MINUTE:
                    raise bad_request(f"invalid timeframe: {tf!r}")
                # bars whose start is in [start, end] and whose minute has ended by now
                last = min(end + 1, self.clock.now_ns() - MINUTE + 1)
                bars = list(self.grouped_bars(sym, start, last, width))
            if desc:
                bars.reverse()
            for bar in bars:
                if token and sym == token[0] and (bar.t > token[1] if desc else bar.t < token[1]):
                    continue
                if count == limit:
                    return {"bars": out, "next_page_token": encode_token(sym, bar.t, 0)}
                out.setdefault(sym, []).append(rest_fields(bar))
                count += 1
        return {"bars": out, "next_page_token": None}

    def grouped_bars(self, sym: str, start: int, end: int, width: int):
        """Minute bars merged into buckets of ``width`` ns aligned to the epoch (UTC)."""
        group, group_t = [], None
        for bar in self.source.minute_bars(sym, start - start % width, end):
            t = bar.t - bar.t % width
            if group and t != group_t:
                yield merge_bars(sym, group_t, group) if width > MINUTE else group[0]
                group = []
            group_t = t
            group.append(bar)
        if group:
            yield merge_bars(sym, group_t, group) if width > MINUTE else group[0]

    def daily_bars(self, sym: str, start: int, end: int):
        model = getattr(self.source, "models", {}).get(sym)
        if model is None:
            yield from self.replay_daily_bars(sym, start, end)
            return
        cal = self.source.calendar
        first = datetime.fromtimestamp(start / NS, NY).date()
        last = datetime.fromtimestamp(end / NS, NY).date()
        for s in cal.sessions_between(first, last):
            if s.close > end + 1:
                continue  # the day is not over yet
            path, _ = model.day_path(s)
            i0, i1 = (s.open - s.pre_open) // MINUTE, (s.close - s.pre_open) // MINUTE
            pts = [math.exp(x) for x in path[i0:i1 + 1].tolist()]
            rng = rng_for(self.config.seed, "dailyvol", sym, s.day.toordinal())
            trades = int(model.spec.trade_rate * 60 * (i1 - i0) * self.config.rate_scale)
            vol = int(trades * 120 * (0.7 + 0.6 * float(rng.random())))
            o, c = round(pts[0], 2), round(pts[-1], 2)
            yield Bar(sym, day_start_ns(s.day), o, round(max(pts), 2), round(min(pts), 2), c, vol, trades,
                      round(sum(pts) / len(pts), 4))

    def replay_daily_bars(self, sym: str, start: int, end: int):
        by_day: dict[date, list[Bar]] = {}
        for bar in self.source.minute_bars(sym, start, end + 1):
            by_day.setdefault(datetime.fromtimestamp(bar.t / NS, NY).date(), []).append(bar)
        for day, bars in sorted(by_day.items()):
            yield merge_bars(sym, day_start_ns(day), bars)

    def latest(self, req: Request, kind: str, key: str) -> dict:
        now = self.clock.now_ns()
        out = {}
        for sym in symbols_param(req):
            ev = self.source.latest_bar(sym, now) if kind == "b" else self.source.latest(kind, sym, now)
            if ev is not None:
                out[sym] = rest_fields(ev)
        return {key: out}

    def stock_snapshots(self, req: Request) -> dict:
        now = self.clock.now_ns()
        out = {}
        for sym in symbols_param(req):
            if not self.source.is_known(sym):
                continue
            q, t, b = self.source.latest("q", sym, now), self.source.latest("t", sym, now), \
                self.source.latest_bar(sym, now)
            today = datetime.fromtimestamp(now / NS, NY).date()
            days = list(self.daily_bars(sym, day_start_ns(today - timedelta(days=10)), now))
            snap = {"latestQuote": rest_fields(q) if q else None, "latestTrade": rest_fields(t) if t else None,
                    "minuteBar": rest_fields(b) if b else None,
                    "dailyBar": rest_fields(days[-1]) if days else None,
                    "prevDailyBar": rest_fields(days[-2]) if len(days) > 1 else None}
            out[sym] = snap
        return out

    # ---- options ----------------------------------------------------------------------------
    def option_chain(self, req: Request, underlying: str | None) -> dict:
        now = self.clock.now_ns()
        book = getattr(self.source, "options", None)
        if underlying is not None:
            contracts = self.filter_contracts(req, [underlying])
        else:
            contracts = [c for c in (book.parse(s) for s in symbols_param(req)) if c] if book else []
        limit = limit_param(req, default=100, maximum=1000)
        token = decode_token(req.query_params.get("page_token"))
        offset = token[0] if token else 0
        out = {}
        for i in range(offset, len(contracts)):
            if len(out) == limit:
                return {"snapshots": out, "next_page_token": encode_token(i)}
            snap = book.snapshot(contracts[i], now)
            if snap is not None:
                out[contracts[i].symbol] = snap
        return {"snapshots": out, "next_page_token": None}

    def filter_contracts(self, req: Request, underlyings: list[str]):
        """Today's listed contracts of the underlyings, filtered as alpaca-py's requests allow."""
        book = getattr(self.source, "options", None)
        if book is None:
            return []
        q = req.query_params
        day = datetime.fromtimestamp(self.clock.now_ns() / NS, NY).date()
        out = []
        for u in underlyings:
            if u not in book.underlyings:
                continue
            for c in book.chain(u, day):
                if q.get("type") and c.type != q["type"]:
                    continue
                if q.get("style") and q["style"] != "american":
                    continue
                if q.get("root_symbol") and c.underlying != q["root_symbol"]:
                    continue
                if q.get("strike_price_gte") and c.strike < float(q["strike_price_gte"]):
                    continue
                if q.get("strike_price_lte") and c.strike > float(q["strike_price_lte"]):
                    continue
                exp = c.expiration.isoformat()
                if q.get("expiration_date") and exp != q["expiration_date"]:
                    continue
                if q.get("expiration_date_gte") and exp < q["expiration_date_gte"]:
                    continue
                if q.get("expiration_date_lte") and exp > q["expiration_date_lte"]:
                    continue
                out.append(c)
        return out

    def option_contracts(self, req: Request) -> dict:
        book = getattr(self.source, "options", None)
        raw = req.query_params.get("underlying_symbols")
        underlyings = [s.strip().upper() for s in raw.split(",")] if raw else (book.underlyings if book else [])
        status = req.query_params.get("status", "active")
        contracts = self.filter_contracts(req, underlyings) if status == "active" else []
        limit = limit_param(req, default=100)
        token = decode_token(req.query_params.get("page_token"))
        offset = token[0] if token else 0
        page = contracts[offset:offset + limit]
        nxt = encode_token(offset + limit) if offset + limit < len(contracts) else None
        return {"option_contracts": [book.contract_json(c) for c in page], "next_page_token": nxt}

    def option_contract(self, symbol_or_id: str) -> dict:
        book = getattr(self.source, "options", None)
        c = book.parse(symbol_or_id.upper()) if book else None
        if c is None and book:
            day = datetime.fromtimestamp(self.clock.now_ns() / NS, NY).date()
            c = next((c for u in book.underlyings for c in book.chain(u, day) if asset_id(c.symbol) == symbol_or_id),
                     None)
        if c is None:
            raise ApiError(404, 40410000, "option contract not found")
        return book.contract_json(c)

    # ---- trading-API reference data ---------------------------------------------------------
    def asset_json(self, sym: str) -> dict:
        spec = self.config.spec(sym)
        exchange = spec.exchange if spec else "NASDAQ"
        return {
            "id": asset_id(sym), "class": "us_equity", "exchange": exchange, "symbol": sym,
            "name": spec.name if spec else sym, "status": "active", "tradable": True, "marginable": True,
            "shortable": True, "easy_to_borrow": bool(spec is None or spec.options), "fractionable": True,
            "maintenance_margin_requirement": 30, "attributes": ["has_options"] if spec and spec.options else [],
        }

    def assets(self, req: Request) -> list:
        q = req.query_params
        if q.get("status", "active") != "active" or q.get("asset_class", "us_equity") != "us_equity":
            return []
        out = [self.asset_json(s) for s in self.source.stock_symbols()]
        if q.get("exchange"):
            out = [a for a in out if a["exchange"] == q["exchange"]]
        return out

    def asset(self, symbol_or_id: str) -> dict:
        for sym in self.source.stock_symbols():
            if symbol_or_id.upper() == sym or symbol_or_id == asset_id(sym):
                return self.asset_json(sym)
        raise ApiError(404, 40410000, "asset not found")

    def calendar(self, req: Request) -> list:
        cal = self.source.calendar
        try:
            first = date.fromisoformat(req.query_params.get("start") or "1970-01-01")
            last = date.fromisoformat(req.query_params.get("end") or "2100-01-01")
        except ValueError as exc:
            raise bad_request("invalid date") from exc
        return [{
            "date": s.day.isoformat(), "open": hhmm(s.open), "close": hhmm(s.close),
            "session_open": hhmm(s.pre_open).replace(":", ""), "session_close": hhmm(s.post_close).replace(":", ""),
            "settlement_date": (cal.next_session(s) or s).day.isoformat(),
        } for s in cal.sessions_between(first, last)]

    def clock_json(self) -> dict:
        return self.source.calendar.clock(self.clock.now_ns())

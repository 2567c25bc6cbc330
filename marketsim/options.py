"""Option chains and Black-Scholes option quotes.

- Listing: for each optionable underlying and trading day, expirations are the weekly Fridays of
  the next five weeks plus the monthly third Fridays of the next three months (a Friday holiday
  moves to the session before), and strikes are ``strikes_each_side`` steps either side of the
  day's anchor price (step 0.5 / 1 / 2.5 / 5 / 10 by price level). Approximation: the strike grid
  is re-centred every day, so far strikes come and go; real chains keep listed strikes.
- Pricing: European Black-Scholes, no dividends, flat rate ``risk_free_rate``, on the mid of the
  underlying's prevailing quote. Implied volatility has a simple smile and put skew around the
  underlying's sigma. Time to expiry counts calendar time to the close of the expiration day.
- Quotes: Poisson arrivals (``option_quote_rate`` per contract per simulated second), regular
  hours only, until expiry. Bid/ask straddle the model value: half-width 1 cent + 1 % of the
  value (randomised a little), penny ticks under $3 and nickel ticks above, bid floored at 0.
  Sizes 1..100 contracts; OPRA exchange codes.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from marketsim.calendar import MINUTE, NS, NY
from marketsim.market import EMPTY, Quote, Segment, rng_for

OCC = re.compile(r"^([A-Z]{1,6})(\d{6})([CP])(\d{8})$")
OPRA_EXCHANGES = ("A", "B", "C", "D", "E", "H", "I", "J", "M", "N", "P", "Q", "S", "T", "U", "W", "X", "Z")
YEAR_NS = 365 * 86400 * NS
ID_NAMESPACE = uuid.UUID("6a1f3f0e-7d0b-4b8e-9a53-6d61726b6574")


def asset_id(symbol: str) -> str:
    """A stable UUID per symbol (assets and option contracts)."""
    return str(uuid.uuid5(ID_NAMESPACE, symbol))


@dataclass(frozen=True)
class Contract:
    symbol: str
    underlying: str
    expiration: date
    type: str  # "call" | "put"
    strike: float
    expires_ns: int  # close of the expiration session

    @property
    def is_call(self) -> bool:
        return self.type == "call"


def occ_symbol(underlying: str, expiration: date, kind: str, strike: float) -> str:
    return f"{underlying}{expiration:%y%m%d}{kind[0].upper()}{round(strike * 1000):08d}"


# ---- Black-Scholes --------------------------------------------------------------------------

def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def bs_price(is_call: bool, s: float, k: float, t: float, r: float, vol: float) -> float:
    """European Black-Scholes value (no dividends). t in years."""
    if t <= 0 or vol <= 0:
        return max(0.0, s - k) if is_call else max(0.0, k - s)
    sq = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r + 0.5 * vol * vol) * t) / sq
    d2 = d1 - sq
    if is_call:
        return s * norm_cdf(d1) - k * math.exp(-r * t) * norm_cdf(d2)
    return k * math.exp(-r * t) * norm_cdf(-d2) - s * norm_cdf(-d1)


def bs_greeks(is_call: bool, s: float, k: float, t: float, r: float, vol: float) -> dict:
    """delta, gamma, theta (per calendar day), vega and rho (per 1 vol point / 1 % rate)."""
    t = max(t, 1e-6)
    sq = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r + 0.5 * vol * vol) * t) / sq
    d2 = d1 - sq
    disc = math.exp(-r * t)
    gamma = norm_pdf(d1) / (s * sq)
    vega = s * norm_pdf(d1) * math.sqrt(t) / 100
    common = -s * norm_pdf(d1) * vol / (2 * math.sqrt(t))
    if is_call:
        delta, theta, rho = norm_cdf(d1), common - r * k * disc * norm_cdf(d2), k * t * disc * norm_cdf(d2) / 100
    else:
        delta, theta, rho = norm_cdf(d1) - 1, common + r * k * disc * norm_cdf(-d2), -k * t * disc * norm_cdf(-d2) / 100
    return {k_: round(v, 4) for k_, v in
            {"delta": delta, "gamma": gamma, "rho": rho, "theta": theta / 365, "vega": vega}.items()}


def implied_vol(sigma: float, s: float, k: float) -> float:
    """The model's IV surface: a smile in log-moneyness with a put skew, floored at 5 %."""
    m = math.log(k / s)
    return max(0.05, sigma * (1.05 + 2.0 * m * m) - 0.15 * m)


def quote_bounds(value: float, widen: float = 1.0) -> tuple[float, float]:
    """(bid, ask) around a model value: ticks of 1 cent under $3, 5 cents above; never crossed."""
    tick = 1 if value < 3 else 5
    half = (1 + 1.0 * value) * widen  # cents
    cents = value * 100
    bid = max(0, math.floor((cents - half) / tick) * tick)
    ask = max(math.ceil((cents + half) / tick) * tick, bid + tick)
    return bid / 100, ask / 100


def strike_step(price: float) -> float:
    for limit, step in ((25, 0.5), (100, 1.0), (250, 2.5), (500, 5.0)):
        if price < limit:
            return step
    return 10.0


class OptionBook:
    """Chains, contract lookup and option quote generation on top of the equity market."""

    def __init__(self, market, config) -> None:
        self.market, self.config = market, config
        self.underlyings = [s.symbol for s in config.symbols if s.options]
        self._parsed: dict[str, Contract | None] = {}
        self._chains: dict[tuple[str, date], list[Contract]] = {}

    def expiry_close_ns(self, day: date) -> int:
        s = self.market.calendar.session_on(day)
        if s is not None:
            return s.close
        return int(datetime(day.year, day.month, day.day, 16, tzinfo=NY).timestamp()) * NS

    def parse(self, symbol: str) -> Contract | None:
        if symbol in self._parsed:
            return self._parsed[symbol]
        contract = None
        m = OCC.match(symbol)
        if m and m.group(1) in self.underlyings:
            try:
                exp = datetime.strptime(m.group(2), "%y%m%d").date()
            except ValueError:
                exp = None
            if exp is not None:
                contract = Contract(symbol, m.group(1), exp, "call" if m.group(3) == "C" else "put",
                                    int(m.group(4)) / 1000, self.expiry_close_ns(exp))
        if len(self._parsed) < 1_000_000:
            self._parsed[symbol] = contract
        return contract

    def expirations(self, day: date) -> list[date]:
        cal = self.market.calendar
        fridays = {day + timedelta(days=(4 - day.weekday()) % 7 + 7 * w) for w in range(6)}
        for k in range(4):
            y, mth = day.year + (day.month - 1 + k) // 12, (day.month - 1 + k) % 12 + 1
            first = date(y, mth, 1)
            fridays.add(first + timedelta(days=(4 - first.weekday()) % 7 + 14))
        out = set()
        for f in fridays:
            d = f
            while cal.session_on(d) is None and d > day:
                d -= timedelta(days=1)
            if d >= day and (d - day).days <= 100:
                out.add(d)
        return sorted(out)

    def chain(self, underlying: str, day: date) -> list[Contract]:
        key = (underlying, day)
        if key not in self._chains:
            spot = self.market.models[underlying].anchor(day)
            step = strike_step(spot)
            center = round(spot / step) * step
            n = self.config.strikes_each_side
            strikes = [round(center + step * i, 3) for i in range(-n, n + 1) if center + step * i > 0]
            contracts = []
            for exp in self.expirations(day):
                for k in strikes:
                    for kind in ("call", "put"):
                        sym = occ_symbol(underlying, exp, kind, k)
                        contracts.append(self.parse(sym))
            self._chains[key] = contracts
        return self._chains[key]

    def value(self, c: Contract, spot: float, t_ns: int) -> tuple[float, float, float]:
        """(model value, implied vol, years to expiry) of a contract at t given the underlying."""
        sigma = self.config.spec(c.underlying).sigma
        years = max((c.expires_ns - t_ns) / YEAR_NS, 1e-6)
        vol = implied_vol(sigma, spot, c.strike)
        return bs_price(c.is_call, spot, c.strike, years, self.config.risk_free_rate, vol), vol, years

    def segment(self, symbol: str, minute: int) -> Segment:
        c = self.parse(symbol)
        s = self.market.calendar.session_at(minute)
        if c is None or s is None or not (s.open <= minute < s.close) or minute >= c.expires_ns:
            return EMPTY
        rng = rng_for(self.config.seed, "o", symbol, minute // MINUTE)
        n = int(rng.poisson(self.config.option_quote_rate * 60 * self.config.rate_scale))
        offs = np.sort(rng.integers(0, MINUTE, n)).tolist()
        widen = np.exp(0.2 * rng.standard_normal(n)).tolist()
        sizes = rng.integers(1, 101, (n, 2)).tolist()
        exch = rng.integers(0, len(OPRA_EXCHANGES), (n, 2)).tolist()
        quotes = []
        for k in range(n):
            t = minute + offs[k]
            if t >= c.expires_ns:
                break
            spot = self.market.underlying_mid(c.underlying, t)
            value, _, _ = self.value(c, spot, t)
            bid, ask = quote_bounds(value, widen[k])
            quotes.append(Quote(symbol, t, bid, ask, sizes[k][0], sizes[k][1], OPRA_EXCHANGES[exch[k][0]],
                                OPRA_EXCHANGES[exch[k][1]], " ", None))
        return Segment(quotes, [], None)

    def snapshot(self, c: Contract, now_ns: int) -> dict | None:
        from marketsim.protocol import rest_fields

        q = self.market.latest("q", c.symbol, now_ns, lookback_days=5)
        if q is None:
            return None
        spot = self.market.underlying_mid(c.underlying, q.t)
        _, vol, years = self.value(c, spot, q.t)
        return {
            "latestQuote": rest_fields(q),
            "impliedVolatility": round(vol, 4),
            "greeks": bs_greeks(c.is_call, spot, c.strike, years, self.config.risk_free_rate, vol),
        }

    def contract_json(self, c: Contract) -> dict:
        kind = "Call" if c.is_call else "Put"
        return {
            "id": asset_id(c.symbol),
            "symbol": c.symbol,
            "name": f"{c.underlying} {c.expiration:%b %d %Y} {c.strike:g} {kind}",
            "status": "active",
            "tradable": True,
            "expiration_date": c.expiration.isoformat(),
            "root_symbol": c.underlying,
            "underlying_symbol": c.underlying,
            "underlying_asset_id": asset_id(c.underlying),
            "type": c.type,
            "style": "american",
            "strike_price": f"{c.strike:g}",
            "multiplier": "100",
            "size": "100",
            "open_interest": None,
            "open_interest_date": None,
            "close_price": None,
            "close_price_date": None,
            "deliverables": [{"type": "equity", "symbol": c.underlying, "asset_id": asset_id(c.underlying),
                              "amount": "100", "allocation_percentage": "100", "settlement_type": "T+1",
                              "settlement_method": "CCC", "delayed_settlement": False}],
        }

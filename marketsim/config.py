"""Configuration of the simulated market and the server.

Every knob has a default that gives a realistic-looking market for a newcomer (``make run``);
tests override what they need (explicit clock, small universes, connection limits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SymbolSpec:
    """One simulated equity.

    price: the level the daily price wanders around (mean-reverting, see ``market``).
    sigma: annualised volatility of the underlying (drives the intraday path and option IVs).
    spread: typical regular-hours NBBO spread in dollars (extended hours are wider).
    quote_rate / trade_rate: mean quote and trade events per simulated second (Poisson).
    max_lots: displayed sizes are 100 x uniform(1..max_lots) shares.
    exchange: the listing exchange as Alpaca's Asset names it; tape follows from it.
    options: whether the symbol has a listed option chain.
    """

    symbol: str
    name: str
    price: float
    sigma: float
    spread: float
    quote_rate: float
    trade_rate: float
    max_lots: int = 10
    exchange: str = "NASDAQ"
    options: bool = True

    @property
    def tape(self) -> str:
        return {"NYSE": "A", "NASDAQ": "C"}.get(self.exchange, "B")


DEFAULT_UNIVERSE: tuple[SymbolSpec, ...] = (
    SymbolSpec("AAPL", "Apple Inc. Common Stock", 190.0, 0.25, 0.01, 8.0, 3.0),
    SymbolSpec("MSFT", "Microsoft Corporation Common Stock", 420.0, 0.24, 0.02, 6.0, 2.0),
    SymbolSpec("SPY", "SPDR S&P 500 ETF Trust", 520.0, 0.14, 0.01, 10.0, 4.0, 30, "ARCA"),
    SymbolSpec("QQQ", "Invesco QQQ Trust, Series 1", 440.0, 0.18, 0.01, 8.0, 3.0, 20),
    SymbolSpec("NVDA", "NVIDIA Corporation Common Stock", 120.0, 0.50, 0.01, 10.0, 4.0, 20),
    SymbolSpec("TSLA", "Tesla, Inc. Common Stock", 240.0, 0.55, 0.02, 8.0, 3.0),
    SymbolSpec("AMZN", "Amazon.com, Inc. Common Stock", 185.0, 0.30, 0.01, 6.0, 2.0),
    SymbolSpec("GOOGL", "Alphabet Inc. Class A Common Stock", 170.0, 0.28, 0.01, 5.0, 2.0),
    SymbolSpec("META", "Meta Platforms, Inc. Class A Common Stock", 500.0, 0.33, 0.03, 5.0, 2.0, 5),
    SymbolSpec("JPM", "JPMorgan Chase & Co. Common Stock", 200.0, 0.22, 0.02, 4.0, 1.5, 5, "NYSE"),
    # illiquid names: wide spreads, thin sizes, rare quotes, no options
    SymbolSpec("THIN", "Thin Holdings (simulated illiquid)", 7.5, 0.80, 0.08, 0.3, 0.05, 3, "NYSE", False),
    SymbolSpec("ILLQ", "Illiquid Corp (simulated illiquid)", 23.0, 0.60, 0.15, 0.2, 0.05, 2, "NASDAQ", False),
)


@dataclass
class SimConfig:
    """Everything the server needs.

    seed: the market is a pure function of (seed, symbol universe, time): same seed, same quotes.
    speed: simulated seconds per wall second (1 = real time).
    start: ISO instant the simulated clock starts at (None = now). ``manual_clock`` makes the clock
      move only when told (tests).
    rate_scale: multiplies every quote/trade rate (throughput benchmarks).
    credentials: accepted (key, secret) pairs, for REST headers and stream auth alike.
    max_connections: concurrent authenticated stream connections per key and per endpoint family
      (stocks / options); Alpaca allows 1 on most plans. 0 = unlimited.
    symbol_limit: max symbols per channel on one stream connection (Alpaca Basic: 30). 0 = unlimited.
    auth_timeout: seconds a stream connection may stay unauthenticated (error 404 after).
    test_hooks: enable the ``/_sim/*`` endpoints (inject bad messages, drop connections, advance time).
    replay: a recorded quote file to replay instead of simulating.
    ws_compression: accept the permessage-deflate extension a WebSocket client offers (alpaca-py's
      client offers it). Off by default: on one machine, compressing and inflating every frame is CPU
      at both ends that buys nothing, and in the benches it is taken from PostgreSQL.
    """

    seed: int = 1
    speed: float = 1.0
    start: str | None = None
    manual_clock: bool = False
    symbols: tuple[SymbolSpec, ...] = DEFAULT_UNIVERSE
    rate_scale: float = 1.0
    option_quote_rate: float = 0.1
    strikes_each_side: int = 10
    risk_free_rate: float = 0.04
    credentials: tuple[tuple[str, str], ...] = (("marketsim", "marketsim"),)
    max_connections: int = 1
    symbol_limit: int = 0
    auth_timeout: float = 10.0
    test_hooks: bool = False
    replay: Path | None = None
    ws_compression: bool = False
    log_interval: float = 5.0
    poll_interval: float = 0.01
    max_frame_messages: int = 2000
    extra: dict = field(default_factory=dict)

    def spec(self, symbol: str) -> SymbolSpec | None:
        for s in self.symbols:
            if s.symbol == symbol:
                return s
        return None

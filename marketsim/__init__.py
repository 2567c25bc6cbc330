"""marketsim: an Alpaca-protocol market-data server over a deterministic simulated market.

The real alpaca-py clients (StockDataStream, OptionDataStream, the historical data clients and the
TradingClient's clock/calendar/assets/option-contracts calls) work against it unchanged with
``url_override``. Modules:

- ``config``   -- the knobs and the default symbol universe
- ``clock``    -- simulated time: real time, accelerated, or driven explicitly by tests
- ``calendar`` -- XNYS sessions (pre-market, regular, after-hours) in America/New_York
- ``market``   -- the equity price model (quotes, trades, minute bars) and the source interface
- ``options``  -- option chains, OCC symbols, Black-Scholes pricing of option quotes
- ``replay``   -- a source that replays a recorded quote file instead of simulating
- ``protocol`` -- Alpaca wire encoding (msgpack / JSON) and error codes
- ``stream``   -- the WebSocket endpoints
- ``rest``     -- the REST endpoints (market data and the trading-API reference data)
- ``server``   -- the Starlette app, and helpers to run it in a thread or a subprocess
"""

from marketsim.config import SimConfig, SymbolSpec

__all__ = ["SimConfig", "SymbolSpec"]

"""Command line: ``python -m marketsim --host 127.0.0.1 --port N [--seed S] [--speed X] [--replay FILE]
[--key K --secret S] [--start ISO] [--manual-clock] [--rate-scale R] [--symbols AAPL,MSFT]
[--max-connections N] [--symbol-limit N] [--test-hooks] [--ws-compression]``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from marketsim.config import DEFAULT_UNIVERSE, SimConfig
from marketsim.server import run


def parse_args(argv: list[str] | None = None) -> tuple[SimConfig, str, int]:
    p = argparse.ArgumentParser(prog="marketsim", description="Alpaca-protocol market-data simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--start", help="ISO instant the simulated clock starts at (default: now)")
    p.add_argument("--manual-clock", action="store_true", help="time moves only through POST /_sim/advance")
    p.add_argument("--replay", type=Path, help="replay a recorded quote file (CSV or JSON lines)")
    p.add_argument("--key", default="marketsim")
    p.add_argument("--secret", default="marketsim")
    p.add_argument("--rate-scale", type=float, default=1.0, help="multiply every quote/trade rate")
    p.add_argument("--symbols", help="comma-separated subset of the default universe")
    p.add_argument("--max-connections", type=int, default=1, help="stream connections per key and family (0=any)")
    p.add_argument("--symbol-limit", type=int, default=0, help="symbols per channel per connection (0=any)")
    p.add_argument("--test-hooks", action="store_true", help="enable /_sim/* (inject, drop, advance, state)")
    p.add_argument("--ws-compression", action="store_true", help="accept permessage-deflate on the streams")
    a = p.parse_args(argv)
    universe = DEFAULT_UNIVERSE
    if a.symbols:
        wanted = {s.strip().upper() for s in a.symbols.split(",")}
        universe = tuple(s for s in DEFAULT_UNIVERSE if s.symbol in wanted)
    cfg = replace(SimConfig(), seed=a.seed, speed=a.speed, start=a.start, manual_clock=a.manual_clock,
                  replay=a.replay, credentials=((a.key, a.secret),), rate_scale=a.rate_scale, symbols=universe,
                  max_connections=a.max_connections, symbol_limit=a.symbol_limit, test_hooks=a.test_hooks,
                  ws_compression=a.ws_compression)
    return cfg, a.host, a.port


def main(argv: list[str] | None = None) -> None:
    cfg, host, port = parse_args(argv)
    run(cfg, host, port)


if __name__ == "__main__":
    main()

"""The ingestor's settings, from the environment.

Upstream is chosen by configuration only:

- ``ALPACA_API_KEY`` and ``ALPACA_SECRET_KEY`` set: Alpaca itself (alpaca-py's default URLs; feed
  ``MBT_ALPACA_FEED``, default ``iex``, the free plan's; options on the ``indicative`` feed).
- otherwise ``MBT_MARKETSIM_URL`` (e.g. ``http://127.0.0.1:8765``): marketsim, with its key and
  secret (``MBT_MARKETSIM_KEY``/``MBT_MARKETSIM_SECRET``, default ``marketsim``), SIP and OPRA feeds.

Other settings: ``MBT_INGEST_DSN`` (libpq string; role mbt_jobs), ``MBT_WATCHLIST`` (comma-separated
symbols always streamed; ``*`` = every asset loaded at start), ``MBT_INGEST_SIMULATED_CLOCK`` (1: the
upstream market runs on a clock of its own, not the wall clock), ``MBT_INGEST_STATS_SECONDS``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _symbols(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.strip().upper() for s in (text or "").split(",") if s.strip()))


@dataclass(frozen=True)
class IngestConfig:
    dsn: str
    key: str
    secret: str
    # None: alpaca-py's default (Alpaca). data_url: the historical and trading REST base; the stream
    # URLs are complete (with the feed), as alpaca-py's url_override takes them
    data_url: str | None = None
    stock_stream_url: str | None = None
    option_stream_url: str | None = None
    feed: str = "sip"
    option_feed: str = "indicative"
    watchlist: tuple[str, ...] = ()
    simulated_clock: bool = False
    batch_size: int = 5000
    flush_seconds: float = 0.1
    max_buffer: int = 100_000
    reconcile_seconds: float = 10.0
    stats_seconds: float = 10.0
    backoff: tuple[float, float] = (1.0, 30.0)
    backfill_margin_seconds: float = 1.0  # backfill starts this long before the newest quote received
    reference_data: bool = True  # load assets and option contracts at start
    options: bool = True  # option quotes (OptionDataStream) for option symbols that are wanted
    bars: bool = True  # one-minute bars (the stream's bar channel) for the stock symbols streamed
    name: str = "ingest"

    @property
    def upstream(self) -> str:
        return self.data_url or "Alpaca"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> IngestConfig:
        common = {
            "dsn": env.get("MBT_INGEST_DSN", ""),
            "watchlist": _symbols(env.get("MBT_WATCHLIST")),
            "stats_seconds": float(env.get("MBT_INGEST_STATS_SECONDS", 10)),
            "simulated_clock": env.get("MBT_INGEST_SIMULATED_CLOCK", "") in ("1", "true", "yes"),
        }
        if env.get("ALPACA_API_KEY") and env.get("ALPACA_SECRET_KEY"):
            return cls(key=env["ALPACA_API_KEY"], secret=env["ALPACA_SECRET_KEY"],
                       feed=env.get("MBT_ALPACA_FEED", "iex"), **common)
        url = env.get("MBT_MARKETSIM_URL")
        if not url:
            raise ValueError("set ALPACA_API_KEY and ALPACA_SECRET_KEY (Alpaca), or MBT_MARKETSIM_URL (marketsim)")
        return cls.for_marketsim(url, env.get("MBT_MARKETSIM_KEY", "marketsim"),
                                 env.get("MBT_MARKETSIM_SECRET", "marketsim"), **common)

    @classmethod
    def for_marketsim(cls, url: str, key: str, secret: str, **settings) -> IngestConfig:
        url = url.rstrip("/")
        ws = "ws" + url.removeprefix("http")
        return cls(key=key, secret=secret, data_url=url, stock_stream_url=f"{ws}/v2/sip",
                   option_stream_url=f"{ws}/v1beta1/opra", option_feed="opra", **settings)

"""python -m ingest: run the ingestor until SIGTERM/SIGINT (settings: ingest.config)."""

from __future__ import annotations

import logging
import signal
import sys

from ingest.config import IngestConfig
from ingest.service import Ingestor


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alpaca").setLevel(logging.WARNING)
    try:
        cfg = IngestConfig.from_env()
    except ValueError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return 2
    ingestor = Ingestor(cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: ingestor._stop.set())
    logging.getLogger("ingest").info("ingesting from %s into %s", cfg.upstream, cfg.dsn.split(" password")[0])
    ingestor.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

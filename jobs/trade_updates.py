"""The trade_updates consumer: reads the pgmq queue trade_updates (one message per order event, in
Alpaca's trade_updates shape, sent in the transaction that made the event), hands each message to a
handler, and deletes it once handled. A message whose handler fails becomes visible again after the
visibility timeout, so nothing is lost. Later the handler feeds the users' websocket streams.

    python -m jobs.trade_updates   (MBT_JOBS_DSN: a libpq connection string for the mbt_jobs role)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import psycopg
from psycopg.rows import dict_row

log = logging.getLogger("jobs.trade_updates")
Handler = Callable[[dict], None]


def consume_once(conn: psycopg.Connection, handle: Handler, batch: int = 100, visibility_seconds: int = 30) -> int:
    """Read up to `batch` messages in queue order, handle each, delete the handled ones; returns how many."""
    rows = conn.cursor(row_factory=dict_row).execute(
        "select msg_id, message from pgmq.read('trade_updates', %s, %s) order by msg_id",
        [visibility_seconds, batch]).fetchall()
    done = []
    for row in rows:
        try:
            handle(row["message"])
        except Exception:
            log.exception("trade_update %s not handled; it will be read again", row["msg_id"])
            continue
        done.append(row["msg_id"])
    if done:
        conn.execute("select pgmq.delete('trade_updates', %s::bigint[])", [done])
    return len(done)


def log_update(message: dict) -> None:
    log.info("%s %s %s %s", message.get("account_id"), message.get("event"),
             message.get("order", {}).get("id"), message.get("qty") or "")


def run(dsn: str, handle: Handler = log_update, idle_sleep: float = 0.2) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            if consume_once(conn, handle) == 0:
                time.sleep(idle_sleep)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(os.environ["MBT_JOBS_DSN"])

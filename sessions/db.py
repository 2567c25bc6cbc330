"""Calls into the auth.* functions. Errors raised there carry a catalogued SQLSTATE (MBxxx),
which becomes an ApiError with the same code, message, details and hint."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from .errors import CATALOGUE, ApiError, logger

# how long a request waits for a database connection before it is answered 503 MBS01
POOL_WAIT_SECONDS = 3.0


def unavailable() -> ApiError:
    return ApiError("MBS01", "The service is not available right now.", "no database connection",
                    "Try again in a few seconds.", {"Retry-After": "1"})


class Database:
    def __init__(self, dsn: str):
        # check: a pooled connection the server has dropped (a database restart) is replaced before a
        # request uses it, instead of failing that request
        self.pool = AsyncConnectionPool(dsn, min_size=2, max_size=10, open=False, timeout=POOL_WAIT_SECONDS,
                                        check=AsyncConnectionPool.check_connection,
                                        kwargs={"autocommit": True, "row_factory": dict_row})

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        rows = await self.all("select code, http_status from mbt.error_catalogue()")
        CATALOGUE.update({r["code"]: r["http_status"] for r in rows})

    async def close(self) -> None:
        await self.pool.close()

    async def all(self, query: str, params: Any = None) -> list[dict]:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(query, params)
                return await cur.fetchall()
        except psycopg.Error as exc:
            diag = exc.diag
            if diag.sqlstate in CATALOGUE:
                raise ApiError(diag.sqlstate, diag.message_primary or "", diag.message_detail or None,
                               diag.message_hint or None) from exc
            if isinstance(exc, psycopg.DataError):  # a value PostgreSQL cannot take (class 22)
                # PostgreSQL's own words stay in the log: an answer carries only catalogued codes and ours
                logger.warning("data error %s: %s", diag.sqlstate, diag.message_primary)
                raise ApiError("MBV03", "A value in the request is invalid.", None,
                               "Check the values you sent.") from exc
            if isinstance(exc, psycopg.OperationalError):  # the database is down or restarting (a pool timeout too)
                raise unavailable() from exc
            raise

    async def one(self, query: str, params: Any = None) -> dict | None:
        rows = await self.all(query, params)
        return rows[0] if rows else None

"""Settings from the environment (mbtctl passes them when it starts the service)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    dsn: str
    jwt_secret: str
    access_token_seconds: int
    session_days: int
    argon2_time_cost: int
    argon2_memory_kib: int
    cookie_secure: bool

    @classmethod
    def from_env(cls) -> Settings:
        secret = os.environ.get("MBT_JWT_SECRET", "")
        if len(secret) < 32:
            raise RuntimeError("MBT_JWT_SECRET must be set to at least 32 characters")
        return cls(
            dsn=os.environ["MBT_SESSIONS_DSN"],
            jwt_secret=secret,
            access_token_seconds=int(os.environ.get("MBT_ACCESS_TOKEN_SECONDS", 900)),
            session_days=int(os.environ.get("MBT_SESSION_DAYS", 30)),
            argon2_time_cost=int(os.environ.get("MBT_ARGON2_TIME_COST", 3)),
            argon2_memory_kib=int(os.environ.get("MBT_ARGON2_MEMORY_KIB", 65536)),
            cookie_secure=os.environ.get("MBT_COOKIE_SECURE", "true") != "false",
        )

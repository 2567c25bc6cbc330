"""Access tokens (short-lived JWT) and refresh tokens (opaque, rotating, stored only as a digest)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from .errors import ApiError

ACCESS_ROLE = "app_user"


@dataclass(frozen=True)
class Claims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    tier: str


def issue_access_token(secret: str, user_id: uuid.UUID, session_id: uuid.UUID, tier: str, lifetime: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "role": ACCESS_ROLE, "tier": tier, "sid": str(session_id),
              "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_access_token(secret: str, token: str) -> Claims:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "sid", "role"]})
        if claims["role"] != ACCESS_ROLE:
            raise jwt.InvalidTokenError("not a user token")
        return Claims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), claims.get("tier", "free"))
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        expired = isinstance(exc, jwt.ExpiredSignatureError)
        raise ApiError(
            "MBA08", "Your access token has expired." if expired else "Your access token is not valid.",
            str(exc), "Refresh it (POST /api/sessions/refresh) or log in again.",
        ) from exc


@dataclass(frozen=True)
class RefreshToken:
    user_id: uuid.UUID
    session_id: uuid.UUID
    secret: str

    @classmethod
    def new(cls, user_id: uuid.UUID, session_id: uuid.UUID) -> RefreshToken:
        return cls(user_id, session_id, secrets.token_urlsafe(32))

    @classmethod
    def parse(cls, value: str) -> RefreshToken:
        try:
            user_id, session_id, secret = value.split(".", 2)
            return cls(uuid.UUID(user_id), uuid.UUID(session_id), secret)
        except ValueError as exc:
            raise ApiError("MBA06", "Your session cannot be refreshed.", "The refresh token is malformed.",
                           "Log in again (POST /api/sessions/login).") from exc

    @property
    def digest(self) -> bytes:
        return digest(self.secret)

    def __str__(self) -> str:
        return f"{self.user_id}.{self.session_id}.{self.secret}"


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)

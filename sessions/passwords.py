"""Password hashing with Argon2id (argon2-cffi) and the password policy."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import ApiError

MIN_LENGTH, MAX_LENGTH = 10, 256


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int):
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=2)
        # verified against when the e-mail is unknown, so both paths take the same time
        self.dummy_hash = self.hasher.hash("not-a-real-password-0")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self.hasher.verify(password_hash or self.dummy_hash, password) and password_hash is not None
            except (VerificationError, InvalidHashError):
                return False
        return await asyncio.to_thread(check)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def check_policy(password: str, email: str | None = None) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ApiError("MBA03", f"The password must be {MIN_LENGTH} to {MAX_LENGTH} characters long.",
                       f"length = {len(password)}", "A few unrelated words make a long, memorable password.")
    if email and password.strip().lower() == email.strip().lower():
        raise ApiError("MBA03", "The password must not be your e-mail address.", None,
                       "Choose a password nobody could guess from your e-mail.")
    if len(set(password)) < 4:
        raise ApiError("MBA03", "The password is too simple.", f"{len(set(password))} distinct characters",
                       "Use at least 4 different characters; a few unrelated words work well.")

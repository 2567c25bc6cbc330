"""The stack clock: `MBT_CLOCK=<instant>` starts every process of the stack at that instant, and it runs
on from there.

The instant becomes one offset from the real clock, fixed once by the first process that reads it
(`make run`'s mbtctl, or `make test`'s test.sh) and handed down in the environment (`MBT_CLOCK_OFFSET`,
seconds), so processes started minutes apart still share one clock. libfaketime applies the offset to
every dynamically linked process through LD_PRELOAD: PostgreSQL, nginx, Python (sessions, marketsim,
ingestor, scheduler, the tests). The monotonic clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC):
timeouts stay real, and Python's timed waits (sem_clockwait on the real monotonic clock) would never end
if it moved. The library is the one the PyPI package `libfaketime` vendors (a newer libfaketime):
Debian's 0.9.10 turns Python's time.sleep into EINVAL when the monotonic clock is left alone (its
clock_nanosleep moves an absolute monotonic deadline by the offset).

PostgREST is a static binary: LD_PRELOAD cannot reach it and it checks a token's `exp` and `iat` against
the real clock. The gateway verifies every token on the stack clock and hands PostgREST the same claims
with `exp` moved to the real clock and no `iat` (gateway.lua, `MBT_CLOCK_OFFSET`); a client that talks to
PostgREST straight (tests only) does the same with `postgrest_token`.

With real Alpaca data the clock is refused: Alpaca's market runs on the real clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

ENV_VARS = ("MBT_CLOCK", "MBT_CLOCK_OFFSET", "LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC",
            "FAKETIME_DONT_RESET")


def libfaketime_path() -> Path | None:
    """The libfaketime.so.1 vendored by the PyPI package libfaketime (found, not imported)."""
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    return path if path.exists() else None


class ClockError(ValueError):
    pass


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its zone (`2026-12-15T15:00:00Z`, `2026-12-15T10:00:00-05:00`)."""
    try:
        instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ClockError(f"MBT_CLOCK={text!r} is not an ISO 8601 instant; "
                         "write it like 2026-12-15T15:00:00Z or 2026-12-15T10:00:00-05:00") from exc
    if instant.tzinfo is None:
        raise ClockError(f"MBT_CLOCK={text!r} has no time zone; add Z (UTC) or an offset such as -05:00")
    return instant.astimezone(UTC)


def offset_seconds() -> int:
    """The stack clock's distance from the real clock, in whole seconds (0 without MBT_CLOCK)."""
    fixed = os.environ.get("MBT_CLOCK_OFFSET")
    if fixed:
        return int(fixed)
    text = os.environ.get("MBT_CLOCK", "").strip()
    if not text:
        return 0
    return round(parse_instant(text).timestamp() - time.time())


def env() -> dict[str, str]:
    """The environment that puts a process on the stack clock (empty without MBT_CLOCK). The first call
    fixes the offset and records it in os.environ, so every later process gets the same one."""
    if not os.environ.get("MBT_CLOCK", "").strip():
        return {}
    if os.environ.get("ALPACA_API_KEY") and os.environ.get("ALPACA_SECRET_KEY"):
        raise ClockError("MBT_CLOCK cannot be used with real Alpaca market data (ALPACA_API_KEY and "
                         "ALPACA_SECRET_KEY are set): Alpaca's market runs on the real clock. Unset MBT_CLOCK, "
                         "or unset the keys to trade the simulated market at that instant.")
    library = libfaketime_path()
    if library is None:
        raise ClockError("MBT_CLOCK needs libfaketime (the PyPI package libfaketime in .venv); run `make setup`")
    offset = offset_seconds()
    os.environ["MBT_CLOCK_OFFSET"] = str(offset)
    return {
        "MBT_CLOCK": os.environ["MBT_CLOCK"],
        "MBT_CLOCK_OFFSET": str(offset),
        "LD_PRELOAD": str(library),
        "FAKETIME": f"{offset:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",
    }


def inherited_env() -> dict[str, str]:
    """The clock variables of this process's environment, for a child started with an environment of its
    own (procs.spawn): the child runs on the same stack clock as its parent."""
    return {name: os.environ[name] for name in ENV_VARS if name in os.environ}


def postgrest_token(token: str, secret: str, offset: int | None = None) -> str:
    """The same token for PostgREST, which reads the real clock: `exp` moved back by the stack clock's
    offset, no `iat`, signed again (HS256). Unchanged without a stack clock, and a token not signed with
    secret stays as it is (to be refused)."""
    offset = offset_seconds() if offset is None else offset
    if not offset:
        return token

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header, payload, signature = token.split(".")
    expected = b64(hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return token
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.pop("iat", None)
    if isinstance(claims.get("exp"), (int, float)):
        claims["exp"] = int(claims["exp"]) - offset
    body = f"{header}.{b64(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(signature)}"


def run_on_stack_clock() -> None:
    """Put this very process on the stack clock: with MBT_CLOCK set and the process not on it yet, start
    it again (same interpreter and arguments) with libfaketime preloaded. Returns only when on it."""
    import sys

    values = env()
    if not values or os.environ.get("LD_PRELOAD") == values["LD_PRELOAD"]:
        return
    os.environ.update(values)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - this same program again


def main() -> int:
    """`python -m mbtctl.clock`: shell `export` lines that put a command on the stack clock (nothing
    without MBT_CLOCK), and the instant and offset on stderr."""
    import shlex
    import sys

    try:
        values = env()
    except ClockError as exc:
        print(f"MBT_CLOCK: {exc}", file=sys.stderr)
        return 2
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")
    if values:
        print(f"stack clock: {parse_instant(values['MBT_CLOCK']).isoformat()} "
              f"(offset {int(values['MBT_CLOCK_OFFSET']):+d} s from the real clock)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Alpaca market-data wire format.

Stream frames are arrays of maps. In msgpack, ``t`` is a msgpack Timestamp (extension type -1),
which alpaca-py turns into a datetime with ``.to_datetime()``; in JSON it is an RFC 3339 string
with nanoseconds. Each event's encoded map is cached on the event, and a frame is the array header
followed by the cached maps, so a batch costs little more than a byte join.

REST bodies use the same one-letter keys with ``t`` as an RFC 3339 string.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

import msgpack

from marketsim.calendar import NS

ERRORS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
    407: "slow client",
    409: "insufficient subscription",
    410: "invalid subscribe action",
    500: "internal error",
}

CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")


def rfc3339(t_ns: int) -> str:
    sec, frac = divmod(t_ns, NS)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def parse_rfc3339(text: str) -> int:
    """RFC 3339 / ISO 8601 (naive = UTC, fractional seconds up to ns) to ns since epoch."""
    text = text.strip().replace(" ", "T")
    if len(text) == 10:
        text += "T00:00:00Z"
    frac_ns = 0
    tz = "+00:00"
    if text.endswith("Z"):
        text = text[:-1]
    elif len(text) > 19 and text[-6] in "+-" and text[-3] == ":":
        text, tz = text[:-6], text[-6:]
    if "." in text:
        text, frac = text.split(".", 1)
        frac_ns = int((frac + "000000000")[:9])
    dt = datetime.fromisoformat(text + tz)
    return int(dt.timestamp()) * NS + frac_ns


def stream_map(ev) -> dict:
    d = {"T": ev.kind, "S": ev.symbol}
    d.update(ev.fields())
    d["t"] = msgpack.Timestamp(ev.t // NS, ev.t % NS)
    return d


def packed(ev) -> bytes:
    mp = ev._mp
    if mp is None:
        mp = ev._mp = msgpack.packb(stream_map(ev))
    return mp


def jsoned(ev) -> str:
    js = ev._js
    if js is None:
        d = {"T": ev.kind, "S": ev.symbol}
        d.update(ev.fields())
        d["t"] = rfc3339(ev.t)
        js = ev._js = json.dumps(d, separators=(",", ":"))
    return js


def array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 65536:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def frame_msgpack(parts: list[bytes]) -> bytes:
    return array_header(len(parts)) + b"".join(parts)


def frame_json(parts: list[str]) -> str:
    return "[" + ",".join(parts) + "]"


def rest_fields(ev) -> dict:
    d = ev.fields()
    d["t"] = rfc3339(ev.t)
    return d


def control(msg: dict, use_msgpack: bool) -> bytes | str:
    return msgpack.packb([msg]) if use_msgpack else json.dumps([msg])


def error(code: int, use_msgpack: bool, msg: str | None = None) -> bytes | str:
    return control({"T": "error", "code": code, "msg": msg or ERRORS[code]}, use_msgpack)


def success(msg: str, use_msgpack: bool) -> bytes | str:
    return control({"T": "success", "msg": msg}, use_msgpack)


def encode_raw(messages: list, use_msgpack: bool) -> bytes | str:
    """Encode arbitrary maps (test injection): ``t`` given as ns int or RFC 3339 string becomes the
    wire timestamp; everything else is sent as given."""
    out = []
    for m in messages:
        m = dict(m) if isinstance(m, dict) else m
        if isinstance(m, dict) and "t" in m and isinstance(m["t"], int | str):
            t = m["t"] if isinstance(m["t"], int) else parse_rfc3339(m["t"])
            m["t"] = msgpack.Timestamp(t // NS, t % NS) if use_msgpack else rfc3339(t)
        out.append(m)
    return msgpack.packb(out) if use_msgpack else json.dumps(out)

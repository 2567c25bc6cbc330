"""XNYS trading sessions, from ``exchange_calendars``, in America/New_York.

A session day has three phases for equities: pre-market 04:00 ET to the open, regular hours
(09:30 to 16:00, or 13:00 on early-close days) and after-hours from the close to close + 4 h
(20:00, or 17:00 on early-close days). Options quote in regular hours only. Days that are not
XNYS sessions (weekends, holidays) have no quotes at all.

Approximation: the calendar covers 2015..2035; exchange_calendars projects its holiday rules
into years not yet published.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
NS = 1_000_000_000
MINUTE = 60 * NS
FIRST_DAY = date(2015, 1, 1)
LAST_DAY = date(2035, 12, 31)


@dataclass(frozen=True)
class Session:
    day: date
    pre_open: int  # ns since epoch, 04:00 ET
    open: int
    close: int
    post_close: int  # close + 4 h

    @property
    def early_close(self) -> bool:
        return datetime.fromtimestamp(self.close / NS, NY).hour < 16

    def phase(self, t_ns: int) -> str | None:
        if self.pre_open <= t_ns < self.open:
            return "pre"
        if self.open <= t_ns < self.close:
            return "regular"
        if self.close <= t_ns < self.post_close:
            return "post"
        return None


class Calendar:
    """Sorted XNYS sessions with lookups by instant and by date."""

    def __init__(self) -> None:
        import exchange_calendars as xc  # slow import (pandas): only when a calendar is built

        cal = xc.get_calendar("XNYS", start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat())
        sched = cal.schedule
        sessions = []
        for day_ts, open_ts, close_ts in zip(sched.index, sched["open"], sched["close"], strict=True):
            day = day_ts.date()
            pre = datetime(day.year, day.month, day.day, 4, 0, tzinfo=NY)
            open_ns, close_ns = int(open_ts.value), int(close_ts.value)
            sessions.append(Session(day, int(pre.timestamp()) * NS, open_ns, close_ns, close_ns + 4 * 3600 * NS))
        self.sessions: list[Session] = sessions
        self._starts = [s.pre_open for s in sessions]
        self._by_day = {s.day: i for i, s in enumerate(sessions)}

    def session_index_at_or_before(self, t_ns: int) -> int:
        """Index of the last session whose pre-market started at or before t (-1 if none)."""
        return bisect.bisect_right(self._starts, t_ns) - 1

    def session_at(self, t_ns: int) -> Session | None:
        """The session whose extended hours contain t, else None."""
        i = self.session_index_at_or_before(t_ns)
        if i >= 0 and t_ns < self.sessions[i].post_close:
            return self.sessions[i]
        return None

    def session_on(self, day: date) -> Session | None:
        i = self._by_day.get(day)
        return None if i is None else self.sessions[i]

    def next_session(self, s: Session) -> Session | None:
        i = self._by_day[s.day] + 1
        return self.sessions[i] if i < len(self.sessions) else None

    def sessions_between(self, first: date, last: date) -> list[Session]:
        lo = bisect.bisect_left(self._starts, _day_start_ns(first))
        hi = bisect.bisect_right(self._starts, _day_start_ns(last + timedelta(days=1)))
        return self.sessions[lo:hi]

    def sessions_overlapping(self, start_ns: int, end_ns: int) -> list[Session]:
        """Sessions whose extended hours intersect [start, end)."""
        i = max(self.session_index_at_or_before(start_ns), 0)
        out = []
        while i < len(self.sessions) and self.sessions[i].pre_open < end_ns:
            if self.sessions[i].post_close > start_ns:
                out.append(self.sessions[i])
            i += 1
        return out

    def sessions_overlapping_desc(self, start_ns: int, end_ns: int):
        """Like sessions_overlapping, latest first, lazily (for descending scans)."""
        i = self.session_index_at_or_before(end_ns - 1)
        while i >= 0 and self.sessions[i].post_close > start_ns:
            yield self.sessions[i]
            i -= 1

    def clock(self, t_ns: int) -> dict:
        """Alpaca's /v2/clock: is the regular session open, and the next open and close."""
        i = self.session_index_at_or_before(t_ns)
        cur = self.sessions[i] if i >= 0 else None
        is_open = bool(cur and cur.open <= t_ns < cur.close)
        nxt_open = next(s.open for s in self.sessions[max(i, 0):] if s.open > t_ns)
        nxt_close = next(s.close for s in self.sessions[max(i, 0):] if s.close > t_ns)
        return {
            "timestamp": iso_ny(t_ns),
            "is_open": is_open,
            "next_open": iso_ny(nxt_open, micros=False),
            "next_close": iso_ny(nxt_close, micros=False),
        }


def _day_start_ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=NY).timestamp()) * NS


def iso_ny(t_ns: int, micros: bool = True) -> str:
    dt = datetime.fromtimestamp(t_ns // NS, NY)
    if micros:
        dt = dt.replace(microsecond=(t_ns % NS) // 1000)
        return dt.isoformat(timespec="microseconds")
    return dt.isoformat(timespec="seconds")


def hhmm(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / NS, NY).strftime("%H:%M")


@lru_cache(maxsize=1)
def xnys() -> Calendar:
    """The process-wide calendar (built once, ~1 s)."""
    return Calendar()

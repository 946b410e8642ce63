"""When a cron entry runs: fixed intervals, and cron strings evaluated in a timezone.

Times are float Unix epochs. Each entry keeps one number in Redis, the *slot* of its last run (the
instant that run was due); :meth:`decide` turns that and the current time into what to do now.

Missed runs (no scheduler was alive when they were due) are *coalesced*: however many were missed,
one run is made as soon as a scheduler is alive again, then the schedule carries on.

Cron strings are matched against the wall clock of the entry's timezone (UTC unless one is given)
with croniter, on naive local times, then turned into instants here:

- a wall time skipped by a daylight-saving change (spring forward) runs at the first instant after
  the change (``30 2 * * *`` in Europe/Berlin runs at 03:00 that day), so no day is skipped;
- a wall time that happens twice (fall back) runs once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Final, Literal

from croniter import croniter  # type: ignore[import-untyped]

UTC = dt.timezone.utc
RUN: Final = 'run'
WAIT: Final = 'wait'
BASELINE: Final = 'baseline'
#: How many candidate wall times are tried to find one instant (DST repeats can skip many).
_MAX_CANDIDATES = 10_000


@dataclass(frozen=True)
class Decision:
    """``run`` the entry now for slot ``at``; ``wait`` until ``at``; or record ``at`` as the
    ``baseline`` a new cron-string entry counts from (it then waits for its next match)."""

    kind: Literal['run', 'wait', 'baseline']
    at: float


def resolve_timezone(name: str | None) -> dt.tzinfo:
    """The tzinfo for an IANA name (``'Europe/Berlin'``); None or ``'UTC'`` give UTC.

    Raises:
        ValueError: the name is not a known timezone.
    """
    if name is None or name.upper() in ('UTC', 'Z'):
        return UTC
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'timezone must be an IANA name such as "Europe/Berlin", not {name!r}')
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        if not zoneinfo.available_timezones():
            raise ValueError(f'timezone {name!r}: this host has no timezone database (pip install tzdata)') from exc
        raise ValueError(f'unknown timezone {name!r} (use an IANA name such as "Europe/Berlin")') from exc


def check_cron_string(expression: object) -> str:
    """The expression, if croniter accepts it. Raises ValueError saying why not."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError(f'cron must be a cron string such as "*/5 * * * *", not {expression!r}')
    try:
        croniter(expression)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'invalid cron string {expression!r}: {exc}') from exc
    return expression


class IntervalSchedule:
    """Every ``seconds`` seconds, on a fixed grid from the entry's first run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def decide(self, last_slot: float | None, now: float) -> Decision:
        if last_slot is None:
            return Decision(RUN, now)  # never ran: run at once (as RQ does)
        due = last_slot + self.seconds
        if now < due:
            return Decision(WAIT, due)
        if now - due >= self.seconds:
            return Decision(RUN, now)  # a whole interval or more was missed: one run now, new grid
        return Decision(RUN, due)

    def next_after(self, slot: float) -> float:
        return slot + self.seconds


class CronSchedule:
    """The instants matching a cron string on the wall clock of ``tz``."""

    def __init__(self, expression: str, tz: dt.tzinfo = UTC) -> None:
        self.expression = check_cron_string(expression)
        self.tz = tz

    def decide(self, last_slot: float | None, now: float) -> Decision:
        if last_slot is None:
            return Decision(BASELINE, now)  # a new entry: its first run is the next match from now
        latest = self.latest_at_or_before(now)
        if latest is not None and latest > last_slot:
            return Decision(RUN, latest)  # the latest match (earlier missed ones are coalesced)
        return Decision(WAIT, self.next_after(max(last_slot, now)))

    def next_after(self, instant: float) -> float:
        """The first matching instant strictly after ``instant``."""
        start = self._local(instant)
        candidates = croniter(self.expression, start)
        for _ in range(_MAX_CANDIDATES):
            found = self.to_instant(candidates.get_next(dt.datetime))
            if found > instant:
                return found
        raise ValueError(f'cron string {self.expression!r} has no match after {instant}')

    def latest_at_or_before(self, instant: float) -> float | None:
        """The last matching instant at or before ``instant`` (None if there is none)."""
        start = self._local(instant) + dt.timedelta(microseconds=1)
        candidates = croniter(self.expression, start)
        for _ in range(_MAX_CANDIDATES):
            try:
                found = self.to_instant(candidates.get_prev(dt.datetime))
            except (ValueError, OverflowError):
                return None
            if found <= instant:
                return found
        return None

    def _local(self, instant: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(instant, tz=UTC).astimezone(self.tz).replace(tzinfo=None)

    def to_instant(self, wall: dt.datetime) -> float:
        """The instant of a naive wall time in ``tz``: its first occurrence if it happens twice,
        the end of the gap if a daylight-saving change skips it."""
        first = wall.replace(tzinfo=self.tz, fold=0)
        if first.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None) == wall:
            return first.timestamp()
        return self._gap_end(wall)

    def _gap_end(self, wall: dt.datetime) -> float:
        """The instant the clock jumps over ``wall`` (found by bisection, to the second)."""
        early = int(wall.replace(tzinfo=self.tz, fold=1).timestamp())  # the later offset: before the jump
        late = int(wall.replace(tzinfo=self.tz, fold=0).timestamp()) + 1  # the earlier offset: after it
        if early > late:
            early, late = late, early
        after = dt.datetime.fromtimestamp(late, tz=UTC).astimezone(self.tz).utcoffset()
        while late - early > 1:
            middle = (early + late) // 2
            if dt.datetime.fromtimestamp(middle, tz=UTC).astimezone(self.tz).utcoffset() == after:
                late = middle
            else:
                early = middle
        return float(late)


def describe(schedule: IntervalSchedule | CronSchedule) -> str:
    if isinstance(schedule, IntervalSchedule):
        return f'every {schedule.seconds:g} seconds'
    zone = getattr(schedule.tz, 'key', 'UTC')
    return f'with cron schedule {schedule.expression!r} ({zone})'

"""When a cron entry runs: fixed intervals, and cron strings evaluated in a timezone.

Times are float Unix epochs. Each entry keeps one number in Redis, the *slot* of its last run (the
instant that run was due); :meth:`decide` turns that and the current time into what to do now.

Slots are the instants an entry is due: for an interval, a fixed grid counted from the entry's very
first run (first run + k * interval, kept for good); for a cron string, its matches. A run made at
``now`` for a slot that is already past is one of two kinds (:func:`settle_late_run`):

- **on time**: ``now`` is at most :data:`ON_TIME_TOLERANCE` (1 s; half the gap between slots when
  that is shorter) after the latest past slot. That is a scheduler's ordinary lateness (or a restart
  that quick): the run counts as that slot's, and the next slot stays.
- **a catch-up**: later than that (no scheduler was alive when the slot came, or it was stalled).
  However many slots were missed, *one* run is made, at once, in place of the latest missed one.
  The next slot is kept only if it is at least as far from the catch-up as the schedule itself puts
  it from its neighbours: for an interval, one interval, which it never is (it is less than an
  interval after the missed slot), so it always goes; for a cron string, the shorter of the gaps
  between that match and the matches before and after it. A slot that goes is taken over by the
  catch-up (recorded as its slot), and the run after it is the next slot: for an interval, the
  first grid slot at least one interval after the catch-up.

So after a catch-up the next run is at least one interval later (a cron string: at least its
shortest gap around that match), and the grid never moves; between on-time runs the gap can only
shrink by the on-time allowance. Examples: an hourly interval entry whose 10:00 run is caught up at
10:20 runs next at 12:00; ``0 * * * *`` caught up at 10:59:58 runs next at 12:00, not two seconds
later; ``0 9 * * 1-5`` whose Friday run is caught up on Saturday keeps Monday 09:00 (47 hours later,
more than the 24 hours around Monday's run).

Cron strings are matched against the wall clock of the entry's timezone with croniter, on naive
local times, then turned into instants here. Without a timezone that is the process's local time
(as in rq 3.0 and system cron: ``TZ=Asia/Jakarta rq cron ...``; rq 2.12 used UTC). Across a
daylight-saving change, as rq 3.0 documents:

- a wall time skipped when the clocks go forward is shifted forward by the size of the change
  (``30 2 * * *`` in Europe/Berlin runs at 03:30 CEST that day), so no day is skipped; the next run
  is the first match after that;
- a wall time that happens twice when the clocks go back runs once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
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
#: A run made at most this many seconds after its slot is on time (capped at half the gap between
#: the slot and the next one); a later one is a catch-up (see the module's docstring).
ON_TIME_TOLERANCE = 1.0


@dataclass(frozen=True)
class Decision:
    """``run`` the entry now and record slot ``at`` as done; ``wait`` until ``at``; or record ``at``
    as the ``baseline`` a new cron-string entry counts from (it then waits for its next match).

    A catch-up run has ``missed``, the slot it makes up for; its ``at`` is that slot, or the next
    one when it takes that one's place too (``at`` is then still ahead)."""

    kind: Literal['run', 'wait', 'baseline']
    at: float
    missed: float | None = None


def on_time_tolerance(gap: float) -> float:
    """How late a run may be and still count as its slot's, for slots ``gap`` seconds apart."""
    return min(ON_TIME_TOLERANCE, gap / 2)


def settle_late_run(now: float, missed: float, following: float, after_following: float) -> Decision:
    """The run to make at ``now`` for slot ``missed`` (the latest slot at or before ``now`` not yet
    run), given the two slots after it: on time, or a catch-up that also takes ``following``'s place
    when ``following`` is closer to it than to its own neighbouring slots."""
    if now - missed <= on_time_tolerance(following - missed):
        return Decision(RUN, missed)
    spacing = min(following - missed, after_following - following)
    if following - now < spacing:
        return Decision(RUN, following, missed=missed)
    return Decision(RUN, missed, missed=missed)


_EPOCH = dt.datetime(1970, 1, 1)


class LocalTime(dt.tzinfo):
    """The process's local time zone, daylight-saving rules included: the C library's (``TZ``, else
    ``/etc/localtime``), as ``time.localtime`` and naive ``datetime.timestamp()`` use it. A naive wall
    time's ``fold`` picks its occurrence as for any PEP 495 zone: 0 is the first of a repeated time
    and, for a skipped one, the offset from before the change."""

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        if when is None:
            return dt.timedelta(seconds=-(time.altzone if time.localtime().tm_isdst > 0 else time.timezone))
        wall = when.replace(tzinfo=None)
        return dt.timedelta(seconds=round((wall - _EPOCH).total_seconds() - wall.timestamp()))

    def dst(self, when: dt.datetime | None) -> dt.timedelta | None:
        return None  # (not known separately; nothing here needs it)

    def tzname(self, when: dt.datetime | None) -> str:
        instant = time.time() if when is None else when.replace(tzinfo=None).timestamp()
        return time.localtime(instant).tm_zone

    def fromutc(self, when: dt.datetime) -> dt.datetime:
        instant = (when.replace(tzinfo=None) - _EPOCH).total_seconds()
        return dt.datetime.fromtimestamp(instant).replace(tzinfo=self)  # (fromtimestamp sets ``fold``)

    @property
    def key(self) -> str:
        """A name for the zone: ``TZ`` if set, else the zone ``/etc/localtime`` links to, else the
        abbreviations (``'CET/CEST'``)."""
        configured = os.environ.get('TZ', '').lstrip(':')
        if configured:
            return configured
        target = os.path.realpath('/etc/localtime')
        if '/zoneinfo/' in target:
            return target.split('/zoneinfo/', 1)[1]
        return '/'.join(dict.fromkeys(time.tzname))

    def __repr__(self) -> str:
        return f'LocalTime({self.key!r})'


def local_timezone() -> dt.tzinfo:
    """The process's local time zone: UTC itself when local time is UTC, else a :class:`LocalTime`."""
    time.tzset()  # (TZ may have changed since the process started)
    if time.timezone == 0 and time.altzone == 0 and not time.daylight:
        return UTC
    return LocalTime()


def zone_label(tz: dt.tzinfo) -> str:
    """How a zone is named in logs and in an entry's identity: ``'UTC'``, an IANA name, or the
    local zone's name (see :attr:`LocalTime.key`) after ``'local '``."""
    if isinstance(tz, LocalTime):
        return f'local {tz.key}'
    return getattr(tz, 'key', None) or 'UTC'


def resolve_timezone(name: str | None) -> dt.tzinfo:
    """The tzinfo for an IANA name (``'Europe/Berlin'``); ``'UTC'`` gives UTC, and None the
    process's local time zone (:func:`local_timezone`).

    Raises:
        ValueError: the name is not a known timezone.
    """
    if name is None:
        return local_timezone()
    if isinstance(name, str) and name.upper() in ('UTC', 'Z'):
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
            return Decision(RUN, now)  # never ran: run at once (as RQ does); the grid starts here
        due = last_slot + self.seconds
        if now < due:
            return Decision(WAIT, due)
        missed = self.latest_slot(last_slot, now)
        return settle_late_run(now, missed, missed + self.seconds, missed + 2 * self.seconds)

    def latest_slot(self, grid_slot: float, now: float) -> float:
        """The last slot at or before ``now`` on the grid through ``grid_slot`` (which is before it)."""
        steps = max(1, math.floor((now - grid_slot) / self.seconds))
        slot = grid_slot + steps * self.seconds
        if slot > now and steps > 1:  # (floating-point rounding either way)
            slot -= self.seconds
        elif slot + self.seconds <= now:
            slot += self.seconds
        return slot

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
        if latest is None or latest <= last_slot:  # (``last_slot`` is ahead after some catch-ups)
            return Decision(WAIT, self.next_after(max(last_slot, now)))
        following = self.next_after(latest)  # (earlier missed matches are coalesced into ``latest``)
        return settle_late_run(now, latest, following, self.next_after(following))

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
        """The instant of a naive wall time in ``tz``: its first occurrence if it happens twice; if a
        daylight-saving change skips it, the instant it names with the offset from before the change
        (later by the size of the change: 02:30 becomes 03:30)."""
        return wall.replace(tzinfo=self.tz, fold=0).timestamp()


def describe(schedule: IntervalSchedule | CronSchedule) -> str:
    if isinstance(schedule, IntervalSchedule):
        return f'every {schedule.seconds:g} seconds'
    return f'with cron schedule {schedule.expression!r} ({zone_label(schedule.tz)})'

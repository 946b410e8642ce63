"""Cron strings with and without a timezone hit the right instants, across daylight-saving changes:
a skipped wall time runs shifted forward by the size of the change (rq 3.0's rule), a repeated one
runs once (its first time). (Entries without any timezone, in the process's local time, are in
test_cron_local_time.py.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis

import rqtest_jobs_cron
from rq.cron import CronScheduler
from rq.cron._schedule import CronSchedule, resolve_timezone

UTC = dt.timezone.utc


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def instants(expression: str, tz: str | None, start: float, count: int) -> list[float]:
    schedule = CronSchedule(expression, resolve_timezone(tz))
    found = []
    for _ in range(count):
        start = schedule.next_after(start)
        found.append(start)
    return found


def run_through(
    connection: redis.Redis, clock: Any, start: float, end: float, step: float = 30, **scheduler_options: Any
) -> dict[str, list[float]]:
    """The slots each entry ran for while the clock went from ``start`` to ``end`` (from a clean slate:
    no entry has run before)."""
    connection.flushdb()
    clock.now = start
    scheduler = CronScheduler(connection, clock=clock, **scheduler_options)
    for name, expression, tz in ENTRIES:
        scheduler.register(rqtest_jobs_cron.tick, 'cron', cron=expression, name=name, timezone=tz)
    ran: dict[str, list[float]] = {name: [] for name, _, _ in ENTRIES}
    while clock.now <= end:
        for cron_job in scheduler.enqueue_jobs():
            assert cron_job.last_slot is not None
            ran[cron_job.name].append(cron_job.last_slot)
        clock.advance(step)
    return ran


ENTRIES = [
    ('berlin-0230', '30 2 * * *', 'Europe/Berlin'),
    ('berlin-half-hourly', '*/30 1-3 * * *', 'Europe/Berlin'),
    ('new-york-0900', '0 9 * * *', 'America/New_York'),
    ('default-0230', '30 2 * * *', None),
]


def test_spring_forward(connection: redis.Redis, clock: Any) -> None:
    # Europe/Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST (01:00Z); New York: 2026-03-08 02:00 EST -> 03:00 EDT
    ran = run_through(connection, clock, utc(2026, 3, 6, 12), utc(2026, 3, 9, 18), timezone='UTC')
    assert ran['new-york-0900'] == [utc(2026, 3, 6, 14), utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]
    assert ran['default-0230'] == [utc(2026, 3, day, 2, 30) for day in (7, 8, 9)]  # the scheduler's UTC: no change

    ran = run_through(connection, clock, utc(2026, 3, 28, 0), utc(2026, 3, 30, 4), timezone='UTC')
    # 02:30 does not exist on the 29th: it runs an hour later, at 03:30 CEST (rq 3.0's rule)
    assert ran['berlin-0230'] == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    # 01:00, 01:30 CET; 02:00 skipped, run at 03:00 CEST; then the next match, 03:30 CEST
    assert ran['berlin-half-hourly'][5:10] == [
        utc(2026, 3, 29, 0, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 23, 0),  # the next day, 01:00 CEST
    ]
    assert ran['default-0230'] == [utc(2026, 3, day, 2, 30) for day in (28, 29, 30)]


def test_fall_back(connection: redis.Redis, clock: Any) -> None:
    # Europe/Berlin: 2026-10-25 03:00 CEST becomes 02:00 CET (01:00Z): 02:00-02:59 happen twice
    ran = run_through(connection, clock, utc(2026, 10, 24, 0), utc(2026, 10, 26, 4), timezone='Europe/Berlin')
    # 02:30 runs once, the first time (CEST, 00:30Z), then at 02:30 CET the next day
    assert ran['berlin-0230'] == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    day = [slot for slot in ran['berlin-half-hourly'] if utc(2026, 10, 24, 22) <= slot <= utc(2026, 10, 25, 3)]
    assert day == [
        utc(2026, 10, 24, 23, 0),  # 01:00 CEST
        utc(2026, 10, 24, 23, 30),
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; the repeated 02:00 and 02:30 CET do not run again
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
        utc(2026, 10, 25, 2, 30),
    ]
    # an entry without a timezone takes the scheduler's (here Europe/Berlin) instead of UTC
    assert ran['default-0230'] == ran['berlin-0230']


def test_next_instants_without_a_scheduler() -> None:
    assert instants('0 9 * * *', 'America/New_York', utc(2026, 11, 1, 0), 2) == [
        utc(2026, 11, 1, 14),  # 09:00 EST (the change was at 02:00 that night)
        utc(2026, 11, 2, 14),
    ]
    assert instants('0 9 * * *', 'UTC', utc(2026, 11, 1, 0), 1) == [utc(2026, 11, 1, 9)]
    assert instants('0 0 1 1 *', 'Asia/Kolkata', utc(2026, 6, 1), 1) == [utc(2026, 12, 31, 18, 30)]


@pytest.mark.parametrize('bad', ['Mars/Olympus_Mons', '', 'Europe/../etc'])
def test_an_unknown_timezone_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match='timezone'):
        resolve_timezone(bad)

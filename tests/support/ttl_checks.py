"""TTL and expiry checks that hold however slow the machine is.

A TTL of ``ttl`` seconds set at some moment at or after ``since`` (a ``time.time()`` the test
recorded before the call that sets it, or a timestamp the code under test stored, such as a job's
``ended_at``) reads, now, between ``since + ttl - now`` and ``ttl``. The check allows for Redis's
whole-second expiry commands, nothing for the time that passed: that is computed.
"""

from __future__ import annotations

import time
from datetime import datetime

import redis

#: Expiry set with whole seconds (``EXPIREAT int(now) + ttl``) can end up to a second early.
SLACK = 1.5


def epoch(moment: float | datetime) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def ttl_fits(remaining: float, ttl: float, since: float | datetime, now: float | None = None) -> bool:
    """Whether ``remaining`` seconds can be left of a TTL of ``ttl`` s set at or after ``since``."""
    now = time.time() if now is None else now
    return epoch(since) + ttl - now - SLACK <= remaining <= ttl + SLACK


def assert_ttl(connection: redis.Redis, key: str, ttl: float, since: float | datetime) -> None:
    """Assert that ``key`` expires ``ttl`` seconds after a moment at or after ``since``."""
    milliseconds = int(connection.pttl(key))  # type: ignore[arg-type]
    now = time.time()
    remaining = milliseconds / 1000
    assert milliseconds >= 0 and ttl_fits(remaining, ttl, since, now), (
        f'{key}: {remaining} s to live (PTTL {milliseconds}), expected {ttl} s from at most '
        f'{now - epoch(since):.1f} s ago'
    )


def assert_expires_at(value: float | datetime | None, ttl: float, since: float | datetime) -> None:
    """Assert that an expiry moment (a registry score, an expiration time) lies ``ttl`` seconds after
    a moment between ``since`` and now."""
    assert value is not None, 'no expiry'
    moment = epoch(value)
    now = time.time()
    assert epoch(since) + ttl - SLACK <= moment <= now + ttl + SLACK, (
        f'expires at {moment}, expected {ttl} s after a moment between {epoch(since)} and {now}'
    )

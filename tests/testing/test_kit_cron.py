"""Cron entries (rq-cron) under the test clock: their runs are enqueued as the clock moves."""

from __future__ import annotations

import re
import sys
from datetime import datetime, time, timedelta, timezone

import kit_jobs
import pytest

from rq import Queue
from rq._install_hint import install_advice
from rq.exceptions import MissingDistributionError
from rq.testing import Clock, EagerRunner
from rq.testing import clock as clock_module


def _args(jobs: list) -> list[tuple]:  # type: ignore[type-arg]
    return [tuple(job.args) for job in jobs]


def test_interval_and_cron_string_entries_follow_the_clock(kit_queue: Queue) -> None:
    clock = Clock(kit_queue.connection)
    # (from noon: started from the real time, the first minute's moves met 09:00 when the test ran
    # between 08:59 and 09:00)
    clock.travel_to(datetime.combine(clock.now().date() + timedelta(days=1), time(12), tzinfo=timezone.utc))
    cron = clock.cron()
    cron.register(kit_jobs.echo, 'default', args=['tick'], interval=60, name='tick')
    cron.register(kit_jobs.echo, 'default', args=['morning'], cron='0 9 * * *', name='morning')

    assert _args(clock.move_due()) == [('tick',)]  # an interval entry runs at once
    assert clock.advance(58) == []
    assert _args(clock.advance(2)) == [('tick',)]

    today = clock.now().date()
    nine = datetime.combine(today + timedelta(days=1), time(9), tzinfo=timezone.utc)
    moved = clock.travel_to(nine)
    assert ('morning',) in _args(moved)
    assert _args(moved).count(('tick',)) == 1  # missed runs are coalesced, as by a real scheduler

    run = EagerRunner(kit_queue.connection, clock=clock).run()
    assert sorted(run.return_values) == ['morning', 'tick', 'tick', 'tick']


def test_a_move_past_a_slot_makes_one_catch_up_that_keeps_the_grid(kit_queue: Queue) -> None:
    clock = Clock(kit_queue.connection)
    cron = clock.cron()
    cron.register(kit_jobs.echo, 'default', args=['tick'], interval=60, name='tick')
    assert len(clock.move_due()) == 1  # the grid starts here: 0, 60, 120, 180 ...

    assert len(clock.advance(90)) == 1  # the run due at 60, caught up at 90
    assert clock.advance(30) == []  # 120 is only 30 s after the catch-up, which took its place
    assert clock.advance(59) == []
    assert len(clock.advance(1)) == 1  # 180, on the grid


def test_cron_entries_do_not_see_the_real_time_a_test_takes(kit_queue: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five real seconds between moves (a slow machine, a breakpoint) would make each run late by
    more than the second rq-cron allows, turning it into a catch-up that takes the next run's place."""
    real = [datetime(2030, 1, 1, tzinfo=timezone.utc)]
    monkeypatch.setattr(clock_module, 'now', lambda: real[0])
    clock = Clock(kit_queue.connection)
    clock.cron().register(kit_jobs.echo, 'default', args=['tick'], interval=60, name='tick')
    assert len(clock.move_due()) == 1
    for _ in range(3):
        real[0] += timedelta(seconds=5)
        assert len(clock.advance(60)) == 1
    assert clock.now() == real[0] + timedelta(seconds=180)  # (the clock itself still follows the real time)


def test_without_rq_cron_the_fix_is_named(monkeypatch: pytest.MonkeyPatch, kit_connection: object) -> None:
    monkeypatch.setitem(sys.modules, 'rq.cron', None)  # as if rq-cron were not installed
    with pytest.raises(MissingDistributionError, match=re.escape(install_advice('rq-cron'))):
        Clock(kit_connection).cron()  # type: ignore[arg-type]

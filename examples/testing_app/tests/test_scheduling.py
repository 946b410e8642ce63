"""Time: reminders a day later, retries and repeats with intervals, without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from redis import Redis

from rq import Queue
from rq.testing import Clock, EagerRunner, assert_job_status
from shop import jobs
from shop.orders import place_order, schedule_dashboard_refresh


def test_the_reminder_goes_out_a_day_later(
    rq_queue: Queue, rq_clock: Clock, rq_runner: EagerRunner, outbox: Callable[[], list[str]]
) -> None:
    order = place_order(rq_queue, 'o-6', 5, 'sku-2')
    rq_runner.run()
    assert outbox() == ['receipt for o-6']

    assert rq_clock.advance(hours=23) == []
    assert rq_clock.advance(timedelta(hours=1)) == [order.reminder]
    rq_runner.run()

    assert outbox() == ['receipt for o-6', 'how was order o-6?']


def test_run_scheduled_runs_everything_in_order_of_due_time(
    rq_queue: Queue, rq_runner: EagerRunner, outbox: Callable[[], list[str]]
) -> None:
    place_order(rq_queue, 'o-7', 5, 'sku-3')

    rq_runner.run(run_scheduled=True)

    assert outbox() == ['receipt for o-7', 'how was order o-7?']


def test_retry_intervals_can_be_waited_for(rq_queue: Queue, rq_clock: Clock, rq_runner: EagerRunner) -> None:
    order = place_order(rq_queue, 'o-8', 5, 'sku-4', remind=False)

    rq_runner.run(follow_intervals=False)
    assert_job_status(order.inventory, 'scheduled')  # first retry in 10 s

    assert rq_clock.advance(seconds=8) == []  # (due times are whole seconds: a second of margin)
    rq_clock.advance(seconds=2)
    rq_runner.run(follow_intervals=False)
    assert_job_status(order.inventory, 'scheduled')  # second retry in 30 s

    rq_clock.advance(seconds=30)
    rq_runner.run(follow_intervals=False)
    assert_job_status(order.inventory, 'finished')


def test_the_dashboard_refresh_repeats(rq_queue: Queue, rq_runner: EagerRunner, rq_connection: Redis) -> None:
    job = schedule_dashboard_refresh(rq_queue, times=2)

    run = rq_runner.run()

    assert run.return_values == [1, 2, 3]
    assert [j.id for j in run.jobs] == [job.id]
    assert int(rq_connection.get(jobs.DASHBOARD_REFRESHES) or 0) == 3


@pytest.mark.needs('rq-cron')
def test_the_dashboard_cron_entry_runs_every_five_minutes(
    rq_clock: Clock, rq_runner: EagerRunner, rq_connection: Redis
) -> None:
    rq_clock.cron().register(jobs.refresh_dashboard, 'default', interval=300)

    rq_clock.move_due()  # an interval entry runs at once
    for _ in range(3):
        rq_clock.advance(minutes=5)
    rq_runner.run()

    assert int(rq_connection.get(jobs.DASHBOARD_REFRESHES) or 0) == 4

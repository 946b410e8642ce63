"""Time control: scheduled jobs are queued when the clock reaches their due time, without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import kit_jobs
import pytest
import redis

from rq import Queue
from rq.testing import Clock, move_due_jobs, scheduled_jobs
from rq.utils import now


def test_enqueue_in_is_queued_when_due(kit_queue: Queue) -> None:
    clock = Clock(kit_queue.connection)
    job = kit_queue.enqueue_in(timedelta(hours=1), kit_jobs.echo, 'later')

    assert clock.advance(minutes=59) == []
    assert job.get_status() == 'scheduled'
    assert clock.advance(timedelta(minutes=1)) == [job]
    assert job.get_status() == 'queued'
    assert kit_queue.job_ids == [job.id]
    assert kit_queue.scheduled_job_registry.get_job_ids() == []


def test_enqueue_at_with_travel_to_and_at_front(kit_queue: Queue) -> None:
    clock = Clock(kit_queue.connection)
    waiting = kit_queue.enqueue(kit_jobs.echo, 'waiting')
    moment = datetime(2100, 1, 1, 9, 0, tzinfo=timezone.utc)
    urgent = kit_queue.enqueue_at(moment, kit_jobs.echo, 'urgent', at_front=True)
    naive_local = (moment + timedelta(hours=1)).astimezone().replace(tzinfo=None)
    later = kit_queue.enqueue_at(naive_local, kit_jobs.echo, 'an hour later')

    assert clock.scheduled() == [(moment, urgent), (moment + timedelta(hours=1), later)]
    assert clock.next_due() == moment
    assert clock.travel_to(moment) == [urgent]
    assert kit_queue.job_ids == [urgent.id, waiting.id]  # at_front is honoured
    assert clock.advance_to_next() == [later]
    assert clock.now() >= moment + timedelta(hours=1)
    assert clock.advance_to_next() == []


def test_the_clock_only_moves_forward(kit_connection: redis.Redis) -> None:
    clock = Clock(kit_connection)
    with pytest.raises(ValueError, match='forward'):
        clock.advance(-1)
    with pytest.raises(ValueError, match='forward'):
        clock.travel_to(now() - timedelta(days=1))


def test_a_clock_can_watch_some_queues_only(kit_connection: redis.Redis) -> None:
    mail, reports = Queue('mail', connection=kit_connection), Queue('reports', connection=kit_connection)
    mail_job = mail.enqueue_in(timedelta(seconds=5), kit_jobs.echo, 'mail')
    report_job = reports.enqueue_in(timedelta(seconds=5), kit_jobs.echo, 'report')

    assert Clock(kit_connection, queues=['mail']).advance(10) == [mail_job]
    assert report_job.get_status() == 'scheduled'
    assert [job for _, job in scheduled_jobs(kit_connection)] == [report_job]
    assert move_due_jobs(kit_connection, now() + timedelta(seconds=10)) == [report_job]


def test_jobs_whose_hash_is_gone_are_dropped(kit_queue: Queue) -> None:
    job = kit_queue.enqueue_in(timedelta(seconds=1), kit_jobs.echo)
    kit_queue.connection.delete(job.key)

    assert Clock(kit_queue.connection).advance(2) == []
    assert kit_queue.scheduled_job_registry.get_job_ids() == []
    assert kit_queue.count == 0


def test_the_clock_moves_retries_left_to_a_scheduler(kit_queue: Queue) -> None:
    from rq import Retry
    from rq.testing import run_until_empty

    job = kit_queue.enqueue(kit_jobs.fail, retry=Retry(max=1, interval=120))
    run_until_empty(kit_queue, follow_intervals=False)
    clock = Clock(kit_queue.connection)

    assert clock.advance(118) == []  # (due times are whole seconds: keep a second of margin)
    assert clock.advance(2) == [job]
    assert run_until_empty(kit_queue).failed_jobs == [job]

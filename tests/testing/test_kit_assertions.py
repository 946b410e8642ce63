"""Assertion helpers: enqueued with these arguments, statuses, results, failures; and their messages."""

from __future__ import annotations

from unittest.mock import ANY

import kit_jobs
import pytest

from rq import Queue
from rq.testing import (
    assert_enqueued,
    assert_job_failed,
    assert_job_result,
    assert_job_status,
    assert_not_enqueued,
    queue_jobs,
    run_until_empty,
)


def test_assert_enqueued_finds_the_job_in_any_state(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.echo, 'x', flag=True)
    assert assert_enqueued(kit_queue, kit_jobs.echo, 'x', flag=True) == job
    assert assert_enqueued(kit_queue, 'kit_jobs.echo', ANY, flag=ANY) == job

    run_until_empty(kit_queue)

    assert assert_enqueued(kit_queue, kit_jobs.echo, 'x', flag=True) == job  # now in the finished registry


def test_assert_enqueued_lists_what_was_enqueued_instead(kit_queue: Queue) -> None:
    kit_queue.enqueue(kit_jobs.add, 1, 2)
    with pytest.raises(AssertionError) as info:
        assert_enqueued(kit_queue, kit_jobs.add, 1, 3)
    message = str(info.value)
    assert "kit_jobs.add(1, 3) was not enqueued on queue 'default'" in message
    assert 'kit_jobs.add(1, 2) [queued' in message


def test_assert_not_enqueued(kit_queue: Queue) -> None:
    kit_queue.enqueue(kit_jobs.add, 1, 2)
    assert_not_enqueued(kit_queue, kit_jobs.echo)
    assert_not_enqueued(kit_queue, kit_jobs.add, 2, 2)
    with pytest.raises(AssertionError, match=r'kit_jobs\.add was enqueued'):
        assert_not_enqueued(kit_queue, kit_jobs.add)


def test_queue_jobs_filters_by_function_and_status(kit_queue: Queue) -> None:
    from datetime import timedelta

    queued = kit_queue.enqueue(kit_jobs.echo, 1)
    parent = kit_queue.enqueue(kit_jobs.add, 1, 1)
    deferred = kit_queue.enqueue(kit_jobs.echo, 2, depends_on=parent)
    scheduled = kit_queue.enqueue_in(timedelta(days=1), kit_jobs.echo, 3)

    assert queue_jobs(kit_queue) == [queued, parent, deferred, scheduled]
    assert queue_jobs(kit_queue, kit_jobs.echo, status=['deferred', 'scheduled']) == [deferred, scheduled]
    assert queue_jobs(kit_queue, status='queued') == [queued, parent]


def test_status_result_and_failure_assertions(kit_queue: Queue) -> None:
    good = kit_queue.enqueue(kit_jobs.add, 2, 3)
    bad = kit_queue.enqueue(kit_jobs.fail, 'kaput')
    assert_job_status(good, 'queued')
    run_until_empty(kit_queue)

    assert_job_result(good, 5)
    text = assert_job_failed(bad, ValueError, match='kaput')
    assert 'Traceback' in text
    assert_job_failed(bad, 'ValueError')

    with pytest.raises(AssertionError, match='returned 5, not 6'):
        assert_job_result(good, 6)
    with pytest.raises(AssertionError, match=r'(?s)is failed, not finished\nIts latest failure:\n.*ValueError: kaput'):
        assert_job_result(bad, None)
    with pytest.raises(AssertionError, match='not with KeyError'):
        assert_job_failed(bad, KeyError)
    with pytest.raises(AssertionError, match='does not match'):
        assert_job_failed(bad, match='other text')
    with pytest.raises(AssertionError, match='is finished, not failed'):
        assert_job_failed(good)


def test_a_deleted_job_is_reported(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.echo)
    job.delete()
    with pytest.raises(AssertionError, match='no longer exists'):
        assert_job_status(job, 'queued')

"""The eager runner, on the fake and on a real Redis: jobs run in the test process with the same
Redis states a worker gives them, dependents, retries and repeats included."""

from __future__ import annotations

import kit_jobs
import pytest
import redis

from rq import Callback, Queue, RateLimit, Repeat, Retry
from rq._redis import keys
from rq.results import Result
from rq.suspension import resume, suspend
from rq.testing import EagerRunLimitError, EagerRunner, JobFailedError, fake_connection, run_until_empty
from rq.worker_registration import get_keys


def test_runs_queued_jobs_and_records_them_as_a_worker_would(kit_queue: Queue) -> None:
    first = kit_queue.enqueue(kit_jobs.add, 1, 2)
    second = kit_queue.enqueue(kit_jobs.echo, 'hi')

    run = run_until_empty(kit_queue)

    assert run.jobs == [first, second]
    assert run.return_values == [3, 'hi']
    assert first.get_status() == 'finished' and first.return_value() == 3
    first.refresh()
    assert first.worker_name == 'rq-testing' and run.jobs[0].worker_name == 'rq-testing'
    result = first.latest_result()
    assert result is not None and result.type == Result.Type.SUCCESSFUL and result.execution_id
    assert kit_queue.count == 0
    assert first.id in kit_queue.finished_job_registry
    assert kit_queue.started_job_registry.get_job_ids(cleanup=False) == []
    assert get_keys(connection=kit_queue.connection) == set()  # no worker left behind
    assert not kit_queue.connection.keys(keys.worker_key('*'))


def test_dependents_run_in_their_own_queue(kit_connection: redis.Redis) -> None:
    high, low = Queue('high', connection=kit_connection), Queue('low', connection=kit_connection)
    parent = high.enqueue(kit_jobs.echo, 'parent')
    child = low.enqueue(kit_jobs.echo, 'child', depends_on=parent)

    assert [job.id for job in run_until_empty(high).jobs] == [parent.id]  # only the queues given
    assert child.get_status() == 'queued'
    assert EagerRunner(kit_connection).run().jobs == [child]  # every queue


def test_exception_retries_are_followed_without_waiting(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.fail_until, 'a', 2, retry=Retry(max=3, interval=[60, 600]))

    run = run_until_empty(kit_queue)

    assert [r.outcome for r in run.runs] == ['retried', 'retried', 'finished']
    assert job.get_status() == 'finished' and job.return_value() == 3
    assert isinstance(run.runs[0].exception, RuntimeError)


def test_retries_by_return_value_and_their_end(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.ask_for_retry, 2, 30)

    run = run_until_empty(kit_queue)

    assert [r.outcome for r in run.runs] == ['retried', 'retried', 'failed']
    assert job.get_status() == 'failed'
    with pytest.raises(JobFailedError, match=job.id):
        run.raise_first_failure()


def test_repeats_run_times_plus_one(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.add, 2, 2, repeat=Repeat(times=2, interval=[5, 50]))

    run = run_until_empty(kit_queue)

    assert run.return_values == [4, 4, 4] and run.jobs == [job]
    assert job.get_status() == 'finished'


def test_follow_intervals_off_leaves_them_scheduled(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.fail, retry=Retry(max=1, interval=30))

    run = run_until_empty(kit_queue, follow_intervals=False)

    assert [r.outcome for r in run.runs] == ['retried']
    assert job.get_status() == 'scheduled'
    assert run_until_empty(kit_queue, run_scheduled=True).failed_jobs == [job]


def test_failures_are_collected_or_raised(kit_queue: Queue) -> None:
    failing = kit_queue.enqueue(kit_jobs.fail, 'first')
    after = kit_queue.enqueue(kit_jobs.echo, 'after')

    run = run_until_empty(kit_queue)
    assert run.failed_jobs == [failing] and run.jobs == [failing, after]
    assert 'ValueError: first' in run.failures[0].exc_string
    assert failing.get_status() == 'failed' and failing.id in kit_queue.failed_job_registry

    kit_queue.enqueue(kit_jobs.fail, 'second')
    stays = kit_queue.enqueue(kit_jobs.echo, 'stays queued')
    with pytest.raises(ValueError, match='second') as info:
        run_until_empty(kit_queue, fail_fast=True)
    if hasattr(info.value, '__notes__'):
        assert any('rq.testing' in note for note in info.value.__notes__)
    assert stays.get_status() == 'queued'  # fail_fast stops at the first failure


def test_callbacks_run(kit_queue: Queue) -> None:
    kit_queue.enqueue(kit_jobs.add, 1, 1, on_success=Callback(kit_jobs.on_success))
    kit_queue.enqueue(kit_jobs.fail, on_failure=Callback(kit_jobs.on_failure))

    run_until_empty(kit_queue)

    assert kit_jobs.calls(kit_queue.connection) == [
        'add(1, 1)',
        'success callback 2',
        "fail('boom')",
        'failure callback ValueError',
    ]


def test_scheduled_jobs_run_when_due_at_the_runner_clock(kit_queue: Queue) -> None:
    from datetime import timedelta

    later = kit_queue.enqueue_in(timedelta(minutes=5), kit_jobs.echo, 'later')
    runner = EagerRunner(kit_queue.connection)

    assert runner.run().jobs == []
    runner.clock.advance(minutes=5)
    assert runner.run().jobs == [later]


def test_a_job_that_keeps_enqueueing_itself_is_stopped(kit_queue: Queue) -> None:
    kit_queue.enqueue(kit_jobs.enqueue_itself)

    with pytest.raises(EagerRunLimitError, match='max_jobs'):
        run_until_empty(kit_queue, max_jobs=5)


def test_suspended_workers_suspend_the_runner(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.echo)
    suspend(kit_queue.connection)

    run = run_until_empty(kit_queue)

    assert run.suspended and run.jobs == []
    resume(kit_queue.connection)
    assert run_until_empty(kit_queue).jobs == [job]


def test_an_undecodable_job_fails_with_the_reason(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.echo)
    kit_queue.connection.hset(job.key, 'data', b'not a payload')

    run = run_until_empty(kit_queue)

    assert [r.outcome for r in run.runs] == ['failed']
    assert 'cannot be decoded' in run.failures[0].exc_string
    assert kit_queue.connection.hget(job.key, 'status') == b'failed'
    assert job.id in kit_queue.failed_job_registry


def test_job_timeouts_are_enforced_only_when_asked() -> None:
    queue = Queue(connection=fake_connection())  # (one mode is enough: no Redis involved)
    queue.enqueue('time.sleep', 1.1, job_timeout=1)
    assert run_until_empty(queue).failures == []
    queue.enqueue('time.sleep', 1.1, job_timeout=1)

    run = run_until_empty(queue, enforce_timeouts=True)

    assert 'JobTimeoutException' in run.failures[0].exc_string


def test_run_until_empty_needs_a_queue() -> None:
    with pytest.raises(TypeError, match='at least one Queue'):
        run_until_empty()


def test_rate_limited_jobs_run_one_slot_at_a_time_and_free_it(kit_queue: Queue) -> None:
    """rq 3.0's rate limits on the fake as on a real Redis: the waiters are promoted as the eager
    runner ends each job, and no slot is left held."""
    limit = RateLimit('kit', 1)
    jobs = [kit_queue.enqueue(kit_jobs.add, i, 1, rate_limit=limit) for i in range(3)]
    assert [job.get_status() for job in jobs] == ['queued', 'rate_limited', 'rate_limited']

    run = run_until_empty(kit_queue)

    assert run.return_values == [1, 2, 3]
    connection = kit_queue.connection
    assert connection.zcard('rq:rl:kit:allowed') == connection.zcard('rq:rl:kit:rate_limited') == 0

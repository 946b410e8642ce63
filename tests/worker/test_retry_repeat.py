"""Retry (on exception, and by return value) and Repeat under the worker classes.

Intervals above 0 park the job in ``rq:scheduled:<q>``; the tests read the scores there and play
the scheduler themselves (move the id back to the queue) instead of waiting.
"""

from __future__ import annotations

import base64
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_worker
from rq import Queue, Repeat, Retry
from rq.job import Job
from rq.worker import SimpleWorker, SpawnWorker, Worker

WORKER_CLASSES = [Worker, SimpleWorker, SpawnWorker]


@pytest.fixture(params=WORKER_CLASSES, ids=lambda cls: cls.__name__)
def worker_class(request: pytest.FixtureRequest) -> type[Worker]:
    return request.param  # type: ignore[no-any-return]


def run_burst(worker_class: type[Any], queue: Queue, max_jobs: int | None = None, **kwargs: Any) -> Any:
    worker = worker_class([queue], job_monitoring_interval=1, **kwargs)
    worker.work(burst=True, max_jobs=max_jobs)
    return worker


def result_types(connection: redis.Redis, job_id: str) -> list[str]:
    return [fields[b'type'].decode() for _, fields in connection.xrange(f'rq:results:{job_id}')]


def field(connection: redis.Redis, job: Job, name: str) -> str | None:
    value = connection.hget(job.key, name)
    return None if value is None else value.decode()


class Wait:
    """The delay a scheduled score stands for, known to within the time a run took: the score is
    the whole second of (moment of scheduling + delay), the moment being inside the block."""

    def __init__(self) -> None:
        self.low = self.high = 0.0

    def __eq__(self, delay: object) -> bool:
        return isinstance(delay, int) and self.low <= delay <= self.high

    def __repr__(self) -> str:
        return f'Wait({self.low:.2f}..{self.high:.2f})'


@contextmanager
def wait_of(connection: redis.Redis, job: Job) -> Iterator[Wait]:
    """Measure the delay with which the block schedules ``job``."""
    wait = Wait()
    before = time.time()
    yield wait
    after = time.time()
    score = connection.zscore('rq:scheduled:default', job.id)
    assert score is not None, 'the job was not scheduled'
    assert score == int(score)  # whole seconds
    wait.low, wait.high = score - after, score + 1 - before


def scheduled_score(connection: redis.Redis, job: Job) -> float | None:
    return connection.zscore('rq:scheduled:default', job.id)


def play_scheduler(connection: redis.Redis, job: Job) -> None:
    """What a scheduler does with a due job: take it out of the scheduled registry, queue it."""
    assert connection.zrem('rq:scheduled:default', job.id) == 1
    connection.hset(job.key, 'status', 'queued')
    connection.rpush('rq:queue:default', job.id)


# -- Retry on exception ---------------------------------------------------------------------


def test_retry_interval_zero_requeues_at_once(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=2))
    other = queue.enqueue(rqtest_jobs.add, 1)
    enqueued_at = field(connection, job, 'enqueued_at')
    worker = run_burst(worker_class, queue, max_jobs=1)

    assert field(connection, job, 'status') == 'queued'
    assert field(connection, job, 'retries_left') == '1'
    assert field(connection, job, 'enqueued_at') != enqueued_at
    assert connection.lrange('rq:queue:default', 0, -1) == [other.id.encode(), job.id.encode()]  # at the back
    assert not connection.exists(f'rq:results:{job.id}')  # a retried attempt writes no result
    assert connection.zcard('rq:failed:default') == 0
    assert connection.zcard('rq:wip:default') == 0
    assert connection.hget(worker.key, 'failed_job_count') == b'1'  # retried attempts count as failures


def test_retry_enqueue_at_front(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=1, enqueue_at_front=True))
    other = queue.enqueue(rqtest_jobs.add, 1)
    assert field(connection, job, 'enqueue_at_front_on_retry') == '1'
    run_burst(worker_class, queue, max_jobs=1)
    assert connection.lrange('rq:queue:default', 0, -1) == [job.id.encode(), other.id.encode()]
    assert field(connection, job, 'retries_left') == '0'


def test_retries_used_up_fail_the_job_with_one_result(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=2))
    worker = run_burst(worker_class, queue)
    assert field(connection, job, 'status') == 'failed'
    assert field(connection, job, 'retries_left') == '0'
    assert result_types(connection, job.id) == ['2']
    assert connection.zscore('rq:failed:default', job.id) is not None
    assert connection.hget(worker.key, 'failed_job_count') == b'3'
    assert connection.llen('rq:queue:default') == 0


def test_retry_until_success(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs_worker.fail_then_succeed, 'runs', 2, retry=Retry(max=3))
    worker = run_burst(worker_class, queue)
    assert connection.get('runs') == b'3'
    assert field(connection, job, 'status') == 'finished'
    assert field(connection, job, 'retries_left') == '1'
    assert result_types(connection, job.id) == ['1']
    assert Job.fetch(job.id, connection=connection).return_value() == 'ok after 3 runs'
    assert connection.hget(worker.key, 'failed_job_count') == b'2'
    assert connection.hget(worker.key, 'successful_job_count') == b'1'


def test_retry_with_interval_schedules_the_job(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=2, interval=30))
    with wait_of(connection, job) as wait:
        run_burst(worker_class, queue)
    assert wait == 30
    assert field(connection, job, 'status') == 'scheduled'
    assert field(connection, job, 'retries_left') == '1'
    assert connection.llen('rq:queue:default') == 0
    assert connection.zcard('rq:failed:default') == 0
    assert not connection.exists(f'rq:results:{job.id}')
    assert connection.sismember('rq:queues', 'rq:queue:default')


def test_retry_intervals_are_aligned_to_the_end_of_the_budget(connection: redis.Redis, queue: Queue) -> None:
    """Retry(max=4, interval=[10, 20, 30]) waits 10, 10, 20, 30 (rq2-reference §8.6)."""
    job = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=4, interval=[10, 20, 30]))
    waits = []
    for _ in range(4):
        with wait_of(connection, job) as wait:
            run_burst(SimpleWorker, queue)
        waits.append(wait)
        play_scheduler(connection, job)
    assert waits == [10, 10, 20, 30]
    run_burst(SimpleWorker, queue)
    assert field(connection, job, 'status') == 'failed'
    assert scheduled_score(connection, job) is None


def test_fewer_retries_than_intervals_skip_the_leading_ones(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=2, interval=[10, 20, 30]))
    with wait_of(connection, job) as wait:
        run_burst(SimpleWorker, queue)
    assert wait == 20


# -- Retry by return value ------------------------------------------------------------------


def test_returned_retry_reruns_then_fails_with_max_retries_exceeded(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs_worker.return_retry, 2)
    worker = run_burst(worker_class, queue)
    assert result_types(connection, job.id) == ['4', '4', '5']
    assert field(connection, job, 'status') == 'failed'
    assert field(connection, job, 'number_of_retries') == '2'
    assert connection.zscore('rq:failed:default', job.id) is not None
    assert connection.hget(worker.key, 'failed_job_count') == b'3'
    assert connection.hget(worker.key, 'successful_job_count') is None
    entries = connection.xrange(f'rq:results:{job.id}')
    retry = pickle.loads(base64.b64decode(entries[0][1][b'return_value']))
    assert isinstance(retry, Retry) and retry.max == 2
    assert all(fields[b'worker_name'] == worker.name.encode() for _, fields in entries)
    assert Job.fetch(job.id, connection=connection).return_value() is None


def test_returned_retry_first_attempt(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs_worker.return_retry, 3)
    other = queue.enqueue(rqtest_jobs.add, 1)
    run_burst(worker_class, queue, max_jobs=1)
    assert field(connection, job, 'status') == 'queued'
    assert field(connection, job, 'number_of_retries') == '1'
    assert result_types(connection, job.id) == ['4']
    assert connection.lrange('rq:queue:default', 0, -1) == [other.id.encode(), job.id.encode()]
    legacy = pickle.loads(connection.hget(job.key, 'result'))  # type: ignore[arg-type]
    assert isinstance(legacy, Retry) and legacy.max == 3  # RQ re-saves the job with the returned Retry
    assert connection.zcard('rq:wip:default') == 0
    assert connection.zcard('rq:failed:default') == 0


def test_returned_retry_intervals_are_aligned_to_the_start(connection: redis.Redis, queue: Queue) -> None:
    """The return-value Retry reads its list from the start, reusing the last value: 5, 10, 10."""
    job = queue.enqueue(rqtest_jobs_worker.return_retry, 3, [5, 10])
    waits = []
    for _ in range(3):
        with wait_of(connection, job) as wait:
            run_burst(SimpleWorker, queue)
        assert field(connection, job, 'status') == 'scheduled'
        waits.append(wait)
        play_scheduler(connection, job)
    assert waits == [5, 10, 10]
    run_burst(SimpleWorker, queue)
    assert result_types(connection, job.id) == ['4', '4', '4', '5']


def test_returned_retry_result_ttl_follows_failure_ttl(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs_worker.return_retry, 1, failure_ttl=50)
    run_burst(SimpleWorker, queue, max_jobs=1)
    assert 45 < connection.ttl(f'rq:results:{job.id}') <= 50


# -- Repeat ---------------------------------------------------------------------------------


def test_repeat_runs_times_plus_one(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs_worker.count_runs, 'runs', repeat=Repeat(times=2))
    worker = run_burst(worker_class, queue)
    assert connection.get('runs') == b'3'
    assert result_types(connection, job.id) == ['1', '1', '1']
    assert field(connection, job, 'status') == 'finished'
    assert field(connection, job, 'repeats_left') == '0'
    assert connection.hexists(job.key, 'result')  # a repeat re-saves the job with the legacy field
    assert connection.zscore('rq:finished:default', job.id) is not None
    assert connection.hget(worker.key, 'successful_job_count') == b'3'
    assert Job.fetch(job.id, connection=connection).return_value() == 3


def test_repeat_first_run_queues_the_next(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=2))
    run_burst(worker_class, queue, max_jobs=1)
    assert field(connection, job, 'status') == 'queued'
    assert field(connection, job, 'repeats_left') == '1'
    assert connection.lrange('rq:queue:default', 0, -1) == [job.id.encode()]
    assert result_types(connection, job.id) == ['1']
    assert connection.zscore('rq:finished:default', job.id) is not None
    assert connection.zcard('rq:wip:default') == 0


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_repeat_waits_in_the_documented_order(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    """Repeat(times=3, interval=[5, 10, 15]) waits 5, then 10, then 15 seconds (the documented order)."""
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=3, interval=[5, 10, 15]))
    waits = []
    for left in ('2', '1', '0'):
        with wait_of(connection, job) as wait:
            run_burst(worker_class, queue)
        assert field(connection, job, 'status') == 'scheduled'
        assert field(connection, job, 'repeats_left') == left
        waits.append(wait)
        play_scheduler(connection, job)
    assert waits == [5, 10, 15]
    run_burst(worker_class, queue)
    assert field(connection, job, 'status') == 'finished'
    assert scheduled_score(connection, job) is None
    assert result_types(connection, job.id) == ['1', '1', '1', '1']


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_repeat_intervals_are_consumed_as_rq3_does(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    """rq 3.0's data: ``repeat_intervals`` is the list as given, and each scheduled repeat takes its
    first value off (the last one stays), so a 3.0 worker running the next repeat waits the same."""
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=4, interval=[5, 10, 15]))
    assert field(connection, job, 'repeat_intervals') == '[5, 10, 15]'
    for left, intervals in (('3', '[10, 15]'), ('2', '[15]'), ('1', '[15]')):
        run_burst(worker_class, queue)
        assert (field(connection, job, 'repeats_left'), field(connection, job, 'repeat_intervals')) == (left, intervals)
        play_scheduler(connection, job)


def test_repeat_continues_a_list_another_worker_has_shortened(connection: redis.Redis, queue: Queue) -> None:
    """A job whose first repeat an rq 3.0 worker scheduled (``[20, 30]`` left of ``[10, 20, 30]``)
    waits 20 then 30 seconds here."""
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=3, interval=[10, 20, 30]))
    connection.hset(job.key, mapping={'repeats_left': '2', 'repeat_intervals': '[20, 30]'})
    waits = []
    for _ in range(2):
        with wait_of(connection, job) as wait:
            run_burst(SimpleWorker, queue)
        waits.append(wait)
        play_scheduler(connection, job)
    assert waits == [20, 30]
    assert field(connection, job, 'repeat_intervals') == '[30]'


def test_repeat_with_one_interval(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=2, interval=7))
    with wait_of(connection, job) as wait:
        run_burst(SimpleWorker, queue)
    assert wait == 7


def test_failed_run_is_not_repeated(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.fail, repeat=Repeat(times=3))
    run_burst(worker_class, queue)
    assert field(connection, job, 'status') == 'failed'
    assert field(connection, job, 'repeats_left') == '3'
    assert result_types(connection, job.id) == ['2']
    assert connection.llen('rq:queue:default') == 0


def test_repeat_with_result_ttl_zero_still_repeats(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=1), result_ttl=0)
    run_burst(SimpleWorker, queue, max_jobs=1)
    assert field(connection, job, 'status') == 'queued'
    assert field(connection, job, 'repeats_left') == '0'
    assert not connection.exists(f'rq:results:{job.id}')
    run_burst(SimpleWorker, queue)
    assert not connection.exists(job.key)  # the last run keeps nothing

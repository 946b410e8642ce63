"""RQ 3.0's concurrency rate limits in rq-core: admission at enqueue, the slot given back by every
end of a job (outcomes recorded as a worker records them, cancel, delete), the scheduler, requeue
and released dependents going through the limiter, maintenance, and the public API. Core only."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

import rqtest_jobs
from rq import Queue, RateLimit, Retry
from rq._outcome import record_failure, record_success
from rq._redis import scheduler_ops
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus
from rq.rate_limit import RateLimitRegistry, cleanup_all, release_slot
from rq.registry import FailedJobRegistry, clean_registries
from rq.utils import now


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def ids(connection: redis.Redis, key: str) -> list[str]:
    return [raw.decode() for raw in connection.zrange(key, 0, -1)]


def queued(connection: redis.Redis, name: str = 'default') -> list[str]:
    return [raw.decode() for raw in connection.lrange(f'rq:queue:{name}', 0, -1)]


def status(connection: redis.Redis, job: Job) -> str:
    return connection.hget(job.key, 'status').decode()  # type: ignore[union-attr]


def enqueue_limited(queue: Queue, count: int, key: str = 'k', concurrency: int = 2, **options: object) -> list[Job]:
    return [queue.enqueue(rqtest_jobs.add, i, rate_limit=RateLimit(key, concurrency), **options) for i in range(count)]


def start(job: Job) -> None:
    """What a worker's claim leaves: the job off its queue, started."""
    job.connection.lrem(f'rq:queue:{job.origin}', 0, job.id)
    job.connection.hset(job.key, 'status', 'started')
    job._status = JobStatus.STARTED


# -- RateLimit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize('key, concurrency', [('', 1), ('k', 0), ('k', -1), ('k', 1.5), ('k', True), ('k', '2')])
def test_rate_limit_refuses_bad_arguments(key: str, concurrency: object) -> None:
    with pytest.raises(ValueError):
        RateLimit(key, concurrency)  # type: ignore[arg-type]


def test_rate_limit_is_exported_where_rq_3_puts_it() -> None:
    import rq
    import rq.rate_limit

    assert rq.RateLimit is rq.rate_limit.RateLimit
    assert 'RateLimit' in rq.__all__


# -- admission -------------------------------------------------------------------------------------


def test_only_concurrency_jobs_are_queued_the_others_wait_in_order(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 5)
    assert [job.get_status(refresh=False) for job in jobs] == [JobStatus.QUEUED] * 2 + [JobStatus.RATE_LIMITED] * 3
    assert [status(connection, job) for job in jobs] == ['queued'] * 2 + ['rate_limited'] * 3
    assert queued(connection) == [jobs[0].id, jobs[1].id]
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[0].id, jobs[1].id]
    assert ids(connection, 'rq:rl:k:rate_limited') == [job.id for job in jobs[2:]]
    assert connection.smembers('rq:rl-keys') == {b'k'}
    assert connection.hgetall('rq:rl:k') == {b'concurrency': b'2'}
    assert connection.hget(jobs[4].key, 'rate_limit_key') == b'k'
    assert connection.hget(jobs[4].key, 'rate_limit_concurrency') == b'2'
    assert Job.fetch(jobs[4].id, connection=connection).has_rate_limit


def test_keys_limit_independently_across_queues(connection: redis.Redis, queue: Queue) -> None:
    other = Queue('other', connection=connection)
    a = queue.enqueue(rqtest_jobs.add, 1, rate_limit=RateLimit('shared', 1))
    b = other.enqueue(rqtest_jobs.add, 2, rate_limit=RateLimit('shared', 1))
    c = other.enqueue(rqtest_jobs.add, 3, rate_limit=RateLimit('own', 1))
    assert (status(connection, a), status(connection, b), status(connection, c)) == ('queued', 'rate_limited', 'queued')


def test_at_front_is_kept_for_a_later_promotion(connection: redis.Redis, queue: Queue) -> None:
    first = queue.enqueue(rqtest_jobs.add, 1, rate_limit=RateLimit('k', 1))
    queue.enqueue(rqtest_jobs.add, 9)
    urgent = queue.enqueue(rqtest_jobs.add, 2, rate_limit=RateLimit('k', 1), at_front=True)
    assert status(connection, urgent) == 'rate_limited'
    start(first)
    record_success(first, queue, 2, worker_name='w')
    assert queued(connection)[0] == urgent.id


def test_the_restrictions_of_rq_3(connection: redis.Redis, queue: Queue) -> None:
    limit = RateLimit('k', 1)
    with pytest.raises(ValueError, match='unique'):
        queue.enqueue(rqtest_jobs.add, 1, rate_limit=limit, job_id='u', unique=True)
    with connection.pipeline() as pipe, pytest.raises(ValueError, match='pipeline'):
        queue.enqueue(rqtest_jobs.add, 1, rate_limit=limit, pipeline=pipe)
    with pytest.raises(ValueError, match='is_async=False'):
        Queue('sync', connection=connection, is_async=False).enqueue(rqtest_jobs.add, 1, rate_limit=limit)
    assert connection.keys('rq:rl*') == []
    assert connection.keys('rq:job:*') == []


def test_a_function_keyword_named_rate_limit_goes_through_kwargs(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.echo, kwargs={'rate_limit': 3})
    assert job.kwargs == {'rate_limit': 3}
    assert not job.has_rate_limit


# -- the slot given back --------------------------------------------------------------------------


def test_a_success_gives_the_slot_to_the_oldest_waiter(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 4)
    start(jobs[0])
    record_success(jobs[0], queue, 1, worker_name='w')
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[1].id, jobs[2].id]
    assert status(connection, jobs[2]) == 'queued'
    assert status(connection, jobs[3]) == 'rate_limited'
    assert connection.hget(jobs[2].key, 'enqueued_at')


def test_a_failure_gives_the_slot_back(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 2, concurrency=1)
    start(jobs[0])
    record_failure(jobs[0], queue, 'boom', worker_name='w')
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[1].id]
    assert status(connection, jobs[1]) == 'queued'


def test_a_stop_gives_the_slot_back(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 2, concurrency=1)
    start(jobs[0])
    record_failure(jobs[0], queue, 'stopped', worker_name='w', stopped=True)
    assert status(connection, jobs[0]) == 'stopped'
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[1].id]


def test_an_immediate_retry_keeps_its_slot(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 2, concurrency=1, retry=Retry(max=1))
    start(jobs[0])
    assert record_failure(jobs[0], queue, 'boom', worker_name='w')
    assert status(connection, jobs[0]) == 'queued'
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[0].id]
    assert status(connection, jobs[1]) == 'rate_limited'


def test_a_scheduled_retry_gives_the_slot_back_and_waits_for_one_when_due(
    connection: redis.Redis, queue: Queue
) -> None:
    first, second = enqueue_limited(queue, 2, concurrency=1, retry=Retry(max=1, interval=60))
    start(first)
    assert record_failure(first, queue, 'boom', worker_name='w')
    assert status(connection, first) == 'scheduled'
    assert ids(connection, 'rq:rl:k:allowed') == [second.id]
    due = int(now().timestamp()) + 120
    assert scheduler_ops.move_due_jobs(connection, 'default', [first.id], due, 'x') == (1, 0)
    assert status(connection, first) == 'rate_limited'
    assert ids(connection, 'rq:rl:k:rate_limited') == [first.id]
    start(second)
    record_success(second, queue, 1, worker_name='w')
    assert status(connection, first) == 'queued'
    assert first.id in queued(connection)


def test_a_scheduled_job_takes_no_slot_until_due(connection: redis.Redis, queue: Queue) -> None:
    holder = queue.enqueue(rqtest_jobs.add, 1, rate_limit=RateLimit('k', 1))
    later = queue.enqueue_in(timedelta(seconds=30), rqtest_jobs.add, 2, rate_limit=RateLimit('k', 1))
    assert status(connection, later) == 'scheduled'
    assert ids(connection, 'rq:rl:k:allowed') == [holder.id]
    due = int(now().timestamp()) + 60
    scheduler_ops.move_due_jobs(connection, 'default', [later.id], due, 'x')
    assert status(connection, later) == 'rate_limited'
    assert queued(connection) == [holder.id]


def test_a_repeat_scheduled_later_gives_the_slot_back(connection: redis.Redis, queue: Queue) -> None:
    from rq import Repeat

    first, second = enqueue_limited(queue, 2, concurrency=1, repeat=Repeat(times=1, interval=60))
    start(first)
    record_success(first, queue, 1, worker_name='w')
    assert status(connection, first) == 'scheduled'
    assert ids(connection, 'rq:rl:k:allowed') == [second.id]


def test_cancel_gives_the_slot_back_and_drops_a_waiter(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 3, concurrency=1)
    jobs[2].cancel()
    assert ids(connection, 'rq:rl:k:rate_limited') == [jobs[1].id]
    jobs[0].cancel()
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[1].id]
    assert status(connection, jobs[1]) == 'queued'
    assert status(connection, jobs[2]) == 'canceled'


def test_cancel_with_a_pipeline_is_refused_for_a_rate_limited_job(connection: redis.Redis, queue: Queue) -> None:
    (job,) = enqueue_limited(queue, 1)
    with connection.pipeline() as pipe, pytest.raises(InvalidJobOperation):
        job.cancel(pipeline=pipe)
    assert status(connection, job) == 'queued'


def test_cancel_while_it_runs_keeps_the_slot_until_the_run_ends(connection: redis.Redis, queue: Queue) -> None:
    first, second = enqueue_limited(queue, 2, concurrency=1)
    start(first)
    connection.zadd(f'rq:executions:{first.id}', {'e1': now().timestamp() + 600})  # a live run
    first.cancel()
    assert ids(connection, 'rq:rl:k:allowed') == [first.id]
    connection.delete(f'rq:executions:{first.id}')  # its run ended
    cleanup_all(connection)
    assert ids(connection, 'rq:rl:k:allowed') == [second.id]


def test_delete_gives_the_slot_back(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 3, concurrency=1)
    jobs[2].delete()
    assert ids(connection, 'rq:rl:k:rate_limited') == [jobs[1].id]
    jobs[0].delete()
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[1].id]
    assert queued(connection) == [jobs[1].id]


def test_a_result_ttl_of_zero_deletes_the_job_and_frees_its_slot(connection: redis.Redis, queue: Queue) -> None:
    first, second = enqueue_limited(queue, 2, concurrency=1, result_ttl=0)
    start(first)
    record_success(first, queue, 1, worker_name='w')
    assert not connection.exists(first.key)
    assert ids(connection, 'rq:rl:k:allowed') == [second.id]


# -- requeue and dependents -----------------------------------------------------------------------


def test_requeue_goes_through_the_limiter(connection: redis.Redis, queue: Queue) -> None:
    failed, holder = enqueue_limited(queue, 2, concurrency=1)
    start(failed)
    record_failure(failed, queue, 'boom', worker_name='w')
    assert status(connection, holder) == 'queued'
    FailedJobRegistry(queue=queue).requeue(failed.id)
    assert status(connection, failed) == 'rate_limited'
    start(holder)
    record_success(holder, queue, 1, worker_name='w')
    assert status(connection, failed) == 'queued'


def test_a_released_dependent_goes_through_the_limiter(connection: redis.Redis, queue: Queue) -> None:
    holder = queue.enqueue(rqtest_jobs.add, 1, rate_limit=RateLimit('k', 1))
    parent = Queue('other', connection=connection).enqueue(rqtest_jobs.add, 2)
    child = queue.enqueue(rqtest_jobs.add, 3, depends_on=parent, rate_limit=RateLimit('k', 1))
    assert status(connection, child) == 'deferred'
    start(parent)
    record_success(parent, Queue('other', connection=connection), 3, worker_name='w')
    assert status(connection, child) == 'rate_limited'
    assert connection.zscore('rq:deferred:default', child.id) is None
    assert queued(connection) == [holder.id]
    start(holder)
    record_success(holder, queue, 1, worker_name='w')
    assert queued(connection) == [child.id]


# -- maintenance and the registry API ----------------------------------------------------------------


def test_cleanup_frees_a_leaked_slot_and_forgets_an_unused_key(connection: redis.Redis, queue: Queue) -> None:
    first, second = enqueue_limited(queue, 2, concurrency=1)
    connection.hset(first.key, 'status', 'finished')  # ended without giving the slot back (a 2.12 worker)
    clean_registries(queue)
    assert ids(connection, 'rq:rl:k:allowed') == [second.id]
    assert status(connection, second) == 'queued'
    connection.delete(second.key)  # gone
    cleanup_all(connection)
    assert connection.keys('rq:rl*') == []


def test_cleanup_keeps_the_slots_of_queued_and_started_jobs(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 3)
    start(jobs[0])
    cleanup_all(connection)
    assert ids(connection, 'rq:rl:k:allowed') == [jobs[0].id, jobs[1].id]
    assert status(connection, jobs[2]) == 'rate_limited'


def test_registry_api(connection: redis.Redis, queue: Queue) -> None:
    jobs = enqueue_limited(queue, 3, concurrency=1)
    registry = RateLimitRegistry.from_job(jobs[0])
    assert [r.key for r in RateLimitRegistry.all(connection)] == ['k']
    assert (registry.config_key, registry.allowed_key, registry.rate_limited_key) == (
        'rq:rl:k',
        'rq:rl:k:allowed',
        'rq:rl:k:rate_limited',
    )
    assert registry.concurrency == 1
    assert registry.get_allowed_job_ids() == [jobs[0].id]
    assert registry.get_rate_limited_job_ids() == [jobs[1].id, jobs[2].id]
    assert (registry.get_allowed_job_count(), registry.get_rate_limited_job_count()) == (1, 2)
    assert registry.acquire_and_enqueue(2) == [jobs[1].id]  # (a caller's concurrency, not stored)
    assert registry.release_and_enqueue(jobs[0].id) == []  # the stored concurrency, 1, is still taken
    assert registry.release_and_enqueue(jobs[1].id) == [jobs[2].id]
    assert registry.release_stale_and_enqueue(jobs[2].id) == []  # queued: it keeps its slot
    assert registry.get_allowed_job_ids() == [jobs[2].id]
    with pytest.raises(ValueError):
        RateLimitRegistry.from_job(queue.enqueue(rqtest_jobs.add, 1))


def test_release_slot_follows_the_cached_status(connection: redis.Redis, queue: Queue) -> None:
    first, second = enqueue_limited(queue, 2, concurrency=1)
    assert release_slot(first) == []  # queued: holds its slot
    first._status = JobStatus.FINISHED
    assert release_slot(first) == [second.id]

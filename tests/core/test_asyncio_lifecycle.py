"""``rq.asyncio.Job.cancel``/``requeue``/``delete`` leave Redis as the synchronous methods do.

Each case builds the same state with the synchronous API (jobs failed the way a worker records a
failure, ``rq._outcome``), then runs the operation through ``rq.job.Job`` and through
``rq.asyncio.Job`` on two copies of that state, and compares the raw Redis data and the returns.
The cases are those of test_lifecycle.py, test_dependencies.py and test_rate_limit.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
from asyncio_support import Setup, run_async, twice
from redis_server import RedisServer
from rq import Queue, RateLimit
from rq import asyncio as rq_asyncio
from rq._outcome import record_failure
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.results import Result


def fail(connection: redis.Redis, job_id: str) -> None:
    """Record a failed run of ``job_id`` as a worker does (off its queue, started, then failed)."""
    job = Job.fetch(job_id, connection=connection)
    connection.lrem(f'rq:queue:{job.origin}', 0, job.id)
    connection.hset(job.key, 'status', 'started')
    job._status = JobStatus.STARTED
    record_failure(job, Queue(job.origin, connection=connection), 'Traceback: boom', worker_name='w')


def family(connection: redis.Redis) -> None:
    """``p`` queued, ``c`` deferred behind it, ``c2`` behind ``p`` and ``q``; ``s`` scheduled."""
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.say_hello, job_id='p', meta={'m': 1})
    queue.enqueue(rqtest_jobs.say_hello, job_id='q')
    queue.enqueue(rqtest_jobs.say_hello, job_id='c', depends_on='p')
    Queue('low', connection=connection).enqueue(rqtest_jobs.say_hello, job_id='c2', depends_on=['p', 'q'])
    queue.enqueue(rqtest_jobs.say_hello, job_id='lenient', depends_on=Dependency(['p'], allow_failure=True))
    queue.enqueue_in(datetime.timedelta(hours=1), rqtest_jobs.say_hello, job_id='s')


def failed_family(connection: redis.Redis) -> None:
    family(connection)
    Queue(connection=connection).enqueue(rqtest_jobs.say_hello, job_id='f', ttl=300)
    fail(connection, 'f')
    Queue(connection=connection).enqueue(rqtest_jobs.say_hello, job_id='first')


def limited(connection: redis.Redis) -> None:
    """``r0`` holds the slot of ``k``; ``r1``, ``r2`` wait; ``rf`` (limited too) failed."""
    queue = Queue(connection=connection)
    for n in range(3):
        queue.enqueue(rqtest_jobs.add, n, job_id=f'r{n}', rate_limit=RateLimit('k', 1))
    queue.enqueue(rqtest_jobs.add, 9, job_id='rf', rate_limit=RateLimit('free', 1))
    fail(connection, 'rf')
    queue.enqueue(rqtest_jobs.add, 8, job_id='rg', rate_limit=RateLimit('free', 1))


def grouped(connection: redis.Redis) -> None:
    family(connection)
    Queue(connection=connection).enqueue_many(
        [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'g{n}') for n in range(3)], group_id='grp'
    )
    job = Job.fetch('g1', connection=connection)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=2, worker_name='w')


@dataclass
class Case:
    setup: Setup
    job_id: str
    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


CASES = {
    'cancel-queued': Case(family, 'p', 'cancel'),
    'cancel-deferred': Case(family, 'c', 'cancel'),
    'cancel-scheduled': Case(family, 's', 'cancel'),
    'cancel-releasing-dependents': Case(family, 'p', 'cancel', {'enqueue_dependents': True}),
    'cancel-leaving-its-dependencies': Case(family, 'c2', 'cancel', {'remove_from_dependencies': True}),
    'cancel-failed': Case(failed_family, 'f', 'cancel'),
    'cancel-slot-holder': Case(limited, 'r0', 'cancel'),
    'cancel-waiter': Case(limited, 'r2', 'cancel'),
    'requeue': Case(failed_family, 'f', 'requeue'),
    'requeue-at-front': Case(failed_family, 'f', 'requeue', {'at_front': True}),
    'requeue-through-the-limiter': Case(limited, 'rf', 'requeue'),
    'delete-queued': Case(family, 'q', 'delete'),
    'delete-deferred': Case(family, 'c2', 'delete'),
    'delete-with-dependents': Case(family, 'p', 'delete', {'delete_dependents': True}),
    'delete-leaving-the-queue': Case(family, 'q', 'delete', {'remove_from_queue': False}),
    'delete-failed': Case(failed_family, 'f', 'delete'),
    'delete-in-a-group-with-results': Case(grouped, 'g1', 'delete'),
    'delete-slot-holder': Case(limited, 'r0', 'delete'),
    'delete-waiter': Case(limited, 'r1', 'delete'),
}


def normalized(value: Any) -> Any:
    """What a method returned, comparable across the two APIs."""
    if isinstance(value, (Job, rq_asyncio.Job)):
        model = value if isinstance(value, Job) else value._model
        return ('job', model.id, model.get_status(refresh=False), model.origin, model.meta)
    return value


@pytest.mark.parametrize('name', list(CASES))
def test_same_data_as_the_sync_api(connection: redis.Redis, redis_server: RedisServer, name: str) -> None:
    case = CASES[name]
    returned: dict[str, Any] = {}

    def sync_call(connection: redis.Redis) -> None:
        job = Job.fetch(case.job_id, connection=connection)
        returned['sync'] = normalized(getattr(job, case.method)(**case.kwargs))

    async def async_call(client: AsyncRedis) -> None:
        job = await rq_asyncio.Job.fetch(case.job_id, connection=client)
        returned['async'] = normalized(await getattr(job, case.method)(**case.kwargs))

    twice(connection, redis_server.port, sync_call, async_call, case.setup)
    assert returned['async'] == returned['sync']


def test_cancel_releases_dependents_into_their_queues(connection: redis.Redis, redis_server: RedisServer) -> None:
    family(connection)

    async def scenario(client: AsyncRedis) -> dict[str, list[str]]:
        return await (await rq_asyncio.Job.fetch('p', connection=client)).cancel(enqueue_dependents=True)

    released = run_async(redis_server.port, scenario)
    assert {name: sorted(ids) for name, ids in released.items()} == {'default': ['c', 'lenient']}
    assert connection.hget('rq:job:c2', 'status') == b'deferred'


def test_the_refusals(connection: redis.Redis, redis_server: RedisServer) -> None:
    failed_family(connection)

    async def scenario(client: AsyncRedis) -> None:
        canceled = await rq_asyncio.Job.fetch('p', connection=client)
        await canceled.cancel()
        with pytest.raises(InvalidJobOperation, match='already canceled'):
            await canceled.cancel()
        queued = await rq_asyncio.Job.fetch('q', connection=client)
        with pytest.raises(InvalidJobOperation, match='failed job registry'):
            await queued.requeue()
        gone = await rq_asyncio.Job.fetch('first', connection=client)
        connection.delete('rq:job:first')
        with pytest.raises(NoSuchJobError):
            await gone.cancel()
        with pytest.raises(InvalidJobOperation, match='failed job registry'):  # (as the sync API)
            await gone.requeue()
        await gone.delete()  # deleting what is gone is no error (as in the sync API)

    run_async(redis_server.port, scenario)
    assert connection.hget('rq:job:q', 'status') == b'queued'


def test_requeue_of_a_job_whose_hash_is_gone(connection: redis.Redis, redis_server: RedisServer) -> None:
    """Both APIs raise NoSuchJobError and drop the dangling entry from the failed registry."""
    raised: dict[str, type[BaseException]] = {}

    def sync_call(connection: redis.Redis) -> None:
        job = Job.fetch('f', connection=connection)
        connection.delete('rq:job:f')
        with pytest.raises(NoSuchJobError) as error:
            job.requeue()
        raised['sync'] = error.type

    async def async_call(client: AsyncRedis) -> None:
        job = await rq_asyncio.Job.fetch('f', connection=client)
        connection.delete('rq:job:f')
        with pytest.raises(NoSuchJobError) as error:
            await job.requeue()
        raised['async'] = error.type

    twice(connection, redis_server.port, sync_call, async_call, failed_family)
    assert raised['async'] is raised['sync'] is NoSuchJobError
    assert connection.zscore('rq:failed:default', 'f') is None

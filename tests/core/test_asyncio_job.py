"""Reading jobs and queues with ``rq.asyncio``: ``Job.fetch``/``fetch_many``/``exists``,
``refresh``, ``get_status``/``get_meta``/``get_position``, the data attributes read through to the
synchronous job, and ``Queue.count``/``get_job_ids``/``fetch_job``; each agrees with the
synchronous API on the same data (test_job.py, test_queue.py)."""

from __future__ import annotations

import datetime
import warnings
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
from asyncio_support import run_async
from redis_server import RedisServer
from rq import Callback, Queue, RateLimit, Repeat, Retry, Webhook
from rq import asyncio as rq_asyncio
from rq.asyncio.job import DATA_ATTRIBUTES
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

pytestmark = pytest.mark.filterwarnings('error::RuntimeWarning')  # a coroutine never awaited


@pytest.fixture
def port(redis_server: RedisServer) -> int:
    return redis_server.port


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)


def full_job(queue: Queue) -> Job:
    """A job with every option set (enqueued by the sync API), behind a queued parent."""
    queue.enqueue(rqtest_jobs.say_hello, job_id='parent')
    return queue.enqueue(
        rqtest_jobs.add,
        1,
        b=2,
        job_id='full',
        job_timeout=30,
        result_ttl=40,
        ttl=500,
        failure_ttl=60,
        description='all of it',
        meta={'owner': 'me'},
        retry=Retry(max=2, interval=[3]),
        repeat=Repeat(times=1, interval=9),
        on_success=Callback(rqtest_jobs.record_success, timeout=7),
        on_failure=Callback(rqtest_jobs.record_failure),
        on_stopped=Callback(rqtest_jobs.record_stopped),
        webhooks=[Webhook('https://example.test/x', 'finished')],
        depends_on='parent',
    )


def test_fetched_job_reads_as_the_sync_one(connection: redis.Redis, port: int, queue: Queue) -> None:
    full_job(queue)
    sync_job = Job.fetch('full', connection=connection)

    async def scenario(client: AsyncRedis) -> dict[str, Any]:
        job = await rq_asyncio.Job.fetch('full', connection=client)
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            return {name: getattr(job, name) for name in sorted(DATA_ATTRIBUTES)}

    read = run_async(port, scenario)
    for name, value in read.items():
        expected = getattr(sync_job, name)
        if name == 'serializer':
            assert value is expected
        elif name in ('key', 'dependents_key', 'dependencies_key'):
            assert value == expected
        elif callable(expected) and not isinstance(expected, type):
            assert value == expected or value() == expected(), name
        else:
            assert value == expected, name


def test_dependency_ids_are_those_stored_with_the_job(connection: redis.Redis, port: int, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.say_hello, job_id='a')
    queue.enqueue(rqtest_jobs.say_hello, job_id='b')
    queue.enqueue(rqtest_jobs.say_hello, job_id='c', depends_on=['b', 'a'])

    async def scenario(client: AsyncRedis) -> list[str]:
        return sorted((await rq_asyncio.Job.fetch('c', connection=client)).dependency_ids)

    assert run_async(port, scenario) == Job.fetch('c', connection=connection).dependency_ids == ['a', 'b']


def test_what_only_the_sync_job_has_is_an_attribute_error(port: int) -> None:
    async def scenario(client: AsyncRedis) -> None:
        job = await rq_asyncio.Queue(connection=client).enqueue(rqtest_jobs.add, 1)
        for name in ('save', 'save_meta', 'is_finished', 'perform', 'set_status'):
            with pytest.raises(AttributeError, match=r'job\.sync\(connection\)'):
                getattr(job, name)

    run_async(port, scenario)


def test_fetch_and_its_errors(connection: redis.Redis, port: int, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.add, 1, job_id='there')

    async def scenario(client: AsyncRedis) -> None:
        job = await rq_asyncio.Job.fetch('there', connection=client)
        assert (job.id, job.args, job.origin) == ('there', (1,), 'default')
        assert (await rq_asyncio.Job.fetch('there:some-execution', connection=client)).id == 'there'
        with pytest.raises(NoSuchJobError):
            await rq_asyncio.Job.fetch('gone', connection=client)
        assert await rq_asyncio.Job.exists('there', client)
        assert not await rq_asyncio.Job.exists('gone', client)
        assert job == await rq_asyncio.Job.fetch('there', connection=client)
        assert len({job, await rq_asyncio.Job.fetch('there', connection=client)}) == 1
        assert repr(job) == '<rq.asyncio.Job there: rqtest_jobs.add(1)>'
        assert job.connection is client
        sync = job.sync(connection)
        assert isinstance(sync, Job) and sync.id == 'there' and sync.connection is connection

    run_async(port, scenario)


def test_fetch_many(connection: redis.Redis, port: int, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.add, 1, job_id='a')
    Queue('jq', connection=connection, serializer='json').enqueue(rqtest_jobs.add, 2, job_id='j')

    async def scenario(client: AsyncRedis) -> list[Any]:
        found = await rq_asyncio.Job.fetch_many(['a', 'missing', 'a:exec'], connection=client)
        as_json = await rq_asyncio.Job.fetch_many(['j'], connection=client, serializer='json')
        return [job.args if job is not None else None for job in [*found, *as_json]]

    assert run_async(port, scenario) == [(1,), None, (1,), [2]]


def test_status_meta_and_refresh_follow_redis(connection: redis.Redis, port: int, queue: Queue) -> None:
    sync_job = queue.enqueue(rqtest_jobs.add, 1, job_id='s', meta={'n': 1})

    async def scenario(client: AsyncRedis) -> None:
        job = await rq_asyncio.Job.fetch('s', connection=client)
        assert await job.get_status() == JobStatus.QUEUED
        sync_job.meta['n'] = 2
        sync_job.save_meta()
        connection.hset('rq:job:s', 'status', 'started')
        assert await job.get_status(refresh=False) == JobStatus.QUEUED
        assert job.meta == {'n': 1}
        assert await job.get_status() == JobStatus.STARTED
        assert await job.get_meta() == {'n': 2}
        connection.hset('rq:job:s', 'description', 'changed')
        await job.refresh()
        assert job.description == 'changed'
        connection.delete('rq:job:s')
        with pytest.raises(InvalidJobOperation):
            await job.get_status()
        with pytest.raises(NoSuchJobError):
            await job.refresh()

    run_async(port, scenario)


def test_position_count_and_ids(connection: redis.Redis, port: int, queue: Queue) -> None:
    for n in range(4):
        queue.enqueue(rqtest_jobs.add, n, job_id=f'q{n}')
    queue.enqueue(rqtest_jobs.add, 9, job_id='deferred', depends_on='q0')
    queue.enqueue_in(datetime.timedelta(hours=1), rqtest_jobs.add, 9, job_id='later')

    async def scenario(client: AsyncRedis) -> None:
        aqueue = rq_asyncio.Queue(connection=client)
        assert await aqueue.count() == queue.count == 4
        assert await aqueue.get_job_ids() == queue.get_job_ids() == ['q0', 'q1', 'q2', 'q3']
        for offset, length in [(1, 2), (2, -1), (0, 0), (3, 5), (9, 1)]:
            assert await aqueue.get_job_ids(offset, length) == queue.get_job_ids(offset, length), (offset, length)
        for job_id in ('q0', 'q2', 'deferred', 'later'):
            job = await rq_asyncio.Job.fetch(job_id, connection=client)
            assert await job.get_position() == Job.fetch(job_id, connection=connection).get_position()
        assert await (await rq_asyncio.Job.fetch('q2', connection=client)).get_position() == 2

    run_async(port, scenario)


def test_fetch_job_of_a_queue(connection: redis.Redis, port: int, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.add, 1, job_id='mine')
    Queue('other', connection=connection).enqueue(rqtest_jobs.add, 1, job_id='theirs')
    connection.rpush('rq:queue:default', 'dangling')

    async def scenario(client: AsyncRedis) -> None:
        aqueue = rq_asyncio.Queue(connection=client)
        mine = await aqueue.fetch_job('mine')
        assert mine is not None and mine.id == 'mine' and isinstance(mine, rq_asyncio.Job)
        assert await aqueue.fetch_job('theirs') is None
        assert await aqueue.fetch_job('dangling') is None

    run_async(port, scenario)
    assert connection.lrange('rq:queue:default', 0, -1) == [b'mine']


def test_a_rate_limited_job_reads_its_limit(connection: redis.Redis, port: int, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.add, 1, job_id='r1', rate_limit=RateLimit('k', 1))
    queue.enqueue(rqtest_jobs.add, 2, job_id='r2', rate_limit=RateLimit('k', 1))

    async def scenario(client: AsyncRedis) -> list[Any]:
        jobs = await rq_asyncio.Job.fetch_many(['r1', 'r2'], connection=client)
        return [(await job.get_status(), job.rate_limit_key, job.rate_limit_concurrency) for job in jobs if job]

    assert run_async(port, scenario) == [(JobStatus.QUEUED, 'k', 1), (JobStatus.RATE_LIMITED, 'k', 1)]

"""``rq.asyncio.Queue``'s other ways in: ``enqueue_many`` (batch calls streamed as the sync API's),
``enqueue_at``/``enqueue_in``/``schedule_job`` and ``enqueue_job`` write what the synchronous API
writes (compared key by key, as in test_asyncio_enqueue.py)."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
from asyncio_support import assert_same_job, run_async, twice
from redis_server import RedisServer
from rq import Queue, Retry
from rq import asyncio as rq_asyncio
from rq._redis import batch_ops, scripts
from rq.exceptions import DuplicateJobError, ReplicationTimeout
from rq.job import Job, JobStatus

AWARE = datetime.datetime(2031, 5, 4, 3, 2, 1, tzinfo=datetime.timezone.utc)


def data(*items: Any) -> list[Any]:
    return [Queue.prepare_data(*item) if isinstance(item, tuple) else item for item in items]


@pytest.fixture
def port(redis_server: RedisServer) -> int:
    return redis_server.port


@pytest.fixture
def tz_kolkata() -> Iterator[None]:
    """A local time zone far from UTC (+05:30), so that naive-means-local shows."""
    old = os.environ.get('TZ')
    os.environ['TZ'] = 'Asia/Kolkata'
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ['TZ']
        else:
            os.environ['TZ'] = old
        time.tzset()


# -- enqueue_many ------------------------------------------------------------------------------


MANY = {
    'ids-and-group': (
        lambda: data(
            (rqtest_jobs.add, (1,), {'b': 2}, None, None, None, None, None, None, 'm1'),
            Queue.prepare_data(rqtest_jobs.add, (2,), job_id='m2', at_front=True, meta={'k': 'v'}),
            Queue.prepare_data(rqtest_jobs.say_hello, job_id='m3', ttl=30, retry=Retry(max=2)),
        ),
        'g1',
    ),
    'random-ids': (lambda: data((rqtest_jobs.add, (1,)), (rqtest_jobs.add, (2,))), None),
    'dependency-inside-the-batch': (
        lambda: data(
            Queue.prepare_data(rqtest_jobs.say_hello, job_id='parent'),
            Queue.prepare_data(rqtest_jobs.say_hello, job_id='child', depends_on='parent'),
            Queue.prepare_data(rqtest_jobs.say_hello, job_id='front', at_front=True),
        ),
        'g2',
    ),
}


@pytest.mark.parametrize('name', list(MANY))
def test_enqueue_many_writes_the_same(connection: redis.Redis, port: int, name: str) -> None:
    items, group_id = MANY[name]

    def sync_call(connection: redis.Redis) -> list[Job]:
        return Queue(connection=connection).enqueue_many(items(), group_id=group_id)

    async def async_call(client: AsyncRedis) -> list[rq_asyncio.Job]:
        return await rq_asyncio.Queue(connection=client).enqueue_many(items(), group_id=group_id)

    sync_jobs, async_jobs = twice(connection, port, sync_call, async_call)
    assert len(sync_jobs) == len(async_jobs)
    for sync_job, async_job in zip(sync_jobs, async_jobs, strict=True):
        assert_same_job(sync_job, async_job)


@pytest.mark.parametrize('window', [1, 2, 100])
def test_enqueue_many_in_batches(
    connection: redis.Redis, port: int, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """However the jobs are cut into batch calls, they end up as the sync API puts them (order,
    at_front, dependencies inside the call)."""
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', window)
    count = 1201 if window == 100 else 7

    def items() -> list[Any]:
        return [
            Queue.prepare_data(
                rqtest_jobs.add,
                (n,),
                job_id=f'w{n}',
                at_front=n % 3 == 0,
                depends_on=f'w{n - 1}' if n % 5 == 4 else None,
            )
            for n in range(count)
        ]

    def sync_call(connection: redis.Redis) -> list[Job]:
        return Queue(connection=connection).enqueue_many(items(), group_id='wg')

    async def async_call(client: AsyncRedis) -> list[rq_asyncio.Job]:
        return await rq_asyncio.Queue(connection=client).enqueue_many(items(), group_id='wg')

    sync_jobs, async_jobs = twice(connection, port, sync_call, async_call)
    assert [job.id for job in async_jobs] == [job.id for job in sync_jobs]
    statuses = [job._model.get_status(refresh=False) for job in async_jobs]
    assert statuses == [job.get_status(refresh=False) for job in sync_jobs]
    assert JobStatus.DEFERRED in statuses


def test_enqueue_many_takes_asyncio_jobs_as_dependencies(connection: redis.Redis, port: int) -> None:
    async def scenario(client: AsyncRedis) -> list[JobStatus]:
        queue = rq_asyncio.Queue(connection=client)
        parent = await queue.enqueue(rqtest_jobs.say_hello, job_id='p')
        jobs = await queue.enqueue_many(
            [
                queue.prepare_data(rqtest_jobs.say_hello, job_id='c1', depends_on=parent),
                queue.prepare_data(rqtest_jobs.say_hello, job_id='c2', depends_on=[parent]),
            ]
        )
        return [await job.get_status() for job in jobs]

    assert run_async(port, scenario) == [JobStatus.DEFERRED, JobStatus.DEFERRED]
    assert connection.smembers('rq:job:p:dependents') == {b'c1', b'c2'}


def test_enqueue_many_of_nothing(connection: redis.Redis, port: int) -> None:
    async def scenario(client: AsyncRedis) -> list[rq_asyncio.Job]:
        return await rq_asyncio.Queue(connection=client).enqueue_many([])

    assert run_async(port, scenario) == []
    assert connection.dbsize() == 0


@pytest.mark.parametrize(
    'items',
    [
        [Queue.prepare_data(rqtest_jobs.add, (1,), job_id='a'), Queue.prepare_data(rqtest_jobs.add, (2,), timeout=0)],
        [Queue.prepare_data(rqtest_jobs.add, (1,), job_id='a'), Queue.prepare_data(rqtest_jobs.add, (2,), job_id='a')],
        [Queue.prepare_data(rqtest_jobs.add, (1,), job_id='a'), Queue.prepare_data(rqtest_jobs.add, (2,), ttl=-1)],
    ],
    ids=['zero-timeout', 'same-id-twice', 'bad-ttl'],
)
def test_a_bad_item_writes_nothing(connection: redis.Redis, port: int, items: list[Any]) -> None:
    with pytest.raises(ValueError) as from_sync:
        Queue(connection=connection).enqueue_many(items)

    async def scenario(client: AsyncRedis) -> list[rq_asyncio.Job]:
        return await rq_asyncio.Queue(connection=client).enqueue_many(items)

    with pytest.raises(ValueError) as from_async:
        run_async(port, scenario)
    assert str(from_async.value) == str(from_sync.value)
    assert connection.dbsize() == 0


# -- scheduling -------------------------------------------------------------------------------


SCHEDULED = {
    'aware': (AWARE, {}),
    'naive': (datetime.datetime(2031, 5, 4, 3, 2, 1), {}),
    'keywords': (
        AWARE,
        {'job_id': 's1', 'ttl': 500, 'meta': {'a': 1}, 'result_ttl': 7, 'retry': Retry(max=1), 'at_front': True},
    ),
    'unmet-dependency': (AWARE, {'job_id': 's2', 'depends_on': 'nobody-yet'}),
}


@pytest.mark.parametrize('name', list(SCHEDULED))
def test_enqueue_at_writes_the_same(connection: redis.Redis, port: int, tz_kolkata: None, name: str) -> None:
    when, options = SCHEDULED[name]

    def sync_call(connection: redis.Redis) -> Job:
        return Queue(connection=connection).enqueue_at(when, rqtest_jobs.add, 1, b=2, **options)

    async def async_call(client: AsyncRedis) -> rq_asyncio.Job:
        return await rq_asyncio.Queue(connection=client).enqueue_at(when, rqtest_jobs.add, 1, b=2, **options)

    sync_job, async_job = twice(connection, port, sync_call, async_call)
    assert_same_job(sync_job, async_job)
    assert async_job._model.get_status(refresh=False) == JobStatus.SCHEDULED
    expected = when if when.tzinfo else when.astimezone()  # naive is this host's local time
    [(_, score)] = connection.zrange('rq:scheduled:default', 0, -1, withscores=True)
    assert score == int(expected.timestamp())


def test_enqueue_in_writes_the_same(connection: redis.Redis, port: int) -> None:
    delay = datetime.timedelta(minutes=5)

    def sync_call(connection: redis.Redis) -> Job:
        return Queue(connection=connection).enqueue_in(delay, rqtest_jobs.add, 1, job_id='later')

    async def async_call(client: AsyncRedis) -> rq_asyncio.Job:
        return await rq_asyncio.Queue(connection=client).enqueue_in(delay, rqtest_jobs.add, 1, job_id='later')

    before = time.time()
    sync_job, async_job = twice(connection, port, sync_call, async_call)
    after = time.time()
    assert_same_job(sync_job, async_job)
    score = connection.zscore('rq:scheduled:default', 'later')
    assert score is not None and int(before) + 300 <= score <= after + 300


def test_enqueue_at_unique(connection: redis.Redis, port: int) -> None:
    async def scenario(client: AsyncRedis) -> JobStatus:
        queue = rq_asyncio.Queue(connection=client)
        first = await queue.enqueue_at(AWARE, rqtest_jobs.add, 1, job_id='u', unique=True)
        before = await client.hgetall('rq:job:u')
        with pytest.raises(DuplicateJobError, match='u'):
            await queue.enqueue_at(AWARE, rqtest_jobs.add, 2, job_id='u', unique=True)
        with pytest.raises(DuplicateJobError, match='u'):
            await queue.enqueue(rqtest_jobs.add, 3, job_id='u', unique=True)
        assert await client.hgetall('rq:job:u') == before
        return await first.get_status()

    assert run_async(port, scenario) == JobStatus.SCHEDULED
    assert connection.zrange('rq:scheduled:default', 0, -1) == [b'u']
    assert connection.llen('rq:queue:default') == 0


def test_schedule_job_and_enqueue_job_take_a_built_job(connection: redis.Redis, port: int) -> None:
    def sync_call(connection: redis.Redis) -> list[Job]:
        queue = Queue(connection=connection)
        a = Job.create(rqtest_jobs.add, args=(1,), id='built-a', connection=connection, ttl=60)
        b = Job.create(rqtest_jobs.add, args=(2,), id='built-b', connection=connection, depends_on='built-a')
        c = Job.create(rqtest_jobs.add, args=(3,), id='built-c', connection=connection)
        return [queue.schedule_job(a, AWARE), queue.enqueue_job(b), queue.enqueue_job(c, at_front=True)]

    async def async_call(client: AsyncRedis) -> list[rq_asyncio.Job]:
        queue = rq_asyncio.Queue(connection=client)
        a = Job.create(rqtest_jobs.add, args=(1,), id='built-a', connection=client, ttl=60)
        b = Job.create(rqtest_jobs.add, args=(2,), id='built-b', connection=client, depends_on='built-a')
        c = Job.create(rqtest_jobs.add, args=(3,), id='built-c', connection=client)
        return [
            await queue.schedule_job(rq_asyncio.Job(a), AWARE),
            await queue.enqueue_job(rq_asyncio.Job(b)),
            await queue.enqueue_job(rq_asyncio.Job(c), at_front=True),
        ]

    sync_jobs, async_jobs = twice(connection, port, sync_call, async_call)
    for sync_job, async_job in zip(sync_jobs, async_jobs, strict=True):
        assert_same_job(sync_job, async_job)


# -- replicas -----------------------------------------------------------------------------------


def test_an_enqueue_without_its_replicas_raises_with_the_job_written(connection: redis.Redis, port: int) -> None:
    async def scenario(client: AsyncRedis) -> ReplicationTimeout:
        queue = rq_asyncio.Queue('ack', connection=client, replicas=1, replica_timeout=0.05)
        with pytest.raises(ReplicationTimeout) as raised:
            await queue.enqueue(rqtest_jobs.add, 1, 2, job_id='written')
        return raised.value

    error = run_async(port, scenario)
    assert (error.job_id, error.job_ids, error.acknowledged, error.requested) == ('written', ['written'], 0, 1)
    assert connection.lrange('rq:queue:ack', 0, -1) == [b'written']
    assert connection.hget('rq:job:written', 'status') == b'queued'


def test_enqueue_many_without_its_replicas_writes_every_job(
    connection: redis.Redis, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the sync API does: every job is written, then ReplicationTimeout names them all, however
    many round trips the jobs took."""
    monkeypatch.setattr(rq_asyncio.queue, 'MANY_WINDOW', 2)
    items = [Queue.prepare_data(rqtest_jobs.add, (n, 1), job_id=f'r{n}') for n in range(5)]
    with pytest.raises(ReplicationTimeout) as from_sync:
        Queue('ack', connection=connection, replicas=1, replica_timeout=0.05).enqueue_many(items)
    assert connection.llen('rq:queue:ack') == 5
    connection.flushall()

    async def scenario(client: AsyncRedis) -> ReplicationTimeout:
        queue = rq_asyncio.Queue('ack', connection=client, replicas=1, replica_timeout=0.05)
        with pytest.raises(ReplicationTimeout) as raised:
            await queue.enqueue_many(items)
        return raised.value

    error = run_async(port, scenario)
    assert connection.lrange('rq:queue:ack', 0, -1) == [f'r{n}'.encode() for n in range(5)]
    assert error.job_ids == from_sync.value.job_ids


class BreakingConnection(redis.asyncio.connection.Connection):
    """An asyncio connection that is lost on the request holding ``plan['needle']``: ``'after'``
    sending it (it runs, its reply is lost) or ``'before'`` (it never reaches Redis)."""

    plan: ClassVar[dict[str, Any]] = {}

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        plan = BreakingConnection.plan
        data = b''.join(bytes(c) for c in command) if isinstance(command, list) else bytes(command)
        hit = plan.get('needle') is not None and plan['needle'] in data
        if hit and plan['mode'] == 'before':
            plan['needle'] = None
            await asyncio.sleep(0.05)  # what was sent before it runs
            await self.disconnect()
            raise redis.ConnectionError('connection lost (test)')
        await super().send_packed_command(command, check_health)
        if hit:
            plan['needle'] = None
            await asyncio.sleep(0.05)  # it reaches Redis and runs
            await self.disconnect()
            raise redis.ConnectionError('reply lost (test)')


@pytest.mark.parametrize(('mode', 'sent'), [('after', 300), ('before', 200)])
def test_a_lost_connection_leaves_a_note_naming_what_was_enqueued(
    connection: redis.Redis, port: int, monkeypatch: pytest.MonkeyPatch, mode: str, sent: int
) -> None:
    """As the synchronous stream: the batches whose replies were lost are settled (their tokens
    read, or fenced so that they never run), and the error's note names exactly the jobs in Redis."""
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 100)
    connection.script_load(scripts.source('enqueue_batch'))  # (else the first calls answer NOSCRIPT)
    BreakingConnection.plan = {'needle': b'x0250', 'mode': mode}  # in the third batch
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'x{n:04}') for n in range(1234)]

    async def scenario(client: AsyncRedis) -> list[str]:
        pool = redis.asyncio.ConnectionPool(port=port, connection_class=BreakingConnection)
        breaking = AsyncRedis(connection_pool=pool)
        try:
            with pytest.raises(redis.ConnectionError) as caught:
                await rq_asyncio.Queue(connection=breaking).enqueue_many(datas)
        finally:
            await breaking.aclose() if hasattr(breaking, 'aclose') else await breaking.close()
        return list(caught.value.__notes__)

    [note] = run_async(port, scenario)
    found = re.match(r'enqueue_many\(\) stopped part of the way\. Enqueued: (\d+) of 1234 jobs', note)
    assert found is not None, note
    enqueued = int(found.group(1))
    assert enqueued == sent or (enqueued < sent and enqueued % 100 == 0), note
    assert f'Not enqueued: {1234 - enqueued} jobs, positions {enqueued}-1233 (ids x{enqueued:04} .. x1233).' in note
    time.sleep(0.1)
    assert connection.lrange('rq:queue:default', 0, -1) == [f'x{n:04}'.encode() for n in range(enqueued)]


class LosingRedis(AsyncRedis):
    """A client with its own command path that loses the reply to the call holding ``needle``
    (the call runs)."""

    needle: ClassVar[str | None] = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        reply = await super().execute_command(*args, **options)
        if LosingRedis.needle is not None and LosingRedis.needle in [str(arg) for arg in args]:
            LosingRedis.needle = None
            raise redis.ConnectionError('reply lost (test)')
        return reply


def test_a_lost_reply_on_a_client_with_its_own_command_path_is_settled(
    connection: redis.Redis, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One call at a time through the client's own path: the call whose reply was lost is looked
    up by its token, and the note counts it among the jobs enqueued (it ran)."""
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 100)
    LosingRedis.needle = 'x0250'
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'x{n:04}') for n in range(1234)]

    async def scenario(client: AsyncRedis) -> list[str]:
        losing = LosingRedis(connection_pool=client.connection_pool)
        with pytest.raises(redis.ConnectionError) as caught:
            await rq_asyncio.Queue(connection=losing).enqueue_many(datas)
        return list(caught.value.__notes__)

    [note] = run_async(port, scenario)
    assert note.startswith('enqueue_many() stopped part of the way. Enqueued: 300 of 1234 jobs'), note
    assert note.endswith('Not enqueued: 934 jobs, positions 300-1233 (ids x0300 .. x1233).'), note
    assert connection.lrange('rq:queue:default', 0, -1) == [f'x{n:04}'.encode() for n in range(300)]

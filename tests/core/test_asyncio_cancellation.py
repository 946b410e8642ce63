"""An enqueue cancelled anywhere leaves the whole job or nothing, and the client stays usable.

The enqueue's script call is atomic in Redis; what is checked here is the asyncio side: a coroutine
cancelled before its request is written writes nothing; cancelled after, its job is complete; and
the connection it was using is never handed back with a reply still to come (the next calls on the
pool get their own replies). Also: the scripts are loaded again after ``SCRIPT FLUSH``, and clients
that route their own commands (one connection, a subclass) write the same data.
"""

from __future__ import annotations

import asyncio
import datetime
import random
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio.connection
from redis.asyncio import BlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
from asyncio_support import assert_same_data, comparable, run_async
from redis_server import RedisServer
from rq import Queue
from rq import asyncio as rq_asyncio
from rq._redis import async_replies
from rq.job import JobStatus
from worker_process import wait_until


@pytest.fixture
def port(redis_server: RedisServer) -> int:
    return redis_server.port


def reference_fields(connection: redis.Redis, deferred: bool) -> set[bytes]:
    """The fields of a job hash enqueued whole (with the sync API), queued or deferred; then the
    database is set up for the test (empty, or with the unfinished ``parent``)."""
    connection.flushall()
    queue = Queue(connection=connection)
    if deferred:
        queue.enqueue(rqtest_jobs.say_hello, job_id='parent')
    job = queue.enqueue(rqtest_jobs.add, 1, job_id='reference', depends_on='parent' if deferred else None)
    found = set(connection.hkeys(job.key))
    connection.flushall()
    if deferred:
        queue.enqueue(rqtest_jobs.say_hello, job_id='parent')
    return found


def assert_whole_or_nothing(connection: redis.Redis, ids: list[str], fields: set[bytes], deferred: bool = False) -> int:
    """Each id is either a complete job (every field, on its queue once, or deferred with its
    dependency sets) or absent everywhere; returns how many are complete."""
    queued = [raw.decode() for raw in connection.lrange('rq:queue:default', 0, -1)]  # type: ignore[union-attr]
    complete = 0
    for job_id in ids:
        stored = set(connection.hkeys(f'rq:job:{job_id}'))
        in_registry = connection.zscore('rq:deferred:default', job_id) is not None
        in_dependents = connection.sismember('rq:job:parent:dependents', job_id)
        has_dependencies = connection.exists(f'rq:job::{job_id}:dependencies') == 1
        if stored:
            complete += 1
            assert stored == fields, f'{job_id}: fields {sorted(stored ^ fields)} differ from a whole job'
            if deferred:
                assert (in_registry, in_dependents, has_dependencies) == (True, True, True), job_id
                assert job_id not in queued
            else:
                assert queued.count(job_id) == 1, f'{job_id} is {queued.count(job_id)} times on its queue'
        else:
            assert job_id not in queued, f'{job_id} is queued without its hash'
            assert not (in_registry or in_dependents or has_dependencies), f'{job_id} left dependency data'
    return complete


class Gate:
    """Parks the next call of a patched connection method (once armed) until its task is cancelled."""

    def __init__(self) -> None:
        self.armed = False
        self.reached: asyncio.Event | None = None

    def arm(self) -> asyncio.Event:
        self.armed = True
        self.reached = asyncio.Event()
        return self.reached

    async def pause(self) -> None:
        if self.armed and self.reached is not None:
            self.armed = False
            self.reached.set()
            await asyncio.Event().wait()  # until cancelled


@pytest.fixture
def gates(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Gate]]:
    """A gate before each write of a request and before each read of a reply, on every connection:
    on the way script calls take by default (written and read on the connection's stream, see
    rq._redis.async_replies), or through redis-py's ``send_packed_command`` and ``read_response``
    (which a connection class of its own that overrides them takes, as patching them here does;
    and ``enqueue_many``'s stream)."""
    found = {'send': Gate(), 'read': Gate()}
    if request.param == 'direct':
        owner: Any = async_replies
        send_name, read_name = '_send', '_reply'
    else:
        owner = redis.asyncio.connection.AbstractConnection
        send_name, read_name = 'send_packed_command', 'read_response'
    send, read = getattr(owner, send_name), getattr(owner, read_name)

    async def gated_send(*args: Any, **kwargs: Any) -> Any:
        await found['send'].pause()
        return await send(*args, **kwargs)

    async def gated_read(*args: Any, **kwargs: Any) -> Any:
        await found['read'].pause()
        return await read(*args, **kwargs)

    monkeypatch.setattr(owner, send_name, gated_send)
    monkeypatch.setattr(owner, read_name, gated_read)
    yield found


@pytest.mark.parametrize('where', ['send', 'read'])
@pytest.mark.parametrize(
    ('gates', 'what'),
    [
        ('direct', 'queued'),
        ('direct', 'deferred'),
        ('redis-py', 'queued'),
        ('redis-py', 'deferred'),
        ('redis-py', 'many'),
    ],
    indirect=['gates'],
)
def test_cancelled_at_a_known_point(
    connection: redis.Redis, port: int, gates: dict[str, Gate], where: str, what: str
) -> None:
    """Before its request is written: nothing. After (its reply unread): the whole job, and the
    connection dropped rather than given back with that reply to come."""
    deferred = what == 'deferred'
    fields = reference_fields(connection, deferred)
    ids = ['c0', 'c1', 'c2'] if what == 'many' else ['c0']

    async def scenario(client: AsyncRedis) -> tuple[Any, ...]:
        queue = rq_asyncio.Queue(connection=client)
        await client.ping()  # (a connection in the pool)
        await queue.enqueue(rqtest_jobs.add, 0, job_id='warm-up')  # (the scripts loaded)
        await queue.enqueue_many([queue.prepare_data(rqtest_jobs.add, (0,), job_id='warm-up-many')])
        reached = gates[where].arm()
        if what == 'many':
            call = queue.enqueue_many([queue.prepare_data(rqtest_jobs.add, (1,), job_id=i) for i in ids])
        else:
            call = queue.enqueue(rqtest_jobs.add, 1, job_id='c0', depends_on='parent' if deferred else None)
        task = asyncio.ensure_future(call)
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if where == 'read':  # the request was written: the script runs, whole
            await asyncio.to_thread(wait_until, lambda: connection.exists('rq:job:c0') == 1)
        # the next calls on the same pool get their own replies
        assert await client.get('missing') is None
        after = await queue.enqueue(rqtest_jobs.add, 2, job_id='after')
        status = await after.get_status()
        return status, await queue.count(), await queue.get_job_ids()

    status, count, queued_ids = run_async(port, scenario)
    complete = assert_whole_or_nothing(connection, ids, fields, deferred)
    assert complete == (0 if where == 'send' else len(ids))
    assert status == JobStatus.QUEUED
    assert count == connection.llen('rq:queue:default') and queued_ids[-1] == 'after'


@pytest.mark.parametrize('what', ['queued', 'deferred', 'many'])
def test_cancelled_after_any_number_of_steps(connection: redis.Redis, port: int, what: str) -> None:
    """Many enqueues at once, each cancelled after its own number of event loop steps (or a short
    real delay): while connecting, waiting for a connection of a pool of 2, its request written or
    not, its reply read or not. Each job is whole or absent; the pool answers correctly afterwards."""
    deferred = what == 'deferred'
    fields = reference_fields(connection, deferred)
    rng = random.Random(18)

    async def cancel_after(task: asyncio.Future[Any], steps: int, delay: float) -> None:
        for _ in range(steps):
            await asyncio.sleep(0)
        if delay:
            await asyncio.sleep(delay)
        task.cancel()

    def calls(queue: rq_asyncio.Queue, ids: list[str]) -> list[Any]:
        if what == 'many':
            batches = [ids[i : i + 4] for i in range(0, len(ids), 4)]
            return [
                queue.enqueue_many([queue.prepare_data(rqtest_jobs.add, (1,), job_id=i) for i in b]) for b in batches
            ]
        depends_on = 'parent' if deferred else None
        return [queue.enqueue(rqtest_jobs.add, 1, job_id=i, depends_on=depends_on) for i in ids]

    def scenario(rounds: list[list[str]]) -> Any:
        async def run(client: AsyncRedis) -> list[str]:
            queue = rq_asyncio.Queue(connection=client)
            outcomes = []
            for ids in rounds:
                tasks = []
                for index, call in enumerate(calls(queue, ids)):
                    task = asyncio.ensure_future(call)
                    tasks.append(task)
                    if index % 13 == 0:
                        task.cancel()  # before its first step
                        continue
                    delay = rng.choice([0, 0, 0.0001, 0.0005, 0.001])
                    tasks.append(asyncio.ensure_future(cancel_after(task, index % 13 - 1, delay)))
                outcomes += [type(result).__name__ for result in await asyncio.gather(*tasks, return_exceptions=True)]
                assert await client.get('missing') is None
            after = await queue.enqueue(rqtest_jobs.add, 2, job_id=f'after-{rounds[0][0]}')
            assert await after.get_status() == JobStatus.QUEUED
            assert await queue.count() == connection.llen('rq:queue:default')
            return outcomes

        return run

    every_id = []
    for pool in ('fresh', 'two'):
        rounds = [[f'{pool}{n}-{i}' for i in range(40)] for n in range(4)]
        every_id += [job_id for ids in rounds for job_id in ids]
        options = {'connection_pool': BlockingConnectionPool(port=port, max_connections=2)} if pool == 'two' else {}
        assert 'CancelledError' in run_async(port, scenario(rounds), **options)
    complete = assert_whole_or_nothing(connection, every_id, fields, deferred)
    assert 0 < complete < len(every_id)  # (both outcomes were reached)


@pytest.mark.parametrize('pool', ['default', 'three-connections'])
def test_concurrent_enqueues_get_their_own_replies(connection: redis.Redis, port: int, pool: str) -> None:
    """300 enqueues at once (their requests written together), every 7th cancelled on the way,
    and reads of job hashes in between: each coroutine gets the outcome of its own job (queued, or
    deferred behind an unfinished parent) and each read its own hash."""
    Queue(connection=connection).enqueue(rqtest_jobs.say_hello, job_id='parent')

    async def scenario(client: AsyncRedis) -> list[Any]:
        queue = rq_asyncio.Queue(connection=client)
        tasks = []
        for n in range(300):
            depends_on = 'parent' if n % 3 == 0 else None
            tasks.append(
                asyncio.ensure_future(queue.enqueue(rqtest_jobs.add, n, job_id=f'n{n}', depends_on=depends_on))
            )
            if n % 10 == 5:
                tasks.append(asyncio.ensure_future(rq_asyncio.Job.fetch('parent', connection=client)))
        await asyncio.sleep(0)
        for task in tasks[::7]:
            task.cancel()
        found = []
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, rq_asyncio.Job):
                found.append((result.id, result._model.get_status(refresh=False)))
            else:
                found.append(type(result).__name__)
        return found

    options = {'connection_pool': BlockingConnectionPool(port=port, max_connections=3)} if pool != 'default' else {}
    found = run_async(port, scenario, **options)
    assert 'CancelledError' in found
    enqueued = [item for item in found if isinstance(item, tuple) and item[0] != 'parent']
    assert len(enqueued) > 200
    for job_id, status in enqueued:
        n = int(job_id[1:])
        assert status == (JobStatus.DEFERRED if n % 3 == 0 else JobStatus.QUEUED), job_id
    assert all(item[1] == JobStatus.QUEUED for item in found if isinstance(item, tuple) and item[0] == 'parent')
    deferred = {raw.decode() for raw in connection.zrange('rq:deferred:default', 0, -1)}
    queued = [raw.decode() for raw in connection.lrange('rq:queue:default', 0, -1)]
    for job_id, status in enqueued:
        assert (job_id in deferred) if status == JobStatus.DEFERRED else (queued.count(job_id) == 1), job_id


# -- scripts the server does not know --------------------------------------------------------------


@pytest.mark.parametrize('client_kind', ['pool', 'single-connection'])
def test_script_flush(connection: redis.Redis, port: int, client_kind: str) -> None:
    options = {'single_connection_client': True} if client_kind == 'single-connection' else {}

    async def scenario(client: AsyncRedis) -> list[JobStatus]:
        queue = rq_asyncio.Queue(connection=client)
        await client.script_flush()
        first = await queue.enqueue(rqtest_jobs.add, 1, job_id='a')
        await client.script_flush()
        many = await queue.enqueue_many([queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'm{n}') for n in range(3)])
        await client.script_flush()
        scheduled = await queue.enqueue_in(datetime.timedelta(hours=1), rqtest_jobs.add, 2)
        await client.script_flush()
        await first.cancel()
        connection.zadd('rq:failed:default', {'a': 1})  # (as if it had failed)
        await client.script_flush()
        await first.requeue()
        return [await job.get_status() for job in (first, *many, scheduled)]

    statuses = run_async(port, scenario, **options)
    assert statuses == [JobStatus.QUEUED] * 4 + [JobStatus.SCHEDULED]
    assert connection.lrange('rq:queue:default', 0, -1) == [b'm0', b'm1', b'm2', b'a']


class CountingRedis(AsyncRedis):
    """A client with its own command path (as a wrapper that counts or traces commands)."""

    calls = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        type(self).calls += 1
        return await super().execute_command(*args, **options)


@pytest.mark.parametrize('client_kind', ['single-connection', 'own-command-path'])
def test_clients_with_their_own_command_path_write_the_same(
    connection: redis.Redis, port: int, client_kind: str
) -> None:
    async def enqueue(client: AsyncRedis) -> None:
        queue = rq_asyncio.Queue(connection=client)
        await queue.enqueue(rqtest_jobs.add, 1, job_id='a', meta={'m': 1}, ttl=60)
        await queue.enqueue(rqtest_jobs.add, 2, job_id='b', depends_on='a')
        await queue.enqueue_many([queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'm{n}') for n in range(3)])

    run_async(port, enqueue)
    direct = comparable(connection)
    connection.flushall()
    if client_kind == 'single-connection':
        run_async(port, enqueue, single_connection_client=True)
    else:

        async def counted(client: AsyncRedis) -> None:
            await enqueue(CountingRedis(connection_pool=client.connection_pool))

        CountingRedis.calls = 0
        run_async(port, counted)
        assert CountingRedis.calls >= 3  # (two enqueues, then one batch call for the three jobs)
    assert_same_data(direct, comparable(connection))

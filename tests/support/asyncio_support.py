"""Helpers for the tests of ``rq.asyncio`` without pytest-asyncio: run a coroutine on a fresh event
loop with its own ``redis.asyncio`` client of the test server, compare what the synchronous and the
asyncio API write to Redis, and keep a coroutine waiting (in a thread of its own) while the test
does something else, such as running a worker.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import redis
from redis.asyncio import Redis as AsyncRedis

from redis_dump import snapshot
from redis_events import wait_blocked
from rq import asyncio as rq_asyncio
from rq.job import Job

T = TypeVar('T')

#: Seconds two TTLs, or two time scores ("now + n"), of the compared runs may differ: the runs are
#: moments apart, and Redis expiries are whole seconds.
TIME_SLACK = 3.0

Scenario = Callable[[AsyncRedis], Awaitable[T]]
#: What a test writes before a compared run (with the synchronous API).
Setup = Callable[[redis.Redis], None]
_RANDOM_ID = re.compile(r'^[0-9a-f]{32}$|^[0-9a-f-]{36}$')


def run_async(port: int, scenario: Scenario[T], **client_options: Any) -> T:
    """Run ``scenario(client)`` to the end on a new event loop; ``client`` is a ``redis.asyncio.Redis``
    of the test server, made with ``client_options`` (closed afterwards, with its pool)."""

    async def main() -> T:
        client = AsyncRedis(port=port, **client_options)
        try:
            return await scenario(client)
        finally:
            await client.aclose(close_connection_pool=True)  # (a pool given in client_options too)

    return asyncio.run(main())


def renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` (a snapshot, or any part of one) with each job id of ``names`` replaced by its
    stand-in, in keys and values alike: two runs that made jobs with random ids become comparable."""
    if isinstance(value, dict):
        return {renamed(k, names): renamed(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(renamed(item, names) for item in value)
    if isinstance(value, bytes):
        for old, new in names.items():
            value = value.replace(old.encode(), new.encode())
        return value
    if isinstance(value, str):
        for old, new in names.items():
            value = value.replace(old, new)
        return value
    return value


def comparable(client: redis.Redis, ids: list[str] | None = None) -> dict[str, Any]:
    """A snapshot of the database (timestamps reduced to their format; a ``signature`` field to its
    presence) with the job ids ``ids`` replaced by ``<job0>``, ``<job1>``..."""
    data = snapshot(client)
    for entry in data.values():
        if entry['type'] == 'hash' and 'signature' in entry['value']:
            entry['value']['signature'] = '<signature>'
    return renamed(data, {job_id: f'<job{i}>' for i, job_id in enumerate(ids or [])})


def differences(sync: dict[str, Any], asyncio_: dict[str, Any]) -> list[str]:
    """Where two :func:`comparable` snapshots differ: keys, types, values, TTLs (up to
    :data:`TIME_SLACK`), sorted-set scores (times up to :data:`TIME_SLACK`, others exactly)."""
    problems = []
    for key in sorted(set(sync) | set(asyncio_)):
        if key not in asyncio_:
            problems.append(f'{key}: only the sync API writes it: {sync[key]}')
            continue
        if key not in sync:
            problems.append(f'{key}: only the asyncio API writes it: {asyncio_[key]}')
            continue
        mine, theirs = asyncio_[key], sync[key]
        if mine['type'] != theirs['type']:
            problems.append(f'{key}: type {mine["type"]} (asyncio) vs {theirs["type"]} (sync)')
            continue
        if not _same_ttl(mine['ttl'], theirs['ttl']):
            problems.append(f'{key}: TTL {mine["ttl"]} (asyncio) vs {theirs["ttl"]} (sync)')
        if mine['type'] == 'zset':
            if not _same_scores(mine['value'], theirs['value']):
                problems.append(f'{key}: {mine["value"]} (asyncio) vs {theirs["value"]} (sync)')
        elif mine['type'] == 'hash':
            for field in sorted(set(mine['value']) | set(theirs['value'])):
                a, b = mine['value'].get(field), theirs['value'].get(field)
                if a != b:
                    problems.append(f'{key} field {field}: {a!r} (asyncio) vs {b!r} (sync)')
        elif mine['value'] != theirs['value']:
            problems.append(f'{key}: {mine["value"]} (asyncio) vs {theirs["value"]} (sync)')
    return problems


def _same_ttl(a: Any, b: Any) -> bool:
    if a == b:
        return True
    return isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0 and abs(a - b) <= TIME_SLACK


def _same_scores(a: list[tuple[bytes, float]], b: list[tuple[bytes, float]]) -> bool:
    """Same members; equal scores, or two times ("now + n", in order of the moment each was
    written, which may cross a second) within :data:`TIME_SLACK`."""
    scores = dict(b)
    if len(a) != len(b) or set(scores) != {member for member, _ in a}:
        return False
    return all(x == scores[m] or (x > 1e9 and abs(x - scores[m]) <= TIME_SLACK) for m, x in a)


def assert_same_data(sync: dict[str, Any], asyncio_: dict[str, Any]) -> None:
    problems = differences(sync, asyncio_)
    assert not problems, 'the asyncio API wrote other data than the sync API:\n' + '\n'.join(problems)


def random_ids(returned: Any) -> list[str]:
    """The generated ids of the jobs in ``returned`` (a job, a list of jobs, or anything else)."""
    jobs = returned if isinstance(returned, list) else [returned]
    ids = [getattr(job, 'id', None) for job in jobs]
    return [job_id for job_id in ids if isinstance(job_id, str) and _RANDOM_ID.match(job_id)]


def twice(
    connection: redis.Redis,
    port: int,
    sync_call: Callable[[redis.Redis], Any],
    async_call: Callable[[AsyncRedis], Any],
    setup: Setup | None = None,
) -> tuple[Any, Any]:
    """Run the same thing through both APIs, each on an empty database after ``setup``; assert
    that they wrote the same data and return what each returned."""
    connection.flushall()
    if setup is not None:
        setup(connection)
    from_sync = sync_call(connection)
    sync_data = comparable(connection, random_ids(from_sync))
    connection.flushall()
    if setup is not None:
        setup(connection)
    from_async = run_async(port, async_call)
    assert_same_data(sync_data, comparable(connection, random_ids(from_async)))
    return from_sync, from_async


def assert_same_job(sync_job: Job, async_job: rq_asyncio.Job) -> None:
    """The returned jobs agree (status, data, options; times by presence)."""
    assert isinstance(async_job, rq_asyncio.Job)
    assert async_job._model.get_status(refresh=False) == sync_job.get_status(refresh=False)
    names = [
        'origin', 'description', 'func_name', 'args', 'kwargs', 'meta', 'timeout', 'ttl', 'result_ttl',
        'failure_ttl', 'retries_left', 'retry_intervals', 'repeats_left', 'repeat_intervals', 'group_id',
        'allow_dependency_failures', 'enqueue_at_front', 'rate_limit_key', 'rate_limit_concurrency', 'webhooks',
    ]  # fmt: skip
    for name in names:
        assert getattr(async_job, name) == getattr(sync_job, name), name
    assert async_job._model._dependency_ids == sync_job._dependency_ids
    assert (async_job.enqueued_at is None) == (sync_job.enqueued_at is None)
    if not _RANDOM_ID.match(sync_job.id):
        assert async_job.id == sync_job.id


class Waiter(Generic[T]):
    """A coroutine run in a thread of its own, on its own event loop and client, so that the test's
    thread is free to do what the coroutine waits for (run a worker, write a result)."""

    def __init__(self, port: int, scenario: Scenario[T]) -> None:
        self._outcome: list[Any] = []
        self._thread = threading.Thread(target=self._run, args=(port, scenario), daemon=True)
        self._thread.start()

    def _run(self, port: int, scenario: Scenario[T]) -> None:
        try:
            self._outcome.append(('value', run_async(port, scenario)))
        except BaseException as exc:
            self._outcome.append(('error', exc))

    def wait_until_blocked(self, connection: redis.Redis, command: str = 'xread') -> None:
        """Return once the coroutine (or another client) is blocked in ``command`` on the server;
        fail if the coroutine has finished instead."""
        wait_blocked(connection, command)
        assert self._thread.is_alive(), f'the coroutine finished instead of waiting: {self._outcome}'

    def result(self, timeout: float = 60.0) -> T:
        """What the coroutine returned (its exception raised here)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f'the coroutine is still running after {timeout} s'
        kind, value = self._outcome[0]
        if kind == 'error':
            raise value
        return value  # type: ignore[no-any-return]

"""Script replies read straight from a redis.asyncio connection's stream (rq._redis.async_replies)
read the same as redis-py reads them, in RESP2 and RESP3, and the connection behaves as redis-py's
would: push messages go to its handler, a silent server meets the socket timeout, a closed
connection is connected afresh, and connection classes of one's own keep redis-py's way."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.asyncio.connection import Connection

from asyncio_support import run_async
from redis_server import RedisServer
from rq import Queue
from rq import asyncio as rq_asyncio
from rq._redis import async_replies, scripts
from rq._redis.pool import checkout

#: Lua return values, each read by both readers.
RETURNS = [
    'return 7',
    'return -1',
    "return 'text'",
    "return ''",
    'return nil',
    'return false',
    'return true',
    "return {1, 'two', {3, false}, {}}",
    "return redis.status_reply('FINE')",
    "return redis.error_reply('ERR something odd')",
    "return {1, redis.error_reply('ERR inside')}",
    "return string.rep('x', 70000)",  # (longer than a StreamReader's line limit)
    "return 'a\\r\\nb'",
    'redis.setresp(3); return {map={a=1}}',
    'redis.setresp(3); return {double=1.5}',
    'redis.setresp(3); return {1, {double=2.5}}',
    'redis.setresp(3); return true',
    "redis.setresp(3); return {big_number='123456789012345678901234567890'}",
    'redis.setresp(3); return {set={x=true}}',
]


def _comparable(reply: Any) -> Any:
    if isinstance(reply, Exception):
        return (type(reply), str(reply))
    if isinstance(reply, list):
        return [_comparable(item) for item in reply]
    if isinstance(reply, dict):
        return {key: _comparable(value) for key, value in reply.items()}
    if isinstance(reply, (set, frozenset)):  # (a RESP3 set: a list from redis-py 6 on, a set before)
        return sorted(reply)
    return reply


async def both_readers(client: redis.asyncio.Redis, requests: list[bytes]) -> tuple[list[Any], list[Any]]:
    connection = await checkout(client.connection_pool, 'EVAL')
    try:
        stream = async_replies.stream_of(connection)
        assert stream is not None
        direct = await async_replies.exchange(connection, stream, b''.join(requests), [len(requests)], 'not loaded')
        via_redis_py = []
        for request in requests:
            await connection.send_packed_command([request])
            try:
                via_redis_py.append(await connection.read_response())
            except redis.exceptions.ResponseError as exc:
                via_redis_py.append(exc)
    finally:
        await client.connection_pool.release(connection)
    return _comparable(direct[0]), _comparable(via_redis_py)


@pytest.fixture
def port(connection: redis.Redis, redis_server: RedisServer) -> int:
    """The test server's port (emptied first)."""
    return redis_server.port


@pytest.mark.parametrize('protocol', [2, 3])
def test_every_kind_of_reply_reads_as_redis_py_reads_it(port: int, protocol: int) -> None:
    requests = [scripts.pack(['EVAL', source, 0]) for source in RETURNS]
    requests.append(scripts.pack(['EVALSHA', '0' * 40, 0]))

    async def scenario(client: redis.asyncio.Redis) -> tuple[list[Any], list[Any]]:
        return await both_readers(client, requests)

    direct, via_redis_py = run_async(port, scenario, protocol=protocol)
    assert direct[:-1] == via_redis_py[:-1]
    assert direct[-1] == 'not loaded'  # (NOSCRIPT)
    assert via_redis_py[-1][0] is redis.exceptions.NoScriptError


def test_a_push_message_before_a_reply_goes_to_the_connection_s_handler(port: int) -> None:
    other = redis.Redis(port=port)

    async def scenario(client: redis.asyncio.Redis) -> tuple[Any, list[Any]]:
        connection = await checkout(client.connection_pool, 'EVAL')
        pushed: list[Any] = []

        async def handle(message: list[Any]) -> None:
            pushed.append(message)

        connection._parser.handle_push_response = handle
        try:
            stream = async_replies.stream_of(connection)
            assert stream is not None
            track = [scripts.pack(['CLIENT', 'TRACKING', 'ON']), scripts.pack(['GET', 'watched'])]
            await async_replies.exchange(connection, stream, b''.join(track), [2], None)
            other.set('watched', 'changed')  # (the server pushes an invalidation to the tracking connection)
            await asyncio.sleep(0.05)
            [[reply]] = await async_replies.exchange(
                connection, stream, scripts.pack(['EVAL', 'return 5', 0]), [1], None
            )
        finally:
            await client.connection_pool.release(connection)
        return reply, pushed

    reply, pushed = run_async(port, scenario, protocol=3)
    assert reply == 5
    assert pushed == [[b'invalidate', [b'watched']]]


def test_a_server_that_does_not_answer_meets_the_socket_timeout(port: int) -> None:
    observer = redis.Redis(port=port)

    async def scenario(client: Any) -> tuple[str, int]:
        queue = rq_asyncio.Queue(connection=client)
        await queue.enqueue('rqtest_jobs.add', 1, 2)
        observer.client_pause(1500)
        with pytest.raises(redis.exceptions.TimeoutError) as caught:
            await queue.enqueue('rqtest_jobs.add', 3, 4)
        await asyncio.sleep(1.6)
        await queue.enqueue('rqtest_jobs.add', 5, 6)  # (the connection that timed out was dropped)
        return str(caught.value), await queue.count()

    message, count = run_async(port, scenario, socket_timeout=0.3)
    assert 'no reply within 0.3 s' in message
    assert count == 2  # (the call that timed out was dropped with its connection before the server read it)


def test_the_server_closing_the_held_connection_costs_no_job(port: int) -> None:
    observer = redis.Redis(port=port)

    async def scenario(client: Any) -> int:
        queue = rq_asyncio.Queue(connection=client)
        await queue.enqueue('rqtest_jobs.add', 1, 2)
        observer.client_kill_filter(_type='normal', skipme=True)
        await asyncio.sleep(0.05)
        await queue.enqueue('rqtest_jobs.add', 3, 4)
        return await queue.count()

    assert run_async(port, scenario) == 2


class CountingConnection(Connection):
    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        await super().send_packed_command(command, check_health)


def test_a_connection_class_of_one_s_own_keeps_redis_py_s_way(port: int) -> None:
    async def scenario(client: redis.asyncio.Redis) -> int:
        queue = rq_asyncio.Queue(connection=client)
        for number in range(3):
            await queue.enqueue('rqtest_jobs.add', number, 1)
        return await queue.count()

    pool = redis.asyncio.ConnectionPool(port=port, connection_class=CountingConnection)
    assert run_async(port, scenario, connection_pool=pool) == 3
    assert CountingConnection.sent >= 3
    assert Queue(connection=redis.Redis(port=port)).count == 3

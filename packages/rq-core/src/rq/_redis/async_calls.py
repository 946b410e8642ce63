"""Script calls and commands over ``redis.asyncio``: the asyncio API's way to the same Redis protocol.

The calls are the ones the synchronous code builds (``ops.enqueue_call`` and the other ``*_call``
builders): only the sending differs. As :func:`scripts.call` does for a synchronous client, a plain
``redis.asyncio.Redis`` on a connection pool gets its requests packed here (:func:`scripts.pack`)
and written on a pooled connection in one write, their replies read back in order; any other client
(a single-connection client, ``RedisCluster``, a wrapper with its own ``execute_command``) goes
through its own command path.

The requests of coroutines running at the same time are written together (see :class:`_Writer`).
Cancellation: a coroutine cancelled while its requests are on their way or their replies unread
leaves the write alone (it goes on in its own task); a write that fails or is interrupted drops its
connection (never handed back to the pool with a reply still to come). Each script runs whole or
not at all in Redis, so a cancelled enqueue leaves either the whole job or nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, ConnectionPool
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import ConnectionError, NoScriptError, ResponseError

from . import async_replies, scripts
from .pool import checkout

#: One request as a list of its words: ``['WAIT', 1, 500]``.
Command = Sequence[Any]


async def call(name: str, client: Any, keys: list[str], args: list[Any]) -> Any:
    """Run script ``name`` and return its reply (an error reply raises)."""
    [reply] = await call_many(client, [(name, keys, args)])
    return reply


async def call_many(client: Any, calls: list[scripts.ScriptCall], then: Sequence[Command] = ()) -> list[Any]:
    """Run ``calls`` in one round trip, followed by the plain commands ``then`` on the same
    connection (``WAIT`` after writes: it counts that connection's own writes). Returns every reply
    in order; the first error reply raises. A script the server does not know (after a restart or
    ``SCRIPT FLUSH``) is loaded and the calls are sent again: the scripts that push ids carry a call
    token, so a copy of one that ran returns the first one's reply."""
    if not direct(client):
        return await _one_by_one(client, calls, then)
    requests = [['EVALSHA', scripts.sha(n), len(k), *k, *a] for n, k, a in calls]
    replies = await _exchange(client, requests, then)
    missing = {name for (name, _, _), reply in zip(calls, replies, strict=False) if reply is scripts.NOT_LOADED}
    if missing:
        for name in sorted(missing):
            await client.script_load(scripts.source(name))
        replies = await _exchange(client, requests, then)
    for reply in replies:
        if reply is scripts.NOT_LOADED:
            raise NoScriptError('a script was flushed from the server while it was being called')
        if isinstance(reply, ResponseError):
            raise reply
    return replies


def direct(client: Any) -> bool:
    """Whether requests may bypass the client's command path (see :func:`scripts.direct`)."""
    return (
        isinstance(client, AsyncRedis)
        and getattr(client, 'connection', None) is None
        and type(client).execute_command is AsyncRedis.execute_command
    )


async def _exchange(client: Any, commands: list[list[Any]], then: Sequence[Command]) -> list[Any]:
    requests = [*commands, *then]
    packed = b''.join(scripts.pack(list(c)) for c in requests)
    return await _writer_of(client.connection_pool).exchange(packed, len(requests))


class _Writer:
    """The requests that the coroutines of one event loop send through one connection pool, written
    together: those submitted during one pass of the loop go out in one write on one connection,
    and each coroutine gets its replies (100 coroutines enqueueing at once cost a few round trips,
    not 100). Each write is a task of its own, so a coroutine cancelled while waiting leaves it
    alone: its requests were written whole or not at all, and the replies are read in any case.

    A writer keeps one connection of a plain ``ConnectionPool`` of ten or more connections for its
    writes (as :mod:`.held_connections` does for synchronous clients): it stays the pool's, counted
    as in use and closed by ``aclose()``; one the server closed meanwhile is connected afresh; a
    write while it is busy takes another from the pool."""

    def __init__(self, pool: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop
        self._waiting: list[tuple[bytes, int, asyncio.Future[list[Any]]]] = []
        self._writes: set[asyncio.Task[None]] = set()
        #: Writes under way (their replies not all read yet).
        self._busy = 0
        self.held: Any = None
        self._held_free = False
        self._held_watch = async_replies.Watch()

    async def exchange(self, packed: bytes, count: int) -> list[Any]:
        """Write ``packed`` (``count`` requests) and return their replies: at once, from this
        coroutine, when no other write is under way (a lone producer waits on no task); otherwise
        with the others waiting for the next write."""
        if self._busy or self._waiting:
            return await self._submit(packed, count)
        self._busy += 1
        try:
            [replies] = await self._write_and_read(packed, [count])
            return replies
        finally:
            self._busy -= 1

    def _submit(self, packed: bytes, count: int) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = self.loop.create_future()
        self._waiting.append((packed, count, future))
        if len(self._waiting) == 1:
            write = self.loop.create_task(self._write())
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
        return future

    async def _write(self) -> None:
        batch, self._waiting = self._waiting, []
        self._busy += 1
        try:
            packed = b''.join(packed for packed, _, _ in batch)
            replies = await self._write_and_read(packed, [count for _, count, _ in batch])
        except BaseException as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._busy -= 1
        for (_, _, future), replies_of_one in zip(batch, replies, strict=True):
            if not future.done():  # (done: its coroutine was cancelled meanwhile)
                future.set_result(replies_of_one)

    async def _write_and_read(self, packed: bytes, counts: list[int]) -> list[list[Any]]:
        """Write ``packed`` on a connection of the pool and read the replies, ``counts[i]`` for
        the i-th submitter. A failed or interrupted exchange drops the connection (a reply may
        still be on its way: it is never reused before it is connected again)."""
        connection = await self._connection()
        try:
            return await _exchange_on(connection, packed, counts, self._held_watch if connection is self.held else None)
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        finally:
            await self._done_with(connection)

    async def _connection(self) -> Any:
        held = self.held
        if held is not None and self._held_free:
            self._held_free = False
            try:
                if await _is_stale(held):
                    await held.disconnect(nowait=True)
                if not held.is_connected:
                    await held.connect()
            except BaseException:
                self._held_free = True  # (Redis out of reach: the next call tries it again)
                raise
            return held
        connection = await checkout_connection(self.pool)
        if held is None and type(self.pool) is ConnectionPool and self.pool.max_connections >= 10:
            self.held = connection
        return connection

    async def _done_with(self, connection: Any) -> None:
        if connection is self.held:
            self._held_free = True
            return
        await _release(self.pool, connection)


async def _is_stale(connection: Any) -> bool:
    """Whether a held connection has something unread or was closed by the server meanwhile (one
    not connected is not: it is connected before its next write)."""
    if not connection.is_connected:
        return False
    stream = async_replies.stream_of(connection)
    if stream is not None:
        return async_replies.is_stale(stream)
    look = getattr(connection, 'can_read', None) or connection.can_read_destructive  # (redis-py 8 / before)
    try:
        return bool(await look())
    except (ConnectionError, OSError):
        return True


async def _exchange_on(
    connection: Any, packed: bytes, counts: list[int], watch: async_replies.Watch | None
) -> list[list[Any]]:
    stream = async_replies.stream_of(connection)
    if stream is not None:
        return await async_replies.exchange(connection, stream, packed, counts, scripts.NOT_LOADED, watch)
    await connection.send_packed_command([packed])
    return [[await read_reply(connection) for _ in range(count)] for count in counts]


async def _release(pool: Any, connection: Any) -> None:
    released = pool.release(connection)  # a coroutine from redis-py 5.0.1 on; a plain call before
    if inspect.isawaitable(released):
        await released


async def checkout_connection(pool: Any) -> Any:
    """A connection of ``pool``. From a pool that blocks when all its connections are out, the
    wait goes on in a task of its own and a coroutine cancelled meanwhile leaves nothing behind:
    the connection the wait brings is handed back (redis-py before 8 loses a connection taken
    while the wait is cancelled: a pool of N connections would run dry after N cancellations)."""
    if not isinstance(pool, BlockingConnectionPool):
        return await checkout(pool, 'EVALSHA')
    waiting = asyncio.ensure_future(checkout(pool, 'EVALSHA'))
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        waiting.add_done_callback(lambda done: _hand_back(pool, done))
        raise


_handing_back: set[asyncio.Future[Any]] = set()


def _hand_back(pool: Any, done: asyncio.Future[Any]) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    _hand_back_later(pool, done.result())


def _hand_back_later(pool: Any, connection: Any) -> None:
    released = pool.release(connection)
    if inspect.isawaitable(released):
        task = asyncio.ensure_future(released)
        _handing_back.add(task)
        task.add_done_callback(_handing_back.discard)


async def read_reply(connection: Any) -> Any:
    """One reply: :data:`scripts.NOT_LOADED` for NOSCRIPT, the exception for another error reply."""
    try:
        return await connection.read_response()
    except NoScriptError:
        return scripts.NOT_LOADED
    except ResponseError as exc:
        return exc


_writers: weakref.WeakKeyDictionary[Any, _Writer] = weakref.WeakKeyDictionary()


def _writer_of(pool: Any) -> _Writer:
    loop = asyncio.get_running_loop()
    writer = _writers.get(pool)
    if writer is None or writer.loop is not loop:
        if writer is not None and writer.held is not None:  # (kept on another event loop: the pool's again)
            _hand_back_later(pool, writer.held)
        writer = _writers[pool] = _Writer(pool, loop)
    return writer


async def _one_by_one(client: Any, calls: list[scripts.ScriptCall], then: Sequence[Command]) -> list[Any]:
    replies = []
    for name, keys, args in calls:
        try:
            reply = await client.evalsha(scripts.sha(name), len(keys), *keys, *args)
        except NoScriptError:
            reply = await client.eval(scripts.source(name), len(keys), *keys, *args)
        replies.append(reply)
    for command in then:
        replies.append(await client.execute_command(*command))
    return replies

"""``enqueue_many``'s stream of batch calls (:mod:`rq._redis.batch_ops`) sent over ``redis.asyncio``:
the same units, written by the same :class:`batch_ops.Stream` (up to ``batch_ops.AHEAD`` calls
unanswered on one connection, a per-job call only once the batches before it answered), only the
writing and reading awaited.

A lost connection is not sent again here (redis.asyncio has no retry policy for a stream of our own):
the units whose replies had not come are settled as :func:`batch_ops.fence` settles them, and the
error is raised. A coroutine cancelled mid-stream drops the connection; the units it had written
and not heard back from are reported unknown (each one is atomic: its jobs are all placed or none).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from . import batch_ops, scripts
from .async_calls import checkout_connection, read_reply


async def send_stream(
    client: Any, units: Iterator[batch_ops.Unit], on_reply: batch_ops.OnReply, on_unknown: batch_ops.OnUnknown
) -> None:
    """Send ``units`` on one pooled connection of ``client`` (a plain ``redis.asyncio.Redis``);
    ``on_reply`` gets each unit that ran, in order; ``on_unknown`` those whose outcome stays unknown.

    Raises:
        ResponseError: a call's error reply (nothing after it was written again).
        NoScriptError: the server keeps forgetting the scripts.
        ConnectionError, TimeoutError: the connection was lost.
    """
    pool = client.connection_pool
    connection = await checkout_connection(pool)
    stream = batch_ops.Stream(units)
    try:
        await _drive(connection, stream, on_reply)
    except batch_ops.CONNECTION_ERRORS:
        await _drop(connection, stream)
        on_unknown(await fence(client, list(stream.uncertain.values()), on_reply))
        raise
    except Exception:  # raised while packing a unit, or an error reply: the connection is sound
        try:
            while stream.in_flight:
                stream.take(await read_reply(connection), on_reply)
        except batch_ops.CONNECTION_ERRORS:
            await _drop(connection, stream)
            on_unknown(await fence(client, list(stream.uncertain.values()), on_reply))
        raise
    except BaseException:  # cancelled: replies may be on their way, the connection is dropped
        await _drop(connection, stream)
        on_unknown(list(stream.uncertain.values()))
        raise
    finally:
        released = pool.release(connection)
        if inspect.isawaitable(released):
            await released


async def _drop(connection: Any, stream: batch_ops.Stream) -> None:
    await connection.disconnect(nowait=True)
    stream.requeue()


async def _drive(connection: Any, stream: batch_ops.Stream, on_reply: batch_ops.OnReply) -> None:
    while (step := stream.next_step()) is not None:
        kind, value = step
        if kind == batch_ops.WRITE:
            await connection.send_packed_command([value])
        elif kind == batch_ops.READ:
            stream.take(await read_reply(connection), on_reply)
        else:
            for name in value:
                await connection.send_command('SCRIPT', 'LOAD', scripts.source(name))
                await connection.read_response()
            stream.resume()


async def fence(client: Any, units: Sequence[batch_ops.Unit], on_reply: batch_ops.OnReply) -> list[batch_ops.Unit]:
    """:func:`batch_ops.fence` over ``redis.asyncio``: whether each unanswered unit ran, and a
    fence under the token of each that did not. Returns the units whose outcome stays unknown."""
    if not units:
        return []
    try:
        async with client.pipeline(transaction=True) as pipe:
            batch_ops.queue_fence(pipe, units)
            replies = await pipe.execute()
    except Exception:  # still out of reach: unknown
        return list(units)
    batch_ops.apply_fence(units, replies, on_reply)
    return []

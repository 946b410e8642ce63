"""A job's results over ``redis.asyncio``: read from its results stream (``rq:results:<id>``), and
waited for with blocking stream reads (``XREAD BLOCK``), never by polling."""

from __future__ import annotations

import time
from typing import Any, cast

from .._redis import keys
from .._redis.results_ops import Entry
from ..results import Result

#: Outcomes after which a job runs again (its retry): a waiter for the final outcome reads on.
_NOT_FINAL = (Result.Type.RETRIED,)


def _restore(job: Any, entry: Entry) -> Result:
    return Result.restore(job.id, entry[0], entry[1], job.connection, job.serializer)


async def latest(job: Any, timeout: float = 0) -> Result | None:
    """The job's newest result, or None; ``timeout > 0`` waits that many seconds for one to appear."""
    key = keys.results_key(job.id)
    if timeout > 0:
        # BLOCK 0 would wait forever: a short positive timeout is never rounded down to it
        reply = await job.connection.xread({key: '0-0'}, block=max(1, int(timeout * 1000)))
        entries = cast('list[Entry]', reply[0][1]) if reply else []
        return _restore(job, entries[-1]) if entries else None
    newest = cast('list[Entry]', await job.connection.xrevrange(key, '+', '-', count=1))
    return _restore(job, newest[0]) if newest else None


async def every(job: Any) -> list[Result]:
    """Every result of the job, newest first."""
    entries = cast('list[Entry]', await job.connection.xrevrange(keys.results_key(job.id), '+', '-'))
    return [_restore(job, entry) for entry in entries]


async def final(job: Any, timeout: float | None) -> Result | None:
    """The job's final result (a success, failure or stop; not a failure it is retried after),
    waiting for it up to ``timeout`` seconds (None: as long as it takes). None when none came in
    time. Each wait is one blocking read of the entries after the last one seen."""
    key = keys.results_key(job.id)
    newest = cast('list[Entry]', await job.connection.xrevrange(key, '+', '-', count=1))
    if newest and Result.Type(int(newest[0][1][b'type'])) not in _NOT_FINAL:
        return _restore(job, newest[0])
    after = newest[0][0] if newest else '0-0'
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        block = 0 if deadline is None else int((deadline - time.monotonic()) * 1000)
        if deadline is not None and block <= 0:
            return None
        reply = await job.connection.xread({key: after}, block=block)
        for entry in cast('list[Entry]', reply[0][1]) if reply else []:
            after = entry[0]
            if Result.Type(int(entry[1][b'type'])) not in _NOT_FINAL:
                return _restore(job, entry)

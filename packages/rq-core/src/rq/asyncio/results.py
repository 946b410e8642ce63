"""A job's results over ``redis.asyncio``: read from its results stream (``rq:results:<id>``), and
waited for with blocking stream reads (``XREAD BLOCK``), never by polling."""

from __future__ import annotations

import time
from typing import Any, cast

from .._redis import codec, keys
from .._redis.results_ops import Entry
from ..exceptions import InvalidJobOperation, NoSuchJobError
from ..job import JobStatus
from ..results import Result

#: Outcomes after which a job runs again (its retry): a waiter for the final outcome reads on.
_NOT_FINAL = (Result.Type.RETRIED,)

#: Statuses of a job whose run is over: its newest final result is this run's.
_ENDED = frozenset({JobStatus.FINISHED.value, JobStatus.FAILED.value, JobStatus.STOPPED.value})


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
    time. A result written before the job was queued again (requeued, repeated) does not count
    while the job is waiting or running. Each wait is one blocking read of the entries after the
    last one seen.

    Raises:
        NoSuchJobError: the job no longer exists.
        InvalidJobOperation: the job was canceled, or keeps no result (``result_ttl=0``): there is
            nothing to wait for.
    """
    key = keys.results_key(job.id)
    async with job.connection.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.job_key(job.id), ['status', 'result_ttl'])
        pipe.xrevrange(key, '+', '-', count=1)
        (status, result_ttl), newest = await pipe.execute()
    if status is None:
        raise NoSuchJobError(f'No such job: {job.id}')
    if codec.text(status) == JobStatus.CANCELED.value:
        raise InvalidJobOperation(f'Job {job.id} was canceled: it will have no result')
    if result_ttl is not None and codec.text(result_ttl) == '0':
        raise InvalidJobOperation(f'Job {job.id} keeps no result (result_ttl=0): there is none to wait for')
    ended = codec.text(status) in _ENDED
    if newest and ended and Result.Type(int(newest[0][1][b'type'])) not in _NOT_FINAL:
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

"""Producer driver of bench/enqueue_speed.py for our asyncio API (``rq.asyncio``), run by our hatch
environment's python (upstream rq has no such API).

    python _enqueue_rq_async.py single JOBS       # one coroutine: await queue.enqueue(noop), JOBS times
    python _enqueue_rq_async.py concurrent JOBS   # 100 coroutines (asyncio.gather), JOBS / 100 each

Both share one ``rq.asyncio.Queue`` on one ``redis.asyncio.Redis`` (one connection pool). Where
``rq.asyncio`` cannot be imported yet, it prints ``{"missing": "rq.asyncio missing"}``. The queue is
counted afterwards with the synchronous ``Queue``, so that the check does not rest on the API measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import redis
import redis.asyncio

import rq
from _enqueue_common import URL, Figures, figures, run, timed_async, timed_concurrent
from bench_jobs import noop
from rq import Queue as SyncQueue

VERSION = f'rq {rq.VERSION}, redis-py {redis.__version__}'
MISSING = 'rq.asyncio missing'

Timer = Callable[[Callable[[], Any], int], Coroutine[Any, Any, float]]


def async_queue_class() -> Any:
    """``rq.asyncio.Queue``, or None while that module does not exist."""
    try:
        from rq.asyncio import Queue
    except ModuleNotFoundError as error:
        if error.name == 'rq.asyncio':
            return None
        raise
    return Queue


async def measure(timer: Timer, jobs: int) -> Figures:
    queue_class = async_queue_class()
    if queue_class is None:
        return {'missing': MISSING}
    connection = redis.asyncio.Redis.from_url(URL)
    try:
        queue = queue_class('bench', connection=connection)
        seconds = await timer(lambda: queue.enqueue(noop), jobs)
    finally:
        await connection.aclose()
    count = SyncQueue('bench', connection=redis.Redis.from_url(URL)).count
    return figures(jobs, seconds, VERSION, count)


def single(jobs: int) -> Figures:
    return asyncio.run(measure(timed_async, jobs))


def concurrent(jobs: int) -> Figures:
    return asyncio.run(measure(timed_concurrent, jobs))


if __name__ == '__main__':
    run({'single': single, 'concurrent': concurrent})

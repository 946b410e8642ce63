"""SAQ side of bench/io_concurrency.py, run with the interpreter of SAQ's own virtualenv.

    python _io_saq.py enqueue KIND JOBS    # KIND: sleep_sync, sleep_async, noop
    python _io_saq.py work CONCURRENCY     # one Worker(concurrency=CONCURRENCY) until SIGTERM

SAQ awaits coroutine functions as tasks of its event loop; a plain function (``sleep_sync``) it runs on
the worker's own ``ThreadPoolExecutor()``, whose default size is min(32, CPUs + 4) whatever the
concurrency: that is how SAQ runs a blocking job, so it is measured as it is. The trivial job is a
coroutine function, SAQ's natural form.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from saq import Queue, Worker

import _io_jobs


def sleep_sync(ctx: Any) -> None:
    _io_jobs.sleep_sync()


async def sleep_async(ctx: Any) -> None:
    await _io_jobs.sleep_async()


async def noop(ctx: Any) -> None:
    await _io_jobs.noop_async()


def queue() -> Queue:
    return Queue.from_url(os.environ['BENCH_REDIS_URL'], name='bench')


async def enqueue(kind: str, jobs: int) -> None:
    target = queue()
    await target.connect()
    for first in range(0, jobs, 100):
        await asyncio.gather(*(target.enqueue(kind) for _ in range(min(100, jobs - first))))
    await target.disconnect()


async def work(concurrency: int) -> None:
    await Worker(queue(), functions=[sleep_sync, sleep_async, noop], concurrency=concurrency).start()


if __name__ == '__main__':
    if sys.argv[1] == 'enqueue':
        asyncio.run(enqueue(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(work(int(sys.argv[2])))

"""Producer driver of bench/enqueue_speed.py for arq, run with the interpreter of arq's own virtualenv
(constraints/bench-arq.txt). arq's API is asyncio only.

    python _enqueue_arq.py single JOBS       # one coroutine: await pool.enqueue_job('noop'), JOBS times
    python _enqueue_arq.py concurrent JOBS   # 100 coroutines (asyncio.gather), JOBS / 100 each

One ``ArqRedis`` pool from ``create_pool`` with arq's defaults; each ``enqueue_job`` is one
WATCH/MULTI transaction (the job id is checked for a duplicate, then the job and its queue entry are
written).
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import default_queue_name

from _enqueue_common import URL, Figures, figures, run, timed_async, timed_concurrent

VERSION = f'arq {version("arq")}, redis-py {version("redis")}'


async def measure(concurrent: bool, jobs: int) -> Figures:
    pool = await create_pool(RedisSettings.from_dsn(URL))
    try:
        timer = timed_concurrent if concurrent else timed_async
        seconds = await timer(lambda: pool.enqueue_job('noop'), jobs)
        queued = await pool.zcard(default_queue_name)
    finally:
        await pool.aclose()
    return figures(jobs, seconds, VERSION, int(queued))


if __name__ == '__main__':
    run(
        {
            'single': lambda jobs: asyncio.run(measure(False, jobs)),
            'concurrent': lambda jobs: asyncio.run(measure(True, jobs)),
        }
    )

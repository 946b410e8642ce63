"""Producer driver of bench/enqueue_speed.py for SAQ, run with the interpreter of SAQ's own virtualenv
(constraints/bench-saq.txt). SAQ's API is asyncio only.

    python _enqueue_saq.py single JOBS       # one coroutine: await queue.enqueue('noop'), JOBS times
    python _enqueue_saq.py concurrent JOBS   # 100 coroutines (asyncio.gather), JOBS / 100 each

One ``Queue.from_url`` (one ``redis.asyncio`` client and its pool) with SAQ's defaults; each enqueue is
one script call. SAQ lets at most ``max_concurrent_ops`` (20 by default) of a queue's Redis operations
run at once: that default is kept, as a user would have it. SAQ 0.26.4 has no bulk enqueue:
``Queue.map`` gathers single enqueues and then waits for the jobs' results, so it has no bulk row.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from saq import Queue

from _enqueue_common import URL, Figures, figures, run, timed_async, timed_concurrent

VERSION = f'saq {version("saq")}, redis-py {version("redis")}'


async def measure(concurrent: bool, jobs: int) -> Figures:
    queue = Queue.from_url(URL, name='bench')
    await queue.connect()
    try:
        timer = timed_concurrent if concurrent else timed_async
        seconds = await timer(lambda: queue.enqueue('noop'), jobs)
        queued = await queue.count('queued')
    finally:
        await queue.disconnect()
    return figures(jobs, seconds, VERSION, queued)


if __name__ == '__main__':
    run(
        {
            'single': lambda jobs: asyncio.run(measure(False, jobs)),
            'concurrent': lambda jobs: asyncio.run(measure(True, jobs)),
        }
    )

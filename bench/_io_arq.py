"""arq side of bench/io_concurrency.py, run with the interpreter of arq's own virtualenv.

    python _io_arq.py enqueue KIND JOBS    # KIND: sleep_sync, sleep_async, noop
    python _io_arq.py work CONCURRENCY [POLL_DELAY]   # one Worker(max_jobs=CONCURRENCY) until SIGTERM

arq runs coroutine functions only. A blocking job is written as arq's documentation says: a
coroutine that awaits ``run_in_executor`` on an executor made at startup, here a
``ThreadPoolExecutor(max_workers=CONCURRENCY)``. Every other setting is arq's default, ``poll_delay``
(0.5 s) too unless POLL_DELAY is given: arq starts at most ``max_jobs`` jobs per poll, so its default
caps a worker at ``max_jobs / 0.5`` jobs/s.
"""

from __future__ import annotations

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

import _io_jobs


async def sleep_sync(ctx: dict[str, Any]) -> None:
    await asyncio.get_running_loop().run_in_executor(ctx['executor'], _io_jobs.sleep_sync)


async def sleep_async(ctx: dict[str, Any]) -> None:
    await _io_jobs.sleep_async()


async def noop(ctx: dict[str, Any]) -> None:
    await _io_jobs.noop_async()


def settings() -> RedisSettings:
    return RedisSettings.from_dsn(os.environ['BENCH_REDIS_URL'])


async def enqueue(kind: str, jobs: int) -> None:
    pool = await create_pool(settings())
    for first in range(0, jobs, 100):
        await asyncio.gather(*(pool.enqueue_job(kind) for _ in range(min(100, jobs - first))))
    await pool.aclose()


def work(concurrency: int, poll_delay: float) -> None:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx['executor'] = ThreadPoolExecutor(max_workers=concurrency)

    Worker(
        functions=[sleep_sync, sleep_async, noop],  # type: ignore[list-item]
        redis_settings=settings(),
        max_jobs=concurrency,
        poll_delay=poll_delay,
        on_startup=startup,
    ).run()


if __name__ == '__main__':
    if sys.argv[1] == 'enqueue':
        asyncio.run(enqueue(sys.argv[2], int(sys.argv[3])))
    else:
        work(int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.5)

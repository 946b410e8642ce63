"""Dramatiq side of bench/io_concurrency.py, run with the interpreter of Dramatiq's own virtualenv.

    python _io_dramatiq.py enqueue KIND JOBS    # KIND: sleep_sync, sleep_async, noop
    python -m dramatiq _io_dramatiq --processes 1 --threads N --queues bench   # the worker

Dramatiq's own way for ``async def`` actors is used: its ``AsyncIO`` middleware runs them on one event
loop thread while the worker thread that took the message waits, so at most N run at once.
"""

from __future__ import annotations

import os
import sys

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO

import _io_jobs

broker = RedisBroker(url=os.environ['BENCH_REDIS_URL'])
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name='bench', max_retries=0)
def sleep_sync() -> None:
    _io_jobs.sleep_sync()


@dramatiq.actor(queue_name='bench', max_retries=0)
async def sleep_async() -> None:
    await _io_jobs.sleep_async()


@dramatiq.actor(queue_name='bench', max_retries=0)
def noop() -> None:
    _io_jobs.noop()


ACTORS = {'sleep_sync': sleep_sync, 'sleep_async': sleep_async, 'noop': noop}

if __name__ == '__main__':
    actor = ACTORS[sys.argv[2]]
    for _ in range(int(sys.argv[3])):
        actor.send()

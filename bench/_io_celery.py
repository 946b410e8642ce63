"""Celery side of bench/io_concurrency.py, run with the interpreter of Celery's own virtualenv.

    python _io_celery.py enqueue KIND JOBS    # KIND: sleep_sync, sleep_async, noop
    python -m celery -A _io_celery worker --pool threads --concurrency N ...   # the worker

Celery tasks are plain functions; the asyncio job runs its coroutine with ``asyncio.run`` inside the
task (one event loop per job, in the pool thread). Results are not stored (``task_ignore_result``).
"""

from __future__ import annotations

import asyncio
import os
import sys

from celery import Celery

import _io_jobs

app = Celery('bench_io', broker=os.environ['BENCH_REDIS_URL'])
app.conf.update(
    task_ignore_result=True,
    task_default_queue='bench',
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name='sleep_sync')
def sleep_sync() -> None:
    _io_jobs.sleep_sync()


@app.task(name='sleep_async')
def sleep_async() -> None:
    asyncio.run(_io_jobs.sleep_async())


@app.task(name='noop')
def noop() -> None:
    _io_jobs.noop()


TASKS = {'sleep_sync': sleep_sync, 'sleep_async': sleep_async, 'noop': noop}

if __name__ == '__main__':
    task = TASKS[sys.argv[2]]
    for _ in range(int(sys.argv[3])):
        task.delay()

"""Producer of bench/io_concurrency.py for ours (our hatch environment's python): ``python _io_rq.py
enqueue KIND JOBS`` puts JOBS jobs of KIND (sleep_sync, sleep_async, noop) on queue ``bench`` of
``$BENCH_REDIS_URL``. The worker is ``python -m rq.worker`` (see ``ours_worker_command`` there)."""

from __future__ import annotations

import os
import sys

import redis

import _io_jobs
from rq import Queue

FUNCTIONS = {'sleep_sync': _io_jobs.sleep_sync, 'sleep_async': _io_jobs.sleep_async, 'noop': _io_jobs.noop}


def enqueue(kind: str, jobs: int) -> None:
    queue = Queue('bench', connection=redis.Redis.from_url(os.environ['BENCH_REDIS_URL']))
    function = FUNCTIONS[kind]
    for first in range(0, jobs, 500):
        with queue.connection.pipeline() as pipe:
            data = [Queue.prepare_data(function) for _ in range(min(500, jobs - first))]
            queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()


if __name__ == '__main__':
    if sys.argv[1] != 'enqueue':
        raise SystemExit(f'usage: {sys.argv[0]} enqueue KIND JOBS')
    enqueue(sys.argv[2], int(sys.argv[3]))

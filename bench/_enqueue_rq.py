"""Producer driver of bench/enqueue_speed.py for rq, run by both ours (our hatch environment's python)
and upstream rq 2.12.0 (its own virtualenv): the same code, the same calls.

    python _enqueue_rq.py single JOBS   # JOBS calls of queue.enqueue(noop)
    python _enqueue_rq.py bulk JOBS     # one queue.enqueue_many([Queue.prepare_data(noop), ...]) call
    python _enqueue_rq.py memory JOBS   # the same call under tracemalloc: its peak traced memory

``noop`` is ``bench_jobs.noop``, a module-level function a worker can import. The bulk time includes
building the ``prepare_data`` list, as a caller's would; the memory mode builds that list before
tracing starts, so that its peak is what ``enqueue_many`` itself holds at its highest (the jobs it
builds and returns, the pipeline's commands).
"""

from __future__ import annotations

import time
import tracemalloc

import redis

import rq
from _enqueue_common import URL, WARMUP, Figures, figures, run, timed
from bench_jobs import noop
from rq import Queue

VERSION = f'rq {rq.VERSION}, redis-py {redis.__version__}'


def queue() -> Queue:
    return Queue('bench', connection=redis.Redis.from_url(URL))


def single(jobs: int) -> Figures:
    target = queue()
    seconds = timed(lambda: target.enqueue(noop), jobs)
    return figures(jobs, seconds, VERSION, target.count)


def bulk(jobs: int) -> Figures:
    target = queue()
    target.enqueue_many([Queue.prepare_data(noop) for _ in range(WARMUP)])
    started = time.perf_counter()
    target.enqueue_many([Queue.prepare_data(noop) for _ in range(jobs)])
    seconds = time.perf_counter() - started
    return figures(jobs, seconds, VERSION, target.count)


def memory(jobs: int) -> Figures:
    target = queue()
    target.enqueue_many([Queue.prepare_data(noop) for _ in range(WARMUP)])
    data = [Queue.prepare_data(noop) for _ in range(jobs)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    enqueued = target.enqueue_many(data)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert len(enqueued) == jobs
    return figures(jobs, seconds, VERSION, target.count, peak_bytes=peak)


if __name__ == '__main__':
    run({'single': single, 'bulk': bulk, 'memory': memory})

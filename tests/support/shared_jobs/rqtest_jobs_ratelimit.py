"""Job functions for the rate-limit tests (``tests/interop/test_rq3_rate_limits.py``,
``test_rq3_mixed_fleet.py`` and ``tests/worker/test_rate_limit_worker.py``). Importable by our rq,
upstream rq 3.0.0 and rq 2.12.0: rq is imported only inside the functions, at run time, from
whichever implementation runs the job.

Each run records itself in Redis (keys below): a global sequence number at its start and at its end
(``INCR rltest:seq``), the worker that ran it, a per-job run counter, and, for a job with a rate limit,
its membership of ``rltest:running:<key>`` while it runs. The membership is added and counted in one
MULTI, so the largest count pushed to ``rltest:peak:<key>`` is exactly the largest number of jobs of that
key that ran at the same time.
"""

from __future__ import annotations

import os
import time
from typing import Any

SEQ = 'rltest:seq'
RUNS = 'rltest:runs'
STARTS = 'rltest:starts'
ENDS = 'rltest:ends'
BY = 'rltest:by'
EVENTS = 'rltest:events'
RUNNING = 'rltest:running:'
PEAK = 'rltest:peak:'
FAILS = 'rltest:fails:'


def _current_job() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None, 'not running inside a worker'
    return job


def limit_key(job: Any) -> str | None:
    """The job's rate-limit key (rq 2.12 has no such attribute: None)."""
    return getattr(job, 'rate_limit_key', None)


def record(pause: float = 0.0, fail_times: int = 0) -> str:
    """Record this run (start, then end after ``pause`` seconds); fail the first ``fail_times`` runs of
    the job (``-1``: every run) with ``RuntimeError``, after recording their end."""
    job = _current_job()
    connection = job.connection
    key = limit_key(job)
    with connection.pipeline() as pipe:
        pipe.incr(SEQ)
        pipe.hincrby(RUNS, job.id, 1)
        pipe.hset(BY, job.id, job.worker_name or '?')
        if key:
            pipe.sadd(RUNNING + key, job.id)
            pipe.scard(RUNNING + key)
        replies = pipe.execute()
    run = int(replies[1])
    connection.hset(STARTS, f'{job.id}:{run}', replies[0])
    connection.rpush(EVENTS, f'start {job.id} {run}')
    if key:
        connection.rpush(PEAK + key, replies[4])
    try:
        if pause:
            time.sleep(pause)
        if fail_times == -1 or run <= fail_times:
            connection.incr(FAILS + job.id)
            raise RuntimeError(f'{job.id}: failing run {run} on purpose')
    finally:
        with connection.pipeline() as pipe:
            if key:
                pipe.srem(RUNNING + key, job.id)
            pipe.incr(SEQ)
            pipe.rpush(EVENTS, f'end {job.id} {run}')
            replies = pipe.execute()
        connection.hset(ENDS, f'{job.id}:{run}', replies[-2])
    return str(job.id)


# -- for tests/worker/test_rate_limit_worker.py (our workers only) --------------------------------


def limited(key: str, seconds: float = 0.0) -> int:
    """Count this run in ``running:<key>`` while it lasts, record the count it saw in ``seen:<key>``
    and its job id in ``ran:<key>``; return the count."""
    job = _current_job()
    connection = job.connection
    running = int(connection.incr(f'running:{key}'))
    connection.rpush(f'seen:{key}', running)
    connection.rpush(f'ran:{key}', job.id)
    try:
        if seconds:
            time.sleep(seconds)
    finally:
        connection.decr(f'running:{key}')
    return running


def announce_and_sleep(key: str, seconds: float) -> float:
    """RPUSH this process's pid onto ``key`` (the test learns the job started), then sleep."""
    _current_job().connection.rpush(key, os.getpid())
    time.sleep(seconds)
    return seconds


def fail_once(key: str) -> int:
    """Fail on the first run (counted in ``key``), succeed on the next."""
    runs = int(_current_job().connection.incr(key))
    if runs == 1:
        raise RuntimeError('first run fails')
    return runs


def announce_and_sleep_once(key: str, seconds: float) -> int:
    """RPUSH this process's pid onto ``key``; sleep on the first run only (a retry returns at once)."""
    connection = _current_job().connection
    runs = int(connection.rpush(key, os.getpid()))
    if runs == 1:
        time.sleep(seconds)
    return runs

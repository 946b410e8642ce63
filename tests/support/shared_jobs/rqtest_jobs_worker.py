"""Job functions, callbacks and exception handlers for the worker lifecycle tests.

Everything records what it saw in Redis (through the job's connection), because it may run in a
work horse (forked) or a spawned interpreter rather than in the test process. Exception handlers
are module-level functions so a SpawnWorker can send them to its horses.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def _connection() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return job.connection


def count_runs(key: str) -> int:
    """INCR ``key``: how many times the job ran."""
    return int(_connection().incr(key))


def return_retry(max: int, interval: int | list[int] = 0, counter: str | None = None) -> Any:
    """Ask for a retry by returning a Retry (RQ 2.1+ return-value mode)."""
    from rq import Retry

    if counter is not None:
        _connection().incr(counter)
    return Retry(max=max, interval=interval)


def fail_then_succeed(key: str, failures: int) -> str:
    """Fail the first ``failures`` runs, then succeed."""
    runs = int(_connection().incr(key))
    if runs <= failures:
        raise ValueError(f'failing run {runs}')
    return f'ok after {runs} runs'


def delete_own_hash() -> str:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    job.connection.delete(job.key)
    return 'deleted'


def kill_self(signum: int = signal.SIGKILL) -> None:
    """Die by a signal (only for jobs run in a work horse)."""
    os.kill(os.getpid(), signum)
    time.sleep(5)


def exit_with(code: int) -> None:
    raise SystemExit(code)


def busy_loop(seconds: float) -> float:
    """Burn CPU (no sleep) for ``seconds``: a timeout must interrupt pure Python code too."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return seconds


# -- callbacks ------------------------------------------------------------------------------


def slow_success_callback(job: Any, connection: Any, result: Any) -> None:
    time.sleep(3)
    connection.set(f'callback:slow-success:{job.id}', 'done')


def slow_failure_callback(job: Any, connection: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    time.sleep(3)
    connection.set(f'callback:slow-failure:{job.id}', 'done')


def status_in_success_callback(job: Any, connection: Any, result: Any) -> None:
    """What the job looked like in Redis while its success callback ran."""
    connection.set(f'callback:status:{job.id}', job.get_status().value)


# -- exception handlers: RPUSH 'handlers:<job id>' <name>:<exception class> -------------------


def _note(job: Any, name: str, exc_type: Any) -> None:
    job.connection.rpush(f'handlers:{job.id}', f'{name}:{exc_type.__name__}')


def first_handler(job: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    _note(job, 'first', exc_type)


def second_handler(job: Any, exc_type: Any, exc_value: Any, tb: Any) -> bool:
    _note(job, 'second', exc_type)
    return True


def stopping_handler(job: Any, exc_type: Any, exc_value: Any, tb: Any) -> bool:
    _note(job, 'stopping', exc_type)
    return False


def last_handler(job: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    _note(job, 'last', exc_type)


def raising_handler(job: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    _note(job, 'raising', exc_type)
    raise RuntimeError('handler exploded')


def zero_handler(job: Any, exc_type: Any, exc_value: Any, tb: Any) -> int:
    """Returns 0: falsy but not None, which stops the chain as False does (RQ's rule)."""
    _note(job, 'zero', exc_type)
    return 0


# -- what the worker looks like from inside a job ---------------------------------------------


def snapshot_worker() -> dict[str, Any]:
    """The worker's registration as seen while this job runs (the job's worker_name is its worker)."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    connection = job.connection
    key = f'rq:worker:{job.worker_name}'
    return {
        'worker_name': job.worker_name,
        'workers': sorted(k.decode() for k in connection.smembers('rq:workers')),
        'queue_workers': sorted(k.decode() for k in connection.smembers(f'rq:workers:{job.origin}')),
        'hash': {k.decode(): v.decode() for k, v in connection.hgetall(key).items()},
        'ttl': connection.ttl(key),
        'env_worker': os.environ.get('RQ_WORKER_ID'),
        'env_job': os.environ.get('RQ_JOB_ID'),
    }


def record_order(tag: str) -> str:
    """RPUSH ``tag`` onto the list 'order': the order in which jobs ran."""
    _connection().rpush('order', tag)
    return tag


def record_and_enqueue(tag: str, queue_name: str, new_tag: str) -> str:
    """Record ``tag``, then enqueue a ``record_order(new_tag)`` job on ``queue_name``."""
    from rq import Queue

    connection = _connection()
    connection.rpush('order', tag)
    Queue(queue_name, connection=connection).enqueue(record_order, new_tag)
    return tag

"""Job functions for the worker interop tests (``tests/interop/test_worker_interop.py`` and
``test_mixed_fleet.py``). Importable by upstream rq and by ours: rq is imported only inside the
functions, at run time, from whichever implementation runs the job."""

from __future__ import annotations

import time
from typing import Any

#: Redis keys written by :func:`mark` (per job: ``FLEET_RUNS + job id``).
FLEET_RUNS = 'fleet:runs:'
FLEET_BY = 'fleet:by'
FLEET_ORDER = 'fleet:order'


def _current_job() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None, 'not running inside a worker'
    return job


def mark(pause: float = 0.0) -> str:
    """Record one execution of the current job: ``INCR fleet:runs:<id>``, ``HSET fleet:by <id> <worker>``
    and ``RPUSH fleet:order <id>``; then sleep ``pause`` seconds (to let several workers share a queue)."""
    job = _current_job()
    with job.connection.pipeline() as pipe:
        pipe.incr(FLEET_RUNS + job.id)
        pipe.hset(FLEET_BY, job.id, job.worker_name or '?')
        pipe.rpush(FLEET_ORDER, job.id)
        pipe.execute()
    if pause:
        time.sleep(pause)
    return str(job.id)


def whoami() -> list[Any]:
    """What the running job knows about itself."""
    job = _current_job()
    return [job.id, job.origin, job.worker_name, job.get_status(refresh=False).value]


def flaky(times: int) -> int:
    """Fail the first ``times`` runs of the current job (counted in ``flaky:<id>``), then return the run
    number."""
    job = _current_job()
    run = int(job.connection.incr(f'flaky:{job.id}'))
    if run <= times:
        raise RuntimeError(f'flaky run {run}')
    return run


def save_meta_then_fail(value: Any) -> None:
    """Save ``meta['seen']`` and then raise: the meta must survive the failure."""
    job = _current_job()
    job.meta['seen'] = value
    job.save_meta()
    raise LookupError(f'failed after saving {value!r}')


async def async_echo(value: Any) -> Any:
    """A coroutine function: the worker runs it to completion and stores its value."""
    import asyncio

    await asyncio.sleep(0)
    return {'echo': value}

"""Job functions for the tests of the worker that runs many jobs at once (ConcurrentWorker).

Jobs that wait announce that their code really runs by pushing their id onto ``rqtest:arrived``;
"held" jobs then wait until ``rqtest:gate`` exists, in short steps (so that an exception raised in
their thread, or a cancellation of their task, lands soon).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from rq import get_current_job

ARRIVED = 'rqtest:arrived'
GATE = 'rqtest:gate'
#: The longest any of these jobs waits for the others (only a broken test gets there).
PATIENCE = 120.0


def _arrive() -> tuple[str, object]:
    job = get_current_job()
    assert job is not None
    job.connection.rpush(ARRIVED, job.id)
    return job.id, job.connection


def gathered_sync(count: int) -> str:
    """Arrive, then wait until ``count`` jobs arrived: only jobs that run at the same time finish."""
    job_id, connection = _arrive()
    deadline = time.monotonic() + PATIENCE
    while connection.llen(ARRIVED) < count:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError('the other jobs never arrived')
        time.sleep(0.01)
    return job_id


async def gathered_async(count: int) -> str:
    job_id, connection = _arrive()
    deadline = time.monotonic() + PATIENCE
    while connection.llen(ARRIVED) < count:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError('the other jobs never arrived')
        await asyncio.sleep(0.01)
    current = get_current_job()
    assert current is not None and current.id == job_id  # (the task sees its own job)
    return job_id


def held_sync() -> str:
    job_id, connection = _arrive()
    deadline = time.monotonic() + PATIENCE
    while not connection.exists(GATE):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError('the gate never opened')
        time.sleep(0.02)
    return job_id


async def held_async() -> str:
    job_id, connection = _arrive()
    deadline = time.monotonic() + PATIENCE
    while not connection.exists(GATE):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError('the gate never opened')
        await asyncio.sleep(0.02)
    return job_id


def blocked(seconds: float) -> str:
    """Arrive, then sleep in one call: nothing can interrupt this thread before it returns."""
    _arrive()
    time.sleep(seconds)
    return 'woke'


def spin(seconds: float) -> str:
    """Arrive, then keep the CPU busy in Python code (an exception raised in the thread lands at once)."""
    _arrive()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return 'spun'


async def sleeper(seconds: float) -> str:
    _arrive()
    await asyncio.sleep(seconds)
    return 'slept'


async def stubborn(seconds: float) -> str:
    """Swallows its cancellation once, then goes on sleeping."""
    _arrive()
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        await asyncio.sleep(seconds)
    return 'ignored the cancellation'


def double(value: int) -> int:
    return value * 2


def nap(seconds: float) -> str:
    time.sleep(seconds)
    return 'rested'


async def short_async(index: int, seconds: float = 0.0) -> int:
    if seconds:
        await asyncio.sleep(seconds)
    return index


def pid() -> int:
    """The process that runs the job."""
    _arrive()
    return os.getpid()


CALLBACKS = 'rqtest:callbacks'


async def raises_async(message: str) -> None:
    raise ValueError(message)


async def unencodable_async() -> object:
    """Returns what no serializer encodes (a lambda)."""
    return lambda: None


def note_success(job: Any, connection: Any, result: Any) -> None:
    connection.rpush(CALLBACKS, f'success {job.id} {result}')


def note_failure(job: Any, connection: Any, kind: type, value: BaseException, traceback: Any) -> None:
    connection.rpush(CALLBACKS, f'failure {job.id} {value}')


def slow_stopped_callback(job: Any, connection: Any) -> None:
    """An on_stopped callback that would go on for ten minutes (in short steps: its timeout lands)."""
    connection.rpush(CALLBACKS, f'stopped {job.id}')
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.02)

"""What every producer driver of bench/enqueue_speed.py shares (standard library only: it runs in each
implementation's own virtualenv).

A driver is run as ``python _enqueue_<impl>.py MODE JOBS`` in a fresh process with the private Redis
at ``$BENCH_REDIS_URL``. It connects, warms up with ``WARMUP`` enqueues done the same way as the timed
ones (imports, connections, server-side scripts and caches are then loaded), then times JOBS
enqueues and prints one JSON document on stdout: ``jobs``, ``seconds``, ``version`` (the library and
redis-py releases), ``queued`` (what its own API counts on the queue afterwards: warm-up and timed
jobs, to catch a driver that lost some) and, for the memory mode, ``peak_bytes``. A driver that
cannot run its mode prints ``{"missing": why}`` instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: Enqueues before the clock starts.
WARMUP = 200
#: Coroutines enqueueing at once in the ``concurrent`` mode (``asyncio.gather``).
COROUTINES = 100

URL = os.environ.get('BENCH_REDIS_URL', 'redis://127.0.0.1:6379/0')

Figures = dict[str, Any]


def timed(enqueue_one: Callable[[], object], jobs: int) -> float:
    """Seconds taken by ``jobs`` calls of ``enqueue_one``, after ``WARMUP`` untimed ones."""
    for _ in range(WARMUP):
        enqueue_one()
    started = time.perf_counter()
    for _ in range(jobs):
        enqueue_one()
    return time.perf_counter() - started


async def timed_async(enqueue_one: Callable[[], Awaitable[object]], jobs: int) -> float:
    """Seconds taken by ``jobs`` awaits of ``enqueue_one()`` one after the other (one coroutine),
    after ``WARMUP`` untimed ones."""
    for _ in range(WARMUP):
        await enqueue_one()
    started = time.perf_counter()
    for _ in range(jobs):
        await enqueue_one()
    return time.perf_counter() - started


def shares(jobs: int, parts: int) -> list[int]:
    """``jobs`` split into ``parts`` counts that differ by one at most."""
    return [jobs // parts + (1 if index < jobs % parts else 0) for index in range(parts)]


async def timed_concurrent(enqueue_one: Callable[[], Awaitable[object]], jobs: int) -> float:
    """Seconds taken by ``COROUTINES`` coroutines run together (``asyncio.gather``), each awaiting its
    share of ``jobs`` enqueues in turn; a warm-up of ``WARMUP`` enqueues shaped the same way first (so
    that the client's connection pool holds its connections before the clock starts)."""

    async def one_coroutine(count: int) -> None:
        for _ in range(count):
            await enqueue_one()

    await asyncio.gather(*(one_coroutine(count) for count in shares(WARMUP, COROUTINES)))
    started = time.perf_counter()
    await asyncio.gather(*(one_coroutine(count) for count in shares(jobs, COROUTINES)))
    return time.perf_counter() - started


def figures(jobs: int, seconds: float, version: str, queued: int | None, **extra: Any) -> Figures:
    """The document a driver prints."""
    return {'jobs': jobs, 'seconds': seconds, 'version': version, 'queued': queued, **extra}


def run(modes: dict[str, Callable[[int], Figures]]) -> None:
    """Read ``MODE JOBS`` from the command line, run that mode and print its figures as JSON."""
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        raise SystemExit(f'usage: {sys.argv[0]} {"|".join(modes)} JOBS')
    result = modes[sys.argv[1]](int(sys.argv[2]))
    print(json.dumps(result), flush=True)

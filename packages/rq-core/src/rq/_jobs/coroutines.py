"""How a job's coroutine is run: with ``asyncio.run`` (a fresh event loop per job) unless the
thread that performs the job set another runner, as a worker that runs many jobs at once does (its
async jobs share one event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

CoroutineRunner = Callable[[Coroutine[Any, Any, Any]], Any]

runner: ContextVar[CoroutineRunner] = ContextVar('rq_coroutine_runner', default=asyncio.run)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` to its end with the current runner; its result, or its exception."""
    return runner.get()(coroutine)

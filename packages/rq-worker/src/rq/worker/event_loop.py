"""The event loop that a :class:`~rq.worker.concurrent.ConcurrentWorker`'s ``async def`` jobs share.

It runs in a thread of its own, started with the first async job. A job whose function is a
coroutine function lives on that thread from start to record (see :mod:`rq.worker.loop_jobs`).
Another job's coroutine (a plain function that returned one) is handed to it by the slot's thread
as a task, created in that thread's context (so ``get_current_job()`` answers inside the
coroutine), and waited for. A slot cancels the task to interrupt the job.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from rq._jobs.coroutines import CoroutineRunner

from .slots import Slot

#: ``stop()`` waits at most this long for the loop's thread (a daemon: it cannot keep the process alive).
JOIN_SECONDS = 2.0


class SharedEventLoop:
    def __init__(self, name: str = 'rq-event-loop') -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def runner_for(self, slot: Slot) -> CoroutineRunner:
        """What runs a coroutine of ``slot``'s job (see :mod:`rq._jobs.coroutines`)."""

        def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
            return self.run(coroutine, slot)

        return run

    def run(self, coroutine: Coroutine[Any, Any, Any], slot: Slot) -> Any:
        """Run ``coroutine`` as a task on the loop and wait for its end; its result, or its
        exception (the slot's interruption when the slot cancelled it)."""
        loop = self._started()
        context = contextvars.copy_context()
        ended = threading.Lock()  # (held until the task ends: cheaper than a Future to wait on)
        ended.acquire()
        outcome: list[Outcome] = []

        def settle(task: asyncio.Task[Any]) -> None:
            outcome.append(task_outcome(task))
            ended.release()

        def start() -> None:
            task = context.run(loop.create_task, coroutine)  # (the task runs in a copy of the slot's context)
            slot.attach_task(loop, task)
            task.add_done_callback(settle)

        slot.expect_task()
        loop.call_soon_threadsafe(start)
        try:
            ended.acquire()
        finally:
            slot.detach_task()
        return unwrap(outcome[0], slot)

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` on the loop's thread (from any thread)."""
        self._started().call_soon_threadsafe(callback, *args)

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def stop(self) -> None:
        """Stop the loop (the tasks still on it are left: their slots were taken over)."""
        with self._lock:
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(JOIN_SECONDS)
        if not thread.is_alive():
            loop.close()


#: How a task ended: ('returned', value), ('raised', exception) or ('cancelled', None).
Outcome = tuple[str, Any]


def task_outcome(task: asyncio.Task[Any]) -> Outcome:
    if task.cancelled():
        return 'cancelled', None
    exception = task.exception()
    if exception is not None:
        return 'raised', exception
    return 'returned', task.result()


def unwrap(outcome: Outcome, slot: Slot) -> Any:
    """The value the task of ``slot``'s job returned, or the exception it ended with: the slot's
    interruption when the slot cancelled it (a coroutine that swallowed its cancellation ends as it
    was asked to all the same)."""
    kind, value = outcome
    if kind == 'cancelled' or (kind == 'returned' and slot.interruption is not None):
        raise slot.cancellation()
    if kind == 'raised':
        raise value
    return value

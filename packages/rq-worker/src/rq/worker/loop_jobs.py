"""The jobs whose function is a coroutine function live on the event loop's thread (see
:mod:`rq.worker.event_loop`): started there as tasks, their success recorded there, with the claim
of the slot's next job in the same round trip (see :mod:`rq.worker.loop_recording`; the loop does not
wait for the reply, see :mod:`rq.worker.script_pipe`), and that next job started there too when it
is async, so that the common case never crosses threads.

The rest goes to the slot's thread (see :class:`~rq.worker.slot_runner.SlotRunner`): a job that
raised, was interrupted, returned a Retry or has a success callback (callbacks and exception
handlers are the user's blocking code, under timeouts the thread can be interrupted in); a success
Redis did not take at the first attempt (the thread tries again: the loop never waits for Redis to
come back); and a plain function claimed next.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rq.timeouts import JobTimeoutException

from . import loop_recording
from .event_loop import SharedEventLoop, task_outcome
from .isolated import wants_isolation
from .job_log import log_start
from .loop_recording import Prepared, Success
from .loop_turns import Turns
from .run import RunResult, begin_run, conclude, effective_timeout
from .script_pipe import ScriptPipe
from .slots import SlotDeathPenalty

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

    from ._claiming import Claimed
    from .slot_runner import SlotRunner


class LoopJobs:
    def __init__(self, worker: Any, event_loop: SharedEventLoop) -> None:
        self._worker = worker
        self._event_loop = event_loop
        self._turns = Turns()
        self._pipe: ScriptPipe | None = None  # (the loop's round trips: made with the first)

    def takes(self, job: Job, queue: Queue) -> bool:
        """Whether ``job`` lives on the loop: its function is a coroutine function, and it is not to
        run in a work horse of its own."""
        if wants_isolation(job, queue, self._worker.isolated_queues):
            return False
        try:
            return inspect.iscoroutinefunction(job.func)
        except Exception:  # (a function that cannot be imported: the slot's thread fails the job with the cause)
            return False

    def close(self) -> None:
        """(Once the loop stopped.)"""
        if self._pipe is not None:
            self._pipe.close()

    def start(self, runner: SlotRunner, claim: Claimed) -> None:
        """Start ``runner``'s claimed job on the loop (from any thread; the slot has begun it)."""
        self._event_loop.call_soon(self._begin, runner, claim)

    # -- on the loop's thread ---------------------------------------------------------------

    def _begin(self, runner: SlotRunner, claim: Claimed) -> None:
        try:
            job, queue, _ = claim
            slot = runner.slot
            log_start(runner.recorder, job, queue)
            started_at = begin_run(job)
            slot.expect_task()  # (an interruption from now on cancels the task)
            slot.enter_job_code()
            timeout = effective_timeout(job, queue.DEFAULT_TIMEOUT)
            if timeout > 0:
                slot.arm(timeout, JobTimeoutException)
            loop = asyncio.get_running_loop()
            task = contextvars.copy_context().run(loop.create_task, job.perform_on_loop())  # (the job is current in it)
            slot.attach_task(loop, task)
            task.add_done_callback(functools.partial(self._ended, runner, claim, started_at))
        except BaseException:
            runner.failed()

    def _ended(self, runner: SlotRunner, claim: Claimed, started_at: datetime, task: asyncio.Task[Any]) -> None:
        self._turns.add(functools.partial(self._conclude, runner, claim, started_at, task))

    def _conclude(self, runner: SlotRunner, claim: Claimed, started_at: datetime, task: asyncio.Task[Any]) -> None:
        try:
            slot = runner.slot
            slot.disarm()
            slot.leave_job_code()
            slot.detach_task()
            result = self._plain_success(claim[0], task, started_at) if slot.interruption is None else None
            if result is None:
                runner.conclude_later(claim, started_at, task_outcome(task))
            elif slot.finish():  # (not taken over: then the worker recorded the job)
                self._record((runner, claim, result))
        except BaseException:
            runner.failed()

    def _record(self, success: Success) -> None:
        prepared = loop_recording.prepare(success)
        if prepared is None:
            return
        if self._pipe is None:
            self._pipe = ScriptPipe(self._worker.connection, asyncio.get_running_loop(), self._replied)
        self._pipe.send(prepared, prepared.calls)

    def _replied(self, prepared: Prepared, replies: list[Any] | BaseException) -> None:
        self._turns.add(functools.partial(self._settle, prepared, replies))

    def _settle(self, prepared: Prepared, replies: list[Any] | BaseException) -> None:
        runner = prepared.success[0]
        try:
            if loop_recording.settle(self._worker, prepared, replies):
                self._carry_on(runner)
        except BaseException:
            runner.failed()

    def _plain_success(self, job: Job, task: asyncio.Task[Any], started_at: datetime) -> RunResult | None:
        """The result of a job that returned and has no success callback (a callback is the user's
        blocking code: the slot's thread runs it); None otherwise."""
        if task.cancelled() or task.exception() is not None or job._success_callback_name:
            return None
        return conclude(job, SlotDeathPenalty, self._worker._exc_handlers, started_at, task.result())

    def _carry_on(self, runner: SlotRunner) -> None:
        """Begin the job claimed with the last one's success: here if it is async, in the slot's
        thread if not; free the slot if none was claimed."""
        claim = runner.claimed_next()
        if claim is None:
            runner.free()
        elif self.takes(claim[0], claim[1]):
            self._begin(runner, claim)
        else:
            runner.run_later(claim)

"""The slots of a :class:`~rq.worker.concurrent.ConcurrentWorker`, and how a running job is interrupted.

A slot runs one job at a time in a thread of its own; an ``async def`` job's coroutine runs as a
task on the worker's event loop while the slot's thread waits for it. A timeout, a stop command or
a cold shutdown interrupts the job: its task is cancelled, or the exception is raised in its thread
(at the thread's next bytecode: a blocking call in C is not cut short). An isolated job's work horse is
killed (see :mod:`rq.worker.isolated`). A job that does not end
within the overrun grace after that is *taken over*: the worker records its end itself, and the
slot's thread, still stuck in the job, is left behind (the worker then stops taking jobs and exits
to be replaced: a thread cannot be killed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rq.timeouts import BaseDeathPenalty, JobTimeoutException, TimerDeathPenalty, timeout_message

from .thread_interrupts import raise_in_thread, withdraw_pending_exception

if TYPE_CHECKING:
    from ._claiming import Claimed

IDLE, RUNNING, RECORDING, TAKEN_OVER = 'idle', 'running', 'recording', 'taken over'

#: The slot of the thread that runs this code (unset outside a slot's thread).
current_slot: ContextVar[Slot] = ContextVar('rq_worker_slot')


@dataclass(frozen=True)
class Interruption:
    """What ended (or should end) a run from outside: the exception raised in the job, the text a
    take-over records, and whether the job ends ``stopped``."""

    exception: type[BaseException]
    cause: str
    stopped: bool = False


class Slot:
    """One job at a time, and the state that decides who records its end: the slot's thread, once
    the job returned (:meth:`finish`), or the worker, once the job overran (:meth:`take_over`)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.lock = threading.Lock()
        self.state = IDLE
        self.claim: Claimed | None = None
        self.thread_id = 0
        self.began = 0.0  # (monotonic)
        self.deadline: float | None = None  # (monotonic) when the armed timeout strikes
        self._penalty: tuple[float, type[BaseException]] | None = None  # (armed: timeout, exception)
        self._interruptible = False
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._expects_task = False
        self._raised_in_thread = False
        self._horse = 0  # (the pid of the job's own work horse, for an isolated job)
        self.interruption: Interruption | None = None  # sent to the running job
        self.overrun_at: float | None = None  # (monotonic) when the job is taken over

    @property
    def busy(self) -> bool:
        return self.state != IDLE

    def begin(self, claim: Claimed) -> None:
        with self.lock:
            self.state = RUNNING
            self.claim = claim
            self.began = time.monotonic()
            self.deadline = self.overrun_at = None
            self._penalty = self.interruption = None
            self._raised_in_thread = False

    # -- in the slot's thread ---------------------------------------------------------------

    def enter_job_code(self) -> None:
        with self.lock:
            self._interruptible = True

    def leave_job_code(self) -> None:
        """From here on nothing interrupts the thread (it records the outcome); an exception sent
        too late to be raised in the job is dropped. Safe to call twice."""
        with self.lock:
            self._interruptible = False
            self.deadline = None
            if self._raised_in_thread:
                self._raised_in_thread = False
                withdraw_pending_exception()

    def arm(self, timeout: float, exception: type[BaseException]) -> None:
        with self.lock:
            self.deadline = time.monotonic() + timeout
            self._penalty = (timeout, exception)

    def disarm(self) -> None:
        with self.lock:
            self.deadline = None

    def expect_task(self) -> None:
        """The job's coroutine is about to become a task on the event loop: an interruption sent
        meanwhile cancels the task as it is attached."""
        with self.lock:
            self._expects_task = True

    def attach_task(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        with self.lock:
            self._task = (loop, task)
            self._expects_task = False
            if self.interruption is not None:
                task.cancel()

    def detach_task(self) -> None:
        with self.lock:
            self._task = None
            self._expects_task = False

    def attach_horse(self, pid: int) -> None:
        """The job runs in work horse ``pid`` (see :mod:`rq.worker.isolated`): an interruption kills it."""
        with self.lock:
            self._horse = pid
            if self.interruption is not None:
                _kill_group(pid)

    def detach_horse(self) -> None:
        with self.lock:
            self._horse = 0

    def cancellation(self) -> BaseException:
        """What the job's thread raises when its task was cancelled: the interruption's exception
        (a timeout, a stop, a cold shutdown), or the task's own cancellation."""
        interruption = self.interruption
        return interruption.exception() if interruption is not None else asyncio.CancelledError()

    def finish(self) -> bool:
        """The job returned: its thread records the outcome, unless the worker took it over."""
        with self.lock:
            if self.state == TAKEN_OVER:
                return False
            self.state = RECORDING
            return True

    def reopen(self) -> None:
        """The interrupted job's code ended; what runs next in the slot (its stopped callback) is
        interruptible again, by its own timeout, and taken over only if it overruns that."""
        with self.lock:
            self.interruption = None
            self.overrun_at = None

    def release(self) -> None:
        with self.lock:
            self.state = IDLE
            self.claim = None
            self.deadline = self.overrun_at = None
            self.interruption = None

    # -- from the worker's other threads ----------------------------------------------------

    def interrupt(self, interruption: Interruption, grace: float) -> bool:
        """Interrupt the running job (once: a later request while one is on its way is ignored);
        it is taken over if it has not ended ``grace`` seconds from now. False when the job's own
        code is not running (its outcome is being recorded)."""
        with self.lock:
            if self.state != RUNNING or not self._interruptible or self.interruption is not None:
                return False
            self.interruption = interruption
            self.overrun_at = time.monotonic() + grace
            if self._horse:
                _kill_group(self._horse)
            elif self._task is not None:
                loop, task = self._task
                loop.call_soon_threadsafe(task.cancel)
            elif not self._expects_task:
                self._raised_in_thread = raise_in_thread(self.thread_id, interruption.exception)
            return True

    def time_out_if_due(self, moment: float, grace: float) -> bool:
        """Interrupt the job if its armed timeout has passed."""
        deadline, penalty = self.deadline, self._penalty
        if deadline is None or penalty is None or moment < deadline:
            return False
        return self.interrupt(timeout_interruption(*penalty), grace)

    def take_over(self, moment: float) -> tuple[Claimed, Interruption] | None:
        """The job and its interruption, if the job overran its grace: from now on the worker
        records it, and the slot stays out of service (its thread is still in the job)."""
        with self.lock:
            if self.state != RUNNING or self.overrun_at is None or moment < self.overrun_at:
                return None
            assert self.claim is not None and self.interruption is not None
            self.state = TAKEN_OVER
            self._interruptible = False
            return self.claim, self.interruption


def _kill_group(pid: int) -> None:
    """Kill a work horse and what it started (its process group: it leads a session of its own)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def timeout_interruption(timeout: float, exception: type[BaseException]) -> Interruption:
    """The interruption of a job that ran out of time: ``exception`` with upstream's message (a
    subclass that carries it: an exception raised in another thread is raised by its type)."""
    message = timeout_message(timeout)

    def init_with_message(inner: BaseException, *args: Any) -> None:
        exception.__init__(inner, message)

    carrier = type(
        exception.__name__, (exception,), {'__init__': init_with_message, '__module__': exception.__module__}
    )
    return Interruption(carrier, f'{exception.__module__}.{exception.__qualname__}: {message}')


class SlotDeathPenalty(BaseDeathPenalty):
    """The timeout of a job (or callback) run by a slot: the worker's monitor interrupts the job at
    the deadline (see :meth:`Slot.time_out_if_due`). Outside a slot's thread, a timer's
    (:class:`~rq.timeouts.TimerDeathPenalty`)."""

    def __init__(self, timeout: float | None, exception: type[BaseException] = JobTimeoutException, **kwargs: Any):
        super().__init__(timeout, exception, **kwargs)
        self._slot = current_slot.get(None)
        self._timer = None if self._slot is not None else TimerDeathPenalty(timeout, exception, **kwargs)

    def setup_death_penalty(self) -> None:
        if self._timer is not None:
            self._timer.setup_death_penalty()
        elif self._slot is not None and self._timeout > 0:
            self._slot.arm(self._timeout, self._exception)

    def cancel_death_penalty(self) -> None:
        if self._timer is not None:
            self._timer.cancel_death_penalty()
        elif self._slot is not None:
            self._slot.disarm()

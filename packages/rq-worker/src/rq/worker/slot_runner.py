"""What a slot's thread does: run each job it is given (see :mod:`rq.worker.slots`), then record
the outcome, as a SimpleWorker would, with the worker's name, settings and counters."""

from __future__ import annotations

import functools
import queue as queues
import sys
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis

from rq._jobs import coroutines
from rq._redis import scripts
from rq.executions import Execution

from . import recording
from ._claiming import restore_claimed
from .event_loop import Outcome, unwrap
from .isolated import run_in_horse, wants_isolation
from .job_log import log_start
from .reconnect import describe, is_transient
from .run import (
    COLD_SHUTDOWN_TEXT,
    STOPPED_TEXT,
    ColdShutdown,
    RunResult,
    StopJob,
    conclude,
    conclude_failure,
    interrupted,
    run_job,
)
from .slot_claims import SlotClaims
from .slots import Slot, SlotDeathPenalty, current_slot
from .worker_log import WorkerLogger

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

    from ._claiming import Claimed
    from .event_loop import SharedEventLoop
    from .loop_jobs import LoopJobs


class SlotRecorder:
    """The worker as :mod:`~rq.worker.recording` and the job log see it from one slot: the worker's
    name and settings (read through), the slot's own log prefix (``Worker <name> [slot 3]: ...``),
    claims (see :mod:`~rq.worker.slot_claims`), state of the outcome being recorded and counters
    (added to the worker's)."""

    def __init__(self, worker: Any, slot: Slot) -> None:
        self._worker = worker
        self.log = WorkerLogger(f'{worker.name} [slot {slot.index}]')
        self.claims = SlotClaims(worker, self.log, slot.index)
        self._record_attempts = 0
        self._refusal: Any = None
        self.successful_job_count = 0
        self.failed_job_count = 0
        self.total_working_time = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._worker, name)

    def send_finish(self, connection: Any, finish: scripts.ScriptCall) -> Any:
        return self.claims.send_finish(connection, finish)

    def record(self, job: Job, queue: Queue, execution: Execution, result: RunResult, stopped: bool) -> None:
        """Record the outcome (and settle a claim sent with it), trying again while Redis does not
        answer, until a cold shutdown (the job is then failed as abandoned once its started entry
        expires). A refusal is logged: the job stays started until its entry expires (nothing is lost)."""
        worker = self._worker
        delay = worker.first_reconnect_delay
        recorded = False
        reconnected = False
        while True:
            try:
                if not recorded:
                    recording.record(self, job, queue, execution, result, stopped=stopped)
                    recorded = True
                self.claims.settle()
                break
            except redis.exceptions.WatchError:
                continue
            except Exception as exc:
                if not is_transient(exc):
                    self.log.error('could not record job %s (%s): it is failed as abandoned later', job.id, exc)
                    break
                if not reconnected and type(exc) is redis.exceptions.ConnectionError:
                    # (the slot's connection was closed while it was idle, by a restart of Redis say:
                    # a new one is tried at once, as redis-py does for its pool's, before this counts
                    # as Redis not answering)
                    reconnected = True
                    continue
                worker.redis_link.failed('slot', exc)
                if worker._cold:
                    self.log.warning(
                        'cold shutdown while Redis did not answer (%s): job %s not recorded', describe(exc), job.id
                    )
                    break
                time.sleep(delay)
                delay = min(delay * worker.exponential_backoff_factor, worker.max_connection_wait_time)
        worker.redis_link.answered('slot')
        worker.add_counts(self)


class SlotRunner:
    """A slot's thread: takes the steps the worker (or the event loop, see
    :mod:`~rq.worker.loop_jobs`) gives it, one at a time. Each step ends with its job recorded
    (then the slot carries on with the job claimed with it, if any) or taken over."""

    def __init__(self, worker: Any, slot: Slot, loop: SharedEventLoop, loop_jobs: LoopJobs) -> None:
        self.worker = worker
        self.slot = slot
        self.recorder = SlotRecorder(worker, slot)
        self._loop = loop
        self._loop_jobs = loop_jobs
        self._inbox: queues.SimpleQueue[Callable[[], bool] | None] = queues.SimpleQueue()
        #: Set once the slot's thread has opened its connection and waits for jobs.
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f'rq-slot-{slot.index}', daemon=True)

    def start(self) -> None:
        self.thread.start()

    def give(self, claim: Claimed) -> None:
        """Run ``claim``'s job in this slot (from the worker's main thread)."""
        self.slot.begin(claim)
        if self._loop_jobs.takes(claim[0], claim[1]):
            self._loop_jobs.start(self, claim)
        else:
            self.run_later(claim)

    def close(self) -> None:
        self._inbox.put(None)

    # -- steps given to the slot's thread ---------------------------------------------------

    def run_later(self, claim: Claimed) -> None:
        self._inbox.put(functools.partial(self._run, claim))

    def conclude_later(self, claim: Claimed, started_at: datetime, outcome: Outcome) -> None:
        """End the run of an async job whose task ended with ``outcome`` (see :mod:`~rq.worker.loop_jobs`)."""
        self._inbox.put(functools.partial(self._conclude, claim, started_at, outcome))

    def record_later(self, claim: Claimed, result: RunResult) -> None:
        """Record ``result``, which Redis did not take at the first attempt."""
        self._inbox.put(functools.partial(self._record, claim, result))

    def _serve(self) -> None:
        slot = self.slot
        slot.thread_id = threading.get_ident()
        current_slot.set(slot)
        coroutines.runner.set(self._loop.runner_for(slot))
        self.recorder.claims.connect()
        self.ready.set()
        while (step := self._inbox.get()) is not None:
            try:
                if not step():
                    return  # (taken over: the worker recorded the job and exits to be replaced)
                self._carry_on()
            except BaseException:
                self.failed()
                return
        self.recorder.claims.close()

    def _carry_on(self) -> None:
        """Run the jobs claimed one with another's success (an async one goes to the loop), until
        none was claimed: the slot is free."""
        while (claim := self.claimed_next()) is not None:
            self.slot.begin(claim)
            if self._loop_jobs.takes(claim[0], claim[1]):
                self._loop_jobs.start(self, claim)
                return
            if not self._run(claim):
                return
        self.free()

    def _run(self, claim: Claimed) -> bool:
        """Run the job and record its outcome; False when the worker took the job over."""
        job, queue, execution = claim
        log_start(self.recorder, job, queue)

        def run() -> RunResult:
            if not wants_isolation(job, queue, self.worker.isolated_queues):
                return run_job(job, SlotDeathPenalty, self.worker._exc_handlers, queue.DEFAULT_TIMEOUT)
            result, stopped = run_in_horse(self.worker, self.slot, job, queue, execution)
            if stopped:
                raise StopJob()
            return result

        return self._complete(claim, run)

    def _conclude(self, claim: Claimed, started_at: datetime, outcome: Outcome) -> bool:
        job = claim[0]
        handlers = self.worker._exc_handlers

        def run() -> RunResult:
            try:
                value = unwrap(outcome, self.slot)
            except (ColdShutdown, StopJob):
                raise
            except BaseException:
                return conclude_failure(job, SlotDeathPenalty, handlers, started_at, sys.exc_info())
            return conclude(job, SlotDeathPenalty, handlers, started_at, value)

        return self._complete(claim, run)

    def _complete(self, claim: Claimed, run: Callable[[], RunResult]) -> bool:
        """``run`` the job's code (interruptible), then record the outcome; False when the worker
        took the job over."""
        job, queue, execution = claim
        slot = self.slot
        stopped = False
        try:
            try:
                slot.enter_job_code()
                result = run()
            finally:
                slot.leave_job_code()
        except StopJob:
            slot.leave_job_code()
            stopped = True
            result = interrupted(STOPPED_TEXT, execution.created_at)
            self._run_stopped_callback(job)
        except ColdShutdown:
            slot.leave_job_code()
            result = interrupted(COLD_SHUTDOWN_TEXT, execution.created_at)
        except BaseException:  # (a timeout that struck as the job's own code ended)
            slot.leave_job_code()
            result = interrupted(traceback.format_exc(), execution.created_at)
        if not slot.finish():
            return False
        self.recorder.record(job, queue, execution, result, stopped)
        return True

    def _record(self, claim: Claimed, result: RunResult) -> bool:
        self.recorder.record(*claim, result, stopped=False)
        return True

    # -- from the slot's thread or the loop's -----------------------------------------------

    def free(self) -> None:
        self.slot.release()
        self.worker.slot_freed()

    def failed(self) -> None:
        """Something went wrong outside any job's code: the slot leaves service, the worker exits
        to be replaced."""
        self.recorder.log.exception('slot failed; the worker exits to be replaced')
        self.worker.slot_lost(self.slot, 'a slot failed')

    def claimed_next(self) -> Claimed | None:
        """The job claimed together with the last one's success, if any (a job whose data cannot
        be decoded is failed on the spot)."""
        taken = self.recorder.claims.take()
        if taken is None:
            return None
        queue, job_id, raw, (_, execution_id, moment) = taken
        execution = Execution(execution_id, job_id, self.worker.connection, worker_name=self.worker.name)
        execution.created_at = execution.last_heartbeat = moment
        self.worker.count_claimed(1)
        job, failure = restore_claimed(job_id, raw, queue, self.worker.connection, self.worker.name)
        if failure is not None:
            self.slot.begin((job, queue, execution))
            self.recorder.record(job, queue, execution, failure, stopped=False)
            return None
        return job, queue, execution

    def _run_stopped_callback(self, job: Job) -> None:
        """Under its own timeout, interruptible as the job's code was (a callback's error, its
        timeout or a cold shutdown meanwhile is logged: the job ends stopped all the same)."""
        slot = self.slot
        slot.reopen()
        try:
            slot.enter_job_code()
            job.execute_stopped_callback(SlotDeathPenalty)
        except BaseException:
            self.recorder.log.exception('job %s: stopped callback raised', job.id)
        finally:
            slot.leave_job_code()

"""``ConcurrentWorker``: one process runs up to ``concurrency`` jobs at once.

Plain functions run in the worker's slot threads; ``async def`` functions run as tasks on one event
loop the worker shares between them (see :mod:`rq.worker.loop_jobs`); jobs marked for isolation run in a
work horse of their own (see :mod:`rq.worker.isolated`). The worker's main thread claims
jobs for its free slots, several in one round trip, each with its own execution, started entry and
heartbeat, exactly as a worker that runs one job at a time claims it: same Redis data, so
``rq info``, dashboards and other workers see every running job.

Timeouts are hard: a job's task is cancelled at its timeout, and a job's thread gets the timeout
exception raised in it. A thread stuck in a blocking call cannot be interrupted: once the overrun
grace has passed, the worker records the job as failed with the timeout as the cause, stops taking
jobs, lets its other jobs end (each within its own timeout) and exits with
:data:`REPLACE_EXIT_CODE`, so that its supervisor (``rq worker --concurrency``'s own, a pool, or a
process manager) starts a new one.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rq._redis import codec, worker_ops
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.utils import current_timestamp, now

from .event_loop import SharedEventLoop
from .identity import DequeueStrategy
from .loop import BaseWorker
from .loop_jobs import LoopJobs
from .run import COLD_SHUTDOWN_TEXT, STOPPED_TEXT, ColdShutdown, StopJob
from .slot_monitor import SlotMonitor
from .slot_runner import SlotRecorder, SlotRunner
from .slots import IDLE, TAKEN_OVER, Interruption, Slot

if TYPE_CHECKING:
    from ._claiming import Claimed

#: The exit code of a worker process that stopped to be replaced (sysexits' EX_TEMPFAIL): one of its
#: jobs did not end when interrupted, and its thread cannot be killed.
REPLACE_EXIT_CODE = 75

DEFAULT_CONCURRENCY = 10


class ConcurrentWorker(BaseWorker):
    """Runs up to ``concurrency`` jobs at once in this process (threads, and one event loop for
    ``async def`` jobs). See the module's documentation."""

    #: Seconds a job may go on after its timeout (or a stop, or a cold shutdown) interrupted it,
    #: before the worker records it and takes its slot out of service.
    overrun_grace: float = 3.0

    #: Seconds the worker waits at most, as it starts, for its slots to open their connections.
    slot_ready_wait: float = 5.0

    def __init__(
        self,
        queues: Any,
        *args: Any,
        concurrency: int = DEFAULT_CONCURRENCY,
        isolated_queues: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f'concurrency must be a whole number of at least 1, not {concurrency!r}')
        super().__init__(queues, *args, **kwargs)
        self.concurrency = concurrency
        #: The queues whose jobs each run in a work horse of their own (see :mod:`rq.worker.isolated`).
        self.isolated_queues = frozenset([isolated_queues] if isinstance(isolated_queues, str) else isolated_queues)
        #: Why this worker stopped taking jobs to be replaced (None while it is not).
        self.replacement_reason: str | None = None
        self._runners: list[SlotRunner] = []
        self._event_loop = SharedEventLoop()
        self._loop_jobs: LoopJobs | None = None
        self._monitor: SlotMonitor | None = None
        self._freed = threading.Event()
        self._counts_lock = threading.Lock()
        self._unanswered_claims: list[str] = []

    # -- the loop ---------------------------------------------------------------------------

    _claims_ahead = False

    def _run_jobs(self, burst: bool, max_jobs: int | None, max_idle_time: float | None) -> str:
        # (slots claim ahead only without a job limit, which the main thread's claims count, and with
        # the queues in their fixed order)
        self._claims_ahead = max_jobs is None and self._dequeue_strategy == DequeueStrategy.DEFAULT
        self._loop_jobs = loop_jobs = LoopJobs(self, self._event_loop)
        self._runners = [
            SlotRunner(self, Slot(index), self._event_loop, loop_jobs) for index in range(1, self.concurrency + 1)
        ]
        for runner in self._runners:
            runner.start()
        self._wait_for_slots_ready()
        self._monitor = SlotMonitor(self, self._runners)
        self._monitor.start()
        ending = 'stopped'
        try:
            ending = self._claim_for_free_slots(burst, max_jobs, max_idle_time)
        except StopRequested:
            self.log.info('stopping on request')
        finally:
            self._let_running_jobs_end()
        if self.replacement_reason is not None:
            ending = f'stopped to be replaced: {self.replacement_reason}'
        return ending

    def _wait_for_slots_ready(self) -> None:
        """Let the slots open their connections before the first claims (at most
        :attr:`slot_ready_wait` seconds in all: a slot that could not connect meets the error again
        with its first job's outcome)."""
        deadline = time.monotonic() + self.slot_ready_wait
        for runner in self._runners:
            runner.ready.wait(max(0.0, deadline - time.monotonic()))

    def _claim_for_free_slots(self, burst: bool, max_jobs: int | None, max_idle_time: float | None) -> str:
        idle_since = time.monotonic()
        while not self._stop_requested and self.replacement_reason is None:
            self._with_reconnect(self._maintain)
            if self._stop_requested or self.replacement_reason is not None:
                break
            if max_jobs is not None and self._jobs_run >= max_jobs:
                self.log.info('claimed %d jobs, quitting once they end', self._jobs_run)
                return f'stopped after {self._jobs_run} jobs (max jobs)'
            free = [runner for runner in self._runners if runner.slot.state == IDLE]
            wanted = len(free) if max_jobs is None else min(len(free), max_jobs - self._jobs_run)
            if wanted == 0:
                self._wait_for_a_free_slot()
                continue
            # (counted before the claim too: a job that ends while the claim finds the queues empty
            # may have put itself back on them, a retry, and left its slot idle by the count after)
            busy_before_claim = self._busy_count()
            claimed = self._with_reconnect(functools.partial(self._claim_batch, free[:wanted]))
            busy = self._busy_count()
            if busy:
                idle_since = time.monotonic()
            if claimed == worker_ops.SUSPENDED:
                if not self._with_reconnect(functools.partial(self._wait_while_suspended, burst)):
                    return 'stopped: suspended in burst mode'
                continue
            if claimed:
                for claim, runner in claimed:
                    runner.give(claim)
                self.count_claimed(len(claimed))
                continue
            if burst and (busy or busy_before_claim):
                self._wait_for_a_free_slot()  # (a running job may queue others: claim again when it ends)
                continue
            if burst:
                self.log.info('done, quitting')
                return 'burst complete, the queues are empty'
            if not busy and max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                self.log.info('idle for %s seconds, quitting', max_idle_time)
                return f'stopped after {max_idle_time} seconds without a job (max idle time)'
            self._with_reconnect(functools.partial(self._wait_for_work, max_idle_time, idle_since))
        return 'stopped'

    def _busy_count(self) -> int:
        return sum(1 for runner in self._runners if runner.slot.state != IDLE)

    def _wait_for_a_free_slot(self) -> None:
        """Until a slot frees, maintenance is due, or half a second passed (a stop request is
        noticed by the loop then)."""
        if any(runner.slot.state == IDLE for runner in self._runners):
            return
        self._freed.wait(max(0.01, min(0.5, self.maintenance.seconds_until_due())))
        self._freed.clear()

    def _show_idle(self) -> None:
        if not self._busy_count():  # (busy while jobs run, even when it waits for more)
            super()._show_idle()

    def _let_running_jobs_end(self) -> None:
        """Wait for the running jobs (a cold shutdown interrupts them meanwhile), then stop the
        slots' threads, the monitor and the event loop. Jobs taken over are not waited for."""
        waiting = [runner for runner in self._runners if runner.slot.state not in (IDLE, TAKEN_OVER)]
        if waiting:
            self.log.info('waiting for %d running jobs to end', len(waiting))
        while any(runner.slot.state not in (IDLE, TAKEN_OVER) for runner in self._runners):
            self._freed.wait(0.25)
            self._freed.clear()
        for runner in self._runners:
            runner.close()
        if self._monitor is not None:
            self._monitor.close()
        self._event_loop.stop()
        if self._loop_jobs is not None:
            self._loop_jobs.close()

    # -- claims -----------------------------------------------------------------------------

    def _claim_batch(self, free: list[SlotRunner]) -> list[tuple[Claimed, SlotRunner]] | str:
        """Claim a job for each of the ``free`` slots, in one round trip; the jobs claimed, with the
        slot of each. A claim whose reply was lost is sent again with its execution id (see
        :meth:`JobClaiming.claim`)."""
        names = [queue.name for queue in self._ordered_queues]
        execution_ids = self._unanswered_claims[: len(free)]  # (the others are sent again next time)
        resent = set(execution_ids)
        while len(execution_ids) < len(free):
            execution_ids.append(uuid.uuid4().hex)
        slots = dict(zip(execution_ids, free, strict=True))
        self._unanswered_claims = [*execution_ids, *self._unanswered_claims[len(free) :]]
        self._unanswered_claim = execution_ids[0]
        moment = now()
        replies = worker_ops.claim_jobs(
            self.connection,
            names,
            self.name,
            [(execution_id, execution_id in resent, slots[execution_id].slot.index) for execution_id in execution_ids],
            codec.format_timestamp(moment),
            codec.format_epoch(moment),
            current_timestamp(),
            self.execution_ttl,
        )
        claimed: list[tuple[Claimed, SlotRunner]] = []
        suspended = False
        refused: Exception | None = None
        for execution_id, reply in zip(execution_ids, replies, strict=True):
            if isinstance(reply, Exception):
                refused = refused or reply
                continue
            self._unanswered_claims.remove(execution_id)
            decoded = worker_ops.decode_claim(names, reply)
            if decoded == worker_ops.SUSPENDED:
                suspended = True
            elif decoded is not None and not isinstance(decoded, str):
                queue_name, job_id, raw = decoded
                queue = next(q for q in self._ordered_queues if q.name == queue_name)
                execution = Execution(execution_id, job_id, self.connection, worker_name=self.name)
                execution.created_at = execution.last_heartbeat = moment
                job = self._load_claimed(job_id, raw, queue, execution)
                if job is not None:
                    claimed.append(((job, queue, execution), slots[execution_id]))
        self._unanswered_claim = self._unanswered_claims[0] if self._unanswered_claims else None
        if refused is not None and not claimed:
            raise refused
        if suspended and not claimed:
            return worker_ops.SUSPENDED
        return claimed

    def may_claim_ahead(self) -> bool:
        """Whether a slot may claim its next job with its current job's success."""
        return self._claims_ahead and not self._stop_requested and self.replacement_reason is None

    def count_claimed(self, count: int) -> None:
        with self._counts_lock:
            self._jobs_run += count

    def held_executions(self) -> list[tuple[str, str, str]]:
        held = []
        for runner in self._runners:
            claim = runner.slot.claim
            if claim is not None:
                job, queue, execution = claim
                held.append((queue.name, job.id, execution.id))
            held.extend(runner.recorder.claims.held())
        for execution_id in list(self._unanswered_claims):
            found = worker_ops.find_started(self.connection, self.queue_names(), execution_id)
            if found is not None:
                held.append((*found, execution_id))
        return held

    @property
    def executions(self) -> dict[str, Execution]:
        """The executions this worker is running, by execution id."""
        running = [runner.slot.claim for runner in self._runners]
        return {claim[2].id: claim[2] for claim in running if claim is not None}

    @executions.setter
    def executions(self, executions: dict[str, Execution]) -> None:
        """(The slots hold the executions: set by claims only.)"""

    def serialize(self) -> dict[str, Any]:
        """The worker hash, with ``concurrency`` (``rq info`` shows how many of its slots are busy)."""
        return {**super().serialize(), 'concurrency': self.concurrency}

    # -- slots ------------------------------------------------------------------------------

    def slot_freed(self) -> None:
        self._freed.set()

    def slot_lost(self, slot: Slot, reason: str) -> None:
        """A slot's thread is stuck in a job (or died): take no more jobs, and exit to be replaced
        once the others end (not on a cold shutdown, which stops the worker anyway)."""
        if not self._cold and self.replacement_reason is None:
            self.replacement_reason = reason
            self.log.warning('%s: taking no more jobs; exits to be replaced once its other jobs end', reason)
        self._freed.set()

    def add_counts(self, recorder: SlotRecorder) -> None:
        """Add what a slot recorded to the worker's counters."""
        with self._counts_lock:
            self.successful_job_count += recorder.successful_job_count
            self.failed_job_count += recorder.failed_job_count
            self.total_working_time += recorder.total_working_time
            recorder.successful_job_count = recorder.failed_job_count = 0
            recorder.total_working_time = 0.0

    # -- commands and shutdown --------------------------------------------------------------

    def _running(self, job_id: str | None = None, execution_id: str | None = None) -> Slot | None:
        for runner in self._runners:
            claim = runner.slot.claim
            if claim is not None and (claim[0].id == job_id or claim[2].id == execution_id):
                return runner.slot
        return None

    def request_stop_job(self, job_id: str | None) -> None:
        """The stop-job command: stop the job if one of the slots runs it (it ends ``stopped``)."""
        slot = self._running(job_id=job_id) if job_id else None
        if slot is None:
            self.log.warning('Not working on job %s, command ignored.', job_id)
            return
        self.log.info('Received command to stop job %s: stopping it.', job_id)
        slot.interrupt(Interruption(StopJob, STOPPED_TEXT, stopped=True), self.overrun_grace)

    def request_stop_execution(self, execution_id: str) -> None:
        slot = self._running(execution_id=execution_id) if execution_id else None
        if slot is None or slot.claim is None:
            self.log.warning('Not running execution %s, command ignored.', execution_id)
            return
        self.log.info('Received command to stop execution %s of job %s: stopping it.', execution_id, slot.claim[0].id)
        slot.interrupt(Interruption(StopJob, STOPPED_TEXT, stopped=True), self.overrun_grace)

    def kill_horse(self, sig: int = 0) -> None:
        """No horse: nothing to kill (stop commands name the job or execution to stop)."""

    def cold_shutdown(self) -> None:
        """Interrupt every running job (each ends failed, or retried, with the cause)."""
        for runner in self._runners:
            runner.slot.interrupt(Interruption(ColdShutdown, COLD_SHUTDOWN_TEXT), min(1.0, self.overrun_grace))

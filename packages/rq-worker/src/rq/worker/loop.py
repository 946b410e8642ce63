"""``BaseWorker``: the work loop shared by every worker class.

Each turn: honour suspension and stop requests, run due maintenance, then *claim* a job (one
script call pops an id from the first non-empty queue and records the job as started by this
worker, atomically) or, when every queue is empty, *wait* for one without taking it. The
subclass executes the claimed job; the outcome is recorded in one transaction.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from rq._redis import codec, worker_ops
from rq._redis.first_answer import wait_for_first_answer
from rq._utils import ASSUMED_VERSION, readable_version
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.logutils import setup_loghandlers, styled
from rq.suspension import is_suspended
from rq.trust import use_policy
from rq.utils import now

from . import recording
from ._claiming import Claimed, JobClaiming
from .execution_index import ExecutionIndex
from .hooks import JobHooks
from .identity import DequeueStrategy, WorkerIdentity, WorkerStatus
from .job_log import log_closing
from .maintenance import Maintenance
from .reachability import RedisReachability
from .reconnect import PROBE_INTERVAL, GaveUpOnRedis, Probe, Recovery, RedisLink, describe, is_transient
from .run import RunResult
from .scheduling import start_scheduler
from .signals import ShutdownHandling
from .upstream_api import UpstreamWorkerAPI
from .waiting import QueueWaiter

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

__all__ = ['BaseWorker', 'Claimed', 'logger']


class BaseWorker(JobClaiming, JobHooks, UpstreamWorkerAPI, ExecutionIndex, ShutdownHandling, WorkerIdentity):
    """A worker: takes jobs from its queues, in priority order, and runs them (subclasses say how)."""

    first_reconnect_delay = 1.0  # seconds; then doubled (exponential_backoff_factor) up to max_connection_wait_time
    _redis_link: RedisLink | None = None
    _recovery: Recovery | None = None

    def execute_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> None:
        """Run ``job`` from ``queue`` and record its outcome (implemented by each worker class). The
        loop calls it with upstream's arguments; the job's execution is ``self.execution``."""
        raise NotImplementedError

    # -- the loop ---------------------------------------------------------------------------

    def work(
        self,
        burst: bool = False,
        logging_level: str | int | None = None,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        max_jobs: int | None = None,
        max_idle_time: float | None = None,
        with_scheduler: bool = False,
        dequeue_strategy: DequeueStrategy | str = DequeueStrategy.DEFAULT,
    ) -> bool:
        """Work until stopped (or, with ``burst``, until the queues are empty). Returns True when at
        least one job was processed."""
        previous = use_policy(self.trust_policy)  # (the allowlist applies to every import of a job's callables)
        try:
            return self._work(
                burst, logging_level, date_format, log_format, max_jobs, max_idle_time, with_scheduler, dequeue_strategy
            )
        finally:
            use_policy(previous)

    def _work(
        self,
        burst: bool,
        logging_level: str | int | None,
        date_format: str,
        log_format: str,
        max_jobs: int | None,
        max_idle_time: float | None,
        with_scheduler: bool,
        dequeue_strategy: DequeueStrategy | str,
    ) -> bool:
        self._dequeue_strategy = DequeueStrategy(dequeue_strategy)
        try:
            self.bootstrap(logging_level, date_format, log_format)
        except StopRequested:  # (asked to stop while its first steps waited for Redis)
            self.log.info('stopping on request')
            self.teardown()
            log_closing(self, self._ending('stopped while starting'))
            return False
        if with_scheduler:
            self._start_scheduler(burst)
        self._jobs_run = 0
        ending = 'stopped'
        try:
            ending = self._run_jobs(burst, max_jobs, max_idle_time)
        except StopRequested:
            self.log.info('stopping on request')
        except redis.exceptions.RedisError as exc:
            # (one Redis did not answer is retried, never a reason to quit: see _with_reconnect; this
            # is a refusal, or a cold shutdown during an outage; the caller exits with an error)
            self.log.error('quitting because of Redis: %s', describe(exc))
            ending = f'stopped by a Redis error ({describe(exc)})'
            raise
        except BaseException as exc:
            ending = f'stopped by {type(exc).__name__}: {exc}' if str(exc) else f'stopped by {type(exc).__name__}'
            raise
        finally:
            self.teardown()
            log_closing(self, self._ending(ending))
        return self._jobs_run > 0

    _jobs_run = 0

    def _run_jobs(self, burst: bool, max_jobs: int | None, max_idle_time: float | None) -> str:
        """Claim and run jobs until the worker should stop; how it ended (for its last log line).
        A stop request ends it with :class:`~rq.exceptions.StopRequested`."""
        idle_since = time.monotonic()
        ending = 'stopped'
        # (a job claimed together with the previous one's recording is run even when a stop was
        # requested meanwhile: it is this worker's job already, and is never left behind)
        while not self._stop_requested or self.holds_claimed_job:
            self._with_reconnect(self._maintain)
            if self._stop_requested and not self.holds_claimed_job:  # (a stop may arrive during maintenance)
                break
            claimed = self._with_reconnect(self.claim)
            if claimed == worker_ops.SUSPENDED:
                if not self._with_reconnect(functools.partial(self._wait_while_suspended, burst)):
                    ending = 'stopped: suspended in burst mode'
                    break
                continue
            if claimed is None:
                if burst:
                    self.log.info('done, quitting')
                    ending = 'burst complete, the queues are empty'
                    break
                if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                    self.log.info('idle for %s seconds, quitting', max_idle_time)
                    ending = f'stopped after {max_idle_time} seconds without a job (max idle time)'
                    break
                self._with_reconnect(functools.partial(self._wait_for_work, max_idle_time, idle_since))
                continue
            job, queue, _ = claimed
            # (the hook path records in hooks that may run in a horse: no claim rides on them)
            self._may_claim_ahead = (
                self._dequeue_strategy == DequeueStrategy.DEFAULT
                and (max_jobs is None or self._jobs_run + 1 < max_jobs)
                and not self.uses_hooks
            )
            self.execute_job(job, queue)
            self._jobs_run += 1
            idle_since = time.monotonic()
            self.reorder_queues(queue)
            if max_jobs is not None and self._jobs_run >= max_jobs:
                self.log.info('finished executing %d jobs, quitting', self._jobs_run)
                ending = f'stopped after {self._jobs_run} jobs (max jobs)'
                break
        return ending

    def _maintain(self) -> None:
        """Upstream's step at each turn of the loop: run the maintenance tasks when they are due."""
        if self.should_run_maintenance_tasks:
            self.run_maintenance_tasks()

    def _ending(self, ending: str) -> str:
        """How the worker ended, for its last log line: a shutdown it was asked for comes first."""
        if self._cold:
            return 'cold shutdown complete'
        if self._stop_requested:
            return 'warm shutdown complete'
        return ending

    def bootstrap(self, logging_level: str | int | None, date_format: str, log_format: str) -> None:
        if logging_level is not None:
            setup_loghandlers(logging_level, date_format, log_format, name='rq')
        # A Redis that is absent at start is the caller's error, raised as upstream's worker raises it
        # (django-rq's rqworker then exits 1); one that is there but slow is waited for.
        wait_for_first_answer(
            self.connection, lambda exc: self.log.warning('Redis is slow to answer (%s); waiting', exc)
        )
        self._redis_link = RedisLink(self.log, self.note_redis_unreachable)  # (before the threads that share it start)
        # (from here on a stop request is handled: the steps below may wait for Redis a long time)
        self.install_signal_handlers()
        # (Redis may be slow or restart as the worker starts: its first steps wait for it too)
        version = self._with_reconnect(lambda: readable_version(self.connection))
        if version is None:
            self.log.info(
                'may not read the Redis version (INFO refused to this user): assuming %s or later',
                '.'.join(map(str, ASSUMED_VERSION)),
            )
        self._redis_version = version or ASSUMED_VERSION
        birth = now()
        self._with_reconnect(lambda: self.register_birth_at(birth))
        if self._stop_requested:  # (asked while it registered: the date is written now it can be)
            self._write_shutdown_date()
        # (its first look for abandoned jobs then sees an outage since this answer: a worker that
        # starts just before one gives live workers the same grace as the others do)
        self.redis_reachability.note_answered(gap_limit=float(self.heartbeat_interval))
        self.log.info('started with PID %d, version %s', self.pid, self.version)
        self.maintenance = Maintenance(self)
        self.waiter = QueueWaiter(self.connection, can_block=self._redis_version >= (6, 2, 0), log=self.log)
        self.subscribe()
        self._with_reconnect(lambda: self.set_state(WorkerStatus.STARTED))
        worker_ops.remember_names(self.name, self.queue_names())
        self.log.info('*** Listening on %s...', styled(', '.join(self.queue_names()), 'queue'))

    def teardown(self) -> None:
        """Stop the worker's helpers, then register its death, whatever became of the helpers: a
        worker that exits must never stay in ``rq:workers`` (``rq info`` would list a ghost)."""
        # (the worker's own signal handlers stay until its helpers are stopped: they ignore the
        # duplicate of a terminal's Ctrl-C that the pool also forwards, which would otherwise
        # interrupt these last steps with a KeyboardInterrupt)
        try:
            helpers = [
                ('its scheduler', getattr(self.scheduler, 'stop', None)),
                ('its command listener', getattr(getattr(self, 'commands', None), 'stop', None)),
                ('its queue watchers', getattr(getattr(self, 'waiter', None), 'close', None)),
                ('its Redis probe', getattr(self._recovery, 'close', None)),
            ]
            for what, stop in helpers:
                if stop is not None:
                    try:
                        stop()
                    except Exception:
                        self.log.exception('could not stop %s', what)
        finally:
            try:
                self.register_death()
            except redis.exceptions.RedisError as exc:
                self.log.warning('could not register its death (%s)', exc)
            finally:
                self.restore_signal_handlers()

    def _start_scheduler(self, burst: bool) -> None:
        self.scheduler = start_scheduler(self, burst)

    # -- suspension -------------------------------------------------------------------------

    def _wait_while_suspended(self, burst: bool) -> bool:
        """Block while workers are suspended; False when the worker should quit instead (burst)."""
        # (after an outage this runs again, with the worker shown suspended already)
        before = self._state if self._state != WorkerStatus.SUSPENDED.value else WorkerStatus.IDLE.value
        announced = False
        while is_suspended(self.connection):
            if burst:
                self.log.info('suspended in burst mode, quitting')
                return False
            if not announced:
                self.log.info('suspended, run `rq resume` to resume')
                self.set_state(WorkerStatus.SUSPENDED)
                announced = True
            self.heartbeat()
            time.sleep(1)
            if self._stop_requested:
                return False
        if announced:
            self.set_state(before)
        return True

    def _show_idle(self) -> None:
        if self._state != WorkerStatus.IDLE.value:
            self.set_state(WorkerStatus.IDLE)

    def _wait_for_work(self, max_idle_time: float | None, idle_since: float) -> None:
        """Block until a queue has a job, maintenance is due, or the idle limit passes."""
        self._show_idle()
        self.heartbeat()
        timeout = min(self.dequeue_timeout, self.maintenance.seconds_until_due())
        if max_idle_time is not None:
            timeout = min(timeout, max(0.0, max_idle_time - (time.monotonic() - idle_since)))
        names = [queue.name for queue in self._ordered_queues]
        # (its threads are started before the stop signal may interrupt: see rq.worker.waiting)
        self.waiter.watch(names)
        self._idle = True
        try:
            self.waiter.wait(names, max(0.01, timeout))
        finally:
            self._idle = False

    # -- recording --------------------------------------------------------------------------

    def record(self, job: Job, queue: Queue, execution: Execution, result: RunResult, stopped: bool = False) -> None:
        """Record a run's outcome (with the worker's counters) in one transaction, retrying while
        Redis is unreachable; then forget the current job."""
        self._with_reconnect(lambda: recording.record(self, job, queue, execution, result, stopped=stopped))
        self._current_claim = None  # (the job claimed ahead, if any, is held as that until the next claim)
        if self.holds_claimed_job:  # (claimed with the recording: this worker holds it already)
            assert self._prefetched_claim is not None
            self._job_id = codec.text(self._prefetched_claim[3][1])
        else:
            self._job_id = None
            self._state = WorkerStatus.IDLE.value

    # -- resilience -------------------------------------------------------------------------

    @functools.cached_property
    def redis_reachability(self) -> RedisReachability:
        """What this worker saw of Redis outages: its look for abandoned jobs waits one entry
        lifetime after an outage (see :mod:`rq.worker.reachability`)."""
        return RedisReachability()

    def note_redis_unreachable(self) -> None:
        """Hook for wherever the worker catches a Redis connection error: Redis was unreachable
        just now, so other workers' started entries may have lapsed without their being dead."""
        self.redis_reachability.note_unreachable()

    @property
    def redis_link(self) -> RedisLink:
        """Whether Redis answers this worker, shared by its threads (one line when an outage starts,
        one when it ends)."""
        link = self._redis_link
        if link is None:
            link = self._redis_link = RedisLink(self.log, self.note_redis_unreachable)
        return link

    def _with_reconnect(self, step: Callable[[], Any]) -> Any:
        """Run ``step``; while Redis does not answer (a lost connection, a timeout, a server loading
        or busy: :func:`~rq.worker.reconnect.is_transient`), try it again. Between attempts the
        worker waits ``first_reconnect_delay`` seconds, then ``exponential_backoff_factor`` times
        longer each time up to ``max_connection_wait_time``; a PING about every second cuts the wait
        short once Redis is back. Each call starts from the shortest delay.

        What the worker holds (a job's outcome, a claim without its reply) stays in memory and is
        written once Redis answers; the resends are idempotent (see :meth:`claim` and
        :mod:`rq.worker.recording`). A stop request ends the wait only when the worker holds
        nothing; a cold shutdown ends it anyway, with :class:`~rq.worker.reconnect.GaveUpOnRedis`."""
        link = self.redis_link
        recovery = self._recovery
        if recovery is None:
            recovery = self._recovery = Recovery(Probe(self.connection))
        delay = self.first_reconnect_delay
        while True:
            attempt_began = time.monotonic()
            try:
                result = step()
            except redis.exceptions.WatchError:
                continue  # a guarded transaction met a concurrent change: the step checks and retries
            except Exception as exc:
                if not is_transient(exc):
                    raise
                link.failed('loop', exc)
                recovery.step_failed(exc)
                self._stop_waiting_for_redis(exc)
                if (
                    isinstance(exc, redis.exceptions.TimeoutError)
                    and time.monotonic() - attempt_began >= PROBE_INTERVAL
                ):
                    # (it waited already: Redis is there but held it back, as a CLIENT PAUSE WRITE
                    # does while PINGs pass; sent again at once, it is served as soon as Redis
                    # serves anyone, instead of after a backoff that left its entries to lapse)
                    continue
                deadline = time.monotonic() + delay
                while (remaining := deadline - time.monotonic()) > 0:
                    time.sleep(min(PROBE_INTERVAL, remaining))  # (a stop request may interrupt it here)
                    self._stop_waiting_for_redis(exc)
                    if recovery.back():
                        break
                delay = min(delay * self.exponential_backoff_factor, self.max_connection_wait_time)
            else:
                recovery.step_answered()
                link.answered('loop')
                return result

    def _stop_waiting_for_redis(self, exc: BaseException) -> None:
        """End the wait for Redis on a stop request when the worker holds nothing; on a cold
        shutdown, whatever it holds (it cannot be written: the job is failed as abandoned later)."""
        holds = self._job_id is not None or self._unanswered_claim is not None
        if not self._stop_requested:
            return
        if not holds:
            raise StopRequested() from exc
        if self._cold:
            what = f'the outcome of job {self._job_id}' if self._job_id is not None else 'the reply to a claim'
            raise GaveUpOnRedis(
                f'cold shutdown while Redis did not answer ({describe(exc)}): {what} was not written'
            ) from exc


logger = logging.getLogger('rq.worker')

"""Upstream RQ's job-lifecycle hooks (``perform_job``, ``handle_job_success`` ...), mixed into ``BaseWorker``.

A worker class that overrides none of them runs each job on the fast path of its class (claim, run,
record in one transaction; see :mod:`rq.worker.loop`). A subclass written for upstream RQ that
overrides one of :data:`JOB_HOOKS` takes the *hook path* instead: the worker calls the hooks with
upstream's arguments, at upstream's moments and in upstream's process (in the work horse for the
forking ``Worker``, in the worker itself for ``SimpleWorker``). Their default implementations record
the run exactly as the fast path does (same transaction, same results and registries), so an
override that calls ``super()`` loses nothing.
"""

from __future__ import annotations

import functools
import random
import sys
import time
import traceback
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis

from rq._outcome import run_exception_handlers
from rq._redis import codec, keys
from rq.executions import Execution
from rq.job import JobStatus, Retry
from rq.registry import StartedJobRegistry
from rq.timeouts import JobTimeoutException
from rq.utils import now

from . import recording
from .identity import WorkerStatus
from .reconnect import is_transient
from .run import FAILED, FINISHED, RETRY, ColdShutdown, RunResult, StopJob, effective_timeout, exit_horse

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

#: The hooks whose override sends a worker down the hook path (``execute_job`` is not one: an
#: override of it wraps whichever path its ``super()`` call takes).
JOB_HOOKS = (
    'perform_job',
    'prepare_job_execution',
    'prepare_execution',
    'handle_job_success',
    'handle_job_failure',
    'handle_job_retry',
    'handle_exception',
    'handle_execution_ended',
    'main_work_horse',
    'fork_work_horse',
    'monitor_work_horse',
    'setup_work_horse_signals',
)

#: Waits (seconds) between attempts of a work horse to record its job while Redis does not answer.
HORSE_RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def library_class(cls: type[Any]) -> type[Any]:
    """The nearest class of this library among ``cls`` and its bases: what an override differs from."""
    return next(c for c in cls.__mro__ if c.__module__ == 'rq.worker' or c.__module__.startswith('rq.worker.'))


def overridden_hooks(cls: type[Any]) -> list[str]:
    """The names of :data:`JOB_HOOKS` that ``cls`` defines differently from its library class."""
    base = library_class(cls)
    return [name for name in JOB_HOOKS if getattr(cls, name, None) is not getattr(base, name, None)]


class JobHooks:
    """Upstream's job-lifecycle hooks, with defaults that record through :mod:`rq.worker.recording`."""

    if TYPE_CHECKING:
        name: str
        log: Any
        connection: Any
        queues: list[Queue]
        death_penalty_class: Any
        default_result_ttl: int
        _exc_handlers: list[Any]
        _stopped_job_id: str | None
        _job_id: str | None
        _state: str
        _current_claim: tuple[str, str, str] | None
        _may_claim_ahead: bool
        current_job_working_time: float

        def record(
            self, job: Job, queue: Queue, execution: Execution, result: RunResult, stopped: bool = False
        ) -> None: ...
        def set_current_job_id(self, job_id: str | None = None, pipeline: Any = None) -> None: ...
        def set_state(self, state: str, pipeline: Any = None) -> None: ...
        def procline(self, message: str) -> None: ...
        def setup_work_horse_signals(self) -> None: ...
        @property
        def execution_ttl(self) -> float: ...

    if TYPE_CHECKING:
        execution: Execution | None  # (a property of ExecutionIndex)
    _is_horse = False
    _run_started_at: datetime | None = None

    @functools.cached_property
    def uses_hooks(self) -> bool:
        """This worker's class overrides one of upstream's job hooks (computed once per worker): it
        runs jobs on the hook path, else on the fast path of its class."""
        return bool(overridden_hooks(type(self)))

    def takes_hook_path(self, job: Job) -> bool:
        """Whether ``execute_job`` runs ``job`` through the hooks: when this worker's class overrides
        one, or when the job is not the one its loop claimed (code that calls ``execute_job(job,
        queue)`` by hand, as upstream's tests and dashboards do, gets upstream's steps)."""
        claim = self._current_claim
        return self.uses_hooks or claim is None or claim[1] != job.id

    @property
    def is_horse(self) -> bool:
        """True in a work horse (a process that runs one job for the worker)."""
        return self._is_horse

    # -- before the run ---------------------------------------------------------------------

    def prepare_execution(self, job: Job) -> Execution:
        """The execution of ``job`` by this worker, in the worker process (not the horse). The job a
        worker claims has its execution already (the claim records it, atomically); for any other
        job one is created here, with the worker shown busy on it."""
        execution = self.execution
        if execution is not None and execution.job_id == job.id:
            return execution
        with self.connection.pipeline(transaction=True) as pipe:
            execution = Execution.create(job, int(self.execution_ttl) + 1, pipe, worker_name=self.name)
            self.set_current_job_id(job.id, pipeline=pipe)
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            pipe.execute()
        job._execution = execution
        self.execution = execution
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Bookkeeping as the job starts. For a job this worker claimed, the claim made it started
        already (status, ``worker_name``, started registry, the worker's ``current_job``), so nothing
        is written; any other job is marked started here (and taken off its queue's intermediate list
        when asked)."""
        self._job_id = job.id
        self.current_job_working_time = 0.0
        claim = self._current_claim
        if claim is None or claim[1] != job.id:
            with self.connection.pipeline(transaction=True) as pipe:
                self.set_current_job_id(job.id, pipeline=pipe)
                job.prepare_for_execution(self.name, pipeline=pipe)
                if remove_from_intermediate_queue:
                    pipe.lrem(keys.intermediate_queue_key(job.origin), 1, job.id)
                pipe.execute()
        self.procline(f'Processing {job.func_name} from {job.origin} since {time.time()}')

    # -- the run ----------------------------------------------------------------------------

    def job_code_over(self) -> None:
        """The job's code and callbacks are over; its outcome is recorded next (a SimpleWorker stops
        its heartbeats and interruptions here)."""

    def perform_job(self, job: Job, queue: Queue) -> bool:
        """Run ``job`` and record its outcome through the hooks, as upstream does: in the work horse
        of a forking worker, in the worker itself for a SimpleWorker. True unless the job failed."""
        started_job_registry = queue.started_job_registry
        try:
            self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
            self._run_started_at = now()
            job.started_at = job.started_at or self._run_started_at
            timeout = effective_timeout(job, queue.DEFAULT_TIMEOUT)
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                return_value = job.perform_in_place()
            self.handle_execution_ended(job, queue, job.success_callback_timeout)
            job._result = return_value
            if isinstance(return_value, Retry):
                assert self.execution is not None
                self.handle_job_retry(
                    job=job,
                    queue=queue,
                    retry=return_value,
                    started_job_registry=started_job_registry,
                    execution=self.execution,
                )
                return True
            job.execute_success_callback(self.death_penalty_class, return_value)
            self.handle_job_success(job=job, queue=queue, started_job_registry=started_job_registry)
        except (ColdShutdown, StopJob):
            raise
        except BaseException:
            job._status = JobStatus.FAILED
            self.handle_execution_ended(job, queue, job.failure_callback_timeout)
            exc_info = sys.exc_info()
            exc_string = ''.join(traceback.format_exception(*exc_info))
            try:
                job.execute_failure_callback(self.death_penalty_class, *exc_info)
            except (ColdShutdown, StopJob):
                raise
            except BaseException:
                exc_info = sys.exc_info()
                exc_string = ''.join(traceback.format_exception(*exc_info))
            self.handle_exception(job, *exc_info)
            self.handle_job_failure(
                job=job, exc_string=exc_string, queue=queue, started_job_registry=started_job_registry
            )
            return False
        return True

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        """The work horse: runs :meth:`perform_job` (which records the outcome) and exits with 0,
        or 1 when it raised."""
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self._may_claim_ahead = False
        status = 0
        try:
            self.perform_job(job, queue)
        except BaseException:
            self.log.exception('job %s: the work horse failed', job.id)
            status = 1
        finally:
            exit_horse(status)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """The job's function returned (or raised): note when. (The started entry needs no extra
        heartbeat here: the worker renews it while the callbacks run.)"""
        job.ended_at = job.last_heartbeat = now()

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """Call the worker's exception handlers in order (a handler returning a false value other
        than None ends the chain). The failure itself is logged with the job's outcome."""
        self.log.debug('handling exception for %s', job.id)
        run_exception_handlers(job, self._exc_handlers, exc_info)

    # -- recording the outcome --------------------------------------------------------------

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry) -> None:
        """Record the success (result, finished registry, dependents, the worker's counters), in the
        same transaction as the fast path."""
        payload = None if job._result is None else codec.encode_value(job.serializer, job._result)
        self._record_outcome(job, queue, self._run_result(job, FINISHED, return_payload=payload))

    def handle_job_retry(
        self,
        job: Job,
        queue: Queue,
        retry: Retry,
        started_job_registry: StartedJobRegistry,
        execution: Execution,
    ) -> None:
        """Record a run that returned ``Retry``: the job is retried, or failed once ``retry.max``
        retries were used up."""
        self._record_outcome(job, queue, self._run_result(job, RETRY, retry=retry), execution=execution)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: StartedJobRegistry | None = None,
        exc_string: str = '',
    ) -> None:
        """Record a failure with ``exc_string``: the job is retried if it has retries left, else failed
        (stopped, when a stop-job command named it)."""
        stopped = self._stopped_job_id is not None and self._stopped_job_id == job.id
        if stopped:
            self._stopped_job_id = None
        result = self._run_result(job, FAILED, exc_string=exc_string)
        self._record_outcome(job, queue, result, stopped=stopped)

    def _run_result(self, job: Job, status: str, **fields: Any) -> RunResult:
        ended = job.ended_at or now()
        started = self._run_started_at or job.started_at or ended
        return RunResult(status, started, ended, **fields)

    def _record_outcome(
        self, job: Job, queue: Queue, result: RunResult, stopped: bool = False, execution: Execution | None = None
    ) -> None:
        self.job_code_over()
        execution = execution or self.prepare_execution(job)
        self._run_started_at = None
        if not self._is_horse:
            self.record(job, queue, execution, result, stopped=stopped)
            return
        # (a horse has no reconnecting loop: it tries a few times, then the worker fails the job)
        delays = iter(HORSE_RECORD_RETRY_DELAYS)
        while True:
            try:
                recording.record(self, job, queue, execution, result, stopped=stopped)
                return
            except redis.exceptions.WatchError:
                continue
            except Exception as exc:
                delay = next(delays, None)
                if not is_transient(exc) or delay is None:
                    raise
                time.sleep(delay)

    def finish_hooked_job(self, job: Job) -> None:
        """After the hook path: the job is no longer this worker's, whoever recorded it (the horse,
        or nobody: an override that recorded nothing leaves the job to the abandoned-job check)."""
        claim = self._current_claim
        if claim is not None and claim[1] == job.id:
            self._current_claim = None
        if self._job_id == job.id:
            self._job_id = None
            self._state = WorkerStatus.IDLE.value
        self._run_started_at = None

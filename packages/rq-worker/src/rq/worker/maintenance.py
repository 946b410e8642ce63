"""Periodic duties of a worker.

- Every quarter heartbeat interval: fail or retry the jobs of dead workers (started entries whose
  heartbeats stopped, and whose workers are not heard from either) on this worker's queues, except
  for two entry lifetimes after Redis was unreachable (see :mod:`rq.worker.reachability`); an entry
  expires 1.5 intervals after the last heartbeat, so a dead worker's job is noticed within 1.75
  intervals (52.5 s with the default 30 s ``job_monitoring_interval``), within two intervals as
  promised. The worker first renews the
  started entries of the executions it holds itself (its current job, the one claimed ahead, the one
  a claim whose reply was lost took): after an outage of Redis they may have expired, yet they
  belong to a live worker.
- At each of these runs: restart the worker's scheduler thread (``with_scheduler``) if it died.
- Every ``maintenance_interval`` (600 s), under the per-queue lock ``rq:clean_registries:<q>`` that
  upstream RQ also takes: drop expired registry entries, forget dead workers, put back ids stuck in
  an upstream worker's intermediate list, queue the dependents an rq 3.0 process left in its ready
  registry (``rq:ready:<q>``), prune groups, and free the rate-limit slots a crash left held (RQ
  3.0's cleanup: see :func:`rq.rate_limit.cleanup_key`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import redis

from rq import rate_limit
from rq._redis import keys, ops, worker_ops
from rq.group import Group
from rq.intermediate_queue import IntermediateQueue
from rq.logutils import styled
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ReadyJobRegistry, StartedJobRegistry
from rq.worker_registration import clean_worker_registry

from .job_log import AbandonedJobLogger
from .reconnect import describe, is_transient

if TYPE_CHECKING:
    from rq.queue import Queue

logger = logging.getLogger('rq.worker')

CLEANING_LOCK_SECONDS = 899
STUCK_AFTER_SECONDS = 60


#: Entry lifetimes after an outage during which no job is failed as abandoned (see
#: :mod:`rq.worker.reachability`).
GRACE_LIFETIMES = 2


class Maintenance:
    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._next_abandoned_check = 0.0
        self._next_cleaning = 0.0
        # the worker's loop and (in a SimpleWorker, while a job runs) its heartbeat thread both
        # run due maintenance: one at a time, the other skips
        self._running = threading.Lock()
        self._log_abandoned = AbandonedJobLogger(worker)
        self._announced_grace = False
        worker.redis_reachability  # noqa: B018 - created now, before the threads that feed it start

    @property
    def abandoned_check_period(self) -> float:
        return max(0.25, float(self.worker.heartbeat_interval) / 4)

    def seconds_until_due(self) -> float:
        now = time.monotonic()
        return float(max(0.0, min(self._next_abandoned_check, self._next_cleaning) - now))

    def run_due(self, worker: Any) -> None:
        """Run what is due (nothing if another thread of the worker is running maintenance)."""
        if not self._running.acquire(blocking=False):
            return
        try:
            now = time.monotonic()
            if now >= self._next_abandoned_check:
                self._next_abandoned_check = now + self.abandoned_check_period
                self.fail_abandoned_jobs()
            if now >= self._next_cleaning:
                self._next_cleaning = now + worker.maintenance_interval
                worker.clean_registries()  # (upstream's hook: its default is clean_queues)
            self.keep_scheduler_running()
        finally:
            self._running.release()

    def keep_scheduler_running(self) -> None:
        """Failover for ``with_scheduler``: a scheduler thread that died (it should not) is started
        again. (Take-over of another worker's queues is the scheduler's own job: it stands by.)"""
        ensure_running = getattr(self.worker.scheduler, 'ensure_running', None)
        if ensure_running is None:
            return
        try:
            ensure_running()
        except Exception as exc:
            self._failed(exc, 'could not restart its scheduler')

    def fail_abandoned_jobs(self) -> None:
        """Any live worker handles an expired started entry (once, whoever claims it first), and
        logs it (its logger comes first among the exception handlers the job's failure calls).

        Never one of the worker's own: the entries it holds are renewed first, to expire one ttl
        after a moment later than the bound of this look, so they cannot be found expired by it
        (nor by another worker's look, for a while).

        Never a live worker's either. Right after Redis was unreachable (a Redis error, or no
        answer for longer than a heartbeat interval, as :attr:`BaseWorker.redis_reachability` saw
        it), every entry may have lapsed: the worker then fails none of them until one entry
        lifetime after Redis answered again, by when every live worker has renewed its own. And
        the registry's cleanup keeps any expired entry whose worker is still heard from."""
        # the exact time: started scores are exact moments (claim_job.lua, heartbeats)
        expired_before = time.time()
        reachability = self.worker.redis_reachability
        try:
            self.renew_held_executions(not_before=expired_before)
        except Exception as exc:
            if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
                reachability.note_unreachable()
            self.worker.log.warning('could not renew its own jobs (%s); not looking for abandoned jobs now', exc)
            return
        reachability.note_answered(gap_limit=float(self.worker.heartbeat_interval))
        grace_left = reachability.seconds_of_grace_left(GRACE_LIFETIMES * self.worker.execution_ttl)
        if grace_left > 0:
            if not self._announced_grace:
                self._announced_grace = True
                self.worker.log.info(
                    'Redis answers again after an outage: no job is failed as abandoned for %.1f s '
                    '(live workers renew their jobs meanwhile)',
                    grace_left,
                )
            return
        self._announced_grace = False
        handlers = [self._log_abandoned, *self.worker._exc_handlers]
        for queue in self.worker.queues:
            try:
                StartedJobRegistry(queue=queue).cleanup(
                    timestamp=expired_before,
                    exception_handlers=handlers,
                    heartbeat_lifetime=self.worker.execution_ttl,
                )
            except Exception as exc:
                self._failed(exc, 'could not check %s for abandoned jobs', queue.name)

    def renew_held_executions(self, not_before: float = 0.0) -> None:
        """Push the expiry of the started entries this worker holds one ttl past now (and past
        ``not_before``); holding none, send its (idle) heartbeat instead. Either way a write, sent
        even when there is nothing to renew: while Redis holds writes back (``CLIENT PAUSE WRITE``,
        a stalled disk) and reads go on, this call waits as every worker's renewals do, so the
        look that follows sees the gap as an outage (and gives live workers their grace) instead
        of reading entries their workers cannot renew."""
        held = self.worker.held_executions()
        if not held:
            self.worker.heartbeat()
            return
        expiry = max(time.time(), not_before) + self.worker.execution_ttl
        with self.worker.connection.pipeline(transaction=False) as pipe:
            worker_ops.renew_started(pipe, held, expiry)
            pipe.execute()

    def clean_queues(self) -> None:
        connection = self.worker.connection
        for queue in self.worker.queues:
            lock = keys.clean_registries_lock_key(queue.name)
            if not worker_ops.try_lock(connection, lock, CLEANING_LOCK_SECONDS):
                continue
            try:
                self.worker.log.info('cleaning registries for queue: %s', styled(queue.name, 'queue'))
                FinishedJobRegistry(queue=queue).cleanup()
                FailedJobRegistry(queue=queue).cleanup()
                ReadyJobRegistry(queue=queue).cleanup()  # (queues what an rq 3.0 process left ready)
                clean_worker_registry(queue)
                requeue_stuck_intermediate_ids(queue, self.worker.log)
            except Exception as exc:
                self._failed(exc, 'cleaning queue %s failed', queue.name)
            finally:
                worker_ops.unlock(connection, lock)
        try:
            Group.clean_registries(connection)
        except Exception as exc:
            self._failed(exc, 'cleaning groups failed')
        try:
            rate_limit.cleanup_all(connection)
        except Exception as exc:
            self._failed(exc, 'cleaning rate limits failed')

    def _failed(self, exc: Exception, message: str, *args: Any) -> None:
        """Log a maintenance step that failed: one line when Redis did not answer (the worker's own
        steps report the outage; the step runs again on its next turn), the traceback otherwise."""
        if is_transient(exc):
            self.worker.log.warning(message + ' (%s); it runs again later', *args, describe(exc))
        else:
            self.worker.log.exception(message, *args)


def requeue_stuck_intermediate_ids(queue: Queue, log: logging.Logger = logger) -> int:
    """Ids an upstream worker moved to ``rq:queue:<q>:intermediate`` and never started (it died in
    between) go back to the front of the queue once seen there for a minute. Upstream RQ fails
    them; they never ran, so running them is what loses nothing."""
    intermediate = IntermediateQueue(queue.key, connection=queue.connection)
    started = StartedJobRegistry(queue=queue)
    moved = 0
    for job_id in intermediate.get_job_ids():
        if job_id in started:
            continue
        if intermediate.set_first_seen(job_id) or not intermediate.should_be_cleaned_up(job_id):
            continue
        if ops.move_back_from_intermediate(queue.connection, queue.name, job_id):
            log.warning('queue %s: job %s was stuck in the intermediate list; put back', queue.name, job_id)
            moved += 1
    return moved

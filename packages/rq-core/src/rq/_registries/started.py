"""The started job registry: running executions scored by heartbeat expiry, and the failing (or retrying)
of the jobs whose worker died."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from .._jobs.liveness import kept_until, read_holder
from .._outcome import handle_abandoned_job
from .._redis import execution_ops, keys, ops
from .._redis import registries as zsets
from .._redis.results_ops import registry_score
from .._utils import current_timestamp, parse_composite_key
from ..defaults import DEFAULT_JOB_MONITORING_INTERVAL
from ..job import Job, JobStatus
from .base import BaseRegistry

if TYPE_CHECKING:
    from redis.client import Pipeline

    from ..executions import Execution

logger = logging.getLogger('rq.registry')

#: How long a cleaner holds an abandoned execution it is handling before others may take it over.
ABANDONED_CLAIM_SECONDS = 60

#: How long a started entry lives without a heartbeat at default settings (1.5 ``job_monitoring_interval``):
#: a worker heard from within it counts as alive (callers that know their interval pass their own).
DEFAULT_HEARTBEAT_LIFETIME = DEFAULT_JOB_MONITORING_INTERVAL * 1.5


class StartedJobRegistry(BaseRegistry):
    """Jobs being run: members ``'<job_id>:<execution_id>'`` scored by heartbeat expiry.

    A member whose score passed belongs to a job whose worker died: ``cleanup()`` fails it with
    :class:`~rq.exceptions.AbandonedJobError` (or retries it if it has retries left).
    """

    __module__ = 'rq.registry'

    kind = 'started'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['started']) + '{0}'

    def add(self, job: Job | str, ttl: int = 0, pipeline: Pipeline | None = None, xx: bool = False) -> Any:
        raise NotImplementedError('StartedJobRegistry holds executions: use add_execution()')

    def remove(self, job: Job | str, pipeline: Pipeline | None = None, delete_job: bool = False) -> Any:
        raise NotImplementedError('StartedJobRegistry holds executions: use remove_execution()')

    @staticmethod
    def parse_job_id(entry: str) -> str:
        return parse_composite_key(entry)[0]

    def __contains__(self, item: Job | str) -> bool:
        """True when the job (a Job or an id) has an execution here; ``'<job_id>:<execution_id>'``
        checks that one execution."""
        member = self._member(item)
        if ':' in member:
            return zsets.score_of(self.connection, self.key, member) is not None
        return zsets.has_member_with_prefix(self.connection, self.key, member + ':')

    def add_execution(self, execution: Execution, pipeline: Pipeline, ttl: int = 0, xx: bool = False) -> Any:
        score = registry_score(current_timestamp(), ttl)
        return zsets.add(pipeline, self.key, execution.composite_key, score, xx)

    def remove_execution(
        self, execution: Execution, job: Job | None = None, pipeline: Pipeline | None = None, delete_job: bool = False
    ) -> None:
        zsets.remove(pipeline if pipeline is not None else self.connection, self.key, execution.composite_key)
        if delete_job and job is not None:
            job.delete(pipeline=pipeline, remove_from_queue=False)

    def remove_executions(self, job: Job, pipeline: Pipeline | None = None) -> None:
        members = [f'{job.id}:{e}' for e in ops.execution_ids(self.connection, job.id)]
        zsets.remove(pipeline if pipeline is not None else self.connection, self.key, *members)

    def get_job_and_execution_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[tuple[str, str]]:
        if cleanup:
            self.cleanup()
        return [parse_composite_key(m) for m in zsets.members(self.connection, self.key, start, end, desc=desc)]

    def get_job_ids(self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True) -> list[str]:
        ids: list[str] = []
        for job_id, _ in self.get_job_and_execution_ids(start, end, desc=desc, cleanup=cleanup):
            if job_id not in ids:
                ids.append(job_id)
        return ids

    def cleanup(
        self,
        timestamp: float | None = None,
        exception_handlers: list[Any] | None = None,
        heartbeat_lifetime: float = DEFAULT_HEARTBEAT_LIFETIME,
    ) -> None:
        """Fail (or retry) the jobs of executions whose heartbeat expired and whose worker is gone,
        then drop those entries.

        An expired entry whose worker is still alive (see :mod:`rq._jobs.liveness`: heard from after
        its last renewal of this run, less than ``heartbeat_lifetime`` seconds ago) is not failed: its
        expiry is moved to one ``heartbeat_lifetime`` after that worker's last heartbeat, so that it
        expires again, and is failed then, should the worker go quiet (upstream cleaners sharing the
        Redis see a live entry meanwhile).

        Each entry to fail is first claimed atomically (its score pushed ``ABANDONED_CLAIM_SECONDS``
        ahead), so that concurrent cleaners handle an abandoned job once; it is removed in the same
        transaction that records the job's failure, and expires again should this process die first.
        A heartbeat that arrives between the look and the claim wins: the claim then fails.
        """
        score = timestamp if timestamp is not None else current_timestamp()
        # (workers are judged as of the look's moment: a write of this look held back by Redis, as
        # a CLIENT PAUSE WRITE does while reads go on, must not age the workers it reads after it)
        as_of = min(time.time(), score)
        handled: set[str] = set()
        for member in zsets.members_up_to(self.connection, self.key, score):
            job_id, execution_id = parse_composite_key(member)
            holder = read_holder(self.connection, job_id, execution_id)
            keep_until = kept_until(holder, as_of, heartbeat_lifetime)
            if keep_until is not None:
                if ops.claim_expired(self.connection, self.key, member, score, math.ceil(keep_until)):
                    logger.info(
                        'Job %s: its started entry expired, but its worker %s is alive (heard from %.1f s ago); kept',
                        job_id,
                        holder.worker_name,
                        time.time() - (holder.worker_beat or 0.0),
                    )
                continue
            claimed_until = current_timestamp() + ABANDONED_CLAIM_SECONDS
            if not ops.claim_expired(self.connection, self.key, member, score, claimed_until):
                continue
            job = None if job_id in handled else self._fetch_or_none(job_id)
            if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
                # (gone, handled, or no longer started: finished or requeued meanwhile, as rq 3.0
                # leaves it; only the dead run's entries go)
                zsets.remove(self.connection, self.key, member)
                if holder.worker_name:
                    execution_ops.end_execution(self.connection, holder.worker_name, job_id, execution_id)
                continue
            handled.add(job_id)

            # (the execution hash naming the worker may have expired with the entry: the job names it too)
            dead_worker = holder.worker_name or job.worker_name or ''

            def forget(pipe: Pipeline, member: str = member, worker_name: str = dead_worker) -> None:
                zsets.remove(pipe, self.key, member)
                if worker_name:  # (and out of the dead worker's execution index)
                    execution_ops.end_execution(pipe, worker_name, *parse_composite_key(member))

            try:
                handle_abandoned_job(
                    job, self.get_queue(), exception_handlers or [], self.death_penalty_class, extra=forget
                )
            except Exception:
                logger.exception('Could not fail abandoned job %s', job.id)

"""The enqueueing half of ``Queue``: building jobs and putting them on the queue, deferred behind
their dependencies, scheduled, in bulk, or run here and now (``is_async=False``); releasing dependents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from datetime import datetime as _datetime
from typing import TYPE_CHECKING, Any, cast

from . import _bulk_enqueue, _enqueue, _ready
from ._deferral import defer_if_unmet
from ._enqueue_args import EnqueueData, parse_args
from ._redis import codec
from ._replicas import DEFAULT_REPLICA_TIMEOUT
from ._sync import run_sync
from ._utils import now, parse_timeout
from .job import Job, JobStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .queue import Queue
    from .rate_limit import RateLimit
    from .serializers import Serializer


class QueueEnqueueing:
    """What :class:`rq.queue.Queue` does to put jobs on its queue (its attributes are set there)."""

    name: str
    connection: Redis
    job_class: type[Job]
    serializer: Serializer
    signing_keys: tuple[bytes, ...] | None
    #: How many replicas must acknowledge an enqueue before it returns (0: none, the enqueue returns
    #: once the master has the job), and for how many seconds at most (see :mod:`rq._replicas`).
    replicas: int = 0
    replica_timeout: float = DEFAULT_REPLICA_TIMEOUT
    _is_async: bool
    _default_timeout: int

    def _as_queue(self) -> Queue:
        return cast('Queue', self)

    # -- building jobs ----------------------------------------------------------------------

    parse_args = staticmethod(parse_args)

    @staticmethod
    def prepare_data(
        func: Any,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Any = None,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        repeat: Any = None,
        webhooks: Any = None,
    ) -> EnqueueData:
        """Describe one job for :meth:`enqueue_many`."""
        return EnqueueData(
            func,
            args,
            kwargs,
            timeout,
            result_ttl,
            ttl,
            failure_ttl,
            description,
            depends_on,
            job_id,
            at_front,
            meta,
            retry,
            on_success,
            on_failure,
            on_stopped,
            repeat,
            webhooks,
        )

    def create_job(
        self,
        func: Any,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        meta: dict[str, Any] | None = None,
        status: JobStatus = JobStatus.QUEUED,
        retry: Any = None,
        repeat: Any = None,
        *,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        webhooks: Any = None,
        group_id: str | None = None,
        rate_limit: RateLimit | None = None,
    ) -> Job:
        """Build a job for this queue without enqueueing it (nothing is written).

        Raises:
            ValueError: ``timeout == 0`` (use -1 for no limit), ``ttl <= 0``, a bad id or function.
            TimeoutFormatError: a timeout/TTL string such as ``'1.5h'``.
            SerializationError: the arguments cannot be serialized.
        """
        timeout = parse_timeout(timeout)
        if timeout is None:
            timeout = self._default_timeout
        elif timeout == 0:
            raise ValueError('0 timeout is not allowed. Use -1 for infinite timeout')
        job = self.job_class.create(
            func,
            args=args,  # type: ignore[arg-type]
            kwargs=kwargs,
            connection=self.connection,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            status=status,
            description=description,
            depends_on=depends_on,
            timeout=timeout,
            id=job_id,
            origin=self.name,
            meta=meta,
            serializer=self.serializer,
            retry=retry,
            repeat=repeat,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            webhooks=webhooks,
            group_id=group_id,
        )
        if rate_limit is not None:
            job.rate_limit_key, job.rate_limit_concurrency = rate_limit.key, rate_limit.concurrency
        job.signing_keys = self.signing_keys
        return job

    # -- enqueueing -------------------------------------------------------------------------

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue ``f(*args, **kwargs)``; RQ's reserved keywords (``job_timeout``, ``result_ttl``,
        ``ttl``, ``depends_on``, ``job_id``, ``at_front``, ``meta``, ``retry``, ``repeat``, callbacks,
        ``webhooks``, ``pipeline``, ``unique``, ...) configure the job instead."""
        return self.enqueue_call(**parse_args(f, *args, **kwargs)._asdict())

    def enqueue_call(
        self,
        func: Any,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Any = None,
        repeat: Any = None,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        pipeline: Pipeline | None = None,
        unique: bool = False,
        webhooks: Any = None,
        rate_limit: RateLimit | None = None,
    ) -> Job:
        """Enqueue ``func(*args, **kwargs)`` (note: ``timeout=`` here, ``job_timeout=`` in ``enqueue``).

        Raises:
            ValueError: ``unique=True`` without ``job_id`` or together with ``depends_on``.
            DuplicateJobError: ``unique=True`` and a job with ``job_id`` already exists.
        """
        _enqueue.check_unique(unique, job_id, depends_on)
        job = self.create_job(
            func,
            args=args,
            kwargs=kwargs,
            timeout=timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            description=description,
            depends_on=depends_on,
            job_id=job_id,
            meta=meta,
            status=JobStatus.QUEUED,
            retry=retry,
            repeat=repeat,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            webhooks=webhooks,
            rate_limit=rate_limit,
        )
        return self.enqueue_job(job, pipeline=pipeline, at_front=at_front, unique=unique)

    def enqueue_job(
        self, job: Job, pipeline: Pipeline | None = None, at_front: bool = False, unique: bool = False
    ) -> Job:
        """Enqueue a built job: queued, or deferred while a dependency is unmet (one atomic step).

        With ``is_async=False`` the job runs here and now, and is returned finished or failed.
        """
        if job.has_rate_limit and not self._is_async:
            raise ValueError('rate_limit is not supported on synchronous queues (is_async=False)')
        if self._is_async:
            return self._place(job, pipeline, 'L' if at_front else 'R', unique)
        if job._dependency_ids and not job.dependencies_are_met():
            return self._place(job, pipeline, 'R', unique)
        self._place(job, pipeline, 'N', unique)
        if pipeline is not None:
            pipeline.execute()
        return self.run_sync(job)

    def setup_dependencies(self, job: Job, pipeline: Pipeline | None = None) -> Job:
        """Defer ``job`` when one of its dependencies is unmet (as RQ's step before enqueueing).

        A deferred job gets status ``deferred``, is recorded in its dependencies' ``:dependents``
        sets and its own ``:dependencies`` set, enters the deferred registry and is saved. A job whose
        dependencies are met (or that has none) is left for the caller to enqueue. The dependencies'
        hashes are WATCHed: without ``pipeline`` a concurrent change means checking again; with one,
        its ``WatchError`` reaches the caller, and the pipeline is left in MULTI mode for the caller
        to add to and execute.
        """
        return defer_if_unmet(self._as_queue(), job, pipeline)

    def _enqueue_job(self, job: Job, pipeline: Pipeline | None = None, at_front: bool = False) -> Job:
        """Put a job on the queue without checking its dependencies (the scheduler's path)."""
        return self._place(job, pipeline, 'L' if at_front else 'R', unique=False, check_dependencies=False)

    def _place(
        self,
        job: Job,
        pipeline: Pipeline | None,
        placement: str,
        unique: bool,
        score: int = 0,
        check_dependencies: bool = True,
    ) -> Job:
        return _enqueue.place(self._as_queue(), job, pipeline, placement, unique, score, check_dependencies)

    def enqueue_at(self, datetime: datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Schedule ``f(*args, **kwargs)`` for ``datetime`` (naive means this host's local time).

        A scheduler (``rq worker --with-scheduler``) moves the job to the queue when it is due.
        ``unique=True`` is honoured (RQ documents it; RQ 2.12 ignores it, so it is never refused here).
        """
        options = parse_args(f, *args, **kwargs)._asdict()
        at_front, pipeline, unique = options.pop('at_front'), options.pop('pipeline'), options.pop('unique')
        job = self.create_job(**options, status=JobStatus.SCHEDULED)
        if at_front:
            job.enqueue_at_front = True
        return self.schedule_job(job, datetime, pipeline=pipeline, unique=unique)

    def enqueue_in(self, time_delta: timedelta, func: Any, *args: Any, **kwargs: Any) -> Job:
        """Schedule ``func(*args, **kwargs)`` to run ``time_delta`` from now."""
        return self.enqueue_at(now() + time_delta, func, *args, **kwargs)

    def schedule_job(self, job: Job, datetime: datetime, pipeline: Pipeline | None = None, unique: bool = False) -> Job:
        """Save ``job`` as scheduled for ``datetime`` in ``rq:scheduled:<queue>`` (one atomic step).

        Raises:
            DuplicateJobError: ``unique=True`` and the job already exists.
        """
        if not isinstance(datetime, _datetime):
            raise TypeError(f'schedule_job needs a datetime, not {type(datetime).__name__}')
        score = codec.to_score(codec.local_to_utc(datetime))
        job._status = JobStatus.SCHEDULED
        return self._place(job, pipeline, 'S', unique, score=score)

    def enqueue_many(
        self, job_datas: Iterable[EnqueueData], pipeline: Pipeline | None = None, group_id: str | None = None
    ) -> list[Job]:
        """Enqueue several jobs; every job is built (and checked) before anything is written. Returns
        the jobs in the order given, each placed as a single enqueue would place it (queued at the
        tail, or at the head with ``at_front``, or deferred behind its dependencies, which may be
        earlier jobs of the same call). Two entries with the same ``job_id`` raise ValueError (RQ
        3.0: one would overwrite the other).

        Without ``pipeline`` the jobs are written in calls of up to a hundred jobs, streamed on one
        connection (see :mod:`rq._bulk_enqueue`): each call is atomic, the whole is not. A lost
        connection is retried as the client's ``Retry`` says; if the calls stop part of the way
        (retries spent, an error reply), the error's note says which jobs were enqueued and which
        were not. With ``pipeline`` the jobs are added to it, for the caller to execute. With
        ``replicas`` set (and no ``pipeline``), the jobs are written in one transaction and the call
        returns once that many replicas hold them all (else ReplicationTimeout)."""
        jobs, fronts = _bulk_enqueue.build(self._as_queue(), job_datas, group_id)
        if pipeline is None and self.replicas and self._is_async:
            return _enqueue.place_acknowledged(self._as_queue(), jobs, fronts) if jobs else []
        if not self._is_async:
            # One job after the other, as single enqueues: each runs here (or is deferred while a
            # dependency, possibly an earlier job of this batch, has not finished).
            if pipeline is not None:
                pipeline.execute()
            return [self.enqueue_job(job, at_front=at_front) for job, at_front in zip(jobs, fronts, strict=True)]
        if pipeline is None:
            return _bulk_enqueue.enqueue_jobs(self._as_queue(), jobs, fronts)
        for job, at_front in zip(jobs, fronts, strict=True):
            _enqueue.place(self._as_queue(), job, pipeline, 'L' if at_front else 'R', unique=False)
        return jobs

    def run_sync(self, job: Job) -> Job:
        return run_sync(self._as_queue(), job)

    def run_job(self, job: Job) -> Job:
        return self.run_sync(job)

    def enqueue_dependents(
        self,
        job: Job,
        pipeline: Pipeline | None = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> dict[str, list[str]]:
        """Queue the jobs waiting on ``job`` whose dependencies are all met now (one atomic step;
        ``job`` counts when finished, or is ``exclude_job_id``). Returns ``{queue name: [ids]}`` of
        those queued (RQ 3.0). ``pipeline`` is not used (RQ 3.0 removed it)."""
        return _ready.release_dependents(job, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status)

    def move_dependents_to_ready(
        self,
        job: Job,
        pipeline: Pipeline | None = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> dict[str, list[str]]:
        """RQ 3.0: move the deferred dependents of ``job`` whose dependencies are met to their queues'
        ready registries (status ``ready_to_enqueue``), to be queued by
        :meth:`enqueue_ready_jobs_by_queue` (or maintenance). ``job`` counts as met unless canceled,
        stopped or failed (where failures are not allowed), as in 3.0. Without ``pipeline`` this is one
        atomic step; a ``pipeline`` must be WATCHing: it gets the move, for the caller to execute.
        Returns ``{queue name: [ids]}``."""
        return _ready.move_dependents_to_ready(self._as_queue(), job, pipeline, exclude_job_id, refresh_job_status)

    def enqueue_ready_jobs_by_queue(self, job_ids_by_queue_name: dict[str, list[str]]) -> None:
        """RQ 3.0: queue these ids of each queue's ready registry (see :meth:`move_dependents_to_ready`)."""
        _ready.enqueue_ready_jobs_by_queue(self._as_queue(), job_ids_by_queue_name)

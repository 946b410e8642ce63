"""The ``Job`` class: a function call stored in the hash ``rq:job:<id>``."""

from __future__ import annotations

import asyncio
import inspect
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import _links
from .._redis import codec, keys, ops
from .._utils import now
from ..exceptions import InvalidJobOperation, NoSuchJobError
from ..serializers import Serializer, resolve_serializer
from . import create, current, job_hash, lifecycle
from .callbacks import JobCallbacksMixin
from .generator_results import refuse_generator
from .options import Retry
from .payload import UNSET, JobPayloadMixin
from .results_access import JobResultsMixin
from .status import JobStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from ..executions import Execution, ExecutionRegistry
    from ..queue import Queue
    from ..registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
    from ..results import Result
    from ..webhook import Webhook

_JOB_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]+')


def parse_job_id(job_or_execution_id: str) -> str:
    """The job id part of ``'<job_id>'`` or ``'<job_id>:<execution_id>'``."""
    return job_or_execution_id.split(':', 1)[0]


def validate_job_id(job_id: object) -> None:
    """Raise TypeError for a non-string and ValueError for anything but ``[A-Za-z0-9_-]+``."""
    if not isinstance(job_id, str):
        raise TypeError(f'Job id must be a string, not {type(job_id).__name__}')
    if not _JOB_ID_PATTERN.fullmatch(job_id):
        raise ValueError(f'Invalid job id {job_id!r}: only letters, digits, underscores and dashes are allowed')


class Job(JobPayloadMixin, JobCallbacksMixin, JobResultsMixin):
    """A function call stored in Redis, with its state, options and results."""

    redis_job_namespace_prefix = keys.JOB_PREFIX

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer: Any = None) -> None:
        if connection is None:
            raise TypeError('Job requires a Redis connection: pass connection=Redis(...)')
        self.connection: Redis = connection
        self._id: str | None = None
        if id is not None:
            self.id = id
        self.serializer: Serializer = resolve_serializer(serializer)
        self.created_at: datetime = now()
        self._data: Any = UNSET
        self._func_name: Any = UNSET
        self._instance: Any = UNSET
        self._args: Any = UNSET
        self._kwargs: Any = UNSET
        self._success_callback_name: str | None = None
        self._failure_callback_name: str | None = None
        self._stopped_callback_name: str | None = None
        self._success_callback_timeout: int | None = None
        self._failure_callback_timeout: int | None = None
        self._stopped_callback_timeout: int | None = None
        self.description: str | None = None
        self.origin: str = ''
        self.enqueued_at: datetime | None = None
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.last_heartbeat: datetime | None = None
        self._result: Any = None
        self._exc_info: str | None = None
        self.timeout: int | None = None
        self.result_ttl: int | None = None
        self.failure_ttl: int | None = None
        self.ttl: int | None = None
        self.worker_name: str | None = None
        self._status: JobStatus | None = None
        self._dependency_ids: list[str] = []
        self.meta: dict[str, Any] = {}
        self.retries_left: int | None = None
        self.retry_intervals: list[int] | None = None
        self.number_of_retries: int | None = None
        self.repeats_left: int | None = None
        self.repeat_intervals: list[int] | None = None
        self.allow_dependency_failures: bool | None = None
        self.enqueue_at_front: bool | None = None
        self.enqueue_at_front_on_retry: bool | None = None
        self.group_id: str | None = None
        #: RQ 3.0's rate limit of the job (``RateLimit(key, concurrency)``), read and kept, not enforced.
        self.rate_limit_key: str | None = None
        self.rate_limit_concurrency: int | None = None
        self.webhooks: list[Webhook] = []
        self.redis_server_version: tuple[int, int, int] | None = None
        self._cached_result: Result | None = None
        self._dependency: Job | None = None
        self._execution: Execution | None = None

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        func: Any,
        args: list[Any] | tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        connection: Redis | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        status: JobStatus | None = None,
        description: str | None = None,
        depends_on: Any = None,
        timeout: int | str | None = None,
        retry: Any = None,
        id: str | None = None,
        origin: str = '',
        meta: dict[str, Any] | None = None,
        failure_ttl: int | str | None = None,
        serializer: Any = None,
        group_id: str | None = None,
        *,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        webhooks: Iterable[Webhook] | None = None,
        repeat: Any = None,
    ) -> Job:
        """Build a job in memory (nothing is written to Redis).

        Raises:
            TypeError: bad ``args``/``kwargs``/``connection``/``func`` types, or an unencodable call
                (:class:`~rq.exceptions.SerializationError`).
            ValueError: an invalid id, timeout, ttl or callback. (A function no worker can import,
                such as a lambda, is accepted as RQ accepts it: a worker fails it with the reason.)
            InvalidJobDependency: a job depending on itself, or on something that is not a job.
        """
        return create.build_job(
            cls,
            func,
            args=args,
            kwargs=kwargs,
            connection=connection,
            result_ttl=result_ttl,
            ttl=ttl,
            status=status,
            description=description,
            depends_on=depends_on,
            timeout=timeout,
            retry=retry,
            id=id,
            origin=origin,
            meta=meta,
            failure_ttl=failure_ttl,
            serializer=serializer,
            group_id=group_id,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            webhooks=webhooks,
            repeat=repeat,
        )

    # -- identity and keys ----------------------------------------------------------------

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        validate_job_id(value)
        self._id = value

    def get_id(self) -> str:
        return self.id

    def set_id(self, value: str) -> None:
        self.id = value

    @classmethod
    def key_for(cls, job_id: str) -> str:
        return keys.job_key(job_id)

    @classmethod
    def dependents_key_for(cls, job_id: str) -> str:
        return keys.dependents_key(job_id)

    @property
    def key(self) -> str:
        return keys.job_key(self.id)

    @property
    def dependents_key(self) -> str:
        return keys.dependents_key(self.id)

    @property
    def dependencies_key(self) -> str:
        return keys.dependencies_key(self.id)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self._id!r}, enqueued_at={self.enqueued_at!r})'

    def __str__(self) -> str:
        return f'<{type(self).__name__} {self._id}: {self.description}>'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    # -- loading and saving --------------------------------------------------------------

    @classmethod
    def exists(cls, job_id: str, connection: Redis) -> bool:
        return bool(connection.exists(keys.job_key(job_id)))

    @classmethod
    def fetch(cls, id: str, connection: Redis | None = None, serializer: Any = None) -> Job:
        """Load job ``id`` (``'<id>:<execution_id>'`` is accepted too).

        Raises:
            NoSuchJobError: there is no such job.
            DeserializationError: the stored data is corrupt (the message names the job).
        """
        job = cls(parse_job_id(id), connection=connection, serializer=serializer)
        job.refresh()
        return job

    @classmethod
    def fetch_many(cls, job_ids: Iterable[str], connection: Redis, serializer: Any = None) -> list[Job | None]:
        """Load several jobs in one round trip; a missing job gives None in its place."""
        ids = [parse_job_id(job_id) for job_id in job_ids]
        jobs: list[Job | None] = []
        for job_id, raw in zip(ids, ops.hgetall_many(connection, [keys.job_key(i) for i in ids]), strict=False):
            if not raw:
                jobs.append(None)
                continue
            job = cls(job_id, connection=connection, serializer=serializer)
            job.restore(raw)
            jobs.append(job)
        return jobs

    def restore(self, raw: dict[bytes, bytes]) -> None:
        job_hash.restore(self, raw)

    def refresh(self) -> None:
        raw = self.connection.hgetall(self.key)
        if not raw:
            raise NoSuchJobError(f'No such job: {self.id}')
        self.restore(raw)  # type: ignore[arg-type]

    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict[str, Any]:
        return job_hash.to_mapping(self, include_meta=include_meta, include_result=include_result)

    def save(self, pipeline: Pipeline | None = None, include_meta: bool = True, include_result: bool = True) -> None:
        """HSET every field of the job (``rq:job:<id>``); TTLs are left alone."""
        mapping = self.to_dict(include_meta=include_meta, include_result=include_result)
        (pipeline if pipeline is not None else self.connection).hset(self.key, mapping=mapping)  # type: ignore[arg-type]

    def save_meta(self) -> None:
        """Write only the ``meta`` field.

        Raises:
            NoSuchJobError: the job no longer exists (nothing is written).
        """
        if not ops.set_fields_if_exists(self.connection, self.key, {'meta': self.serializer.dumps(self.meta)}):
            raise NoSuchJobError(f'No such job: {self.id}')

    def get_meta(self, refresh: bool = True) -> dict[str, Any]:
        if refresh:
            raw = self.connection.hget(self.key, 'meta')
            self.meta = job_hash._decode_meta(self, raw) if raw else {}  # type: ignore[arg-type]
        return self.meta

    # -- status ---------------------------------------------------------------------------

    def get_status(self, refresh: bool = True) -> JobStatus:
        """The job's status, read from Redis unless ``refresh=False``.

        Raises:
            InvalidJobOperation: the job hash no longer exists.
        """
        if refresh:
            raw = self.connection.hget(self.key, 'status')
            if not raw:
                raise InvalidJobOperation(f'Failed to retrieve status for job: {self.id}')
            self._status = JobStatus(codec.text(raw))
        return self._status  # type: ignore[return-value]

    def set_status(self, status: JobStatus | str, pipeline: Pipeline | None = None) -> None:
        self._status = JobStatus(status)
        (pipeline if pipeline is not None else self.connection).hset(self.key, 'status', self._status.value)

    def _is_status(self, status: JobStatus) -> bool:
        return self.get_status() == status

    @property
    def is_finished(self) -> bool:
        return self._is_status(JobStatus.FINISHED)

    @property
    def is_queued(self) -> bool:
        return self._is_status(JobStatus.QUEUED)

    @property
    def is_failed(self) -> bool:
        return self._is_status(JobStatus.FAILED)

    @property
    def is_started(self) -> bool:
        return self._is_status(JobStatus.STARTED)

    @property
    def is_deferred(self) -> bool:
        return self._is_status(JobStatus.DEFERRED)

    @property
    def is_canceled(self) -> bool:
        return self._is_status(JobStatus.CANCELED)

    @property
    def is_scheduled(self) -> bool:
        return self._is_status(JobStatus.SCHEDULED)

    @property
    def is_stopped(self) -> bool:
        return self._is_status(JobStatus.STOPPED)

    @property
    def is_ready_to_enqueue(self) -> bool:
        return self._is_status(JobStatus.READY_TO_ENQUEUE)

    @property
    def has_rate_limit(self) -> bool:
        """Whether RQ 3.0 gave the job a rate limit (both ``rate_limit_key`` and ``rate_limit_concurrency``)."""
        return bool(self.rate_limit_key and self.rate_limit_concurrency)

    def get_position(self) -> int | None:
        """Position of the job in its queue (0 is next), or None."""
        return ops.list_position(self.connection, keys.queue_key(self.origin), self.id) if self.origin else None

    # -- dependencies -----------------------------------------------------------------------

    @property
    def _dependency_id(self) -> str | None:
        return self._dependency_ids[0] if self._dependency_ids else None

    @property
    def dependency(self) -> Job | None:
        """The first dependency job (cached), or None."""
        if not self._dependency_ids:
            return None
        if self._dependency is None:
            self._dependency = type(self).fetch(self._dependency_ids[0], self.connection, self.serializer)
        return self._dependency

    @property
    def dependent_ids(self) -> list[str]:
        """Ids of the jobs waiting on this one (``rq:job:<id>:dependents``)."""
        return sorted(codec.text(i) for i in self.connection.smembers(self.dependents_key))

    @property
    def dependency_ids(self) -> list[str]:
        """Ids this deferred job waits on (``rq:job::<id>:dependencies``)."""
        return sorted(codec.text(i) for i in self.connection.smembers(self.dependencies_key))

    def fetch_dependencies(self, watch: bool = False, pipeline: Pipeline | None = None) -> list[Job]:
        """The dependency jobs that still exist (read with the job's own connection).

        With ``watch=True`` and a ``pipeline``, the pipeline WATCHes every dependency's hash first, so
        that a later EXEC on it fails if one of them changes.
        """
        if watch and self._dependency_ids and pipeline is not None:
            pipeline.watch(*[keys.job_key(i) for i in self._dependency_ids])  # type: ignore[no-untyped-call]
        jobs = type(self).fetch_many(self._dependency_ids, self.connection, serializer=self.serializer)
        return [job for job in jobs if job is not None]

    def dependencies_are_met(
        self,
        parent_job: Job | None = None,
        pipeline: Pipeline | None = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> bool:
        """True when every dependency that still exists is finished (or failed, if failures are allowed)."""
        return lifecycle.dependencies_are_met(
            self, parent_job=parent_job, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status
        )

    def register_dependency(self, pipeline: Pipeline | None = None) -> None:
        """Record this job in its dependencies' ``:dependents`` sets and its own ``:dependencies`` set."""
        ops.register_dependency(
            pipeline if pipeline is not None else self.connection, self.id, self._dependency_ids, ttl=self.ttl
        )

    # -- lifecycle --------------------------------------------------------------------------

    def cancel(
        self, pipeline: Pipeline | None = None, enqueue_dependents: bool = False, remove_from_dependencies: bool = False
    ) -> dict[str, list[str]]:
        """Cancel the job: status ``canceled``, out of its queue and registry, into ``rq:canceled:<q>``.

        The hash is kept. A running job is not stopped (see ``send_stop_job_command``). With
        ``enqueue_dependents`` the dependents it was the last unmet dependency of are queued at once;
        returns ``{queue name: [ids]}`` of those (RQ 3.0), ``{}`` otherwise.

        Raises:
            InvalidJobOperation: the job is already canceled.
        """
        return lifecycle.cancel(
            self,
            pipeline=pipeline,
            enqueue_dependents=enqueue_dependents,
            remove_from_dependencies=remove_from_dependencies,
        )

    def requeue(self, at_front: bool = False) -> Job:
        """Put a failed job back on its queue.

        Raises:
            InvalidJobOperation: the job is not in its queue's FailedJobRegistry.
        """
        return lifecycle.requeue(self, at_front=at_front)

    def delete(
        self, pipeline: Pipeline | None = None, remove_from_queue: bool = True, delete_dependents: bool = False
    ) -> None:
        """Delete the job hash, its dependency sets and executions, and take it out of its queue,
        registries and group. Its results stream is kept until it expires."""
        lifecycle.delete(
            self, pipeline=pipeline, remove_from_queue=remove_from_queue, delete_dependents=delete_dependents
        )

    def delete_dependents(self, pipeline: Pipeline | None = None) -> None:
        """Delete every job that depends on this one."""
        lifecycle.delete_dependents(self, pipeline=pipeline)

    def cleanup(self, ttl: int | None = None, pipeline: Pipeline | None = None, remove_from_queue: bool = True) -> None:
        """``ttl`` 0 deletes the job; a positive ttl expires it (and its dependency sets); else nothing."""
        if ttl == 0:
            self.delete(pipeline=pipeline, remove_from_queue=remove_from_queue)
        elif ttl is not None and ttl > 0:
            ops.expire_job(pipeline if pipeline is not None else self.connection, self.id, ttl)

    def get_ttl(self, default_ttl: int | None = None) -> int | None:
        return default_ttl if self.ttl is None else self.ttl

    def get_result_ttl(self, default_ttl: int) -> int:
        return default_ttl if self.result_ttl is None else self.result_ttl

    def get_retry_interval(self) -> int:
        """Delay before the next exception retry: the interval list is aligned to the end of the budget."""
        return Retry.exception_retry_interval(self.retries_left or 0, self.retry_intervals)

    @property
    def should_retry(self) -> bool:
        return self.retries_left is not None and self.retries_left > 0

    def should_enqueue_at_front(self) -> bool:
        """Where the scheduler puts this job: front if asked at enqueue, or on a retry that asked for it."""
        return bool(self.enqueue_at_front or (self.enqueue_at_front_on_retry and self.started_at is not None))

    def heartbeat(self, timestamp: datetime, ttl: int, pipeline: Pipeline | None = None, xx: bool = False) -> None:
        """Record ``last_heartbeat`` and push the job's started-registry score to ``timestamp + ttl``."""
        self.last_heartbeat = timestamp
        ops.job_heartbeat(
            pipeline if pipeline is not None else self.connection,
            self.id,
            self.origin,
            codec.format_timestamp(timestamp),
            codec.to_score(timestamp) + ttl,
            xx=xx,
            execution_id=self._execution.id if self._execution is not None else None,
        )

    def prepare_for_execution(self, worker_name: str, pipeline: Pipeline) -> None:
        """Mark the job started by ``worker_name`` (fields ``status``, ``started_at``, ``last_heartbeat``,
        ``worker_name``) and make its hash persistent while it runs."""
        self.worker_name = worker_name
        self.started_at = self.last_heartbeat = now()
        self._status = JobStatus.STARTED
        ops.mark_started(pipeline, self.id, worker_name, codec.format_timestamp(self.started_at))

    def perform(self) -> Any:
        """Call the function with the job's arguments (a coroutine is run to completion) and return
        its value. The job is the current job meanwhile. The job hash loses its ``ttl`` expiry first:
        a job that started may no longer vanish (as in RQ 2.x)."""
        self.connection.persist(self.key)
        return self.perform_in_place()

    def perform_in_place(self) -> Any:
        """:meth:`perform` without touching Redis (workers made the hash persistent when they
        claimed the job): a work horse that runs a job needs no Redis connection of its own."""
        current.push(self)
        try:
            self._result = self._execute()
        finally:
            current.pop()
        return self._result

    def _execute(self) -> Any:
        result = self.func(*self.args, **self.kwargs)
        if inspect.iscoroutine(result):
            return asyncio.run(result)
        refuse_generator(self.func_name or '?', self.serializer, result)
        return result

    # -- registries and executions ---------------------------------------------------------

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        return _links.registry_class('started')(  # type: ignore[return-value]
            self.origin, connection=self.connection, job_class=type(self), serializer=self.serializer
        )

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        return _links.registry_class('finished')(  # type: ignore[return-value]
            self.origin, connection=self.connection, job_class=type(self), serializer=self.serializer
        )

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        return _links.registry_class('failed')(  # type: ignore[return-value]
            self.origin, connection=self.connection, job_class=type(self), serializer=self.serializer
        )

    @property
    def execution_registry(self) -> ExecutionRegistry:
        return _links.execution_registry_class()(self.id, connection=self.connection)

    def get_executions(self) -> list[Execution]:
        return self.execution_registry.get_executions()

    def retry(self, queue: Queue, pipeline: Pipeline) -> None:
        """Use one retry: re-enqueue the job now, or schedule it when its interval is above 0."""
        lifecycle.retry(self, queue, pipeline)

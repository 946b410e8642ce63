"""What is done with one job beyond its data: create it, its dependencies, cancel, requeue, delete,
retry, run, its registries and executions (:class:`rq.job.Job` mixes this into the model)."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from . import _create as create
from . import _lifecycle as lifecycle
from . import _links
from ._jobs import coroutines, current
from ._jobs.generator_results import refuse_generator
from ._jobs.options import Retry
from ._jobs.status import JobStatus
from ._redis import codec, keys, ops
from ._utils import now

if TYPE_CHECKING:
    from collections.abc import Iterable

    from redis import Redis
    from redis.client import Pipeline

    from .executions import Execution, ExecutionRegistry
    from .job import Job
    from .queue import Queue
    from .registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
    from .serializers import Serializer
    from .webhook import Webhook


class JobOperationsMixin:
    """Mixed into :class:`rq.job.Job` with the model (:class:`rq._jobs.model.Job`), which sets these attributes."""

    def _job(self) -> Job:
        return cast('Job', self)

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
            cls,  # type: ignore[arg-type]
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

    if TYPE_CHECKING:
        id: str
        connection: Redis
        serializer: Serializer
        origin: str
        ttl: int | None
        result_ttl: int | None
        started_at: datetime | None
        last_heartbeat: datetime | None
        worker_name: str | None
        retries_left: int | None
        retry_intervals: list[int] | None
        enqueue_at_front: bool | None
        enqueue_at_front_on_retry: bool | None
        _status: JobStatus | None
        _result: Any
        _dependency_ids: list[str]
        _dependency: Any  # (the model declares it; its Job is the model class)
        _execution: Execution | None
        func: Any
        func_name: str
        args: Any
        kwargs: Any

        @property
        def key(self) -> str: ...

        @property
        def dependents_key(self) -> str: ...

        @property
        def dependencies_key(self) -> str: ...

        @classmethod
        def fetch(cls, id: str, connection: Redis | None = None, serializer: Any = None) -> Job: ...

        @classmethod
        def fetch_many(cls, job_ids: Iterable[str], connection: Redis, serializer: Any = None) -> list[Job | None]: ...
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
        dependency: Job = self._dependency
        return dependency

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
            self._job(), parent_job=parent_job, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status
        )

    def register_dependency(self, pipeline: Pipeline | None = None) -> None:
        """Record this job in its dependencies' ``:dependents`` sets and its own ``:dependencies`` set."""
        ops.register_dependency(
            pipeline if pipeline is not None else self.connection, self.id, self._dependency_ids, ttl=self.ttl
        )

    # -- lifecycle --------------------------------------------------------------------------

    def cancel(
        self,
        pipeline: Pipeline | None = None,
        enqueue_dependents: bool = False,
        remove_from_dependencies: bool = False,
    ) -> dict[str, list[str]]:
        """Cancel the job: status ``canceled``, out of its queue and registry, into ``rq:canceled:<q>``.

        The hash is kept. A running job is not stopped (see ``send_stop_job_command``). With
        ``enqueue_dependents`` the dependents it was the last unmet dependency of are queued at once;
        returns ``{queue name: [ids]}`` of those (RQ 3.0), ``{}`` otherwise.

        Raises:
            InvalidJobOperation: the job is already canceled.
        """
        return lifecycle.cancel(
            self._job(),
            pipeline=pipeline,
            enqueue_dependents=enqueue_dependents,
            remove_from_dependencies=remove_from_dependencies,
        )

    def requeue(self, at_front: bool = False) -> Job:
        """Put a failed job back on its queue.

        Raises:
            InvalidJobOperation: the job is not in its queue's FailedJobRegistry.
        """
        return lifecycle.requeue(self._job(), at_front=at_front)

    def delete(
        self, pipeline: Pipeline | None = None, remove_from_queue: bool = True, delete_dependents: bool = False
    ) -> None:
        """Delete the job hash, its dependency sets and executions, and take it out of its queue,
        registries and group. Its results stream is kept until it expires."""
        lifecycle.delete(
            self._job(), pipeline=pipeline, remove_from_queue=remove_from_queue, delete_dependents=delete_dependents
        )

    def delete_dependents(self, pipeline: Pipeline | None = None) -> None:
        """Delete every job that depends on this one."""
        lifecycle.delete_dependents(self._job(), pipeline=pipeline)

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
        current.push(self._job())
        try:
            self._result = self._execute()
        finally:
            current.pop()
        return self._result

    async def perform_on_loop(self) -> Any:
        """:meth:`perform_in_place` for a job whose function is a coroutine function, awaited on
        the caller's event loop (run it as a task of its own: the job is current in the task's
        context)."""
        current.push(self._job())
        try:
            self._result = await self.func(*self.args, **self.kwargs)
        finally:
            current.pop()
        return self._result

    def _execute(self) -> Any:
        result = self.func(*self.args, **self.kwargs)
        if inspect.iscoroutine(result):
            return coroutines.run(result)
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
        lifecycle.retry(self._job(), queue, pipeline)

"""``rq.asyncio.Job``: a job seen from asyncio code. Its data are those of :class:`rq.job.Job`
(read through the same decoding); what touches Redis is a coroutine with the synchronous method's
name and arguments, built from the same script calls (:mod:`rq._redis`), sent over ``redis.asyncio``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from .. import job as sync_job
from .._redis import async_calls, codec, keys, ops, rate_limit_ops, ready_ops
from .._utils import current_timestamp, now
from ..exceptions import InvalidJobOperation, JobFailedError, NoSuchJobError
from ..job import JobStatus, parse_job_id
from ..results import Result
from . import results

#: The synchronous job's attributes read through (its data, decoded alike). Its methods that talk
#: to Redis are this class's coroutines instead; any other name raises AttributeError.
DATA_ATTRIBUTES = frozenset(
    {
        'args', 'kwargs', 'func_name', 'func', 'instance', 'data', 'description', 'origin', 'meta',
        'timeout', 'result_ttl', 'failure_ttl', 'ttl', 'created_at', 'enqueued_at', 'started_at',
        'ended_at', 'last_heartbeat', 'worker_name', 'retries_left', 'retry_intervals', 'repeats_left',
        'repeat_intervals', 'group_id', 'allow_dependency_failures', 'enqueue_at_front',
        'enqueue_at_front_on_retry', 'rate_limit_key', 'rate_limit_concurrency', 'webhooks',
        'success_callback', 'failure_callback', 'stopped_callback', 'success_callback_timeout',
        'failure_callback_timeout', 'stopped_callback_timeout', 'key', 'dependents_key',
        'dependencies_key', 'serializer', 'get_call_string', 'number_of_retries',
    }
)  # fmt: skip


class Job:
    """A job for asyncio code (``from rq.asyncio import Job``): ``await Job.fetch(id, connection=r)``
    with ``r`` a ``redis.asyncio.Redis``; ``await job.get_status()``, ``await job.latest_result(timeout=5)``,
    ``await job.result(timeout=5)``, ``await job.cancel()``... Data attributes (``job.id``,
    ``job.args``, ``job.meta``, ...) are read as on :class:`rq.job.Job`; ``job.sync(connection)`` gives
    that synchronous job, on a synchronous connection, for everything else."""

    def __init__(self, model: sync_job.Job) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        if name in DATA_ATTRIBUTES:
            return getattr(self._model, name)
        raise AttributeError(
            f'rq.asyncio.Job has no attribute {name!r} (await its coroutines, or use job.sync(connection) '
            'for the synchronous job)'
        )

    def __repr__(self) -> str:
        return f'<rq.asyncio.Job {self.id}: {self._model.description}>'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def id(self) -> str:
        return self._model.id

    @property
    def connection(self) -> Any:
        """The ``redis.asyncio`` client the job talks through."""
        return self._model.connection

    @property
    def dependency_ids(self) -> list[str]:
        """The ids of the jobs this one depends on, as stored with it."""
        return list(self._model._dependency_ids)

    def sync(self, connection: Any) -> sync_job.Job:
        """The same job as a synchronous :class:`rq.job.Job`, read on ``connection`` (a ``redis.Redis``).

        Raises:
            NoSuchJobError: the job no longer exists.
        """
        return sync_job.Job.fetch(self.id, connection=connection, serializer=self._model.serializer)

    # -- loading ----------------------------------------------------------------------------

    @classmethod
    def _bound(cls, job_id: str, connection: Any, serializer: Any) -> Job:
        return cls(sync_job.Job(job_id, connection=connection, serializer=serializer))

    @classmethod
    async def fetch(cls, id: str, connection: Any, serializer: Any = None) -> Job:
        """Load job ``id`` (``'<id>:<execution_id>'`` is accepted too).

        Raises:
            NoSuchJobError: there is no such job.
            DeserializationError: the stored data is corrupt (the message names the job).
        """
        job = cls._bound(parse_job_id(id), connection, serializer)
        await job.refresh()
        return job

    @classmethod
    async def fetch_many(cls, job_ids: Iterable[str], connection: Any, serializer: Any = None) -> list[Job | None]:
        """Load several jobs in one round trip; a missing job gives None in its place."""
        ids = [parse_job_id(job_id) for job_id in job_ids]
        async with connection.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(keys.job_key(job_id))
            raws = await pipe.execute()
        jobs: list[Job | None] = []
        for job_id, raw in zip(ids, raws, strict=True):
            job = cls._bound(job_id, connection, serializer) if raw else None
            if job is not None:
                job._model.restore(raw)
            jobs.append(job)
        return jobs

    @classmethod
    async def exists(cls, job_id: str, connection: Any) -> bool:
        return bool(await connection.exists(keys.job_key(job_id)))

    async def refresh(self) -> None:
        """Read the job hash again.

        Raises:
            NoSuchJobError: the job no longer exists.
        """
        raw = await self.connection.hgetall(self._model.key)
        if not raw:
            raise NoSuchJobError(f'No such job: {self.id}')
        self._model.restore(raw)

    # -- status -----------------------------------------------------------------------------

    async def get_status(self, refresh: bool = True) -> JobStatus:
        """The job's status, read from Redis unless ``refresh=False``.

        Raises:
            InvalidJobOperation: the job hash no longer exists.
        """
        if refresh:
            raw = await self.connection.hget(self._model.key, 'status')
            if not raw:
                raise InvalidJobOperation(f'Failed to retrieve status for job: {self.id}')
            self._model._status = JobStatus(codec.text(raw))
        return cast(JobStatus, self._model._status)

    async def get_meta(self, refresh: bool = True) -> dict[str, Any]:
        if refresh:
            await self.refresh()
        return self._model.meta

    async def get_position(self) -> int | None:
        """The job's index in its queue (0 is next), or None when it is not queued."""
        if not self._model.origin:
            return None
        position = await self.connection.lpos(keys.queue_key(self._model.origin), self.id)
        return int(position) if position is not None else None

    # -- results ----------------------------------------------------------------------------

    async def latest_result(self, timeout: float = 0) -> Result | None:
        """The newest result, or None; ``timeout > 0`` waits that many seconds for one (a blocking
        read of the results stream, not polling)."""
        return await results.latest(self._model, timeout)

    async def results(self) -> list[Result]:
        """Every result of the job, newest first."""
        return await results.every(self._model)

    async def return_value(self) -> Any:
        """The newest result's return value when it is a success, else None."""
        latest = await self.latest_result()
        return latest.return_value if latest is not None and latest.type == Result.Type.SUCCESSFUL else None

    async def result(self, timeout: float | None = None) -> Any:
        """The job's return value, once it has succeeded: waits for its final outcome (a failure it
        is retried after is not one) up to ``timeout`` seconds, None for as long as it takes.

        Raises:
            TimeoutError: no final outcome within ``timeout`` seconds (the job is left as it is).
            JobFailedError: the job failed or was stopped (its traceback in the message).
            NoSuchJobError: the job no longer exists.
            InvalidJobOperation: the job was canceled, or keeps no result (``result_ttl=0``).
        """
        outcome = await results.final(self._model, timeout)
        if outcome is None:
            raise TimeoutError(f'Job {self.id} has no final result after {timeout} s')
        if outcome.type != Result.Type.SUCCESSFUL:
            raise JobFailedError(self.id, outcome, outcome.exc_string)
        return outcome.return_value

    # -- lifecycle --------------------------------------------------------------------------

    async def cancel(
        self, enqueue_dependents: bool = False, remove_from_dependencies: bool = False
    ) -> dict[str, list[str]]:
        """Cancel the job as :meth:`rq.job.Job.cancel` does (one atomic script); returns
        ``{queue name: [ids]}`` of the dependents queued with ``enqueue_dependents``.

        Raises:
            NoSuchJobError: the job no longer exists.
            InvalidJobOperation: the job is already canceled.
        """
        model = self._model
        call = ops.cancel_call(self.id, model.origin, current_timestamp())
        outcome = await async_calls.call('cancel', self.connection, *call)
        if outcome == -1:
            raise NoSuchJobError(f'No such job: {self.id}')
        if outcome == 0:
            raise InvalidJobOperation(f'Cannot cancel already canceled job: {self.id}')
        model._status = JobStatus.CANCELED
        if model.rate_limit_key:
            settle = rate_limit_ops.settle_call(model.rate_limit_key, self.id, keep_while_running=True)
            await async_calls.call('rate_limit_settle', self.connection, *settle)
        if remove_from_dependencies and model._dependency_ids:
            async with self.connection.pipeline(transaction=True) as pipe:
                ops.remove_from_dependents_sets(pipe, self.id, model._dependency_ids)
                await pipe.execute()
        if not enqueue_dependents:
            return {}
        release = ready_ops.move_call(self.id, ready_ops.QUEUE, self.id, None, False)
        return ready_ops.by_queue(await async_calls.call('move_dependents', self.connection, *release))

    async def requeue(self, at_front: bool = False) -> Job:
        """Put a failed job back on its queue (from its queue's failed registry).

        Raises:
            InvalidJobOperation: the job is not in its queue's failed registry.
            NoSuchJobError: the job no longer exists (its entry in the registry is dropped).
        """
        try:
            await self.refresh()
            gone = False
        except NoSuchJobError:
            gone = True  # the script still drops the dangling registry entry, as the sync API does
        model = self._model
        registry_key = keys.registry_key('failed', model.origin)
        ttl = None if gone else model.ttl
        call = ops.requeue_call(registry_key, self.id, model.origin, codec.format_timestamp(now()), at_front, ttl)
        outcome = int(await async_calls.call('requeue', self.connection, *call))
        if outcome == 0:
            raise InvalidJobOperation(f'Job {self.id} is not in the failed job registry of {model.origin!r}')
        if outcome == -1 or gone:
            raise NoSuchJobError(f'No such job: {self.id}')
        await self.refresh()
        return self

    async def delete(self, remove_from_queue: bool = True, delete_dependents: bool = False) -> None:
        """Delete the job hash, its dependency sets, executions and results, and take it out of its
        queue, registries and group, as :meth:`rq.job.Job.delete` does."""
        if delete_dependents:
            dependent_ids = codec.texts(await self.connection.smembers(self._model.dependents_key))
            for dependent in await Job.fetch_many(dependent_ids, self.connection, self._model.serializer):
                if dependent is not None:
                    await dependent.delete()
            await self.connection.delete(self._model.dependents_key)
        model = self._model
        execution_ids = codec.texts(await self.connection.zrange(keys.executions_key(self.id), 0, -1))
        async with self.connection.pipeline(transaction=True) as pipe:
            ops.delete_job(
                pipe,
                self.id,
                model.origin,
                execution_ids=execution_ids,
                group_id=model.group_id,
                remove_from_queue=remove_from_queue,
            )
            key = model.rate_limit_key
            if key and execution_ids:  # its running execution gives the slot back when it ends
                pipe.zrem(keys.rate_limit_waiting_key(key), self.id)
            await pipe.execute()
        if model.rate_limit_key and not execution_ids:
            settle = rate_limit_ops.settle_call(model.rate_limit_key, self.id, keep_while_running=False)
            await async_calls.call('rate_limit_settle', self.connection, *settle)

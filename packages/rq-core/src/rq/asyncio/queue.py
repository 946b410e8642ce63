"""``rq.asyncio.Queue``: enqueueing from asyncio code over ``redis.asyncio``, with the synchronous
``Queue``'s names, arguments and checks, and the same Redis data (the jobs are built by
:class:`rq.queue.Queue` and placed by the same script calls, only sent without blocking)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from .. import _bulk_enqueue, _enqueue, _replicas
from .. import queue as sync_queue
from .._enqueue_args import EnqueueData, parse_args
from .._redis import async_batch, async_calls, batch_ops, codec
from .._utils import now
from ..exceptions import NoSuchJobError
from ..job import Job as SyncJob
from ..job import JobStatus
from .job import Job

#: Jobs of one ``enqueue_many`` call on a queue with ``replicas`` whose script calls are written
#: together, followed by one ``WAIT``.
MANY_WINDOW = 500


class Queue:
    """A queue for asyncio code (``from rq.asyncio import Queue``), on a ``redis.asyncio.Redis``:
    ``job = await queue.enqueue(count_words, url, job_timeout=60)``. Takes the arguments of
    :class:`rq.queue.Queue` (but ``is_async``: it never runs jobs itself); its jobs are
    :class:`rq.asyncio.Job`, and any worker (ours, RQ 2.x or 3.0) runs them."""

    prepare_data = staticmethod(sync_queue.Queue.prepare_data)

    def __init__(
        self,
        name: str = 'default',
        connection: Any = None,
        default_timeout: int | str | None = None,
        job_class: Any = None,
        serializer: Any = None,
        signing_keys: Any = None,
        replicas: int | None = None,
        replica_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get('is_async') is False:
            raise ValueError(
                'rq.asyncio.Queue cannot run jobs in place (is_async=False): use rq.Queue(is_async=False) for that'
            )
        kwargs.pop('is_async', None)
        #: The synchronous queue that builds and checks the jobs (never used to talk to Redis).
        self._model = sync_queue.Queue(
            name,
            connection=connection,
            default_timeout=default_timeout,
            job_class=job_class,
            serializer=serializer,
            signing_keys=signing_keys,
            replicas=replicas,
            replica_timeout=replica_timeout,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f'<rq.asyncio.Queue {self.name}>'

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def key(self) -> str:
        return self._model.key

    @property
    def connection(self) -> Any:
        return self._model.connection

    @property
    def serializer(self) -> Any:
        return self._model.serializer

    # -- reading ----------------------------------------------------------------------------

    async def count(self) -> int:
        """Number of queued job ids (deferred and scheduled jobs are not counted)."""
        return int(await self.connection.llen(self.key))

    async def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        """Ids from position ``offset``: ``length`` of them, or all the rest when ``length`` is negative."""
        if length == 0:
            return []
        end = offset + length - 1 if length > 0 else -1
        return codec.texts(await self.connection.lrange(self.key, offset, end))

    async def fetch_job(self, job_id: str) -> Job | None:
        """The job if it exists and belongs to this queue; a dangling id is removed from the queue."""
        try:
            job = await Job.fetch(job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            await self.connection.lrem(self.key, 1, job_id)
            return None
        return job if job.origin == self.name else None

    # -- enqueueing -------------------------------------------------------------------------

    def create_job(self, func: Any, *args: Any, **kwargs: Any) -> Job:
        """Build a job for this queue without enqueueing it (nothing is written; no I/O): the
        arguments of :meth:`rq.queue.Queue.create_job`. Place it with :meth:`enqueue_job` or
        :meth:`schedule_job`."""
        if 'depends_on' in kwargs:
            kwargs['depends_on'] = _sync_dependencies(kwargs['depends_on'])
        return Job(self._model.create_job(func, *args, **kwargs))

    async def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue ``f(*args, **kwargs)``; RQ's reserved keywords (``job_timeout``, ``result_ttl``,
        ``depends_on``, ``job_id``, ``at_front``, ``meta``, ``retry``, ``unique``, ...) configure the job."""
        return await self.enqueue_call(**parse_args(f, *args, **kwargs)._asdict())

    async def enqueue_call(
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
        pipeline: Any = None,
        unique: bool = False,
        webhooks: Any = None,
        rate_limit: Any = None,
    ) -> Job:
        """Enqueue ``func(*args, **kwargs)`` (``timeout=`` here, ``job_timeout=`` in ``enqueue``).

        Raises:
            ValueError: ``unique=True`` without ``job_id`` or together with ``depends_on``.
            DuplicateJobError: ``unique=True`` and a job with ``job_id`` already exists.
        """
        _refuse_pipeline(pipeline)
        _enqueue.check_unique(unique, job_id, depends_on)
        model = self._model.create_job(
            func,
            args=args,
            kwargs=kwargs,
            timeout=timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            description=description,
            depends_on=_sync_dependencies(depends_on),
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
        return await self.enqueue_job(Job(model), at_front=at_front, unique=unique)

    async def enqueue_job(self, job: Job, pipeline: Any = None, at_front: bool = False, unique: bool = False) -> Job:
        """Enqueue a built job: queued, or deferred while a dependency is unmet (one atomic step)."""
        _refuse_pipeline(pipeline)
        [placed] = await self._place([job], ['L' if at_front else 'R'], unique)
        return placed

    async def enqueue_at(self, datetime: datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Schedule ``f(*args, **kwargs)`` for ``datetime`` (naive means this host's local time)."""
        options = parse_args(f, *args, **kwargs)._asdict()
        at_front, pipeline, unique = options.pop('at_front'), options.pop('pipeline'), options.pop('unique')
        _refuse_pipeline(pipeline)
        options['depends_on'] = _sync_dependencies(options['depends_on'])
        job = Job(self._model.create_job(**options, status=JobStatus.SCHEDULED))
        if at_front:
            job._model.enqueue_at_front = True
        return await self.schedule_job(job, datetime, unique=unique)

    async def enqueue_in(self, time_delta: timedelta, func: Any, *args: Any, **kwargs: Any) -> Job:
        """Schedule ``func(*args, **kwargs)`` to run ``time_delta`` from now."""
        return await self.enqueue_at(now() + time_delta, func, *args, **kwargs)

    async def schedule_job(self, job: Job, datetime: datetime, pipeline: Any = None, unique: bool = False) -> Job:
        """Save ``job`` as scheduled for ``datetime`` (one atomic step).

        Raises:
            DuplicateJobError: ``unique=True`` and the job already exists.
        """
        _refuse_pipeline(pipeline)
        if not isinstance(datetime, _datetime):
            raise TypeError(f'schedule_job needs a datetime, not {type(datetime).__name__}')
        score = codec.to_score(codec.local_to_utc(datetime))
        job._model._status = JobStatus.SCHEDULED
        [placed] = await self._place([job], ['S'], unique, score)
        return placed

    async def enqueue_many(
        self, job_datas: Iterable[EnqueueData], pipeline: Any = None, group_id: str | None = None
    ) -> list[Job]:
        """Enqueue several jobs (built and checked before anything is written), in order, as the
        synchronous ``enqueue_many`` does: plain jobs in batch calls of up to a hundred, streamed on
        one connection, each call atomic; the error's note says which jobs were enqueued when the
        calls stop part of the way (a lost connection, an error reply, a cancelled coroutine). Two
        entries with the same ``job_id`` raise ValueError."""
        _refuse_pipeline(pipeline)
        datas = [data._replace(depends_on=_sync_dependencies(data.depends_on)) for data in job_datas]
        models, fronts = _bulk_enqueue.build(self._model, datas, group_id)
        jobs = [Job(model) for model in models]
        if self._model.replicas:
            placements = ['L' if front else 'R' for front in fronts]
            acknowledged = []
            for start in range(0, len(jobs), MANY_WINDOW):
                window = slice(start, start + MANY_WINDOW)
                acknowledged.append(await self._write(jobs[window], placements[window], False))
            self._check_replicas(jobs, acknowledged)
        elif jobs:
            await self._stream(models, fronts)
        return jobs

    async def _stream(self, models: list[SyncJob], fronts: list[bool]) -> None:
        client = self.connection
        direct = async_calls.direct(client)
        progress = _bulk_enqueue.Progress(models)
        units = _bulk_enqueue.units(self._model, models, fronts, keep_args=not direct)
        try:
            if direct:
                await async_batch.send_stream(client, units, progress.applied, progress.unknown)
            else:  # a client with its own command path: one call at a time through it
                for unit in units:
                    try:
                        [reply] = await async_calls.call_many(client, [(unit.name, unit.keys, unit.args or [])])
                    except batch_ops.CONNECTION_ERRORS:
                        progress.unknown(await async_batch.fence(client, [unit], progress.applied))
                        raise
                    progress.applied(unit, reply)
        except BaseException as exc:
            progress.add_note(exc)
            raise

    async def _place(self, jobs: list[Job], placements: list[str], unique: bool, score: int = 0) -> list[Job]:
        """Save and place ``jobs`` (see :meth:`_write`), then check their replicas."""
        self._check_replicas(jobs, [await self._write(jobs, placements, unique, score)])
        return jobs

    async def _write(self, jobs: list[Job], placements: list[str], unique: bool, score: int = 0) -> int | None:
        """Save and place ``jobs`` (``ops.enqueue`` script calls, one round trip; then ``WAIT``
        with ``replicas`` set) and apply the outcomes. Returns how many replicas acknowledged
        the writes (None without ``replicas``)."""
        prepared = [
            _enqueue.prepare_call(self._model, job._model, placement, unique, score, True, False)
            for job, placement in zip(jobs, placements, strict=True)
        ]
        model = self._model
        wait = [('WAIT', model.replicas, _replicas.timeout_ms(model.replica_timeout))] if model.replicas else []
        replies = await async_calls.call_many(self.connection, [('enqueue', *call) for call, _ in prepared], wait)
        for job, outcome, (_, moment) in zip(jobs, replies, prepared, strict=False):
            _enqueue.apply_outcome(job._model, outcome, moment)
        return int(replies[-1]) if wait else None

    def _check_replicas(self, jobs: list[Job], acknowledged: list[int | None]) -> None:
        """Raise ReplicationTimeout, naming every job written, when a round trip had fewer
        replicas acknowledge it than the queue's ``replicas``."""
        counts = [count for count in acknowledged if count is not None]
        if counts and jobs:
            model = self._model
            _replicas.check([job._model for job in jobs], min(counts), model.replicas, model.replica_timeout)


_datetime = datetime


def _sync_dependencies(depends_on: Any) -> Any:
    """``depends_on`` with each :class:`rq.asyncio.Job` in it (alone or in a list) replaced by the
    synchronous job it wraps, which is what the job builder takes."""
    if isinstance(depends_on, Job):
        return depends_on._model
    if isinstance(depends_on, (list, tuple)):
        return [entry._model if isinstance(entry, Job) else entry for entry in depends_on]
    return depends_on


def _refuse_pipeline(pipeline: Any) -> None:
    if pipeline is not None:
        raise TypeError(
            'rq.asyncio.Queue takes no pipeline: each enqueue is one atomic step already '
            '(enqueue_many writes several jobs in one round trip)'
        )

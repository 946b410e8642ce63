"""``Execution``: one run of a job by one worker (``rq:execution:<job_id>:<execution_id>``)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ._redis import codec, keys, worker_ops
from ._utils import current_timestamp, now
from .job import Job

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .job import Job
    from .registry import StartedJobRegistry

__all__ = [
    'WORKER_EXECUTIONS_KEY_TEMPLATE',
    'Execution',
    'ExecutionRegistry',
    'cleanup_execution',
    'prepare_execution',
]

#: The key of a worker's execution index (rq 3.0): ``.format(worker_name)``.
WORKER_EXECUTIONS_KEY_TEMPLATE = keys.format_escaped(keys.WORKER_PREFIX) + '{0}:executions'

logger = logging.getLogger('rq.worker')

#: The worker state written while a worker runs a job (upstream's ``WorkerStatus.BUSY``).
_BUSY = 'busy'


class Execution:
    """One run of a job: its hash holds ``id``, ``job_id``, ``created_at``, ``last_heartbeat``,
    ``worker_name``. A run by a worker is also a member ``<job_id>:<id>`` of that worker's execution
    index (``rq:worker:<name>:executions``, rq 3.0's)."""

    def __init__(self, id: str, job_id: str, connection: Redis, worker_name: str = '') -> None:
        self.id = id
        self.job_id = job_id
        self.connection = connection
        self.worker_name = worker_name
        self.created_at: datetime = now()
        self.last_heartbeat: datetime = self.created_at

    def __repr__(self) -> str:
        return f'Execution({self.id!r}, job_id={self.job_id!r})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Execution) and (self.id, self.job_id) == (other.id, other.job_id)

    def __hash__(self) -> int:
        return hash((self.id, self.job_id))

    @property
    def key(self) -> str:
        return keys.execution_key(self.job_id, self.id)

    @property
    def composite_key(self) -> str:
        """The started-registry member ``'<job_id>:<execution_id>'``."""
        return f'{self.job_id}:{self.id}'

    @property
    def worker_executions_key(self) -> str:
        """The execution index of the worker running this execution."""
        return keys.worker_executions_key(self.worker_name)

    @property
    def job(self) -> Job:
        return Job.fetch(self.job_id, connection=self.connection)

    @classmethod
    def from_composite_key(cls, composite_key: str, connection: Redis) -> Execution:
        job_id, _, execution_id = composite_key.partition(':')
        return cls.fetch(execution_id, job_id, connection)

    @classmethod
    def fetch(cls, id: str, job_id: str, connection: Redis) -> Execution:
        """Load an execution. Raises ValueError when its hash no longer exists."""
        raw = connection.hgetall(keys.execution_key(job_id, id))
        if not raw:
            raise ValueError(f'Execution {id} of job {job_id} does not exist')
        execution = cls(id, job_id, connection)
        execution.restore(raw)  # type: ignore[arg-type]
        return execution

    def refresh(self) -> None:
        """Reload the execution's fields. Raises ValueError when its hash no longer exists."""
        raw = self.connection.hgetall(self.key)
        if not raw:
            raise ValueError(f'Execution {self.id} of job {self.job_id} does not exist')
        self.restore(raw)  # type: ignore[arg-type]

    def restore(self, raw: dict[bytes, bytes]) -> None:
        # (hashes written by rq 2.x have no job_id: the one the execution was looked up with stays)
        self.job_id = codec.text(raw.get(b'job_id', b'')) or self.job_id
        created_at = codec.parse_epoch(raw.get(b'created_at'))
        heartbeat = codec.parse_epoch(raw.get(b'last_heartbeat'))
        self.created_at = created_at or self.created_at
        self.last_heartbeat = heartbeat or self.created_at
        self.worker_name = codec.text(raw.get(b'worker_name', b''))

    def serialize(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'job_id': self.job_id,
            'created_at': codec.format_epoch(self.created_at),
            'last_heartbeat': codec.format_epoch(self.last_heartbeat),
            'worker_name': self.worker_name,
        }

    @classmethod
    def create(cls, job: Job, ttl: int, pipeline: Pipeline, worker_name: str | None = None) -> Execution:
        """A new execution of ``job`` by ``worker_name`` (default: the job's ``worker_name``): its hash
        (EXPIRE ``ttl``), its entry in the job's executions set, its member in the started registry
        (scored now + ``ttl``) and, when a worker runs it, in that worker's execution index (which
        then lives ``ttl`` + 60 s, as rq 3.0 sets it)."""
        name = worker_name if worker_name is not None else (job.worker_name or '')
        execution = cls(uuid.uuid4().hex, job.id, connection=job.connection, worker_name=name)
        execution.save(ttl, pipeline=pipeline)
        ExecutionRegistry(job.id, connection=job.connection).add(execution, ttl=ttl, pipeline=pipeline)
        job.started_job_registry.add_execution(execution, pipeline=pipeline, ttl=ttl)
        if name:
            worker_ops.index_execution(pipeline, name, job.id, execution.id, ttl)
        return execution

    def save(self, ttl: int, pipeline: Pipeline | None = None) -> None:
        client = pipeline if pipeline is not None else self.connection
        client.hset(self.key, mapping=self.serialize())  # type: ignore[arg-type]
        client.expire(self.key, ttl)

    def delete(self, job: Job, pipeline: Pipeline | None = None) -> None:
        """Remove the execution everywhere (hash, the job's executions set, the started registry, its
        worker's execution index)."""
        client = pipeline if pipeline is not None else self.connection
        client.delete(self.key)
        client.zrem(keys.executions_key(self.job_id), self.id)
        if self.worker_name:
            worker_ops.end_execution(client, self.worker_name, self.job_id, self.id)
        job.started_job_registry.remove_execution(self, pipeline=pipeline)

    def heartbeat(self, started_job_registry: StartedJobRegistry, ttl: int, pipeline: Pipeline) -> None:
        """Refresh ``last_heartbeat`` and the TTLs and scores that say this execution is alive."""
        self.last_heartbeat = now()
        pipeline.hset(self.key, 'last_heartbeat', codec.format_epoch(self.last_heartbeat))
        pipeline.expire(self.key, ttl)
        started_job_registry.add_execution(self, pipeline=pipeline, ttl=ttl, xx=True)
        ExecutionRegistry(self.job_id, connection=self.connection).add(self, ttl=ttl, pipeline=pipeline, xx=True)


class ExecutionRegistry:
    """The executions of one job: ``rq:executions:<job_id>``, scored by expiry (now + ttl + 60)."""

    key_template = keys.format_escaped(keys.EXECUTIONS_PREFIX) + '{0}'

    def __init__(self, job_id: str, connection: Redis) -> None:
        self.job_id = job_id
        self.connection = connection
        self.key = self.key_template.format(job_id)

    def add(self, execution: Execution, ttl: int, pipeline: Pipeline, xx: bool = False) -> None:
        """Score ``execution`` now + ``ttl`` + 60 s; with ``xx`` only an existing member is updated."""
        pipeline.zadd(self.key, {execution.id: current_timestamp() + ttl + 60}, xx=xx)
        pipeline.expire(self.key, ttl + 60)

    def remove(self, execution: Execution, pipeline: Pipeline) -> None:
        pipeline.zrem(self.key, execution.id)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Forget executions whose expiry score is at or before ``timestamp`` (default now): their
        hashes expired with them. ``exception_handlers`` is accepted as by the registries' cleanup."""
        self.connection.zremrangebyscore(self.key, 0, timestamp if timestamp is not None else current_timestamp())

    def get_execution_ids(self, start: int = 0, end: int = -1) -> list[str]:
        self.cleanup()
        return codec.texts(self.connection.zrange(self.key, start, end))

    def get_executions(self, start: int = 0, end: int = -1) -> list[Execution]:
        """The executions whose hashes still exist."""
        executions = []
        for execution_id in self.get_execution_ids(start, end):
            try:
                executions.append(Execution.fetch(execution_id, self.job_id, self.connection))
            except ValueError:
                continue
        return executions

    def delete(self, job: Job, pipeline: Pipeline) -> None:
        """Delete every execution of the job (also those whose hash already expired: their
        started-registry members go too) and this set."""
        for execution_id in codec.texts(self.connection.zrange(self.key, 0, -1)):
            Execution(execution_id, self.job_id, self.connection).delete(job, pipeline=pipeline)
        pipeline.delete(self.key)


class ExecutingWorker(Protocol):
    """What :func:`prepare_execution` and :func:`cleanup_execution` use of a worker."""

    name: str
    connection: Redis
    execution: Execution | None

    def get_heartbeat_ttl(self, job: Job) -> int: ...

    def set_state(self, state: str, pipeline: Any = None) -> None: ...

    def set_current_job_id(self, job_id: str | None = None, pipeline: Any = None) -> None: ...


def prepare_execution(worker: ExecutingWorker, job: Job) -> Execution:
    """Start an execution of ``job`` by ``worker`` (in the worker, before the job runs): create it
    (see :meth:`Execution.create`, with the worker's heartbeat TTL), mark the worker busy, and keep
    it as ``worker.execution``."""
    with worker.connection.pipeline(transaction=True) as pipeline:
        ttl = worker.get_heartbeat_ttl(job)
        worker.execution = Execution.create(job, ttl, pipeline=pipeline, worker_name=worker.name)
        worker.set_state(_BUSY, pipeline=pipeline)
        pipeline.execute()
    return worker.execution


def cleanup_execution(worker: ExecutingWorker, job: Job, pipeline: Pipeline) -> None:
    """End ``worker``'s execution of ``job`` in ``pipeline``: clear the worker's current job and delete
    ``worker.execution`` everywhere (see :meth:`Execution.delete`), then forget it."""
    logger.debug('Cleaning up execution of job %s', job.id)
    worker.set_current_job_id(None, pipeline=pipeline)
    if worker.execution is not None:
        worker.execution.delete(job=job, pipeline=pipeline)
        worker.execution = None

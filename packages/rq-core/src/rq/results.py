"""``Result``: one outcome of one execution of a job, kept in the stream ``rq:results:<job_id>``."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from ._redis import codec, keys, results_ops
from .serializers import Serializer, resolve_serializer

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .executions import Execution
    from .job import Job

__all__ = ['Result', 'get_key']


def get_key(job_id: str) -> str:
    return keys.results_key(job_id)


class Result:
    """A job outcome: a return value, or a traceback text, written by the worker that ran it."""

    class Type(Enum):
        SUCCESSFUL = 1
        FAILED = 2
        STOPPED = 3
        RETRIED = 4
        MAX_RETRIES_EXCEEDED = 5

    def __init__(
        self,
        job_id: str,
        type: Result.Type,
        connection: Redis,
        id: str | None = None,
        created_at: datetime | None = None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str = '',
        serializer: Any = None,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
    ) -> None:
        self.job_id = job_id
        self.type = type
        self.connection = connection
        self.id = id
        self.created_at = created_at or datetime.now(timezone.utc)
        self.return_value = return_value
        self.exc_string = exc_string
        self.serializer: Serializer = resolve_serializer(serializer)
        self.worker_name = worker_name
        self.execution_id = execution_id
        self.execution_started_at = execution_started_at
        self.execution_ended_at = execution_ended_at

    def __repr__(self) -> str:
        return f'Result(id={self.id}, type={self.type.name})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Result) and self.id == other.id and self.job_id == other.job_id

    def __hash__(self) -> int:
        return hash((self.job_id, self.id))

    def __bool__(self) -> bool:
        return bool(self.id)

    # -- writing --------------------------------------------------------------------------

    def serialize(self, serialized_return_value: bytes | None = None) -> dict[str, Any]:
        """The stream entry fields; ``serialized_return_value`` is the value already encoded with the
        serializer (what a work horse sends back), used instead of encoding ``return_value``."""
        if serialized_return_value is None and self.return_value is not None:
            serialized_return_value = codec.encode_value(self.serializer, self.return_value)
        return entry_fields(
            self.type,
            self.worker_name,
            exc_string=self.exc_string,
            serialized_return_value=serialized_return_value,
            execution_id=self.execution_id,
            execution_started_at=self.execution_started_at,
            execution_ended_at=self.execution_ended_at,
        )

    def save(
        self, ttl: int | None, pipeline: Pipeline | None = None, serialized_return_value: bytes | None = None
    ) -> str | None:
        """XADD this result (``MAXLEN ~ 10``) and apply the stream TTL rule; return the entry id.

        With a pipeline the id is known only after ``execute()`` (None is returned).
        """
        client = pipeline if pipeline is not None else self.connection
        reply = results_ops.add_result(client, self.job_id, self.serialize(serialized_return_value), ttl)
        if pipeline is None:
            self.id = codec.text(reply)
        return self.id

    @classmethod
    def create(
        cls,
        job: Job,
        type: Result.Type,
        ttl: int | None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str = '',
        pipeline: Pipeline | None = None,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
        *,
        execution: Execution | None = None,
    ) -> Result:
        """Write a result of ``job``. ``execution`` fills in the three execution fields (its id, its
        start, and the job's ``ended_at``) unless they are given explicitly."""
        if execution is not None:
            execution_id = execution_id or execution.id
            execution_started_at = execution_started_at or execution.created_at
            execution_ended_at = execution_ended_at or job.ended_at
        result = cls(
            job_id=job.id,
            type=type,
            connection=job.connection,
            return_value=return_value,
            exc_string=exc_string,
            worker_name=worker_name,
            serializer=job.serializer,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
        )
        result.save(ttl=ttl, pipeline=pipeline)
        return result

    @classmethod
    def create_failure(
        cls,
        job: Job,
        ttl: int | None,
        exc_string: str,
        worker_name: str = '',
        pipeline: Pipeline | None = None,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
        *,
        execution: Execution | None = None,
    ) -> Result:
        return cls.create(
            job,
            cls.Type.FAILED,
            ttl,
            exc_string=exc_string,
            worker_name=worker_name,
            pipeline=pipeline,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
            execution=execution,
        )

    @classmethod
    def create_retried(
        cls,
        job: Job,
        ttl: int | None,
        return_value: Any = None,
        worker_name: str = '',
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
        pipeline: Pipeline | None = None,
        *,
        execution: Execution | None = None,
    ) -> Result:
        """A RETRIED entry (its return value is the ``Retry`` the job returned)."""
        return cls.create(
            job,
            cls.Type.RETRIED,
            ttl,
            return_value=return_value,
            worker_name=worker_name,
            pipeline=pipeline,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
            execution=execution,
        )

    @classmethod
    def create_max_retries_exceeded(
        cls,
        job: Job,
        ttl: int | None,
        return_value: Any = None,
        worker_name: str = '',
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
        pipeline: Pipeline | None = None,
        *,
        execution: Execution | None = None,
    ) -> Result:
        """A MAX_RETRIES_EXCEEDED entry (its return value is the last ``Retry`` the job returned)."""
        return cls.create(
            job,
            cls.Type.MAX_RETRIES_EXCEEDED,
            ttl,
            return_value=return_value,
            worker_name=worker_name,
            pipeline=pipeline,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
            execution=execution,
        )

    # -- reading --------------------------------------------------------------------------

    @classmethod
    def restore(
        cls, job_id: str, result_id: bytes | str, payload: dict[bytes, bytes], connection: Redis, serializer: Any = None
    ) -> Result:
        """Build a Result from one stream entry."""
        fields = {codec.text(k): v for k, v in payload.items()}
        entry_id = codec.text(result_id)
        created_at = datetime.fromtimestamp(int(entry_id.split('-')[0]) / 1000, tz=timezone.utc)
        resolved = resolve_serializer(serializer)
        return_value = fields.get('return_value')
        exc_string = fields.get('exc_string')
        return cls(
            job_id,
            Result.Type(int(fields['type'])),
            connection=connection,
            id=entry_id,
            created_at=created_at,
            return_value=codec.decode_return_value(resolved, return_value) if return_value else None,
            exc_string=codec.decode_exc_string(exc_string) if exc_string else None,
            serializer=resolved,
            worker_name=codec.text(fields.get('worker_name', b'')),
            execution_id=codec.text(fields['execution_id']) if fields.get('execution_id') else None,
            execution_started_at=codec.parse_epoch(fields.get('execution_started_at')),
            execution_ended_at=codec.parse_epoch(fields.get('execution_ended_at')),
        )

    @classmethod
    def fetch(cls, job: Job, serializer: Any = None) -> Result | None:
        """Kept for API compatibility with RQ, where it is a stub: always None."""
        return None

    @classmethod
    def fetch_latest(cls, job: Job, serializer: Any = None, timeout: int = 0) -> Result | None:
        """The newest result, or None; ``timeout > 0`` waits that many seconds for one to appear."""
        if timeout > 0:
            entry = results_ops.wait_for_entry(job.connection, job.id, timeout)
        else:
            entry = results_ops.latest_entry(job.connection, job.id)
        if entry is None:
            return None
        return cls.restore(job.id, entry[0], entry[1], job.connection, serializer or job.serializer)

    @classmethod
    def all(cls, job: Job, serializer: Any = None) -> list[Result]:
        """Every result of the job, newest first."""
        return [
            cls.restore(job.id, entry_id, payload, job.connection, serializer or job.serializer)
            for entry_id, payload in results_ops.all_entries(job.connection, job.id)
        ]

    @classmethod
    def count(cls, job: Job) -> int:
        return results_ops.count_entries(job.connection, job.id)

    @classmethod
    def delete_all(cls, job: Job) -> None:
        results_ops.delete_entries(job.connection, job.id)

    @classmethod
    def get_key(cls, job_id: str) -> str:
        return keys.results_key(job_id)


def entry_fields(
    type: Result.Type,
    worker_name: str | None,
    *,
    exc_string: str | None = None,
    serialized_return_value: bytes | None = None,
    execution_id: str | None = None,
    execution_started_at: datetime | None = None,
    execution_ended_at: datetime | None = None,
) -> dict[str, Any]:
    """A result's stream entry fields (what :meth:`Result.serialize` returns), without a
    :class:`Result` to make first (a worker records a success this way on every job)."""
    fields: dict[str, Any] = {'type': type.value, 'worker_name': worker_name or ''}
    if exc_string is not None:
        fields['exc_string'] = codec.encode_exc_string(exc_string)
    if serialized_return_value is not None:
        fields['return_value'] = base64.b64encode(serialized_return_value).decode('ascii')
    if execution_id:
        fields['execution_id'] = execution_id
    if execution_started_at is not None:
        fields['execution_started_at'] = codec.format_epoch(execution_started_at)
    if execution_ended_at is not None:
        fields['execution_ended_at'] = codec.format_epoch(execution_ended_at)
    return fields

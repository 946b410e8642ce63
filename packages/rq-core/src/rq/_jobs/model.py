"""The ``Job`` class: a function call stored in the hash ``rq:job:<id>``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .._redis import codec, keys, ops
from .._utils import now
from ..exceptions import InvalidJobOperation, NoSuchJobError
from ..serializers import Serializer, resolve_serializer
from . import job_hash
from .callbacks import JobCallbacksMixin
from .payload import UNSET, JobPayloadMixin
from .results_access import JobResultsMixin
from .status import JobStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from ..executions import Execution
    from ..results import Result
    from ..webhook import Webhook

#: A job class: ``fetch`` and ``fetch_many`` build instances of the class they are called on.
_J = TypeVar('_J', bound='Job')

_JOB_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]+')


def new_job_id() -> str:
    """A random (version 4) UUID in its usual text form, as ``str(uuid.uuid4())`` writes it, made
    in a third of the time (every job created without an id gets one)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    text = raw.hex()
    return f'{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}'


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
    """A function call stored in Redis: its data, state, options and results (the model; :class:`rq.job.Job`
    adds what is done with one: create, cancel, requeue, delete, run, its registries)."""

    redis_job_namespace_prefix = keys.JOB_PREFIX

    # What a new job holds until set (immutable values, read from the class until an instance
    # sets its own: a job is created for every enqueue, and ~40 assignments cost a tenth of one).
    _data: Any = UNSET
    _func_name: Any = UNSET
    _instance: Any = UNSET
    _args: Any = UNSET
    _kwargs: Any = UNSET
    _success_callback_name: str | None = None
    _failure_callback_name: str | None = None
    _stopped_callback_name: str | None = None
    _success_callback_timeout: int | None = None
    _failure_callback_timeout: int | None = None
    _stopped_callback_timeout: int | None = None
    description: str | None = None
    origin: str = ''
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    last_heartbeat: datetime | None = None
    _result: Any = None
    _exc_info: str | None = None
    timeout: int | None = None
    result_ttl: int | None = None
    failure_ttl: int | None = None
    ttl: int | None = None
    worker_name: str | None = None
    _status: JobStatus | None = None
    retries_left: int | None = None
    retry_intervals: list[int] | None = None
    number_of_retries: int | None = None
    repeats_left: int | None = None
    repeat_intervals: list[int] | None = None
    allow_dependency_failures: bool | None = None
    enqueue_at_front: bool | None = None
    enqueue_at_front_on_retry: bool | None = None
    group_id: str | None = None
    #: RQ 3.0's rate limit of the job (``RateLimit(key, concurrency)``), read and kept, not enforced.
    rate_limit_key: str | None = None
    rate_limit_concurrency: int | None = None
    redis_server_version: tuple[int, int, int] | None = None
    _cached_result: Result | None = None
    _dependency: Job | None = None
    _execution: Execution | None = None
    #: The keys this job is signed with when saved (the first signs): None takes them from
    #: ``RQ_SIGNING_KEYS``; () saves it unsigned (see :mod:`rq.trust`).
    signing_keys: tuple[bytes, ...] | None = None

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer: Any = None) -> None:
        if connection is None:
            raise TypeError('Job requires a Redis connection: pass connection=Redis(...)')
        self.connection: Redis = connection
        self._id: str | None = None
        if id is not None:
            self.id = id
        self.serializer: Serializer = resolve_serializer(serializer)
        self.created_at: datetime = now()
        self._dependency_ids: list[str] = []
        self.meta: dict[str, Any] = {}
        self.webhooks: list[Webhook] = []

    # -- identity and keys ----------------------------------------------------------------

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = new_job_id()
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
    def fetch(cls: type[_J], id: str, connection: Redis | None = None, serializer: Any = None) -> _J:
        """Load job ``id`` (``'<id>:<execution_id>'`` is accepted too).

        Raises:
            NoSuchJobError: there is no such job.
            DeserializationError: the stored data is corrupt (the message names the job).
        """
        job = cls(parse_job_id(id), connection=connection, serializer=serializer)
        job.refresh()
        return job

    @classmethod
    def fetch_many(cls: type[_J], job_ids: Iterable[str], connection: Redis, serializer: Any = None) -> list[_J | None]:
        """Load several jobs in one round trip; a missing job gives None in its place."""
        ids = [parse_job_id(job_id) for job_id in job_ids]
        jobs: list[_J | None] = []
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

"""Identity, registration in Redis, state and counters of a worker (the base of ``BaseWorker``).

The work loop is in :mod:`rq.worker.loop`; how one job is executed is up to the subclasses
(:class:`~rq.worker.forking.Worker`, :class:`~rq.worker.simple.SimpleWorker`, ...).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from rq._redis import codec, keys, worker_ops
from rq.defaults import (
    DEFAULT_JOB_MONITORING_INTERVAL,
    DEFAULT_MAINTENANCE_TASK_INTERVAL,
    DEFAULT_RESULT_TTL,
    DEFAULT_WORKER_TTL,
)
from rq.job import Job
from rq.queue import Queue
from rq.serializers import resolve_serializer
from rq.timeouts import BaseDeathPenalty, UnixSignalDeathPenalty
from rq.trust import TrustPolicy
from rq.utils import import_attribute, now
from rq.version import VERSION

from ._lookup import WorkerLookup, apply_hash
from .worker_log import WorkerLogger

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger('rq.worker')

ExceptionHandler = Callable[..., Any]


class WorkerStatus(str, Enum):
    """The ``state`` field of a worker hash."""

    STARTED = 'started'
    SUSPENDED = 'suspended'
    BUSY = 'busy'
    IDLE = 'idle'

    def __str__(self) -> str:
        return self.value


class DequeueStrategy(str, Enum):
    """Queue order after each job: declared priority, rotation, or shuffled."""

    DEFAULT = 'default'
    ROUND_ROBIN = 'round_robin'
    RANDOM = 'random'


def _as_queues(queues: Any, connection: Redis | None, queue_class: type[Queue], **queue_kwargs: Any) -> list[Queue]:
    items = [queues] if isinstance(queues, (str, Queue)) else list(queues)
    if not items:
        raise ValueError('A worker needs at least one queue')
    result: list[Queue] = []
    for item in items:
        if isinstance(item, Queue):
            result.append(item)
        elif isinstance(item, str):
            if connection is None:
                raise TypeError('A worker given queue names needs connection=Redis(...)')
            result.append(queue_class(item, connection=connection, **queue_kwargs))
        else:
            raise TypeError(f'Queues must be names or Queue objects, not {item!r}')
    return result


class WorkerIdentity(WorkerLookup):
    """Identity, registration and bookkeeping shared by every worker class."""

    redis_worker_namespace_prefix = keys.WORKER_PREFIX
    redis_workers_keys = keys.WORKERS
    death_penalty_class: type[BaseDeathPenalty] = UnixSignalDeathPenalty
    queue_class: type[Queue] = Queue
    job_class: type[Job] = Job
    log_result_lifespan = True
    exponential_backoff_factor = 2.0
    max_connection_wait_time = 60.0

    def __init__(
        self,
        queues: Any,
        name: str | None = None,
        default_result_ttl: int = DEFAULT_RESULT_TTL,
        connection: Redis | None = None,
        exception_handlers: ExceptionHandler | Sequence[ExceptionHandler] | None = None,
        maintenance_interval: int = DEFAULT_MAINTENANCE_TASK_INTERVAL,
        default_worker_ttl: int | None = None,
        worker_ttl: int | None = None,
        job_class: type[Job] | str | None = None,
        queue_class: type[Queue] | str | None = None,
        log_job_description: bool = True,
        job_monitoring_interval: int = DEFAULT_JOB_MONITORING_INTERVAL,
        disable_default_exception_handler: bool = False,
        prepare_for_work: bool = True,
        serializer: Any = None,
        work_horse_killed_handler: Callable[..., Any] | None = None,
        signing_keys: Any = None,
        accept_unsigned: bool | None = None,
        allowed_functions: Any = None,
    ) -> None:
        if job_class is not None:
            self.job_class = import_attribute(job_class) if isinstance(job_class, str) else job_class
        if queue_class is not None:
            self.queue_class = import_attribute(queue_class) if isinstance(queue_class, str) else queue_class
        #: Which jobs this worker runs (see :mod:`rq.trust`): settings given here, or else from
        #: ``RQ_SIGNING_KEYS``, ``RQ_ACCEPT_UNSIGNED`` and ``RQ_ALLOWED_FUNCTIONS``.
        self.trust_policy = TrustPolicy.of(signing_keys, accept_unsigned, allowed_functions)
        self.serializer = self.trust_policy.guard(resolve_serializer(serializer))
        if connection is None:
            candidates = [queues] if isinstance(queues, (str, Queue)) else list(queues)
            connection = next((q.connection for q in candidates if isinstance(q, Queue)), None)
        if connection is None:
            raise TypeError('A worker needs a Redis connection: pass connection=Redis(...)')
        self.connection: Redis = connection
        self.queues = _as_queues(
            queues, connection, self.queue_class, job_class=self.job_class, serializer=self.serializer
        )
        for queue in self.queues:  # (every job this worker reads is decoded under its policy)
            queue.serializer = self.trust_policy.guard(queue.serializer)
        self._ordered_queues = list(self.queues)
        self.name: str = name or uuid.uuid4().hex
        if ':' in self.name or not self.name.strip():
            raise ValueError(f'Invalid worker name {self.name!r}')
        self.default_result_ttl = default_result_ttl
        self.worker_ttl: int = worker_ttl or default_worker_ttl or DEFAULT_WORKER_TTL
        self.maintenance_interval = maintenance_interval
        self.job_monitoring_interval = job_monitoring_interval
        self.log_job_description = log_job_description
        self.disable_default_exception_handler = disable_default_exception_handler
        self.work_horse_killed_handler = work_horse_killed_handler
        self.log: logging.Logger = WorkerLogger(self.name)
        self._exc_handlers: list[ExceptionHandler] = []
        if exception_handlers is not None:
            handlers = [exception_handlers] if callable(exception_handlers) else list(exception_handlers)
            for handler in handlers:
                self.push_exc_handler(handler)

        self._state: str = WorkerStatus.STARTED.value
        self._job_id: str | None = None
        self._horse_pid = 0
        self._stop_requested = False
        self._stopped_job_id: str | None = None
        self.successful_job_count = 0
        self.failed_job_count = 0
        self.total_working_time = 0.0
        self.current_job_working_time = 0.0
        self.birth_date: datetime | None = None
        self._registered = False  # (set once register_birth has written its hash)
        self.last_heartbeat: datetime | None = None
        self.death_date: datetime | None = None
        self.shutdown_requested_date: datetime | None = None
        self.scheduler: Any = None
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        self.ip_address = 'unknown'
        self.version = VERSION
        self.python_version = sys.version
        if prepare_for_work:
            self._prepare_connection()

    def _prepare_connection(self) -> None:
        """Name the connection after the worker (CLIENT SETNAME) and learn its address."""
        try:
            self.connection.client_setname(self.name)
            info: Any = self.connection.client_info()
            self.ip_address = codec.text(info.get('addr', 'unknown'))
        except Exception as exc:  # some managed Redis deny CLIENT commands
            self.log.warning('could not name its Redis connection (%s)', exc)

    # -- identity ---------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.name!r}, queues={self.queue_names()!r})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkerIdentity) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def key(self) -> str:
        return keys.worker_key(self.name)

    @property
    def pubsub_channel_name(self) -> str:
        return keys.pubsub_channel(self.name)

    def queue_names(self) -> list[str]:
        return [queue.name for queue in self.queues]

    def queue_keys(self) -> list[str]:
        return [queue.key for queue in self.queues]

    @property
    def horse_pid(self) -> int:
        return self._horse_pid

    @property
    def dequeue_timeout(self) -> int:
        return max(1, self.worker_ttl - 15)

    @property
    def connection_timeout(self) -> int:
        return self.dequeue_timeout + 10

    @property
    def heartbeat_interval(self) -> int:
        """Seconds between the heartbeats of a running job (``job_monitoring_interval``)."""
        return max(1, int(self.job_monitoring_interval))

    @property
    def beat_period(self) -> float:
        """Seconds between two heartbeats of a running job: half the interval."""
        return self.heartbeat_interval / 2

    @property
    def execution_ttl(self) -> float:
        """How long a running job's started entry lives without a heartbeat: 1.5 intervals. Beats
        come every half interval, so a live job has a whole interval of slack; maintenance looks
        every quarter interval, so a dead worker's job is noticed within 1.75 intervals of its
        last heartbeat by any live worker (two intervals, as promised, with room to spare)."""
        return self.heartbeat_interval * 1.5

    _death_date: datetime | None = None
    _shutdown_requested_date: datetime | None = None

    @property
    def death_date(self) -> datetime | None:
        """When the worker died (``register_death``; read from the hash for a worker found in Redis)."""
        return self._death_date

    @death_date.setter
    def death_date(self, value: datetime | None) -> None:
        self._death_date = value

    @property
    def shutdown_requested_date(self) -> datetime | None:
        """When a warm shutdown was requested (read from the hash for a worker found in Redis)."""
        return self._shutdown_requested_date

    @shutdown_requested_date.setter
    def shutdown_requested_date(self, value: datetime | None) -> None:
        self._shutdown_requested_date = value

    # -- exception handlers -----------------------------------------------------------------

    def push_exc_handler(self, handler_func: ExceptionHandler) -> None:
        self._exc_handlers.append(handler_func)

    def pop_exc_handler(self) -> ExceptionHandler:
        return self._exc_handlers.pop()

    # -- state in Redis ---------------------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        assert self.birth_date is not None and self.last_heartbeat is not None
        return {
            'birth': codec.format_timestamp(self.birth_date),
            'last_heartbeat': codec.format_timestamp(self.last_heartbeat),
            'queues': ','.join(self.queue_names()),
            'pid': self.pid,
            'hostname': self.hostname,
            'ip_address': self.ip_address,
            'version': self.version,
            'python_version': self.python_version,
        }

    def register_birth(self) -> None:
        """Write the worker hash and join ``rq:workers``. ValueError if a live worker has the name."""
        self.register_birth_at(now())

    def register_birth_at(self, moment: datetime) -> None:
        """:meth:`register_birth` with the given birth date: the same call made again after its
        reply was lost finds its own hash (this birth), which is no clash of names."""
        self.birth_date = self.last_heartbeat = moment
        if not worker_ops.register_birth(
            self.connection, self.name, self.serialize(), self.queue_names(), self.worker_ttl + 60
        ):
            raise ValueError(f'There exists an active worker named {self.name!r} already')
        self._registered = True

    def register_death(self) -> None:
        self.death_date = now()
        worker_ops.register_death(
            self.connection, self.name, self.queue_names(), codec.format_timestamp(self.death_date)
        )

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """Keep the worker hash alive for ``timeout`` (default ``worker_ttl + 60``) seconds."""
        self.last_heartbeat = now()
        worker_ops.heartbeat(
            pipeline if pipeline is not None else self.connection,
            self.name,
            timeout or self.worker_ttl + 60,
            codec.format_timestamp(self.last_heartbeat),
        )

    def set_state(self, state: str, pipeline: Any = None) -> None:
        self._state = str(state)
        worker_ops.set_fields(pipeline if pipeline is not None else self.connection, self.name, {'state': self._state})

    def get_state(self) -> str:
        return self._state

    @property
    def state(self) -> str:
        return self._state

    def set_current_job_id(self, job_id: str | None = None, pipeline: Any = None) -> None:
        self._job_id = job_id
        client = pipeline if pipeline is not None else self.connection
        if job_id is None:
            worker_ops.delete_fields(client, self.name, 'current_job')
        else:
            worker_ops.set_fields(client, self.name, {'current_job': job_id})

    def get_current_job_id(self) -> str | None:
        return self._job_id

    def get_current_job(self) -> Job | None:
        job_id = self.get_current_job_id()
        if job_id is None:
            return None
        return self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)

    def refresh(self) -> None:
        """Reload the fields of this worker from its hash (for workers found with ``find_by_key``)."""
        raw = self.connection.hgetall(self.key)
        if raw:
            apply_hash(self, raw)  # type: ignore[arg-type]

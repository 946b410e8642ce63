"""What ``rq info`` shows, read from Redis in a fixed number of round trips.

Counts come from LLEN, ZCARD and ZCOUNT only, so a registry of a million jobs costs the same as an
empty one: nothing is scanned and nothing is changed. RQ 3.0's rate limits are read per key in use
(``rq:rl-keys``: its concurrency, and ZCARDs of the jobs holding a slot and of those waiting).
Entries whose time has passed (expired results, failed jobs past their ``failure_ttl``, executions
whose heartbeat stopped) are not counted, which is what upstream's clean-up before counting
achieves; ``--clean`` runs that clean-up too (it may fail abandoned jobs, as a worker's maintenance
would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rq._redis import rate_limit_ops
from rq._redis.keys import WORKER_PREFIX, ready_registry_key
from rq.defaults import DEFAULT_WORKER_CLASS
from rq.queue import Queue
from rq.registry import BaseRegistry, clean_registries
from rq.utils import as_text, current_timestamp, now, str_to_date
from rq.worker_registration import clean_worker_registry, get_keys

from ._config import CliConfig
from ._errors import CliError

if TYPE_CHECKING:
    from redis import Redis

#: Worker classes whose records are read directly from their hashes.
DEFAULT_WORKER_CLASSES = (DEFAULT_WORKER_CLASS, 'Worker', 'rq.worker.Worker')
#: Registries whose entries expire (scored by expiry time), then those that never do.
EXPIRING = ('started', 'finished', 'failed')
LASTING = ('deferred', 'scheduled', 'canceled')


@dataclass(frozen=True)
class QueueCounts:
    name: str
    queued: int
    started: int
    finished: int
    failed: int
    deferred: int
    scheduled: int
    canceled: int
    #: In RQ 3.0's ready registry (``rq:ready:<q>``): dependents released but not queued yet (what an rq
    #: 3.0 process left there when it stopped in between; maintenance queues them).
    ready: int = 0


@dataclass(frozen=True)
class RateLimitRow:
    """One RQ 3.0 rate-limit key: its concurrency, the jobs holding a slot and those waiting for one."""

    key: str
    concurrency: int
    holding: int
    waiting: int


@dataclass(frozen=True)
class WorkerRow:
    name: str
    hostname: str
    ip_address: str
    pid: int
    state: str
    current_job: str | None
    queues: list[str]
    successful_job_count: int
    failed_job_count: int
    total_working_time: float
    birth: datetime | None
    last_heartbeat: datetime | None
    concurrency: int | None = None  # (a worker that runs many jobs at once: its slots)
    running: int = 0  # (then: how many of them are busy, as its execution index says)
    unsigned_job_count: int = 0  # (unsigned jobs it ran in migration mode, see rq.trust)

    @property
    def busy_slots(self) -> str | None:
        """``3 of 10 slots busy`` for a worker that runs many jobs at once; None for the others."""
        return f'{self.running} of {self.concurrency} slots busy' if self.concurrency else None


@dataclass(frozen=True)
class Snapshot:
    queues: list[QueueCounts] = field(default_factory=list)
    workers: list[WorkerRow] = field(default_factory=list)
    taken_at: datetime = field(default_factory=now)
    show_queues: bool = True
    show_workers: bool = True
    #: The queues asked about (all known ones, or those named), even when only workers are shown.
    queue_names: list[str] = field(default_factory=list)
    #: Every rate-limit key in use, by key (shown with the queues).
    rate_limits: list[RateLimitRow] = field(default_factory=list)

    def workers_of(self, queue_name: str) -> list[WorkerRow]:
        return [worker for worker in self.workers if queue_name in worker.queues]


def registries_of(queue: Queue) -> dict[str, BaseRegistry]:
    return {
        'started': queue.started_job_registry,
        'finished': queue.finished_job_registry,
        'failed': queue.failed_job_registry,
        'deferred': queue.deferred_job_registry,
        'scheduled': queue.scheduled_job_registry,
        'canceled': queue.canceled_job_registry,
    }


def resolve_queues(cli: CliConfig, names: tuple[str, ...], reads_jobs: bool = False) -> list[Queue]:
    """The queues named, or every known queue. Unless they will read jobs (``reads_jobs``: the
    clean-up), they are built without the serializer, which counting does not need: upstream's
    ``rq info`` takes any ``--serializer``."""
    if reads_jobs:
        return [cli.queue(name) for name in names] if names else cli.all_queues()
    if not names:
        return cli.queue_class.all(connection=cli.connection, job_class=cli.job_class)
    try:
        return [cli.queue_class(name, connection=cli.connection, job_class=cli.job_class) for name in names]
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def clean_registries_of(queues: list[Queue]) -> None:
    """Upstream's clean-up before counting: expired registry entries and dead workers' keys."""
    for queue in queues:
        clean_registries(queue)
        clean_worker_registry(queue)


def count_queues(queues: list[Queue]) -> list[QueueCounts]:
    """Every queue's counts in one pipelined round trip (9 O(1)/O(log n) commands per queue)."""
    if not queues:
        return []
    moment = current_timestamp()
    connection = queues[0].connection
    with connection.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue.key)
            registries = registries_of(queue)
            for kind in EXPIRING:
                pipe.zcard(registries[kind].key)
                pipe.zcount(registries[kind].key, 0, moment)  # expired: what a clean-up would drop
            for kind in LASTING:
                pipe.zcard(registries[kind].key)
            pipe.zcard(ready_registry_key(queue.name))
        replies: list[Any] = pipe.execute()
    per_queue = 1 + 2 * len(EXPIRING) + len(LASTING) + 1
    counts = []
    for index, queue in enumerate(queues):
        queued, *numbers, ready = (int(n) for n in replies[index * per_queue : (index + 1) * per_queue])
        live = {kind: numbers[2 * i] - numbers[2 * i + 1] for i, kind in enumerate(EXPIRING)}
        lasting = dict(zip(LASTING, numbers[2 * len(EXPIRING) :], strict=True))
        counts.append(QueueCounts(queue.name, queued, **live, **lasting, ready=ready))
    return counts


def read_rate_limits(connection: Redis) -> list[RateLimitRow]:
    """Every rate-limit key in use (none: one SMEMBERS), with its concurrency and counts."""
    rows = []
    for key in rate_limit_ops.all_keys(connection):
        holding, waiting = rate_limit_ops.counts(connection, key)
        rows.append(RateLimitRow(key, rate_limit_ops.concurrency(connection, key), holding, waiting))
    return rows


def read_workers(cli: CliConfig, queues: list[Queue], only_named: bool) -> list[WorkerRow]:
    """Live workers (all of them, or those serving one of ``queues`` when queues were named).

    With the default worker class the worker hashes are read directly (two round trips, and no
    need to import rq-worker); a custom ``--worker-class`` is asked through its ``all()``.
    """
    if cli.worker_class_path in DEFAULT_WORKER_CLASSES:
        rows = _read_worker_hashes(cli.connection)
    else:
        found = cli.worker_class.all(
            connection=cli.connection, job_class=cli.job_class, queue_class=cli.queue_class, serializer=cli.serializer
        )
        rows = [worker_row(worker) for worker in found]
    wanted = {queue.name for queue in queues}
    if only_named:
        rows = [row for row in rows if wanted.intersection(row.queues)]
    return sorted(rows, key=lambda row: row.name)


def _read_worker_hashes(connection: Redis) -> list[WorkerRow]:
    worker_keys = sorted(get_keys(connection=connection))
    with connection.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.hgetall(key)
            pipe.scard(f'{key}:executions')
        replies = pipe.execute()
    hashes: list[dict[bytes, bytes]] = replies[::2]
    running: list[int] = replies[1::2]
    rows = zip(worker_keys, hashes, running, strict=True)
    return [_row_from_hash(key, raw, count) for key, raw, count in rows if raw]


def _row_from_hash(key: str, raw: dict[bytes, bytes], running: int = 0) -> WorkerRow:
    """A worker hash (``rq:worker:<name>``, RQ's wire format) as a row; ``running``: the size of its
    execution index."""
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    concurrency = fields.get('concurrency', '')
    return WorkerRow(
        name=key.removeprefix(WORKER_PREFIX),
        hostname=fields.get('hostname', ''),
        ip_address=fields.get('ip_address', ''),
        pid=int(fields.get('pid') or 0),
        state=fields.get('state', '?'),
        current_job=fields.get('current_job') or None,
        queues=[name for name in fields.get('queues', '').split(',') if name],
        successful_job_count=int(fields.get('successful_job_count') or 0),
        failed_job_count=int(fields.get('failed_job_count') or 0),
        total_working_time=float(fields.get('total_working_time') or 0),
        birth=str_to_date(fields.get('birth', '')),
        last_heartbeat=str_to_date(fields.get('last_heartbeat', '')),
        concurrency=int(concurrency) if concurrency.isdigit() else None,
        running=int(running),
        unsigned_job_count=int(fields.get('unsigned_job_count') or 0),
    )


def worker_row(worker: Any) -> WorkerRow:
    """A row for a worker object (of any worker class)."""
    current = worker.get_current_job_id() if hasattr(worker, 'get_current_job_id') else None
    return WorkerRow(
        name=worker.name,
        hostname=str(getattr(worker, 'hostname', '') or ''),
        ip_address=str(getattr(worker, 'ip_address', '') or ''),
        pid=int(getattr(worker, 'pid', 0) or 0),
        state=str(worker.get_state()),
        current_job=current,
        queues=list(worker.queue_names()),
        successful_job_count=int(getattr(worker, 'successful_job_count', 0) or 0),
        failed_job_count=int(getattr(worker, 'failed_job_count', 0) or 0),
        total_working_time=float(getattr(worker, 'total_working_time', 0) or 0),
        birth=getattr(worker, 'birth_date', None),
        last_heartbeat=getattr(worker, 'last_heartbeat', None),
    )


def take_snapshot(
    cli: CliConfig, queues: list[Queue], only_named: bool, show_queues: bool = True, show_workers: bool = True
) -> Snapshot:
    return Snapshot(
        queues=count_queues(queues) if show_queues else [],
        workers=read_workers(cli, queues, only_named) if show_workers else [],
        show_queues=show_queues,
        show_workers=show_workers,
        queue_names=[queue.name for queue in queues],
        rate_limits=read_rate_limits(cli.connection) if show_queues else [],
    )

"""``RQScheduler``: moves scheduled jobs (``enqueue_at``/``enqueue_in``, retry and repeat intervals) from
``rq:scheduled:<queue>`` onto their queues when they are due.

One scheduler moves a queue's jobs at a time: the holder of ``rq:scheduler-lock:<queue>`` (the same
lock, TTL and refresh as RQ 2.x, so our workers and upstream's share it). Every other scheduler on
that queue stands by and looks at the lock every ``interval``: a live holder refreshes it to
``interval + 60`` s every ``interval``, so a lock with ``60 - takeover_after`` s or less left
belongs to a holder that died (or hung) ``takeover_after`` s ago, and is taken over. With the
defaults (interval 1 s, takeover_after 10 s) a SIGKILLed holder's queues move again within 12 s.

Each job moves atomically (``lua/move_due_jobs.lua``): it is in the scheduled registry or on its
queue, never both or neither, and a job two schedulers race for is queued once.

Inside a worker (``work(with_scheduler=True)``) the scheduler is a thread of the worker process, so it
dies with the worker: a SIGKILLed worker leaves no orphan scheduler holding locks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from enum import Enum
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import redis

from rq._redis import codec, keys, scheduler_ops
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import SchedulerNotFound
from rq.queue import Queue
from rq.registry import ScheduledJobRegistry
from rq.serializers import resolve_serializer
from rq.utils import now, utcformat, utcparse

__all__ = [
    'DEFAULT_TAKEOVER_AFTER',
    'SCHEDULER_KEY_TEMPLATE',
    'SCHEDULER_LOCKING_KEY_TEMPLATE',
    'ForkProcess',
    'RQScheduler',
    'SchedulerStatus',
    'run',
]

#: RQ 2.x's templates of the scheduler's keys (``% queue name`` and ``% scheduler name``).
SCHEDULER_LOCKING_KEY_TEMPLATE = keys.scheduler_lock_key('%s')
SCHEDULER_KEY_TEMPLATE = keys.scheduler_key('%s')
#: Seconds without a lock refresh after which a holder counts as dead and its lock is taken over.
DEFAULT_TAKEOVER_AFTER = 10
#: Jobs moved per script call, and calls per pass (the rest waits for the next pass).
MOVE_BATCH_SIZE = 1000
MAX_BATCHES_PER_PASS = 10
#: Redis unreachable: wait up to this many seconds between attempts.
MAX_BACKOFF = 30.0
#: RQ 2.x's process class for a scheduler of its own (forked where the platform can). Ours runs in a
#: thread of its worker (:meth:`RQScheduler.start`); this is for code that starts :func:`run` itself.
ForkProcess: type[BaseProcess] = get_context('fork' if 'fork' in get_all_start_methods() else None).Process


class SchedulerStatus(str, Enum):
    STARTED = 'started'
    WORKING = 'working'
    STOPPED = 'stopped'


class RQScheduler:
    """Moves due scheduled jobs of ``queues`` (names or Queue objects) onto those queues."""

    Status = SchedulerStatus

    def __init__(
        self,
        queues: Iterable[str | Queue] | str | Queue,
        connection: redis.Redis,
        interval: float = 1,
        logging_level: str | int = logging.INFO,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        serializer: Any = None,
        name: str | None = None,
        *,
        takeover_after: float | None = DEFAULT_TAKEOVER_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval or interval <= 0:
            raise ValueError(f'interval must be a positive number of seconds, not {interval!r}')
        if takeover_after is not None and not 0 < takeover_after < 60:
            raise ValueError(f'takeover_after must be between 0 and 60 seconds (or None), not {takeover_after!r}')
        given = [queues] if isinstance(queues, (str, Queue)) else list(queues)
        self._queue_names = {queue.name if isinstance(queue, Queue) else queue for queue in given}
        self._acquired_locks: set[str] = set()
        self._connection = connection
        self.interval = interval
        self.takeover_after = takeover_after
        self.serializer = resolve_serializer(serializer)
        self.name: str = name or uuid.uuid4().hex
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.created_at: dt.datetime = now()
        self.last_heartbeat: dt.datetime | None = None
        self.lock_acquisition_time: dt.datetime | None = None
        self.logging_level, self.date_format, self.log_format = logging_level, date_format, log_format
        self.log = logging.getLogger('rq.scheduler')
        self._clock = clock
        self._status = SchedulerStatus.STOPPED
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_lost_logged: set[str] = set()

    # -- identity ---------------------------------------------------------------------------

    @property
    def connection(self) -> redis.Redis:
        """The Redis connection the scheduler works with."""
        return self._connection

    @connection.setter
    def connection(self, connection: redis.Redis) -> None:
        self._connection = connection

    @property
    def acquired_locks(self) -> set[str]:
        return self._acquired_locks

    @property
    def status(self) -> SchedulerStatus:
        return self._status

    @property
    def key(self) -> str:
        return keys.scheduler_key(self.name)

    @property
    def lock_ttl(self) -> int:
        """The locks' TTL: ``interval + 60`` seconds, as RQ 2.x."""
        return int(-(-self.interval // 1)) + 60

    @property
    def _takeover_ms(self) -> int:
        if self.takeover_after is None:
            return 0
        return int((60 - self.takeover_after) * 1000)

    @property
    def should_reacquire_locks(self) -> bool:
        return self._queue_names != self._acquired_locks

    @classmethod
    def get_locking_key(cls, name: str) -> str:
        """``rq:scheduler-lock:<queue name>``."""
        return keys.scheduler_lock_key(name)

    def to_dict(self) -> dict[str, str]:
        return {
            'name': self.name,
            'hostname': self.hostname,
            'pid': str(self.pid),
            'queues': ','.join(sorted(self._queue_names)),
            'created_at': utcformat(self.created_at),
            'last_heartbeat': utcformat(self.last_heartbeat or now()),
        }

    def restore(self, raw: dict[str, str]) -> None:
        self.name = raw.get('name', self.name)
        self.hostname = raw.get('hostname', '')
        self.pid = int(raw.get('pid') or 0)
        self._queue_names = set(raw['queues'].split(',')) if raw.get('queues') else set()
        if raw.get('created_at'):
            self.created_at = utcparse(raw['created_at'])
        self.last_heartbeat = utcparse(raw['last_heartbeat']) if raw.get('last_heartbeat') else None

    def save(self) -> None:
        """Write ``rq:scheduler:<name>`` (EXPIRE ``interval + 60`` s)."""
        scheduler_ops.save_scheduler(self.connection, self.name, self.to_dict(), self.lock_ttl)

    def register_birth(self) -> None:
        self.pid = os.getpid()
        self.last_heartbeat = now()
        self.save()

    def register_death(self) -> bool:
        return scheduler_ops.delete_scheduler(self.connection, self.name)

    @classmethod
    def fetch(cls, name: str, connection: redis.Redis) -> RQScheduler:
        """The scheduler ``name`` as its hash describes it. Raises SchedulerNotFound."""
        raw = scheduler_ops.read_scheduler(connection, name)
        if not raw:
            raise SchedulerNotFound(f'Scheduler with name {name!r} not found')
        scheduler = cls([], connection=connection, name=name)
        scheduler.restore(raw)
        return scheduler

    # -- locks ------------------------------------------------------------------------------

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """Acquire (or refresh, or take over from a dead holder) the lock of each queue; returns the
        queues this scheduler now holds. With ``auto_start``, start the scheduler thread if some lock
        is held and it is not running."""
        self._update_locks(
            scheduler_ops.heartbeat_and_lock(
                self.connection, self.name, sorted(self._queue_names), self.lock_ttl, self._takeover_ms
            )
        )
        self.lock_acquisition_time = now()
        if self._acquired_locks and auto_start and not self.is_running():
            self.start()
        return set(self._acquired_locks)

    def heartbeat(self) -> None:
        """Write the heartbeat hash and refresh this scheduler's locks, taking free or abandoned
        ones; a lock another scheduler took over is dropped."""
        self.last_heartbeat = now()
        outcomes = scheduler_ops.heartbeat_and_lock(
            self.connection,
            self.name,
            sorted(self._queue_names),
            self.lock_ttl,
            self._takeover_ms,
            heartbeat=self.to_dict(),
        )
        self._update_locks(outcomes)

    def _update_locks(self, outcomes: dict[str, int]) -> None:
        held = set()
        for name, outcome in outcomes.items():
            if outcome == scheduler_ops.LOCK_HELD_BY_OTHER:
                if name in self._acquired_locks:
                    self.log.warning('Scheduler %s: the lock for %s was taken by another scheduler', self.name, name)
                continue
            held.add(name)
            if outcome == scheduler_ops.LOCK_TAKEN_OVER:
                self.log.warning('Scheduler %s: took over the lock for %s from a silent scheduler', self.name, name)
            elif outcome == scheduler_ops.LOCK_ACQUIRED:
                log = self.log.warning if name in self._acquired_locks else self.log.info
                log('Scheduler %s: acquired the lock for %s', self.name, name)
        self._acquired_locks = held

    def release_locks(self) -> None:
        """Release the locks this scheduler still holds (others' are left alone)."""
        scheduler_ops.release_locks(self.connection, self.name, sorted(self._acquired_locks))
        self._acquired_locks = set()

    # -- moving jobs ------------------------------------------------------------------------

    def prepare_registries(self, queue_names: Iterable[str] | None = None) -> list[ScheduledJobRegistry]:
        names = sorted(queue_names if queue_names is not None else self._acquired_locks)
        return [ScheduledJobRegistry(name, connection=self.connection, serializer=self.serializer) for name in names]

    def enqueue_scheduled_jobs(self) -> int:
        """Move the due jobs of every queue whose lock this scheduler holds; returns how many moved."""
        self._status = SchedulerStatus.WORKING
        moved = 0
        try:
            for name in sorted(self._acquired_locks):
                moved += self._move_due(name)
        finally:
            self._status = SchedulerStatus.STARTED if self.is_running() else SchedulerStatus.STOPPED
        return moved

    def _move_due(self, queue_name: str) -> int:
        moved_here = 0
        for _ in range(MAX_BATCHES_PER_PASS):
            moment = self._clock()
            due_score = int(moment)
            job_ids = scheduler_ops.due_job_ids(self.connection, queue_name, due_score, MOVE_BATCH_SIZE)
            if not job_ids:
                break
            enqueued_at = codec.format_timestamp(dt.datetime.fromtimestamp(moment, tz=dt.timezone.utc))
            moved, dropped = scheduler_ops.move_due_jobs(self.connection, queue_name, job_ids, due_score, enqueued_at)
            moved_here += moved
            if dropped:
                self.log.info(
                    'Scheduler %s: dropped %d scheduled ids of %s whose job is gone', self.name, dropped, queue_name
                )
            if len(job_ids) < MOVE_BATCH_SIZE:
                break
        if moved_here:
            self.log.info('Scheduler %s: moved %d scheduled jobs to %s', self.name, moved_here, queue_name)
        return moved_here

    # -- running ----------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> threading.Thread:
        """Run :meth:`work` in a daemon thread of this process; returns the thread."""
        self._stop_requested.clear()
        self._status = SchedulerStatus.STARTED
        self._thread = threading.Thread(target=self._run, name=f'rq-scheduler {self.name}', daemon=True)
        self._thread.start()
        return self._thread

    def ensure_running(self) -> bool:
        """Start the thread again if it died without being asked to stop; True if it was restarted."""
        if self._thread is None or self._thread.is_alive() or self._stop_requested.is_set():
            return False
        self.log.warning('Scheduler %s: its thread had stopped; starting it again', self.name)
        self.start()
        return True

    def _run(self) -> None:
        try:
            self.work()
        except Exception:
            self.log.exception('Scheduler %s: stopped by an error', self.name)

    def work(self) -> None:
        """Every ``interval``: heartbeat and lock refresh, then move due jobs; until stopped."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self.request_stop)
        self._status = SchedulerStatus.STARTED
        self.log.info('Scheduler %s: started for %s', self.name, ', '.join(sorted(self._queue_names)))
        delay = 1.0
        try:
            while not self._stop_requested.is_set():
                try:
                    self.heartbeat()
                    self.enqueue_scheduled_jobs()
                    delay = 1.0
                    pause = self.interval
                except redis.exceptions.RedisError as exc:
                    self.log.warning('Scheduler %s: Redis error (%s); retrying in %.0f s', self.name, exc, delay)
                    pause, delay = delay, min(delay * 2, MAX_BACKOFF)
                except Exception:
                    self.log.exception('Scheduler %s: pass failed; retrying in %.0f s', self.name, delay)
                    pause, delay = delay, min(delay * 2, MAX_BACKOFF)
                self._stop_requested.wait(pause)
        finally:
            self._shut_down()

    def _shut_down(self) -> None:
        try:
            if self._acquired_locks:
                self.log.info(
                    'Scheduler %s: releasing locks for %s', self.name, ', '.join(sorted(self._acquired_locks))
                )
            self.release_locks()
            self.register_death()
        except redis.exceptions.RedisError as exc:
            self.log.warning('Scheduler %s: could not release its locks (%s); they expire on their own', self.name, exc)
        self._status = SchedulerStatus.STOPPED

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self._stop_requested.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: the thread (if any) finishes its pass, releases its locks and deletes its hash."""
        self._stop_requested.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and thread.is_alive():
            thread.join(timeout)
            if not thread.is_alive():
                return
        self._shut_down()

    def __repr__(self) -> str:
        return f'RQScheduler({self.name!r}, queues={sorted(self._queue_names)!r})'


def run(scheduler: RQScheduler) -> None:
    """Run ``scheduler`` (its :meth:`~RQScheduler.work` loop) until it stops, logging its start, its
    stop and an error that ends it (then raised again): the target RQ 2.x gives a scheduler process."""
    scheduler.log.info('Scheduler for %s started with PID %s', ', '.join(sorted(scheduler._queue_names)), os.getpid())
    try:
        scheduler.work()
    except BaseException:
        scheduler.log.error('Scheduler [PID %s] raised an exception.\n%s', os.getpid(), traceback.format_exc())
        raise
    scheduler.log.info('Scheduler with PID %d has stopped', os.getpid())

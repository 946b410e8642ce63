"""``CronScheduler``: enqueues each registered cron job when it is due, exactly once per run.

Any number of schedulers may run the same entries (several ``rq cron`` processes for availability):
each run is *claimed* in Redis in the transaction that enqueues it (``rq:cron_run:<identity>``, see
:mod:`rq._redis.cron_ops`), so whichever process is first enqueues it and the others see it done.
There is no leader to elect and nothing to take over: while one process is alive, runs happen on
time. The same record makes a restarted process wait for the rest of an interval instead of running
at once, and lets a returning process make one run for all the runs missed while none was alive
(a catch-up, which keeps the schedule's grid and its spacing: see :mod:`rq.cron._schedule`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import redis

from rq._redis import cron_ops
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL, DEFAULT_RESULT_TTL
from rq.exceptions import SchedulerNotFound
from rq.logutils import has_effective_handler, setup_loghandlers
from rq.serializers import resolve_serializer
from rq.utils import now
from rq.webhook import Webhook

from ._monitoring import SchedulerRecord
from ._schedule import BASELINE, WAIT, describe, resolve_timezone
from .config import describe_entry, load_config
from .job import CronJob

if TYPE_CHECKING:
    from redis import Redis

    from rq.job import Job

__all__ = ['CronScheduler']

#: Longest sleep between two looks at the schedule (and between heartbeats).
MAX_SLEEP = 10.0
#: After an entry fails to enqueue (not a Redis outage), it is tried again this much later.
RETRY_AFTER_ERROR = 10.0
#: Redis unreachable: wait 1, 2, 4 ... up to this many seconds between attempts.
MAX_BACKOFF = 30.0


class CronScheduler(SchedulerRecord):
    """Enqueues registered cron jobs on time; run it with :meth:`start` (blocks until stopped).

    ``timezone`` (an IANA name) is the wall clock for cron strings of entries that do not name their
    own; by default the process's local time zone, as in rq 3.0. ``clock`` (a ``time.time``
    replacement) lets tests control time.
    """

    def __init__(
        self,
        connection: Redis,
        logging_level: str | int | None = logging.INFO,
        name: str = '',
        *,
        timezone: str | None = None,
        serializer: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self._cron_jobs: list[CronJob] = []
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f'{self.hostname}:{self.pid}:{uuid.uuid4().hex[:6]}'
        self.config_file = ''
        self.created_at = now()
        self.serializer = resolve_serializer(serializer)
        resolve_timezone(timezone)  # (raises ValueError for an unknown name)
        self.timezone = timezone
        #: The timezone of the config entry being registered (see :meth:`register`).
        self._entry_timezone: str | None = None
        self.log = logging.getLogger('rq.cron')
        self.logging_level = logging_level
        if not has_effective_handler(self.log):  # (as RQ 2.x: the application's logging comes first)
            setup_loghandlers(level=logging_level, name='rq.cron')
        self.errors: list[str] = []
        self._clock = clock
        self._stop = threading.Event()
        self._next_heartbeat = 0.0

    # -- registration -----------------------------------------------------------------------

    def register(
        self,
        func: Callable[..., Any] | str,
        queue_name: str,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        interval: float | None = None,
        cron: str | None = None,
        job_timeout: int | str | None = None,
        result_ttl: int | str | None = DEFAULT_RESULT_TTL,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        meta: dict[str, Any] | None = None,
        webhooks: Sequence[Webhook] | None = None,
        name: str = '',
        timezone: str | None = None,
    ) -> CronJob:
        """Add a cron job (see :class:`CronJob`) and return it. Raises ValueError, naming it, for a bad
        argument.

        ``timezone`` applies to a ``cron`` string; without it, the entry being loaded from a config
        keeps the timezone its ``rq.cron.register`` call named, and any other the scheduler's.
        (A subclass overriding this with RQ 2.x's signature, without ``timezone``, and calling
        ``super().register(...)`` still gets each config entry's timezone.)
        """
        if timezone is None:
            timezone = self._entry_timezone
        if cron is None and timezone is not None:
            self.log.warning('Cron job %r: timezone=%r ignored (it applies to cron strings)', name or func, timezone)
            timezone = None
        cron_job = CronJob(
            queue_name=queue_name,
            func=func,
            args=args,
            kwargs=kwargs,
            interval=interval,
            cron=cron,
            job_timeout=job_timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            meta=meta,
            webhooks=webhooks,
            name=name,
            timezone=timezone if timezone is not None or cron is None else self.timezone,
        )
        same = sum(1 for other in self._cron_jobs if other.fingerprint() == cron_job.identity)
        if same:  # identical entries in one config: each gets its own runs
            cron_job.identity = f'{cron_job.identity}-{same + 1}'
        self._cron_jobs.append(cron_job)
        self.log.info('Registered %r to run on %s %s', cron_job.name, queue_name, describe(cron_job.schedule))
        return cron_job

    def load_config_from_file(self, config_path: str) -> int:
        """Import a cron config and register its entries (each with ``self.register(**entry)``, the
        entry holding RQ 2.x's arguments); returns how many are usable. Each entry that cannot be
        registered is logged (file, line, name and what is wrong), kept in :attr:`errors` and skipped.

        Raises:
            CronConfigError: the config cannot be found or imported.
        """
        self.config_file = config_path
        self.log.info('Loading cron configuration from %s', config_path)
        usable = 0
        for entry, notes in load_config(config_path):
            try:
                if notes.error:
                    raise ValueError(f'cron job {entry.get("name") or entry.get("func")!r}: {notes.error}')
                self._entry_timezone = notes.timezone
                try:
                    self.register(**entry)
                finally:
                    self._entry_timezone = None
                usable += 1
            except Exception as exc:  # (as RQ 2.x: whatever a subclass's register raises skips the entry)
                message = f'{describe_entry(entry, notes, exc)}; skipped'
                self.errors.append(message)
                self.log.error('Cron config %s', message)
        self.log.info('Registered %d cron jobs from %r', usable, config_path)
        return usable

    def get_jobs(self) -> list[CronJob]:
        return self._cron_jobs

    # -- enqueueing -------------------------------------------------------------------------

    def enqueue_jobs(self) -> list[CronJob]:
        """Enqueue every cron job whose run is due (and not yet claimed by another scheduler)."""
        moment = self._clock()
        enqueued = []
        for cron_job in self._cron_jobs:
            if cron_job.next_due is not None and moment < cron_job.next_due:
                continue
            try:
                if self._claim(cron_job, moment) is not None:
                    enqueued.append(cron_job)
            except redis.exceptions.RedisError:
                raise
            except Exception:
                self.log.exception('Cron job %r could not be enqueued; trying again later', cron_job.name)
                cron_job.next_due = moment + RETRY_AFTER_ERROR
        return enqueued

    def _claim(self, cron_job: CronJob, moment: float) -> Job | None:
        """Enqueue ``cron_job``'s due run if no scheduler has yet: the run's slot is checked and
        advanced in the transaction that enqueues it (WATCH/MULTI)."""
        with self.connection.pipeline(transaction=True) as pipe:
            while True:
                try:
                    state = cron_ops.watch_run(pipe, cron_job.identity)
                    last_slot = _number(state.get('slot'))
                    decision = cron_job.schedule.decide(last_slot, moment)
                    if decision.kind == BASELINE:
                        pipe.unwatch()
                        cron_ops.record_baseline(
                            self.connection, cron_job.identity, cron_job.name, decision.at, DEFAULT_CRON_JOB_HISTORY_TTL
                        )
                        continue
                    if decision.kind == WAIT:
                        pipe.unwatch()
                        cron_job.note_state(last_slot, decision.at, _number(state.get('enqueued_at')))
                        return None
                    pipe.multi()
                    job = cron_job.enqueue_in(pipe, self.connection, self.serializer)
                    enqueued_at = job.enqueued_at.timestamp() if job.enqueued_at else moment
                    cron_ops.record_run(
                        pipe,
                        cron_job.identity,
                        cron_job_name=cron_job.name,
                        slot=decision.at,
                        job_id=job.id,
                        enqueued_at=enqueued_at,
                        scheduler_name=self.name,
                        history_limit=DEFAULT_CRON_JOB_HISTORY_LIMIT,
                        history_ttl=DEFAULT_CRON_JOB_HISTORY_TTL,
                    )
                    pipe.execute()
                except redis.exceptions.WatchError:
                    continue  # another scheduler touched this entry's run: look again
                next_due = cron_job.schedule.next_after(decision.at)
                cron_job.note_state(decision.at, next_due, enqueued_at)
                self.log.info('Enqueued cron job %r (job %s) on %s', cron_job.name, job.id, cron_job.queue_name)
                if decision.missed is not None:
                    self.log.info(
                        'Cron job %r: that was a catch-up for the run due at %s; next run at %s',
                        cron_job.name,
                        _utc(decision.missed),
                        _utc(next_due),
                    )
                return job

    def calculate_sleep_interval(self) -> float:
        """Seconds until the next run is due (at most :data:`MAX_SLEEP`; 0 when one is due)."""
        moment = self._clock()
        dues = [job.next_due for job in self._cron_jobs if job.next_due is not None]
        if len(dues) < len(self._cron_jobs):
            return 0.0  # an entry not looked at yet
        return max(0.0, min([*dues, moment + MAX_SLEEP]) - moment)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Register, then enqueue due runs until stopped (SIGINT, SIGTERM or :meth:`stop`)."""
        previous = self._install_signal_handlers()
        self.log.info('CronScheduler %s: starting with %d cron jobs', self.name, len(self._cron_jobs))
        self.register_birth()
        delay = 1.0
        try:
            while not self._stop.is_set():
                try:
                    if self.enqueue_jobs():
                        self.save()
                    if self._clock() >= self._next_heartbeat:
                        self.heartbeat()
                        self._next_heartbeat = self._clock() + MAX_SLEEP
                    delay = 1.0
                    pause = min(self.calculate_sleep_interval(), max(0.0, self._next_heartbeat - self._clock()))
                except redis.exceptions.RedisError as exc:
                    self.log.warning('CronScheduler %s: Redis error (%s); retrying in %.0f s', self.name, exc, delay)
                    pause, delay = delay, min(delay * 2, MAX_BACKOFF)
                self._stop.wait(pause + 0.001 if pause > 0 else 0)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            try:
                self.register_death()
            except (redis.exceptions.RedisError, SchedulerNotFound) as exc:
                self.log.warning('CronScheduler %s: could not register its death (%s)', self.name, exc)
            self.log.info('CronScheduler %s: stopped', self.name)

    def stop(self) -> None:
        """Ask :meth:`start` to return (after the current step)."""
        self._stop.set()

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.log.info('CronScheduler %s: received %s, stopping', self.name, signal.Signals(signum).name)
        self._stop.set()

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {signum: signal.signal(signum, self._request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}

    def __eq__(self, other: object) -> bool:
        """Schedulers are equal when they have the same name (whatever their connection), as RQ 2.x."""
        return isinstance(other, self.__class__) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.name!r}, jobs={len(self._cron_jobs)})'


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).isoformat(timespec='seconds')


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None

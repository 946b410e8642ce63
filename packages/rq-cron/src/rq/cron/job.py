"""``CronJob``: one function to enqueue on a schedule (an interval, or a cron string in a timezone)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rq._redis import cron_ops, keys
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL, DEFAULT_RESULT_TTL
from rq.queue import Queue
from rq.utils import import_attribute, now, utcformat, utcparse
from rq.webhook import Webhook

from ._schedule import UTC, CronSchedule, IntervalSchedule, resolve_timezone, zone_label

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from rq.job import Job

__all__ = ['CronJob', 'get_cron_job_history_key', 'get_cron_job_ids']

logger = logging.getLogger('rq.cron')

#: What RQ 2.x writes for args, kwargs or meta that are not JSON serializable.
NOT_JSON_SERIALIZABLE = '<not JSON serializable>'


def get_cron_job_history_key(name: str) -> str:
    """The key of the sorted set of ids of the jobs spawned by cron job ``name``."""
    return keys.cron_job_history_key(name)


def get_cron_job_ids(name: str, connection: Redis, start: int = 0, end: int = -1) -> list[str]:
    """Ids of the jobs spawned by cron job ``name``, newest first (``start``/``end`` as ZRANGE)."""
    return cron_ops.cron_job_ids(connection, name, start, end)


def _safe_json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return NOT_JSON_SERIALIZABLE


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class CronJob:
    """A function to enqueue on ``queue_name`` every ``interval`` seconds or on a ``cron`` string.

    ``timezone`` (an IANA name) is the wall clock the cron string is read in; by default the
    process's local time zone (``TZ``), as in rq 3.0 (rq 2.12 used UTC).
    ``name`` identifies the cron job in its history (default: the function's dotted name); several
    cron jobs may share one. Give ``func`` (a callable, or its dotted path) or, for a description
    read back from Redis, ``func_name`` alone.

    Raises:
        ValueError: a bad argument; the message names the cron job and says what to change.
    """

    def __init__(
        self,
        queue_name: str,
        func: Callable[..., Any] | str | None = None,
        func_name: str | None = None,
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
    ) -> None:
        self.func, self.func_name = self._resolve_func(func, func_name, name)
        self.name: str = name or self.func_name
        self.queue_name = queue_name
        self.args: tuple[Any, ...] = tuple(args or ())
        self.kwargs: dict[str, Any] = dict(kwargs or {})
        self.interval = interval
        self.cron = cron
        self.timezone = timezone
        self.schedule = self._build_schedule()
        if webhooks and (not isinstance(webhooks, Sequence) or not all(isinstance(w, Webhook) for w in webhooks)):
            raise self._error('webhooks must be a list of rq.Webhook objects')
        if not isinstance(queue_name, str) or not queue_name:
            raise self._error(f'queue_name must be a non-empty string, not {queue_name!r}')
        options = {
            'job_timeout': job_timeout,
            'result_ttl': result_ttl,
            'ttl': ttl,
            'failure_ttl': failure_ttl,
            'meta': meta,
            'webhooks': list(webhooks) if webhooks else None,
        }
        self.job_options: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
        self.identity = self.fingerprint()
        self.latest_enqueue_time: dt.datetime | None = None
        self.next_enqueue_time: dt.datetime | None = None
        self.last_slot: float | None = None
        self.next_due: float | None = None
        if isinstance(self.schedule, CronSchedule):
            try:
                self.next_enqueue_time = _datetime(self.schedule.next_after(now().timestamp()))
            except ValueError as exc:
                raise self._error(f'cron string {self.cron!r} never matches ({exc})') from exc

    # -- validation -------------------------------------------------------------------------

    def _error(self, message: str) -> ValueError:
        return ValueError(f'cron job {self.name!r}: {message}')

    def _resolve_func(self, func: Any, func_name: str | None, name: str) -> tuple[Callable[..., Any] | None, str]:
        self.name = name or (func if isinstance(func, str) else func_name) or repr(func)
        if func is None:
            if not func_name:
                raise self._error('give the function to run (func=)')
            return None, func_name
        if isinstance(func, str):
            try:
                return import_attribute(func), func
            except AttributeError as exc:
                module, _, attribute = func.rpartition('.')
                raise self._error(f'function {func!r} does not exist ({module} has no {attribute!r})') from exc
            except ModuleNotFoundError as exc:
                raise self._error(f'function {func!r} cannot be imported: no module named {exc.name!r}') from exc
            except (ImportError, ValueError) as exc:
                raise self._error(f'function {func!r} cannot be imported: {type(exc).__name__}: {exc}') from exc
        if not callable(func):
            raise self._error(f'func must be a function or its dotted path, not {func!r}')
        label = getattr(func, '__name__', None) or type(func).__name__  # (RQ 2.x: module and __name__)
        qualified = f'{getattr(func, "__module__", None)}.{label}'
        self.name = name or qualified
        return func, qualified

    def _build_schedule(self) -> IntervalSchedule | CronSchedule:
        if self.interval is not None and self.cron is not None:
            raise self._error('give exactly one of interval= or cron=, not both')
        if self.interval is None and self.cron is None:
            raise self._error('give exactly one of interval= (seconds) or cron= (a cron string)')
        if self.interval is not None:
            if not _is_number(self.interval):
                raise self._error(f'interval must be a number of seconds, not {self.interval!r}')
            if self.interval <= 0:
                raise self._error(f'interval must be a positive number of seconds, not {self.interval!r}')
            return IntervalSchedule(float(self.interval))
        try:
            return CronSchedule(self.cron, resolve_timezone(self.timezone))  # type: ignore[arg-type]
        except ValueError as exc:
            raise self._error(str(exc)) from exc

    def fingerprint(self) -> str:
        """The identity under which every ``rq cron`` process with this entry claims its runs: the
        name, function, queue, arguments and schedule. (Change any of them and the entry starts
        afresh, as a new one.)"""
        parts = [
            self.name,
            self.func_name,
            self.queue_name,
            _safe_json(self.args),
            _safe_json(self.kwargs),
            self.interval,
            self.cron,
            self.timezone or self._default_zone_label(),
        ]
        digest = hashlib.sha1(json.dumps(parts, default=repr).encode('utf-8')).hexdigest()[:20]
        return digest

    def _default_zone_label(self) -> str:
        """The zone an entry without ``timezone`` is read in, for its identity: ``'UTC'`` for an
        interval or where local time is UTC (so those identities are what they were when UTC was the
        default), else the local zone's name, so that processes in different zones do not share runs."""
        return zone_label(self.schedule.tz) if isinstance(self.schedule, CronSchedule) else 'UTC'

    # -- enqueueing -------------------------------------------------------------------------

    @property
    def job_history_key(self) -> str:
        return get_cron_job_history_key(self.name)

    def enqueue_in(self, pipeline: Pipeline, connection: Redis, serializer: Any = None) -> Job:
        """Add the enqueue of one run to ``pipeline`` (a transaction); returns the job."""
        if self.func is None:
            raise ValueError(f'cron job {self.name!r} has no function (it was read back for monitoring)')
        queue = Queue(self.queue_name, connection=connection, serializer=serializer)
        # (args and kwargs passed as such: the function may take kwargs named like job options)
        return queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipeline)

    def enqueue(self, connection: Redis) -> Job:
        """Enqueue one run now and record it in the job history, in one transaction (no claim: what
        RQ 2.x's ``CronJob.enqueue`` does; :class:`CronScheduler` claims each run first)."""
        with connection.pipeline(transaction=True) as pipeline:
            job = self.enqueue_in(pipeline, connection)
            enqueued_at = (job.enqueued_at or now()).timestamp()
            cron_ops.record_history(
                pipeline, self.name, job.id, enqueued_at, DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
            )
            pipeline.execute()
        logger.info('Enqueued job %s to queue %s', self.func_name, self.queue_name)
        return job

    def get_job_ids(self, connection: Redis, start: int = 0, end: int = -1) -> list[str]:
        return get_cron_job_ids(self.name, connection, start, end)

    # -- timing -----------------------------------------------------------------------------

    def note_state(self, last_slot: float | None, next_due: float, enqueued_at: float | None = None) -> None:
        """Remember what Redis said: the last run's slot, when the next one is due."""
        self.last_slot = last_slot
        self.next_due = next_due
        self.next_enqueue_time = _datetime(next_due)
        if enqueued_at is not None:
            self.latest_enqueue_time = _datetime(enqueued_at)

    def get_next_enqueue_time(self) -> dt.datetime:
        if isinstance(self.schedule, CronSchedule):
            start = self.latest_enqueue_time or now()
            return _datetime(self.schedule.next_after(start.timestamp()))
        if self.latest_enqueue_time is not None:
            return self.latest_enqueue_time + dt.timedelta(seconds=self.schedule.seconds)
        return dt.datetime.max.replace(tzinfo=UTC)

    def should_run(self) -> bool:
        """Whether a run is due by this object's own times (RQ 2.x's check; without a claim)."""
        if self.latest_enqueue_time is None and isinstance(self.schedule, IntervalSchedule):
            return True
        return self.next_enqueue_time is not None and now() >= self.next_enqueue_time

    def set_enqueue_time(self, time: dt.datetime) -> None:
        self.latest_enqueue_time = time
        self.next_enqueue_time = self.get_next_enqueue_time()

    # -- monitoring -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The description stored in ``rq:cron_scheduler:<name>``: RQ 2.x's fields, plus ``timezone``
        for a cron string given a zone other than UTC (one read in local time, the default, has none,
        as upstream's; a reader takes it as its own local time, as rq 3.0 does)."""
        data: dict[str, Any] = {
            'func_name': self.func_name,
            'name': self.name,
            'queue_name': self.queue_name,
            'args': _safe_json(self.args) if self.args else None,
            'kwargs': _safe_json(self.kwargs) if self.kwargs else None,
            'interval': self.interval,
            'cron': self.cron,
            'latest_enqueue_time': utcformat(self.latest_enqueue_time) if self.latest_enqueue_time else None,
            'next_enqueue_time': utcformat(self.next_enqueue_time) if self.next_enqueue_time else None,
        }
        if self.cron is not None and self.timezone not in (None, 'UTC'):
            data['timezone'] = self.timezone  # (only then: a UTC entry's dict is exactly RQ 2.x's)
        for key, value in self.job_options.items():
            if key == 'meta':
                data[key] = _safe_json(value)
            elif key == 'webhooks':
                data[key] = json.dumps([webhook.to_dict() for webhook in value])
            else:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CronJob:
        """A CronJob described by :meth:`to_dict` (ours or RQ 2.x's), without its function."""

        def loaded(key: str) -> Any:
            value = data.get(key)
            return json.loads(value) if value and value != NOT_JSON_SERIALIZABLE else None

        webhooks = loaded('webhooks')
        job = cls(
            queue_name=data['queue_name'],
            func_name=data['func_name'],
            name=data.get('name', ''),
            args=loaded('args'),
            kwargs=loaded('kwargs'),
            interval=data.get('interval'),
            cron=data.get('cron'),
            job_timeout=data.get('job_timeout'),
            result_ttl=data.get('result_ttl', DEFAULT_RESULT_TTL),
            ttl=data.get('ttl'),
            failure_ttl=data.get('failure_ttl'),
            meta=loaded('meta'),
            webhooks=[Webhook.from_dict(webhook) for webhook in webhooks] if webhooks else None,
            timezone=data.get('timezone') if data.get('timezone') not in (None, 'UTC') else None,
        )
        if data.get('latest_enqueue_time'):
            job.latest_enqueue_time = utcparse(data['latest_enqueue_time'])
        if data.get('next_enqueue_time'):
            job.next_enqueue_time = utcparse(data['next_enqueue_time'])
        return job

    def __repr__(self) -> str:
        return f'CronJob({self.name!r}, queue={self.queue_name!r}, {self.schedule!r})'


def _datetime(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=UTC)

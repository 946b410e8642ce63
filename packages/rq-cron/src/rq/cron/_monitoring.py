"""What a cron scheduler tells Redis about itself, as RQ 2.x writes it (for ``CronScheduler.all()``,
dashboards, and upstream's tools): the hash ``rq:cron_scheduler:<name>`` and the registry
``rq:cron_schedulers``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from rq import cron_scheduler_registry
from rq._redis import cron_ops, keys
from rq.defaults import DEFAULT_CRON_SCHEDULER_TTL
from rq.exceptions import DuplicateSchedulerError, SchedulerNotFound
from rq.utils import str_to_date, utcformat

from .job import CronJob

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


class SchedulerRecord:
    """The monitoring side of :class:`rq.cron.CronScheduler`."""

    connection: Redis
    name: str
    hostname: str
    pid: int
    created_at: dt.datetime
    config_file: str
    log: logging.Logger
    _cron_jobs: list[CronJob]

    @property
    def key(self) -> str:
        """``rq:cron_scheduler:<name>``."""
        return keys.cron_scheduler_key(self.name)

    def to_dict(self) -> dict[str, str]:
        return {
            'hostname': self.hostname,
            'pid': str(self.pid),
            'name': self.name,
            'created_at': utcformat(self.created_at),
            'config_file': self.config_file or '',
            'cron_jobs': json.dumps([job.to_dict() for job in self._cron_jobs]),
        }

    def save(self, pipeline: Pipeline | None = None) -> None:
        """Write the hash (EXPIRE 120 s)."""
        if pipeline is not None:
            cron_ops.save_scheduler(pipeline, self.name, self.to_dict(), DEFAULT_CRON_SCHEDULER_TTL)
            return
        with self.connection.pipeline(transaction=True) as pipe:
            cron_ops.save_scheduler(pipe, self.name, self.to_dict(), DEFAULT_CRON_SCHEDULER_TTL)
            pipe.execute()

    def restore(self, raw_data: dict[Any, Any]) -> None:
        data = {_text(field): _text(value) for field, value in raw_data.items()}
        self.hostname = data.get('hostname', '')
        self.pid = int(data.get('pid') or 0)
        self.name = data.get('name', self.name)
        created_at = str_to_date(data['created_at']) if data.get('created_at') else None
        if created_at is not None:
            self.created_at = created_at
        self.config_file = data.get('config_file', '')
        try:
            self._cron_jobs = [CronJob.from_dict(job) for job in json.loads(data.get('cron_jobs') or '[]')]
        except (ValueError, KeyError, TypeError) as exc:
            self.log.warning('CronScheduler %s: could not read its cron jobs (%s)', self.name, exc)
            self._cron_jobs = []

    @classmethod
    def fetch(cls, name: str, connection: Redis) -> Any:
        """The scheduler ``name`` as saved in Redis. Raises SchedulerNotFound."""
        raw = cron_ops.read_scheduler(connection, name)
        if not raw:
            raise SchedulerNotFound(f'CronScheduler with name {name!r} not found')
        scheduler = cls(connection=connection, name=name)  # type: ignore[call-arg]
        scheduler.restore(raw)
        return scheduler

    @classmethod
    def all(cls, connection: Redis, cleanup: bool = True) -> list[Any]:
        """Every registered scheduler (with ``cleanup``, first forgetting those silent for 120 s)."""
        if cleanup:
            cron_scheduler_registry.cleanup(connection)
        found = []
        for name in cron_scheduler_registry.get_keys(connection):
            try:
                found.append(cls.fetch(name, connection))
            except SchedulerNotFound:
                continue
        return found

    def register_birth(self) -> None:
        """Join ``rq:cron_schedulers`` and write the hash. Raises DuplicateSchedulerError."""
        self.log.info('CronScheduler %s: registering birth', self.name)
        if not cron_ops.register_scheduler(
            self.connection, self.name, time.time(), self.to_dict(), DEFAULT_CRON_SCHEDULER_TTL
        ):
            raise DuplicateSchedulerError(f'CronScheduler {self.name!r} is already registered')

    def register_death(self, pipeline: Pipeline | None = None) -> None:
        """Leave ``rq:cron_schedulers`` (the hash expires on its own)."""
        self.log.info('CronScheduler %s: registering death', self.name)
        cron_scheduler_registry.unregister(self, pipeline)

    def heartbeat(self) -> None:
        """Refresh the registry score and the hash's TTL (re-creating the hash if it expired)."""
        added, existed = cron_ops.scheduler_heartbeat(
            self.connection, self.name, time.time(), DEFAULT_CRON_SCHEDULER_TTL
        )
        if not existed:
            self.save()
        if added:
            self.log.info('CronScheduler %s: registered again in the scheduler registry', self.name)

    @property
    def last_heartbeat(self) -> dt.datetime | None:
        score = cron_ops.scheduler_score(self.connection, self.name)
        return dt.datetime.fromtimestamp(score, tz=dt.timezone.utc) if score is not None else None


def _text(value: Any) -> str:
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)

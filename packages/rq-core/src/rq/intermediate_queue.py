"""``IntermediateQueue``: ``rq:queue:<name>:intermediate``, where a single-queue worker parks an id
between popping it and registering the job as started, so a crash cannot lose it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ._outcome import record_failure
from ._redis import codec, keys
from ._utils import now

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .queue import Queue

__all__ = ['IntermediateQueue']

#: How long the first sighting of a stuck id is remembered (RQ: one day).
FIRST_SEEN_TTL = 86400
#: How long an id may sit in the intermediate list, not started, before it is failed.
STUCK_AFTER = timedelta(minutes=1)
STUCK_EXC_STRING = 'Job was stuck in intermediate queue.'


class IntermediateQueue:
    def __init__(self, queue_key: str, connection: Redis) -> None:
        self.queue_key = queue_key
        self.connection = connection
        self.key = self.get_intermediate_queue_key(queue_key)

    @classmethod
    def get_intermediate_queue_key(cls, queue_key: str) -> str:
        """``rq:queue:<name>:intermediate`` for ``rq:queue:<name>``."""
        return keys.intermediate_queue_key(keys.queue_name_from_key(queue_key))

    def get_job_ids(self) -> list[str]:
        return [codec.text(i) for i in self.connection.lrange(self.key, 0, -1)]

    def count(self) -> int:
        return int(self.connection.llen(self.key))

    def remove(self, job_id: str, pipeline: Pipeline | None = None) -> None:
        (pipeline if pipeline is not None else self.connection).lrem(self.key, 1, job_id)

    def get_first_seen_key(self, job_id: str) -> str:
        return keys.intermediate_first_seen_key(keys.queue_name_from_key(self.queue_key), job_id)

    def set_first_seen(self, job_id: str) -> bool:
        """Remember when maintenance first saw ``job_id`` here; False if it was already seen."""
        key = self.get_first_seen_key(job_id)
        return bool(self.connection.set(key, now().timestamp(), nx=True, ex=FIRST_SEEN_TTL))

    def get_first_seen(self, job_id: str) -> datetime | None:
        raw = self.connection.get(self.get_first_seen_key(job_id))
        return datetime.fromtimestamp(float(raw), tz=timezone.utc) if raw else None

    def should_be_cleaned_up(self, job_id: str) -> bool:
        """True once ``job_id`` was first seen here more than a minute ago."""
        first_seen = self.get_first_seen(job_id)
        return first_seen is not None and now() - first_seen > STUCK_AFTER

    def cleanup(self, worker: Any, queue: Queue) -> None:
        """Fail the jobs stuck here: ids that are not started, seen on an earlier pass more than a
        minute ago. Ids whose job is gone are dropped. A first sighting is only recorded.

        ``worker`` records the failure with its ``handle_job_failure(job, queue, exc_string=...)``;
        without a worker (``None``) the failure is recorded directly, under an empty worker name.
        """
        started = queue.started_job_registry
        for job_id in self.get_job_ids():
            if job_id in started:
                continue
            job = queue.fetch_job(job_id)
            if job is None:
                self.remove(job_id)
                continue
            if self.set_first_seen(job_id):
                continue
            if not self.should_be_cleaned_up(job_id):
                continue
            if worker is not None:
                worker.handle_job_failure(job, queue, exc_string=STUCK_EXC_STRING)
            else:
                record_failure(job, queue, STUCK_EXC_STRING, worker_name='')
            self.remove(job_id)

"""``Group``: a named set of jobs (``rq:group:<name>``, names listed in ``rq:groups``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._redis import codec, keys, ops, worker_ops
from .exceptions import NoSuchGroupError
from .job import Job, validate_job_id
from .queue import Queue

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .queue import EnqueueData, Queue

__all__ = ['Group']


class Group:
    """Jobs tracked together under one name. A group disappears once all its jobs are gone."""

    REDIS_GROUP_NAME_PREFIX = keys.GROUP_PREFIX
    REDIS_GROUP_KEY = keys.GROUPS
    #: The lock that lets one worker at a time clean every group (rq 3.0's ``rq:clean_groups``).
    REDIS_GROUP_CLEANING_KEY = keys.PREFIX + 'clean_groups'

    def __init__(self, connection: Redis, name: str | None = None) -> None:
        """A group named ``name`` (default: a new uuid4 hex); names follow the job id rules.

        Raises:
            ValueError: ``name`` has characters other than letters, digits, ``_`` and ``-``.
        """
        name = name if name is not None else uuid.uuid4().hex
        validate_job_id(name)
        self._set_name(connection, name)

    def _set_name(self, connection: Redis, name: str) -> None:
        self.connection = connection
        self.name = name
        self.key = keys.group_key(name)

    @classmethod
    def _stored(cls, connection: Redis, name: str) -> Group:
        """A group already in Redis: its name is not checked (RQ itself accepts any name)."""
        group = cls.__new__(cls)
        group._set_name(connection, name)
        return group

    @classmethod
    def get_key(cls, name: str) -> str:
        """The key of the set of a group's job ids, ``rq:group:<name>``."""
        return keys.group_key(name)

    def __repr__(self) -> str:
        return f'Group(id={self.name})'

    def __len__(self) -> int:
        return int(self.connection.scard(self.key))

    @classmethod
    def create(cls, connection: Redis, name: str | None = None) -> Group:
        """A new group object; it exists in Redis once jobs are enqueued into it."""
        return cls(connection=connection, name=name)

    @classmethod
    def fetch(cls, name: str, connection: Redis) -> Group:
        """Raises NoSuchGroupError if the group has no jobs left (or never had any)."""
        group = cls._stored(connection, name)
        if not connection.exists(group.key):
            raise NoSuchGroupError(f'No such group: {name}')
        return group

    @classmethod
    def all(cls, connection: Redis) -> list[Group]:
        """Every group that still has jobs (names of vanished groups are pruned)."""
        groups = []
        for raw in sorted(connection.smembers(keys.GROUPS)):
            name = codec.text(raw)
            if connection.exists(keys.group_key(name)):
                groups.append(cls._stored(connection, name))
            else:
                ops.cleanup_group(connection, name)  # forgets the name unless jobs arrived meanwhile
        return groups

    def enqueue_many(
        self, queue: Queue | str, job_datas: Iterable[EnqueueData], pipeline: Pipeline | None = None
    ) -> list[Job]:
        """Enqueue jobs into ``queue`` as members of this group (as ``Queue.enqueue_many`` does)."""
        target = Queue(queue, connection=self.connection) if isinstance(queue, str) else queue
        return target.enqueue_many(job_datas, pipeline=pipeline, group_id=self.name)

    def get_job_ids(self) -> list[str]:
        return sorted(codec.text(i) for i in self.connection.smembers(self.key))

    def get_jobs(self) -> list[Job]:
        """The group's jobs that still exist (by id); ids of expired jobs are dropped from the group."""
        job_ids = self.get_job_ids()
        jobs = Job.fetch_many(job_ids, self.connection)
        gone = [job_id for job_id, job in zip(job_ids, jobs, strict=False) if job is None]
        if gone:
            self.cleanup()
        return [job for job in jobs if job is not None]

    def delete_job(self, job_id: str, pipeline: Pipeline | None = None) -> None:
        (pipeline if pipeline is not None else self.connection).srem(self.key, job_id)

    def cleanup(self, pipeline: Pipeline | None = None) -> None:
        """Drop ids whose job is gone; forget the group name when nothing is left (one atomic step)."""
        ops.cleanup_group(pipeline if pipeline is not None else self.connection, self.name)

    def delete(self) -> None:
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.delete(self.key)
            pipe.srem(keys.GROUPS, self.name)
            pipe.execute()

    @classmethod
    def acquire_maintenance_lock(cls, connection: Redis, timeout: int) -> bool:
        """Take the group-cleaning lock for ``timeout`` seconds (SET NX EX); True when taken. It is
        never released: it expires, so groups are cleaned at most once a window by all workers."""
        return worker_ops.try_lock(connection, cls.REDIS_GROUP_CLEANING_KEY, timeout)

    @classmethod
    def clean_registries(cls, connection: Redis) -> None:
        """Run :meth:`cleanup` on every known group."""
        for raw in connection.smembers(keys.GROUPS):
            cls._stored(connection, codec.text(raw)).cleanup()

"""``Dependency``: which jobs a job waits for, and how."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from redis.exceptions import WatchError

from . import _links
from ._redis import keys

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job

__all__ = ['Dependency']


class Dependency:
    """Jobs (or ids) a job waits for.

    ``allow_failure=True`` lets the dependent run when a dependency failed; ``enqueue_at_front=True``
    puts the dependent at the front of its queue when it is released. Either flag set on any
    ``Dependency`` of a job applies to the whole job (as in RQ).
    """

    # Pickled as RQ names it (``rq.job.Dependency``), so that RQ 2.x processes can load it.
    __module__ = 'rq.job'

    def __init__(
        self,
        jobs: Job | str | Sequence[Job | str],
        allow_failure: bool = False,
        enqueue_at_front: bool = False,
    ) -> None:
        job_class = _links.job_class()
        items = [jobs] if isinstance(jobs, (str, job_class)) else list(jobs)  # type: ignore[arg-type]
        if not items:
            raise ValueError('Dependency jobs must not be empty')
        for item in items:
            if not isinstance(item, (str, job_class)):
                raise ValueError(f'Dependency jobs must be Job objects or job ids, not {item!r}')
        self.dependencies: list[Job | str] = items
        self.allow_failure = allow_failure
        self.enqueue_at_front = enqueue_at_front

    def __repr__(self) -> str:
        ids = [item if isinstance(item, str) else item.id for item in self.dependencies]
        return f'Dependency({ids!r}, allow_failure={self.allow_failure}, enqueue_at_front={self.enqueue_at_front})'

    @classmethod
    def get_jobs_with_met_dependencies(cls, jobs: Iterable[Job], pipeline: Pipeline) -> tuple[list[Job], list[Job]]:
        """Split ``jobs`` into ``(met, unmet)`` by whether their dependencies are all met.

        A job without dependencies is met. Each other job is first recorded as a dependent of its
        dependencies (``:dependents`` and ``:dependencies`` sets), in ``pipeline`` with the
        dependencies' hashes WATCHed; a change to one of them between the check and the write means
        checking that job again.
        """
        met: list[Job] = []
        unmet: list[Job] = []
        for job in jobs:
            if not job._dependency_ids:
                met.append(job)
                continue
            while True:
                try:
                    pipeline.watch(*[keys.job_key(dependency_id) for dependency_id in job._dependency_ids])  # type: ignore[no-untyped-call]
                    job.register_dependency(pipeline=pipeline)
                    (met if job.dependencies_are_met(pipeline=pipeline) else unmet).append(job)
                    pipeline.execute()
                except WatchError:
                    continue
                break
        return met, unmet

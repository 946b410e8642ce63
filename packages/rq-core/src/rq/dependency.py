"""``Dependency``: which jobs a job waits for, and how."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
        from .job import Job

        items = [jobs] if isinstance(jobs, (str, Job)) else list(jobs)
        if not items:
            raise ValueError('Dependency jobs must not be empty')
        for item in items:
            if not isinstance(item, (str, Job)):
                raise ValueError(f'Dependency jobs must be Job objects or job ids, not {item!r}')
        self.dependencies: list[Job | str] = items
        self.allow_failure = allow_failure
        self.enqueue_at_front = enqueue_at_front

    def __repr__(self) -> str:
        ids = [item if isinstance(item, str) else item.id for item in self.dependencies]
        return f'Dependency({ids!r}, allow_failure={self.allow_failure}, enqueue_at_front={self.enqueue_at_front})'

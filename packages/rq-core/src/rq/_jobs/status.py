from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    """The job states, with the values stored in the ``status`` hash field."""

    # Pickled as RQ names it, so that RQ 2.x processes can load a pickled status.
    __module__ = 'rq.job'

    CREATED = 'created'
    QUEUED = 'queued'
    FINISHED = 'finished'
    FAILED = 'failed'
    STARTED = 'started'
    DEFERRED = 'deferred'
    SCHEDULED = 'scheduled'
    STOPPED = 'stopped'
    CANCELED = 'canceled'

    def __str__(self) -> str:
        return self.value

"""``JobStatus``: the states a job can be in, as stored in its hash's ``status`` field."""

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
    # RQ 3.0's states: a job waiting for a rate-limit slot (rq.rate_limit), and a dependent whose
    # parent's outcome is stored but that is not on its queue yet (rq.registry.ReadyJobRegistry; our
    # own workers queue dependents in the outcome's step and leave none in it).
    RATE_LIMITED = 'rate_limited'
    READY_TO_ENQUEUE = 'ready_to_enqueue'

    def __str__(self) -> str:
        return self.value


_BY_VALUE: dict[str, JobStatus] = {member.value: member for member in JobStatus}


def status_from_text(value: str) -> JobStatus:
    """``JobStatus(value)`` without the enum machinery for the known values (it runs for every job
    read, in every work horse); an unknown value raises ValueError as ``JobStatus`` does."""
    member = _BY_VALUE.get(value)
    return member if member is not None else JobStatus(value)

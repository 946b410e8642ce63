"""Jobs: :class:`Job`, :class:`JobStatus`, :class:`Retry`, :class:`Callback`, :class:`Dependency`,
and the module functions RQ exposes here."""

from __future__ import annotations

import logging
import re
from typing import Any

from ._job_operations import JobOperationsMixin
from ._jobs import model
from ._jobs.callable import get_call_string
from ._jobs.current import top as _current_top
from ._jobs.model import parse_job_id, validate_job_id
from ._jobs.options import Callback, Retry
from ._jobs.payload import UNSET
from ._jobs.status import JobStatus
from .dependency import Dependency

__all__ = [
    'JOB_ID_PATTERN',
    'UNEVALUATED',
    'Callback',
    'Dependency',
    'Job',
    'JobStatus',
    'Retry',
    'cancel_job',
    'get_call_string',
    'get_current_job',
    'parse_job_id',
    'requeue_job',
    'validate_job_id',
]

logger = logging.getLogger('rq.job')


class Job(JobOperationsMixin, model.Job):
    """A function call stored in Redis (``rq:job:<id>``): its data, state, options and results (the
    model, :class:`rq._jobs.model.Job`) and what is done with it (create, cancel, requeue, delete,
    retry, run, its dependencies, registries and executions: :mod:`rq._job_operations`)."""


#: What a custom job id may contain (the whole id must match).
JOB_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]+')

#: The value of a Job's lazily decoded call parts (``_data``, ``_func_name``, ``_instance``,
#: ``_args``, ``_kwargs``) while they have not been computed: compare with ``is``.
UNEVALUATED: Any = UNSET


def get_current_job(connection: Any = None, job_class: Any = None) -> Job | None:
    """The job being performed in this thread or task, or None (the arguments are ignored)."""
    return _current_top()


def cancel_job(job_id: str, connection: Any, serializer: Any = None, enqueue_dependents: bool = False) -> None:
    """Cancel job ``job_id`` (see :meth:`Job.cancel`)."""
    Job.fetch(job_id, connection=connection, serializer=serializer).cancel(enqueue_dependents=enqueue_dependents)


def requeue_job(job_id: str, connection: Any, serializer: Any = None) -> Job:
    """Put failed job ``job_id`` back on its queue (see :meth:`Job.requeue`)."""
    return Job.fetch(job_id, connection=connection, serializer=serializer).requeue()

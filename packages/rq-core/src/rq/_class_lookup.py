"""Helpers of ``rq.utils`` that need the Job, Queue or worker class (``rq.utils`` re-exports them).

They live apart from :mod:`rq._utils` because ``rq.queue`` and ``rq.job`` import that: this module
sits above both. The worker class comes from the rq-worker distribution, which rq-core never imports: its dotted
path is resolved when :func:`import_worker_class` is called.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._importing import import_attribute
from .exceptions import MissingDistributionError
from .job import Job
from .queue import Queue

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    'get_connection_from_queues',
    'import_job_class',
    'import_queue_class',
    'import_worker_class',
    'parse_names',
]

#: Where the base class of every worker lives (the rq-worker distribution).
BASE_WORKER_PATH = 'rq.worker.BaseWorker'


def parse_names(queues_or_names: Iterable[str | Queue]) -> list[str]:
    """The queue names of ``queues_or_names``: a Queue's ``name``, ``str()`` of anything else."""
    return [item.name if isinstance(item, Queue) else str(item) for item in queues_or_names]


def get_connection_from_queues(queues_or_names: Iterable[str | Queue]) -> Redis | None:
    """The connection of the first Queue among ``queues_or_names``, or None when there is none."""
    for item in queues_or_names:
        if isinstance(item, Queue):
            return item.connection
    return None


def _import_subclass(name: str, base: type, what: str) -> Any:
    cls = import_attribute(name)
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise ValueError(f'Invalid {what} class: {name}')
    return cls


def import_job_class(name: str) -> type[Job]:
    """The :class:`~rq.job.Job` subclass at dotted path ``name``.

    Raises:
        ValueError: the path cannot be imported, or names something other than a Job class.
    """
    return _import_subclass(name, Job, 'job')  # type: ignore[no-any-return]


def import_queue_class(name: str) -> type[Queue]:
    """The :class:`~rq.queue.Queue` subclass at dotted path ``name``.

    Raises:
        ValueError: the path cannot be imported, or names something other than a Queue class.
    """
    return _import_subclass(name, Queue, 'queue')  # type: ignore[no-any-return]


def import_worker_class(name: str) -> type[Any]:
    """The worker class at dotted path ``name`` (a subclass of ``rq.worker.BaseWorker``).

    Raises:
        ValueError: the path cannot be imported, or names something other than a worker class.
        rq.exceptions.MissingDistributionError: ``name`` imports, but rq-worker is not installed.
    """
    cls = import_attribute(name)
    if not isinstance(cls, type):
        raise ValueError(f'Invalid worker class: {name}')
    base = _base_worker_class()
    if not issubclass(cls, base):
        raise ValueError(f'Invalid worker class: {name}')
    return cls


def _base_worker_class() -> type:
    module_name, _, class_name = BASE_WORKER_PATH.rpartition('.')
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise MissingDistributionError(class_name, 'rq-worker') from None
    return getattr(module, class_name)  # type: ignore[no-any-return]

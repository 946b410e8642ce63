"""The one place where rq's public classes that name each other meet.

RQ's API is circular by nature: a job gives its registries and executions, a registry gives its jobs
and its queue, a queue gives jobs and registries, an execution gives its job. Each module imports the
ones below it at its top; where it needs a class of a module that imports it back, it asks here, and
the class is imported on first use (every one of them is in rq-core). No other rq-core module imports
an rq module inside a function (``tests/packaging/test_import_graph.py``).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .executions import ExecutionRegistry
    from .job import Job
    from .queue import Queue
    from .registry import BaseRegistry
    from .results import Result


@cache
def _attribute(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def queue_class() -> type[Queue]:
    """:class:`rq.queue.Queue`."""
    cls: type[Queue] = _attribute('rq.queue', 'Queue')
    return cls


def job_class() -> type[Job]:
    """:class:`rq.job.Job`."""
    cls: type[Job] = _attribute('rq.job', 'Job')
    return cls


#: registry kind (``rq._redis.keys.REGISTRY_PREFIXES``) -> its class in :mod:`rq.registry`
_REGISTRY_CLASSES = {
    'started': 'StartedJobRegistry',
    'finished': 'FinishedJobRegistry',
    'failed': 'FailedJobRegistry',
    'deferred': 'DeferredJobRegistry',
    'scheduled': 'ScheduledJobRegistry',
    'canceled': 'CanceledJobRegistry',
}


def registry_class(kind: str) -> type[BaseRegistry]:
    """The :mod:`rq.registry` class of registry ``kind`` (``'started'``, ``'failed'``, ...)."""
    cls: type[BaseRegistry] = _attribute('rq.registry', _REGISTRY_CLASSES[kind])
    return cls


def execution_registry_class() -> type[ExecutionRegistry]:
    """:class:`rq.executions.ExecutionRegistry`."""
    cls: type[ExecutionRegistry] = _attribute('rq.executions', 'ExecutionRegistry')
    return cls


def result_class() -> type[Result]:
    """:class:`rq.results.Result`."""
    cls: type[Result] = _attribute('rq.results', 'Result')
    return cls

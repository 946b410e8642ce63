"""In-process workers for tests (rq-worker's ``SimpleWorker`` by default).

rq-worker is imported only when a worker is asked for: rq-testing works with rq-core alone, and
:func:`make_worker` then says what to install. A fake connection only works with workers that run
jobs in this process; the others are refused with the reason and the fix.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rq.exceptions import MissingDistributionError
from rq.utils import import_attribute

from .fake import REAL_REDIS_FIX, FakeRedisUnsupportedError, is_fake

if TYPE_CHECKING:
    from redis import Redis

    from rq.queue import Queue

__all__ = ['load_worker_module', 'make_worker']


def load_worker_module(wanted_by: str = 'An rq worker') -> Any:
    """``rq.worker``, or :class:`~rq.exceptions.MissingDistributionError` naming the install command."""
    try:
        return importlib.import_module('rq.worker')
    except ModuleNotFoundError as exc:
        if exc.name is None or not 'rq.worker'.startswith(exc.name):
            raise
        error = MissingDistributionError(wanted_by, 'rq-worker')
        raise error from None


def _runs_jobs_in_this_process(worker_class: type[Any], worker_module: Any) -> bool:
    return issubclass(worker_class, worker_module.SimpleWorker)


def make_worker(
    queues: Queue | str | Iterable[Queue | str],
    connection: Redis | None = None,
    worker_class: type[Any] | str | None = None,
    **worker_kwargs: Any,
) -> Any:
    """A worker for ``queues``: ``worker_class`` (a class or a dotted name; default SimpleWorker),
    built with ``worker_kwargs``. Call ``.work(burst=True)`` on it to run what is queued.

    Raises:
        MissingDistributionError: rq-worker is not installed.
        FakeRedisUnsupportedError: a worker that runs jobs in other processes, with a fake connection.
    """
    module = load_worker_module('A worker (the rq_worker fixture, rq.testing.make_worker)')
    if worker_class is None:
        worker_class = module.SimpleWorker
    elif isinstance(worker_class, str):
        worker_class = import_attribute(worker_class)
    assert isinstance(worker_class, type)
    queue_list = [queues] if isinstance(queues, str) or not isinstance(queues, Iterable) else list(queues)
    if connection is None:
        connection = next((q.connection for q in queue_list if not isinstance(q, str)), None)
    if connection is not None and is_fake(connection) and not _runs_jobs_in_this_process(worker_class, module):
        raise FakeRedisUnsupportedError(
            f'{worker_class.__name__} runs jobs in other processes, and the fake Redis keeps its data in this '
            "process's memory: what the jobs write to Redis would be lost. Use SimpleWorker (the default) "
            f'or a real Redis for this test. {REAL_REDIS_FIX}'
        )
    return worker_class(queue_list, connection=connection, **worker_kwargs)

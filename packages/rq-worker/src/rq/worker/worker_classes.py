"""Upstream's module path ``rq.worker.worker_classes``: the worker classes."""

from .concurrent import ConcurrentWorker
from .forking import Worker
from .simple import SimpleWorker
from .spawn import SpawnWorker
from .variants import HerokuWorker, RandomWorker, RoundRobinWorker

__all__ = [
    'ConcurrentWorker',
    'HerokuWorker',
    'RandomWorker',
    'RoundRobinWorker',
    'SimpleWorker',
    'SpawnWorker',
    'Worker',
]

"""rq-worker: the forking ``Worker`` (the default), ``SpawnWorker``, ``SimpleWorker`` and the pool.

Start one from the shell with ``python -m rq.worker QUEUE [QUEUE ...]`` (see ``--help``).
"""

from __future__ import annotations

import logging

from rq.defaults import DEFAULT_RESULT_TTL

from .concurrent import ConcurrentWorker
from .forking import Worker
from .identity import DequeueStrategy, WorkerStatus
from .loop import BaseWorker
from .signals import SHUTDOWN_SIGNAL, signal_name
from .simple import SimpleWorker
from .spawn import SpawnWorker
from .variants import HerokuWorker, RandomWorker, RoundRobinWorker

logger = logging.getLogger('rq.worker')

__all__ = [
    'DEFAULT_RESULT_TTL',
    'SHUTDOWN_SIGNAL',
    'BaseWorker',
    'ConcurrentWorker',
    'DequeueStrategy',
    'HerokuWorker',
    'RandomWorker',
    'RoundRobinWorker',
    'SimpleWorker',
    'SpawnWorker',
    'Worker',
    'WorkerStatus',
    'logger',
    'signal_name',
]

"""Upstream's module path ``rq.worker.base``: the base worker class and what goes with it."""

from .identity import DequeueStrategy, WorkerStatus
from .loop import BaseWorker
from .signals import SHUTDOWN_SIGNAL, signal_name

__all__ = ['SHUTDOWN_SIGNAL', 'BaseWorker', 'DequeueStrategy', 'WorkerStatus', 'signal_name']

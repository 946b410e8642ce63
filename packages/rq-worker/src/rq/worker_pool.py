"""Upstream's import path for the pool: ``from rq.worker_pool import WorkerPool``."""

from rq.worker.pool import WorkerData, WorkerPool, run_worker

__all__ = ['WorkerData', 'WorkerPool', 'run_worker']

"""Upstream RQ's ``rq.cli.workers`` module path: the ``worker`` and ``worker-pool`` commands."""

from ._cmd_worker import worker, worker_pool
from ._group import main

__all__ = ['main', 'worker', 'worker_pool']

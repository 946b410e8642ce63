"""Upstream RQ's ``rq.cli.cli`` module path: the ``rq`` group (``main``, to which other packages add
commands with ``@main.command()``) and its commands."""

from ._cmd_admin import empty, requeue, resume, suspend
from ._cmd_enqueue import enqueue
from ._cmd_info import info
from ._group import main

__all__ = ['empty', 'enqueue', 'info', 'main', 'requeue', 'resume', 'suspend']

"""Upstream RQ's ``rq.cli.cli_cron`` module path: the ``cron`` command."""

from ._cmd_cron import cron
from ._group import main

__all__ = ['cron', 'main']

"""rq-cli: the ``rq`` command (``rq worker``, ``rq info``, ``rq enqueue``, ...).

``main`` is the click group; the console script calls it, and ``click.testing.CliRunner`` can invoke
it as it would upstream RQ's. As in upstream RQ, each subcommand is an attribute too (``info``,
``worker``, ``cron``, ...: the ``rqinfo`` and ``rqworker`` scripts run them on their own); they are
imported on first access. Run ``rq --help`` or see this distribution's README.
"""

from __future__ import annotations

from typing import Any

from ._group import COMMANDS, load_command, main

__all__ = ['cron', 'empty', 'enqueue', 'info', 'main', 'requeue', 'resume', 'suspend', 'worker', 'worker_pool']

#: attribute name -> command name (``worker_pool`` is the ``worker-pool`` command).
_ATTRIBUTES = {name.replace('-', '_'): name for name in COMMANDS}


def __getattr__(name: str) -> Any:
    if name in _ATTRIBUTES:
        return load_command(_ATTRIBUTES[name])
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""rq-cli: the ``rq`` command (``rq worker``, ``rq info``, ``rq enqueue``, ...).

``main`` is the click group; the console script calls it, and ``click.testing.CliRunner`` can invoke
it as it would upstream RQ's. Run ``rq --help`` or see this distribution's README.
"""

from ._group import main

__all__ = ['main']

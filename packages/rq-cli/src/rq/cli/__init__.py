"""rq-cli: the ``rq`` command.

Not implemented yet (tracked in issue 6): no console script is installed so far.
"""

__all__: list[str] = []

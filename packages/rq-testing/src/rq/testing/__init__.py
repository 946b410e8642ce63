"""rq-testing: fakes, eager helpers and pytest fixtures for code that uses rq.

Not implemented yet (tracked in issue 7): this package provides no names so far.
"""

__all__: list[str] = []

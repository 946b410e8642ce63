"""rq-cron: the scheduler that moves due jobs, and cron.

Not implemented yet (tracked in issue 5): this package provides no names so far.
"""

__all__: list[str] = []

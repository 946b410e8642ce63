"""Functions that no worker can import by the name RQ stores for them (for the interop tests)."""

from __future__ import annotations

from collections.abc import Callable

double = lambda x: x * 2  # noqa: E731 - a lambda at module level: RQ names it 'rqtest_jobs_unimportable.<lambda>'


def make_nested() -> Callable[[int], int]:
    def nested(x: int) -> int:
        return x + 1

    return nested

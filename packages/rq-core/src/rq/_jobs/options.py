"""``Callback`` and ``Retry``: small value objects a job is enqueued with; the interval rules of repeats."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from .. import trust
from .._importing import import_attribute
from .._utils import parse_timeout
from ..defaults import CALLBACK_TIMEOUT


class Callback:
    """A success, failure or stopped callback with its own timeout (default 60 s).

    ``func`` is a function, a builtin or a dotted path string.
    """

    # Pickled (and imported) as RQ names it, so that RQ 2.x processes can load what rq stores.
    __module__ = 'rq.job'

    def __init__(self, func: str | Callable[..., Any], timeout: int | str | None = None) -> None:
        if not isinstance(func, str) and not inspect.isfunction(func) and not inspect.isbuiltin(func):
            raise ValueError('Callback `func` must be a function, a builtin or a dotted path string')
        self.func = func
        # RQ treats any falsy timeout (None, 0, '') as "use the default", and writes 60 to the job hash
        parsed = parse_timeout(timeout) if timeout else None
        self.timeout: int = parsed if parsed is not None else CALLBACK_TIMEOUT

    @property
    def name(self) -> str:
        if isinstance(self.func, str):
            return self.func
        return f'{self.func.__module__}.{self.func.__qualname__}'

    def __repr__(self) -> str:
        return f'Callback({self.name!r}, timeout={self.timeout})'


def load_callback(name: str) -> Callable[..., Any]:
    trust.current_policy().check_name(name, 'callback')
    return import_attribute(name)  # type: ignore[no-any-return]


class Retry:
    """Retry a failing job up to ``max`` times, waiting ``interval`` seconds (an int or a list) in between.

    With a list, exception retries use the tail of the list that matches the remaining budget:
    ``Retry(max=5, interval=[10, 20, 30])`` waits 10, 10, 10, 20, 30 seconds.
    """

    # Pickled as RQ names it (a job may return a Retry: it is stored in the results stream and in
    # the legacy ``result`` field), so that RQ 2.x processes can load it.
    __module__ = 'rq.job'

    def __init__(self, max: int, interval: int | Iterable[int] = 0, enqueue_at_front: bool = False) -> None:
        if not isinstance(max, int) or isinstance(max, bool) or max < 1:
            raise ValueError('Retry max must be an integer of at least 1')
        # (an empty list, accepted by RQ, means no wait: stored as RQ stores the default, since an RQ
        # worker reading an empty list fails at the retry)
        intervals = [interval] if isinstance(interval, int) else list(interval) or [0]
        for value in intervals:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError('Retry intervals must be integers of at least 0')
        self.max = max
        self.intervals: list[int] = intervals
        self.enqueue_at_front = enqueue_at_front

    def __repr__(self) -> str:
        interval = self.intervals[0] if len(self.intervals) == 1 else self.intervals
        name = type(self).__name__
        return f'{name}(max={self.max}, interval={interval!r}, enqueue_at_front={self.enqueue_at_front!r})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Retry) and (self.max, self.intervals, self.enqueue_at_front) == (
            other.max,
            other.intervals,
            other.enqueue_at_front,
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def get_interval(cls, count: int, intervals: int | list[int] | None) -> int:
        """Delay before retry number ``count`` (0-based) when a job *returns* a Retry: the list is read
        from the start and its last value is reused."""
        return interval_at(count, intervals)

    @staticmethod
    def exception_retry_interval(retries_left: int, intervals: list[int] | None) -> int:
        """Delay before the next retry of a job that *raised*, with ``retries_left`` retries still
        allowed (before this one is used): the list is aligned to the end of the budget."""
        if not intervals:
            return 0
        index = max(len(intervals) - retries_left, 0)
        return intervals[min(index, len(intervals) - 1)]  # no budget left: the last interval, not an IndexError


def interval_at(count: int, intervals: list[int] | int | None) -> int:
    """``intervals[count]``, or the last interval when ``count`` is past the end (RQ's rule for
    repeats and returned retries); an int is the interval of every run, None or ``[]`` none."""
    if intervals is None:
        return 0
    if isinstance(intervals, int):
        return intervals
    if not intervals:
        return 0
    return intervals[min(count, len(intervals) - 1)]


def take_repeat_interval(intervals: list[int] | None) -> tuple[int, list[int] | None]:
    """The delay before a job's next repeat and the intervals left after it (rq 3.0's rule): the
    first value, taken off the list unless it is the last one."""
    if isinstance(intervals, list) and len(intervals) > 1:
        return interval_at(0, intervals), intervals[1:]
    return interval_at(0, intervals), intervals

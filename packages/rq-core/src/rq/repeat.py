"""``Repeat``: run a successful job again, ``times`` more times."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._jobs.options import interval_at, take_repeat_interval
from ._outcome import schedule_repeat

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job
    from .queue import Queue

__all__ = ['Repeat']


@dataclass(init=False)
class Repeat:
    """Repeat a job ``times`` more times after successful runs (``times + 1`` runs in all).

    ``interval`` is seconds between runs: an int, or a list used in the order given, its last
    value reused: ``Repeat(times=3, interval=[5, 10, 15])`` waits 5, 10 then 15 seconds. As in rq 3.0,
    the job's ``repeat_intervals`` is the list as given, and each scheduled repeat takes its first
    value off (keeping the last), so workers of either kind agree on the next one. (RQ 2.12 read the
    list backwards, ``intervals[repeats_left - 1]``, and never shortened it.)
    """

    times: int
    intervals: list[int]

    def __init__(self, times: int, interval: int | Iterable[int] | None = 0) -> None:
        """Check the arguments as RQ does.

        Raises:
            ValueError: ``times`` is below 1 or not a whole number, or an interval is negative.
            TypeError: ``interval`` is neither an int nor an iterable (``None``, a float), or a value is
                not a number.
        """
        count: Any = times
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        if count < 1:
            raise ValueError('times: please enter a value greater than 0')
        if not isinstance(count, int):
            # (RQ stores a fractional count, which no worker can read back)
            raise ValueError(f'times: please enter a whole number, not {count!r}')
        if isinstance(interval, int):
            intervals = [interval]
        elif isinstance(interval, Iterable) and not isinstance(interval, (str, bytes)):
            intervals = list(interval)
        else:
            raise TypeError('intervals must be an int or iterable of ints')
        for value in intervals:
            if not isinstance(value, (int, float)):
                raise TypeError(f'intervals must be numbers of seconds, not {value!r}')
            if value < 0:
                raise ValueError('intervals: negative numbers are not allowed')
        self.times = int(count)
        self.intervals = intervals

    @classmethod
    def get_interval(cls, count: int, intervals: list[int] | int | None) -> int:
        """``intervals[count]``, or the last interval when ``count`` is past the end (RQ's rule)."""
        return interval_at(count, intervals)

    @classmethod
    def stored_intervals(cls, times: int, intervals: list[int]) -> list[int]:
        """The ``repeat_intervals`` list written to the job hash: the intervals as given, as rq 3.0
        writes them (``times`` is not needed; kept for callers)."""
        return list(intervals)

    @classmethod
    def take_interval(cls, intervals: list[int] | None) -> tuple[int, list[int] | None]:
        """The delay before the next repeat and the intervals left after it (rq 3.0's rule): the
        first value, taken off the list unless it is the last one."""
        return take_repeat_interval(intervals)

    @classmethod
    def schedule(cls, job: Job, queue: Queue, pipeline: Pipeline | None = None) -> None:
        """Use one repeat of ``job``: decrement ``repeats_left``, save it, and enqueue it on ``queue``
        now (interval 0) or schedule it ``interval`` seconds ahead.

        Raises:
            ValueError: the job has no repeats left.
        """
        if job.repeats_left is None or job.repeats_left <= 0:
            raise ValueError(f'Cannot repeat job {job.id}: no repeats left')
        if pipeline is not None:
            schedule_repeat(job, queue, pipeline)
            return
        with job.connection.pipeline(transaction=True) as pipe:
            schedule_repeat(job, queue, pipe)
            pipe.execute()

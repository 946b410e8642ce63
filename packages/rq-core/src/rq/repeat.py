"""``Repeat``: run a successful job again, ``times`` more times."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job
    from .queue import Queue

__all__ = ['Repeat']


@dataclass(init=False)
class Repeat:
    """Repeat a job ``times`` more times after successful runs (``times + 1`` runs in all).

    ``interval`` is seconds between runs: an int, or a list used in the order given, its last
    value reused: ``Repeat(times=3, interval=[5, 10, 15])`` waits 5, 10 then 15 seconds. (RQ 2.12
    documents that order but its code reads the list backwards; rq follows the documentation.)
    """

    times: int
    intervals: list[int]

    def __init__(self, times: int, interval: int | Iterable[int] = 0) -> None:
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError('Repeat times must be an integer of at least 1')
        intervals = [interval] if isinstance(interval, int) else list(interval)
        if not intervals:
            raise ValueError('Repeat interval list must not be empty')
        for value in intervals:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError('Repeat intervals must be integers of at least 0')
        self.times = times
        self.intervals = intervals

    @classmethod
    def get_interval(cls, count: int, intervals: list[int] | int | None) -> int:
        """``intervals[count]``, or the last interval when ``count`` is past the end (RQ's rule)."""
        if intervals is None:
            return 0
        if isinstance(intervals, int):
            return intervals
        if not intervals:
            return 0
        return intervals[min(count, len(intervals) - 1)]

    @classmethod
    def stored_intervals(cls, times: int, intervals: list[int]) -> list[int]:
        """The ``repeat_intervals`` list written to the job hash.

        Every RQ 2.x worker picks the delay before a repeat as ``get_interval(repeats_left - 1, stored)``,
        which reads a list backwards. Storing the documented sequence reversed (and padded to ``times``)
        makes any worker, ours or upstream's, wait in the documented order. A single interval (the
        common case) is stored as given, exactly as RQ 2.x stores it.
        """
        if len(set(intervals)) <= 1:
            return list(intervals)
        forward = [intervals[min(position, len(intervals) - 1)] for position in range(times)]
        return forward[::-1]

    @classmethod
    def schedule(cls, job: Job, queue: Queue, pipeline: Pipeline | None = None) -> None:
        """Use one repeat of ``job``: decrement ``repeats_left``, save it, and enqueue it on ``queue``
        now (interval 0) or schedule it ``interval`` seconds ahead.

        Raises:
            ValueError: the job has no repeats left.
        """
        if job.repeats_left is None or job.repeats_left <= 0:
            raise ValueError(f'Cannot repeat job {job.id}: no repeats left')
        from ._jobs.outcome import schedule_repeat

        if pipeline is not None:
            schedule_repeat(job, queue, pipeline)
            return
        with job.connection.pipeline() as pipe:
            schedule_repeat(job, queue, pipe)
            pipe.execute()

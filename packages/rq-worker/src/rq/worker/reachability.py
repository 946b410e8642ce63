"""Whether Redis was just unreachable, as one worker saw it.

When Redis comes back after an outage longer than a started entry's slack, every running job's
entry has expired, including those of live workers that simply could not renew them. The first
worker to get through must not take them for abandoned: it waits two entry lifetimes (3 heartbeat
intervals) after Redis answered again, by which time every live worker has reconnected and renewed
its own entries (each renews them first thing, every quarter interval; one lifetime proved too
short for a worker still backing off its reconnection on a loaded machine).

An outage shows in two ways, both fed here: a Redis error (:meth:`note_unreachable`, from the
maintenance's own calls and from the worker's :meth:`~rq.worker.loop.BaseWorker.note_redis_unreachable`
hook), or a gap between two answers longer than a heartbeat interval (the worker could not even
try: its loop was waiting to reconnect, or its heartbeats were failing).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RedisReachability:
    """The moment Redis answered again after an outage, and the grace period that follows it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failed_since_answer = False
        self._last_answer: float | None = None
        self._back_at: float | None = None

    def note_unreachable(self) -> None:
        """Redis did not answer (a connection error, a timeout, a server still loading)."""
        self._failed_since_answer = True

    def note_answered(self, gap_limit: float) -> None:
        """Redis answered. After an error, or when the previous answer is more than ``gap_limit``
        seconds old, this answer ends an outage: the grace period starts now."""
        moment = self._clock()
        previous = self._last_answer
        if self._failed_since_answer or (previous is not None and moment - previous > gap_limit):
            self._back_at = moment
            self._failed_since_answer = False
        self._last_answer = moment

    def seconds_of_grace_left(self, grace: float) -> float:
        """How long, of a ``grace`` period after Redis answered again, is left (0: none, or over)."""
        if self._back_at is None:
            return 0.0
        return max(0.0, self._back_at + grace - self._clock())

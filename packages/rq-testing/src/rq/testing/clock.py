"""``Clock``: time control for scheduled work in tests.

The clock keeps an offset from the real time. Moving it forward queues the scheduled jobs that
are then due (``enqueue_in``, ``enqueue_at``, retry and repeat intervals), at once, without
sleeping::

    job = queue.enqueue_in(timedelta(hours=1), send_reminder, user_id)
    assert clock.advance(minutes=59) == []
    assert clock.advance(minutes=1) == [job]  # now queued: a worker or the eager runner runs it

Cron entries (rq-cron) follow the clock too: register them on :meth:`Clock.cron`'s scheduler. They
see the clock's moves only, not the real time passing between them (:meth:`Clock.cron_timestamp`):
rq-cron tells a run that is late by more than a second apart from one that is on time (a late one is
a catch-up, which may take the next slot's place), so a slow test must not make runs late.

Only the scheduled registries and those cron entries see the clock: Redis's own expiry (``ttl``,
``result_ttl``) and the times written into jobs (``enqueued_at``, ...) still follow the real time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from rq.utils import now

from ._cron import enqueue_due_runs, make_scheduler
from .scheduling import move_due_jobs, scheduled_jobs

if TYPE_CHECKING:
    from redis import Redis

    from rq.job import Job
    from rq.queue import Queue

__all__ = ['Clock']

_BACKWARD_TOLERANCE = timedelta(seconds=1)


class Clock:
    """A clock for ``connection``'s scheduled jobs, on ``queues`` (default: every queue)."""

    def __init__(self, connection: Redis, queues: Iterable[Queue | str] | None = None, serializer: Any = None) -> None:
        self.connection = connection
        self.queues = list(queues) if queues is not None else None
        self.serializer = serializer
        self.offset = timedelta(0)
        self.cron_schedulers: list[Any] = []
        self._cron_time: float | None = None  # what cron entries see; set when they first look

    def now(self) -> datetime:
        """The clock's current time (aware, UTC): the real time plus how far it was moved."""
        return now() + self.offset

    def timestamp(self) -> float:
        """The clock's current time as Unix seconds (a ``time.time`` replacement)."""
        return self.now().timestamp()

    def cron_timestamp(self) -> float:
        """The time the clock's cron entries see (Unix seconds): the clock's time when they first
        looked, then moved only by the clock's moves. The real time a test takes between two moves
        does not count, so ``advance(interval)`` always lands exactly on an interval entry's next run."""
        if self._cron_time is None:
            self._cron_time = self.timestamp()
        return self._cron_time

    def cron(self, **scheduler_kwargs: Any) -> Any:
        """An rq-cron ``CronScheduler`` living on this clock's time: ``register(...)`` entries on it;
        each move of the clock then enqueues their due runs (an interval entry's first run comes
        with the next move, or :meth:`move_due`). Needs rq-cron: the error says how to install it."""
        scheduler = make_scheduler(self.connection, self.cron_timestamp, **scheduler_kwargs)
        self.cron_schedulers.append(scheduler)
        return scheduler

    def advance(self, delta: timedelta | float | None = None, **parts: float) -> list[Job]:
        """Move forward by ``delta`` (a timedelta or seconds) or by ``timedelta(**parts)``
        (``minutes=5``, ``days=1`` ...), then queue the jobs due. Returns them."""
        step = _as_timedelta(delta) if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ValueError(f'The clock only moves forward, not by {step}')
        self._move(step)
        return self.move_due()

    def travel_to(self, moment: datetime) -> list[Job]:
        """Move forward to ``moment`` (a naive value is local time, as in ``enqueue_at``), then
        queue the jobs due. Returns them. A moment up to a second in the past stays where it is."""
        target = moment.astimezone(timezone.utc)  # (a naive moment is taken as local time)
        step = target - self.now()
        if step < -_BACKWARD_TOLERANCE:
            raise ValueError(f'The clock only moves forward: {target} is before {self.now()}')
        self._move(max(step, timedelta(0)), target)
        return self.move_due()

    def move_due(self, queues: Iterable[Queue | str] | None = None) -> list[Job]:
        """Queue the scheduled jobs due at the clock's time (without moving it), then the runs of
        its cron entries that are due. Returns those jobs.

        ``queues`` narrows the clock's queues for this call (cron entries go to their own queue)."""
        moved = move_due_jobs(self.connection, self.now(), self._scope(queues), self.serializer)
        if self.cron_schedulers:
            for scheduler in self.cron_schedulers:
                moved += enqueue_due_runs(scheduler, self.connection)
        return moved

    def scheduled(self, queues: Iterable[Queue | str] | None = None) -> list[tuple[datetime, Job]]:
        """The jobs still scheduled, with their due times (UTC), earliest first."""
        return scheduled_jobs(self.connection, self._scope(queues), self.serializer)

    def next_due(self, queues: Iterable[Queue | str] | None = None) -> datetime | None:
        """When the earliest scheduled job is due; None when nothing is scheduled."""
        pending = self.scheduled(queues)
        return pending[0][0] if pending else None

    def advance_to_next(self, queues: Iterable[Queue | str] | None = None) -> list[Job]:
        """Move to the next due time of a scheduled job (if it is ahead) and queue what is due then.
        Returns the jobs queued; [] when nothing is scheduled (cron entries never run out, so they
        do not count here)."""
        due = self.next_due(queues)
        if due is None:
            return []
        current = self.now()
        if due > current:
            self._move(due - current, due)
        return self.move_due(queues)

    def _move(self, step: timedelta, target: datetime | None = None) -> None:
        """Move forward by ``step``; cron entries move by as much, or to ``target`` when it is given
        (a moment the test named, which they reach exactly)."""
        self.offset += step
        if self._cron_time is not None:
            self._cron_time += step.total_seconds()
            if target is not None:
                self._cron_time = max(self._cron_time, target.timestamp())

    def _scope(self, queues: Iterable[Queue | str] | None) -> list[Queue | str] | None:
        return list(queues) if queues is not None else self.queues

    def __repr__(self) -> str:
        return f'Clock(now={self.now().isoformat()}, offset={self.offset})'


def _as_timedelta(delta: timedelta | float) -> timedelta:
    return delta if isinstance(delta, timedelta) else timedelta(seconds=delta)

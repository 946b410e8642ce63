"""Rehearsals: a stand-in job run through the work horse's code path, to take its start-up costs
ahead of time.

A freshly forked horse pays a copy-on-write page fault for every page it writes, and CPython
writes to every object it touches (reference counts, the specialising interpreter's counters).
Running a harmless stand-in job through the same code as a real one (decode the job hash, build
the ``Job``, call the function under its death penalty, encode the result) has two effects:

- in the factory, before it starts forking, it lets the interpreter specialise that code once,
  so horses write to fewer pages;
- in a spare horse, while it waits for its job, it takes the remaining faults before the job
  arrives instead of after, which shortens the time from claim to start.

The stand-in runs :func:`stand_in` (which does nothing), never a user's function, and nothing of
it reaches Redis or the exception handlers. A rehearsal that fails is simply abandoned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import protocol
from .run import run_job

if TYPE_CHECKING:
    from rq.job import Job

JobMessage = tuple[str, str, dict[bytes, bytes]]


def stand_in() -> None:
    """The stand-in job's function."""


def load_job(worker: Any, message: JobMessage) -> tuple[Job, Any]:
    """The job (and its queue) that a factory message describes, as a horse builds it."""
    queue_name, job_id, raw = message
    queue = next(q for q in worker.queues if q.name == queue_name)
    job = queue.job_class(job_id, connection=worker.connection, serializer=queue.serializer)
    job.restore(raw)
    return job, queue


def stand_in_message(worker: Any) -> JobMessage | None:
    """A factory message for the stand-in job on the worker's first queue; None if one cannot be
    built (a custom job class that cannot create it, say)."""
    try:
        queue = worker.queues[0]
        job = queue.job_class.create(
            stand_in, connection=worker.connection, serializer=queue.serializer, origin=queue.name
        )
        raw = {name.encode('utf-8'): _as_bytes(value) for name, value in job.to_dict().items()}
        return queue.name, job.id, raw
    except Exception:
        return None


def rehearse(worker: Any, message: JobMessage | None, times: int = 1) -> None:
    """Run the stand-in job ``times`` times through the horse's code path."""
    if message is None:
        return
    for _ in range(times):
        try:
            job, queue = load_job(worker, message)
            job.func  # noqa: B018 - resolving the function is part of the path
            protocol.encode(run_job(job, worker.death_penalty_class, (), queue.DEFAULT_TIMEOUT))
        except BaseException:
            return


def _as_bytes(value: Any) -> bytes:
    """A mapping value as Redis would return it."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return repr(value).encode('utf-8')
    return str(value).encode('utf-8')

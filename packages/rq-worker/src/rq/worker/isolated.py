"""Jobs that a :class:`~rq.worker.concurrent.ConcurrentWorker` runs in a work horse of their own:
those of the queues it was told to isolate (``isolated_queues``, ``--isolate QUEUE``) and those
enqueued with ``meta={'rq.isolate': True}``.

Such a job runs in a freshly started interpreter, as a SpawnWorker's horse (not a fork: the worker
has threads), while the slot's thread waits for its result: a crash, a leak, a stuck C call or
CPU-bound code stays in the horse, and other cores run it. The horse enforces the job's timeout
itself; one that overruns it by ``HARD_KILL_GRACE_SECONDS`` is killed (with its process group), as
a stop command or a cold shutdown kills it. A horse that dies without sending a result fails its
job with the cause (the signal, the exit code, the timeout).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rq.timeouts import JobTimeoutException
from rq.utils import now

from . import protocol
from .forking import HARD_KILL_GRACE_SECONDS, describe_death, wait_child
from .run import COLD_SHUTDOWN_TEXT, FAILED, STOPPED_TEXT, ColdShutdown, RunResult, StopJob, effective_timeout
from .spawn import BOOTSTRAP, close_stdin, horse_spec, spawn

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue

    from .slots import Slot

#: The key of a job's ``meta`` that asks for a horse of its own (``True``).
ISOLATE_META_KEY = 'rq.isolate'


def wants_isolation(job: Job, queue: Queue, isolated_queues: frozenset[str]) -> bool:
    if queue.name in isolated_queues:
        return True
    try:
        return job.meta.get(ISOLATE_META_KEY) is True
    except Exception:  # (meta it cannot decode: the run reports that)
        return False


def run_in_horse(worker: Any, slot: Slot, job: Job, queue: Queue, execution: Execution) -> tuple[RunResult, bool]:
    """Run ``job`` in a spawned horse; its result (or the cause of its death), and whether a stop
    command ended it."""
    read_fd, write_fd = os.pipe()
    process = spawn(BOOTSTRAP, horse_spec(worker, job, queue, write_fd), write_fd)
    timeout = effective_timeout(job, queue.DEFAULT_TIMEOUT)
    slot.attach_horse(process.pid)
    if timeout > 0:
        slot.arm(timeout + HARD_KILL_GRACE_SECONDS, JobTimeoutException)
    reader = protocol.Reader()
    try:
        while not reader.complete() and reader.feed(os.read(read_fd, 1 << 20)):
            pass
    finally:
        slot.disarm()
        slot.detach_horse()
        os.close(read_fd)
        exit_report = wait_child(process.pid)
        close_stdin(process)
    result = reader.result()
    interruption = slot.interruption
    if interruption is None and result is not None:
        return result, False
    ended = execution.created_at
    if interruption is not None and interruption.exception is StopJob:
        return RunResult(FAILED, ended, now(), exc_string=STOPPED_TEXT), True
    if interruption is not None and interruption.exception is ColdShutdown:
        return RunResult(FAILED, ended, now(), exc_string=COLD_SHUTDOWN_TEXT), False
    killed_for = timeout if interruption is not None else None
    return RunResult(FAILED, ended, now(), exc_string=describe_death(exit_report, killed_for, False)), False

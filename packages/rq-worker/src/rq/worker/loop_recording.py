"""Recording an async job's success from the event loop's thread (see :mod:`rq.worker.loop_jobs`)
without waiting for Redis: what :func:`rq.worker.recording.record` does for a success on the fast
path, in two halves: :func:`prepare` (the calls to send: the job's finish script, with the claim of
its slot's next job) and :func:`settle` (once their replies came). A job it does not take (another
outcome), or whose reply is not a plain one (Redis did not answer, or refused), goes to its slot's
thread, which records it as it records any outcome, first checking whether this attempt applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rq._redis import scripts

from . import job_log, recording
from .run import FINISHED, RunResult

if TYPE_CHECKING:
    from ._claiming import Claimed
    from .slot_runner import SlotRunner

#: A success to record: the slot, its job (with queue and execution) and the run's result.
Success = tuple['SlotRunner', 'Claimed', RunResult]


@dataclass(frozen=True)
class Prepared:
    """A success being recorded: its calls (its finish, and its slot's next claim) and working time."""

    success: Success
    calls: list[scripts.ScriptCall]
    working_seconds: float


def prepare(success: Success) -> Prepared | None:
    """The calls that record ``success``; None when it is off the fast path (it was given to its
    slot's thread)."""
    runner, (job, queue, execution), result = success
    recorder = runner.recorder
    if result.status != FINISHED or not recording.fast_path(recorder, job) or recorder._record_attempts:
        runner.record_later(success[1], result)
        return None
    working_seconds = recording.working_seconds_of(result)
    recording.stamp(recorder, job, result)
    recorder._record_attempts = 1  # (under way: a later attempt first checks whether this one applied)
    finish = recording.finish_call(recorder, job, queue, execution, result, working_seconds)
    return Prepared(success, recorder.claims.finish_calls(finish), working_seconds)


def settle(worker: Any, prepared: Prepared, replies: list[Any] | BaseException) -> bool:
    """Once ``prepared``'s replies came (or the exception that kept them): whether the job is
    recorded (if not, it was given to its slot's thread)."""
    runner, claim, result = prepared.success
    job, queue, execution = claim
    recorder = runner.recorder
    try:
        if isinstance(replies, BaseException):
            raise replies
        reply = recorder.claims.finish_replies(worker.connection, prepared.calls, replies)
    except Exception:
        runner.record_later(claim, result)
        return False
    recording.finished(recorder, job, execution, reply)
    recording.recorded(recorder, job, queue, result, job_log.OK, prepared.working_seconds)
    worker.add_counts(recorder)
    worker.redis_link.answered('slot')
    return True

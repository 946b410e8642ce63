"""A slot's claim of its next job, sent together with its current job's success (one round trip for
both, as a worker that runs one job at a time does): while the queues hold jobs, a busy slot never
waits for the worker's main thread.

A claim whose reply was lost (the connection broke) is sent again with the same execution id, by
the slot itself, once its recording is done: the script then returns the job it took the first time.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rq._redis import codec, scripts, worker_ops
from rq.utils import current_timestamp, now

from .job_log import log_claim_handed_back
from .slot_link import SlotLink

if TYPE_CHECKING:
    from rq.queue import Queue

#: A claim sent: queue names, execution id, moment; and, once it came, its reply.
Sent = tuple[list[str], str, datetime]


class SlotClaims:
    def __init__(self, worker: Any, log: Any, slot: int) -> None:
        self._worker = worker
        self._slot = slot
        self._log = log
        self.link = SlotLink(worker.connection)  # (this slot's round trips)
        self.unanswered: Sent | None = None  # a claim sent whose reply did not come
        self.answered: tuple[Sent, Any] | None = None  # a claim and its reply, not taken yet

    def send_finish(self, connection: Any, finish: scripts.ScriptCall) -> Any:
        """Record a success (``finish``), with the claim of the slot's next job when the worker allows
        one (see ``ConcurrentWorker.may_claim_ahead``). Returns the finish script's reply."""
        calls = self.finish_calls(finish)
        return self.finish_replies(connection, calls, self.link.call_many(connection, calls))

    def finish_calls(self, finish: scripts.ScriptCall) -> list[scripts.ScriptCall]:
        """What :meth:`send_finish` sends: ``finish``, with the claim of the slot's next job when the
        worker allows one (or a claim whose reply was lost is to be sent again)."""
        if self.unanswered is None and not self._worker.may_claim_ahead():
            return [finish]
        sent, resend = self._next(self._worker)
        self.unanswered = sent
        return [finish, worker_ops.claim_job_call(*self._arguments(sent), resend=resend, slot=self._slot)]

    def finish_replies(self, connection: Any, calls: list[scripts.ScriptCall], replies: list[Any]) -> Any:
        """The finish script's reply, from the replies to :meth:`finish_calls`' calls (the claim's
        is kept for :meth:`take`); raises as the finish script did."""
        if len(calls) == 1:
            [finished] = replies
            if finished is scripts.NOT_LOADED:
                return scripts.run(calls[0][0], connection, calls[0][1], calls[0][2])
            if isinstance(finished, Exception):
                raise finished
            return finished
        sent = self.unanswered
        assert sent is not None
        try:
            finished, reply = worker_ops.settle_finish_and_claim(connection, calls[0], calls[1], *replies)
        except worker_ops.FinishRefused as refused:
            self.unanswered = None
            if refused.kept is not None:
                self.answered = (sent, refused.kept)
            log_claim_handed_back(self, refused)
            raise
        self.unanswered = None
        if isinstance(reply, Exception):  # (the claim did not apply: nothing is held)
            self._log.warning("could not claim the next job with this one's result (%s)", reply)
            return finished
        self.answered = (sent, reply)
        return finished

    @property
    def log(self) -> Any:
        return self._log

    def connect(self) -> None:
        """Open this slot's connection now, as the worker starts, rather than with its first job's
        outcome: opening one takes several round trips (and redis-py 8 looks up its own version),
        which with many slots delayed every slot's first jobs. A failure is left for the first
        outcome's own connect to meet (and report) again."""
        try:
            self.link.connect()
        except Exception as exc:
            self._log.debug('could not connect yet (%s): connecting again with the first outcome', exc)

    def close(self) -> None:
        self.link.close()

    def settle(self) -> None:
        """Send again a claim whose reply was lost (raises while Redis does not answer)."""
        if self.unanswered is None:
            return
        sent, _ = self._next(self._worker)
        reply = worker_ops.claim_job(self._worker.connection, *self._arguments(sent), resend=True)
        self.unanswered = None
        self.answered = (sent, reply)

    def take(self) -> tuple[Queue, str, Any, Sent] | None:
        """The job the last claim took: (queue, job id, raw hash, the claim); None when it took none."""
        answered, self.answered = self.answered, None
        if answered is None:
            return None
        sent, reply = answered
        decoded = worker_ops.decode_claim(sent[0], reply)
        if decoded is None or isinstance(decoded, str):
            return None
        queue_name, job_id, raw = decoded
        queue = next(q for q in self._worker._ordered_queues if q.name == queue_name)
        return queue, job_id, raw, sent

    def held(self) -> list[tuple[str, str, str]]:
        """The executions these claims hold: (queue name, job id, execution id)."""
        held: list[tuple[str, str, str]] = []
        answered = self.answered
        if answered is not None:
            (names, execution_id, _), reply = answered
            claimed = worker_ops.claimed_execution(names, execution_id, reply)
            if claimed is not None:
                held.append(claimed)
        unanswered = self.unanswered
        if unanswered is not None:
            found = worker_ops.find_started(self._worker.connection, unanswered[0], unanswered[1])
            if found is not None:
                held.append((*found, unanswered[1]))
        return held

    def _next(self, worker: Any) -> tuple[Sent, bool]:
        """The claim to send: a new one, or the one whose reply was lost (same execution id)."""
        if self.unanswered is not None:
            names, execution_id, _ = self.unanswered
            return (names, execution_id, now()), True
        return ([queue.name for queue in worker._ordered_queues], f'{random.getrandbits(128):032x}', now()), False

    def _arguments(self, sent: Sent) -> tuple[Any, ...]:
        names, execution_id, moment = sent
        worker = self._worker
        return (
            names,
            worker.name,
            execution_id,
            codec.format_timestamp(moment),
            codec.format_epoch(moment),
            current_timestamp(),
            worker.execution_ttl,
        )

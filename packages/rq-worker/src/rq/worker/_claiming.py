"""How a worker claims jobs: the next one, the one after it (with a success's recording), those it holds.

A claim is one script call: it pops a job id from the first non-empty queue and records the job as
started by this worker, atomically. A claim whose reply was lost is sent again with the same
execution id, and returns the same job. Part of :class:`~rq.worker.loop.BaseWorker`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rq._redis import codec, scripts, worker_ops
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.executions import Execution
from rq.trust import (
    ACCEPT_UNSIGNED_ENV,
    SIGNED,
    UNSIGNED,
    GuardedSerializer,
    NotAllowedError,
    UntrustedJobError,
    current_policy,
)
from rq.utils import current_timestamp, now

from .identity import WorkerStatus
from .job_log import log_claim_handed_back
from .run import FAILED, RunResult

log = logging.getLogger('rq.worker')

if TYPE_CHECKING:
    from redis import Redis

    from rq.job import Job
    from rq.queue import Queue

    from .maintenance import Maintenance

Claimed = tuple['Job', 'Queue', Execution]


class JobClaiming:
    """Claiming jobs for :class:`~rq.worker.loop.BaseWorker`: the next one, one ahead, and those it holds."""

    if TYPE_CHECKING:
        name: str
        connection: Redis
        log: Any
        maintenance: Maintenance
        execution: Execution | None  # (a property of ExecutionIndex)
        _ordered_queues: list[Queue]
        _job_id: str | None
        _state: str
        _claimed_raw: dict[bytes, bytes]
        _stop_requested: bool

        def queue_names(self) -> list[str]: ...
        def record(
            self, job: Job, queue: Queue, execution: Execution, result: RunResult, stopped: bool = False
        ) -> None: ...
        @property
        def execution_ttl(self) -> float: ...

    _unanswered_claim: str | None = None  # the execution id of a claim sent without a reply yet
    # The job this worker holds (claimed, running or being recorded): queue name, job id, execution id.
    _current_claim: tuple[str, str, str] | None = None
    # A claim sent with the previous job's recording (see claim_ahead): queue names, execution id,
    # moment, reply. The next turn of the loop takes that job instead of claiming again.
    _prefetched_claim: tuple[list[str], str, datetime, Any] | None = None
    _may_claim_ahead = False

    def claim(self) -> Claimed | str | None:
        """Claim the next job; None when every queue is empty, ``'suspended'`` while workers are
        suspended. A job whose data cannot be decoded is failed on the spot (with the reason) and
        the next one is tried."""
        while True:
            if self.holds_claimed_job:
                assert self._prefetched_claim is not None
                names, execution_id, moment, reply = self._prefetched_claim
            else:
                self._prefetched_claim = None
                names = [queue.name for queue in self._ordered_queues]
                moment = now()
                # A claim whose reply was lost (the connection broke) is sent again with the same
                # execution id: the script then returns the job it took the first time.
                execution_id, resend = self._claim_id()
                self._unanswered_claim = execution_id
                reply = worker_ops.claim_job(
                    self.connection, *self._claim_arguments(names, execution_id, moment), resend=resend
                )
            decoded = worker_ops.decode_claim(names, reply)
            if decoded is None or isinstance(decoded, str):
                self._unanswered_claim = None
                return decoded
            queue_name, job_id, raw = decoded
            # (held from here on; the claim stops being unanswered or ahead only once it is held)
            self._current_claim = (queue_name, job_id, execution_id)
            self._prefetched_claim = None
            self._unanswered_claim = None
            queue = next(q for q in self._ordered_queues if q.name == queue_name)
            execution = Execution(execution_id, job_id, self.connection, worker_name=self.name)
            execution.created_at = execution.last_heartbeat = moment
            self.execution = execution
            self._job_id = job_id
            self._state = WorkerStatus.BUSY.value
            job = self._load_claimed(job_id, raw, queue, execution)
            self._claimed_raw = raw
            if job is not None:
                return job, queue, execution

    def _claim_id(self) -> tuple[str, bool]:
        """The execution id of the next claim, and whether it is one sent again: a claim is never
        sent with a new id while an earlier one is unanswered (its job would be left started with
        nobody running it)."""
        if self._unanswered_claim is not None:
            return self._unanswered_claim, True
        return uuid.uuid4().hex, False

    def held_executions(self) -> list[tuple[str, str, str]]:
        """The executions this worker holds, as (queue name, job id, execution id): the job it runs
        (or records), the job claimed ahead, and the job a claim whose reply was lost took (looked up
        in Redis by its execution id). Their started entries belong to a live worker: maintenance
        renews them before it looks for abandoned jobs, so a worker never fails a job it holds."""
        held: list[tuple[str, str, str]] = []
        current = self._current_claim
        if current is not None:
            held.append(current)
        prefetched = self._prefetched_claim
        if prefetched is not None:
            names, execution_id, _, reply = prefetched
            claimed = worker_ops.claimed_execution(names, execution_id, reply)
            if claimed is not None:
                held.append(claimed)
        unanswered = self._unanswered_claim
        if unanswered is not None:
            found = worker_ops.find_started(self.connection, self.queue_names(), unanswered)
            if found is not None:
                held.append((*found, unanswered))
        return held

    def _claim_arguments(self, names: list[str], execution_id: str, moment: datetime) -> tuple[Any, ...]:
        return (
            names,
            self.name,
            execution_id,
            codec.format_timestamp(moment),
            codec.format_epoch(moment),
            current_timestamp(),
            self.execution_ttl,
        )

    @property
    def holds_claimed_job(self) -> bool:
        """A job was claimed ahead (see :meth:`claim_ahead`) and waits for the next turn."""
        prefetched = self._prefetched_claim
        return prefetched is not None and bool(prefetched[3]) and prefetched[3] != -1

    def claim_ahead(self) -> tuple[list[str], str, datetime, worker_ops.ScriptCall] | None:
        """The claim to send together with the current job's recording (one round trip for both),
        when the loop would claim right after it anyway: no stop requested, no job limit reached,
        no maintenance due, queues in fixed priority order, no job claimed ahead already (a recording
        sent again after Redis did not answer). None otherwise."""
        if not self._may_claim_ahead or self._stop_requested or self.maintenance.seconds_until_due() <= 0:
            return None
        if self.holds_claimed_job:
            return None
        names = [queue.name for queue in self._ordered_queues]
        moment = now()
        execution_id, resend = self._claim_id()
        return (
            names,
            execution_id,
            moment,
            worker_ops.claim_job_call(*self._claim_arguments(names, execution_id, moment), resend=resend),
        )

    def send_finish(self, connection: Any, finish: worker_ops.ScriptCall) -> Any:
        """Run the script call that records a success, together with the claim of the next job
        when :meth:`claim_ahead` allows one (the next turn of the loop then takes that job).
        Returns the recording script's reply (see finish_job.lua)."""
        ahead = self.claim_ahead()
        if ahead is None:
            return scripts.call(finish[0], connection, finish[1], finish[2])
        names, execution_id, claimed_at, claim = ahead
        # (if the reply is lost, the next claim is sent again with this id and returns the same job)
        self._unanswered_claim = execution_id
        try:
            finished, reply = worker_ops.finish_job_then_claim(connection, finish, claim)
        except worker_ops.FinishRefused as refused:
            # (the job claimed with it was handed back; or, that refused too, it is this worker's to run)
            self._unanswered_claim = None
            if refused.kept is not None:
                self._prefetched_claim = (names, execution_id, claimed_at, refused.kept)
            log_claim_handed_back(self, refused)
            raise
        if isinstance(reply, Exception):  # (the success is recorded; the claim is sent again next turn)
            self.log.warning("could not claim the next job with this one's result (%s); claiming it again", reply)
            return finished
        self._prefetched_claim = (names, execution_id, claimed_at, reply)
        self._unanswered_claim = None
        return finished

    def _load_claimed(self, job_id: str, raw: dict[bytes, bytes], queue: Queue, execution: Execution) -> Job | None:
        job, failure = restore_claimed(job_id, raw, queue, self.connection, self.name)
        if failure is not None:
            self.record(job, queue, execution, failure)
            return None
        return job


def restore_claimed(
    job_id: str, raw: dict[bytes, bytes], queue: Queue, connection: Any, worker_name: str | None = None
) -> tuple[Job, RunResult | None]:
    """The job a claim took, from its hash; with the failure to record in place of a run when its
    data cannot be decoded, or this worker's trust policy refuses it (see :mod:`rq.trust`: the
    signature is checked before anything is decoded). The job is failed on the spot, with the reason."""
    policy = current_policy()
    verdict = policy.verdict(job_id, raw)
    refusal = policy.refusal(job_id, verdict)
    job = queue.job_class(job_id, connection=connection, serializer=queue.serializer)
    try:
        job.restore(raw)  # (meta is decoded by the policy's serializer; data not yet)
        if refusal is not None:
            raise UntrustedJobError(refusal)
        if verdict == UNSIGNED:
            log.warning('job %s is not signed: run all the same (%s=1)', job_id, ACCEPT_UNSIGNED_ENV)
            if worker_name is not None:
                worker_ops.count_unsigned(connection, worker_name)
        # (its signature vouches for its data; or, in migration mode without an allowlist, the
        # operator accepted unsigned jobs as they are)
        vouched = verdict == SIGNED or not policy.allowed_functions
        if policy.keys and vouched and isinstance(queue.serializer, GuardedSerializer):
            job.serializer = queue.serializer.inner
        job.func_name  # noqa: B018 - a payload this process cannot decode fails here
        if policy.allowed_functions:
            for name, what in _names_to_import(job):
                policy.check_name(name, what)
    except (DeserializationError, NoSuchJobError, NotAllowedError) as exc:
        job._status = job.get_status(refresh=False) or job._status
        moment = now()
        return job, RunResult(FAILED, moment, moment, exc_string=f'{type(exc).__name__}: {exc}\n')
    return job, None


def _names_to_import(job: Job) -> list[tuple[str, str]]:
    """The dotted names the job makes the worker import: its function (a method: its class's), callbacks."""
    instance = job.instance
    if instance is not None:
        owner = type(instance)
        names = [(f'{owner.__module__}.{owner.__qualname__}.{job.func_name}', 'method')]
    else:
        names = [(job.func_name, 'function')]
    for kind in ('success', 'failure', 'stopped'):
        callback = getattr(job, f'_{kind}_callback_name')
        if callback:
            names.append((callback, f'{kind} callback'))
    return names

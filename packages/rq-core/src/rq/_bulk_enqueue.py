"""``Queue.enqueue_many``: its jobs built and checked (:func:`build`), then, without a caller's
pipeline (on an asynchronous queue with no replicas to wait for), placed (:func:`enqueue_jobs`).

The jobs are split, in order, into runs of plain jobs (no dependency, no rate limit), placed a
batch at a time by ``enqueue_batch``, and the others, placed one at a time by ``enqueue`` as a single
enqueue places them; every call goes on one connection, in order (see :mod:`rq._redis.batch_ops`),
so a job that depends on an earlier job of the same call finds it saved and is deferred or queued
as it would be by single enqueues. Jobs are prepared (hash and call) as their call is about to be
written, and a call's packed bytes live until its reply comes: besides the jobs themselves, memory
holds a few calls at a time, however many jobs there are.

Each call is atomic on its own, not the whole of them (the difference with one MULTI/EXEC). A lost
connection is retried as the client's ``Retry`` says, going on from the calls not answered (their
tokens make that safe); when the calls stop for good part of the way (retries spent, an error
reply), the error carries a note that says which jobs were enqueued and which were not, so that
none is lost or enqueued twice unseen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import _enqueue
from ._redis import batch_ops, codec, scripts
from ._utils import now
from .job import JobStatus

if TYPE_CHECKING:
    from ._enqueue_args import EnqueueData
    from .job import Job
    from .queue import Queue


def build(queue: Queue, job_datas: Iterable[EnqueueData], group_id: str | None) -> tuple[list[Job], list[bool]]:
    """``enqueue_many``'s jobs, built and checked (nothing written), and which go to the queue's head.

    Raises:
        ValueError: two entries with the same ``job_id`` (RQ 3.0: one would overwrite the other),
            or as ``Queue.create_job`` raises for an entry.
    """
    job_datas = list(job_datas)
    seen: set[str] = set()
    for data in job_datas:
        if data.job_id is not None:
            if data.job_id in seen:
                raise ValueError(f"Job ID '{data.job_id}' appears more than once in enqueue_many()")
            seen.add(data.job_id)
    # Every field of EnqueueData but at_front, by name (a dict per job and ** would cost about a
    # tenth of a plain job's whole enqueue; tests/core/test_enqueue_many_batches.py checks the list).
    jobs = [
        queue.create_job(
            data.func,
            data.args,
            data.kwargs,
            data.timeout,
            data.result_ttl,
            data.ttl,
            data.failure_ttl,
            data.description,
            data.depends_on,
            data.job_id,
            data.meta,
            JobStatus.QUEUED,
            data.retry,
            data.repeat,
            on_success=data.on_success,
            on_failure=data.on_failure,
            on_stopped=data.on_stopped,
            webhooks=data.webhooks,
            group_id=group_id,
        )
        for data in job_datas
    ]
    return jobs, [bool(data.at_front) for data in job_datas]


def enqueue_jobs(queue: Queue, jobs: list[Job], fronts: Sequence[bool]) -> list[Job]:
    """Place ``jobs`` (at the queue's head where ``fronts`` says so) and set their status and
    ``enqueued_at`` from the outcomes. Returns them in the order given.

    Raises:
        ConnectionError, TimeoutError, ResponseError: as the calls raise them (a lost connection
            once the client's retries are spent), with a note that says which jobs were placed
            (see :class:`Progress`).
    """
    if not jobs:
        return []
    client = queue.connection
    direct = scripts.direct(client)
    progress = Progress(jobs)
    calls = units(queue, jobs, fronts, keep_args=not direct)
    try:
        if direct:
            batch_ops.send_stream(client, calls, progress.applied, progress.unknown)
        else:
            _send_each(client, calls, progress.applied, progress.unknown)
    except BaseException as exc:
        progress.add_note(exc)
        raise
    return jobs


def units(queue: Queue, jobs: Sequence[Job], fronts: Sequence[bool], keep_args: bool) -> Iterator[batch_ops.Unit]:
    """The calls that place ``jobs``, in order, each built when the stream asks for it (no I/O: the
    asyncio client sends the same units). A unit's payload is ``(start, stop, moment)``: the
    positions of its jobs in ``jobs`` and their moment; :class:`Progress` applies the replies."""
    packer = batch_ops.JobPacker()
    builder: batch_ops.BatchBuilder | None = None
    start, moment = 0, now()
    for index, job in enumerate(jobs):
        plain = _is_plain(job)
        if builder is not None and (not plain or job.group_id != builder.group_id):
            yield builder.unit((start, index, moment))
            builder = None
        if not plain:
            placement = 'L' if fronts[index] else 'R'
            call, moment_of_job = _enqueue.prepare_call(queue, job, placement, False, 0, True, in_pipeline=False)
            yield batch_ops.job_unit(call, (index, index + 1, moment_of_job))
            continue
        if builder is None:
            start, moment = index, now()
            enqueued_at = codec.format_timestamp(moment)
            builder = batch_ops.BatchBuilder(queue.name, job.group_id, enqueued_at, packer, keep_args)
        _prepare_plain(queue, job)
        if builder.add((job.id, fronts[index], job.ttl, job.to_dict())):
            yield builder.unit((start, index + 1, moment))
            builder = None
    if builder is not None:
        yield builder.unit((start, len(jobs), moment))


def _send_each(
    client: Any, units: Iterator[batch_ops.Unit], on_reply: batch_ops.OnReply, on_unknown: batch_ops.OnUnknown
) -> None:
    """Send ``units`` one at a time through ``client``'s own command path (a client for which
    ``scripts.direct`` does not hold: rq-testing's fake, a cluster client, a wrapper), where time
    goes to round trips anyway. A batch goes as an EVAL of its source in a MULTI/EXEC: it runs
    whether or not the server knows the script, and redis-py sends the whole transaction again after
    a late reply (the token makes the copy push nothing). A per-job call goes through
    ``scripts.run``, as a single enqueue does.

    Raises:
        ResponseError: a call's error reply.
        ConnectionError, TimeoutError: as any command, once the client's own retries are spent
            (then ``on_unknown`` gets the unit, unless ``batch_ops.fence`` settles it).
    """
    for unit in units:
        assert unit.args is not None  # (units built with keep_args)
        try:
            if unit.name == 'enqueue_batch':
                pipe = client.pipeline(transaction=True)
                try:
                    scripts.queue(pipe, unit.name, unit.keys, unit.args)
                    [reply] = scripts.execute(pipe)
                finally:
                    pipe.reset()
                if isinstance(reply, Exception):
                    raise reply
            else:
                reply = scripts.run(unit.name, client, unit.keys, unit.args)
        except batch_ops.CONNECTION_ERRORS:
            on_unknown(batch_ops.fence(client, [unit], on_reply))
            raise
        on_reply(unit, reply)


def _is_plain(job: Job) -> bool:
    """Whether ``enqueue_batch`` can place the job: nothing to read first (no dependency to check,
    no rate-limit slot to find)."""
    return not (job._dependency_ids or (job.rate_limit_key and job.rate_limit_concurrency))


def _prepare_plain(queue: Queue, job: Job) -> None:
    """What ``_enqueue.prepare_call`` does to a plain job before it takes its hash."""
    job.origin = queue.name
    _enqueue.warn_if_unimportable_job(queue, job)
    if job.timeout is None:
        job.timeout = queue._default_timeout


class Progress:
    """Which jobs the calls placed, which are unknown (their calls' replies were lost and could not
    be settled), and the note that tells it when the calls stop part of the way."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = jobs
        self.placed: list[list[int]] = []  # [start, stop) ranges, merged as they come
        self.unknown_ranges: list[list[int]] = []

    def applied(self, unit: batch_ops.Unit, reply: Any) -> None:
        start, stop, moment = unit.payload
        if unit.name == 'enqueue_batch':
            for job in self.jobs[start:stop]:  # as _enqueue.apply_outcome does for QUEUED
                job._status = JobStatus.QUEUED
                job.enqueued_at = moment
        else:
            _enqueue.apply_outcome(self.jobs[start], reply, moment)
        _extend(self.placed, start, stop)

    def unknown(self, units: list[batch_ops.Unit]) -> None:
        for unit in units:
            start, stop, _ = unit.payload
            _extend(self.unknown_ranges, start, stop)

    def add_note(self, exc: BaseException) -> None:
        placed, total = _count(self.placed), len(self.jobs)
        unknown = _count(self.unknown_ranges)
        if not placed and not unknown:
            _add_note(exc, f'enqueue_many(): none of the {total} jobs was enqueued.')
            return
        note = f'enqueue_many() stopped part of the way. Enqueued: {placed} of {total} jobs'
        note += f', {self._describe(self.placed)}.' if placed else '.'
        if unknown:
            note += (
                f' Unknown: {unknown} jobs, {self._describe(self.unknown_ranges)} (the connection was lost '
                'before their replies came: look their ids up before enqueueing them again).'
            )
        rest = _missing(total, self.placed + self.unknown_ranges)
        if rest:
            note += f' Not enqueued: {total - placed - unknown} jobs, {self._describe(rest)}.'
        _add_note(exc, note)

    def _describe(self, ranges: list[list[int]]) -> str:
        shown = [
            f'positions {start}-{stop - 1} (ids {self.jobs[start].id} .. {self.jobs[stop - 1].id})'
            if stop - start > 1
            else f'position {start} (id {self.jobs[start].id})'
            for start, stop in sorted(ranges)[:5]
        ]
        more = f' and {len(ranges) - 5} more ranges' if len(ranges) > 5 else ''
        return ', '.join(shown) + more


def _extend(ranges: list[list[int]], start: int, stop: int) -> None:
    """Add ``[start, stop)``, merged with the last range when they touch (they come in order)."""
    if ranges and ranges[-1][1] == start:
        ranges[-1][1] = stop
    else:
        ranges.append([start, stop])


def _count(ranges: list[list[int]]) -> int:
    return sum(stop - start for start, stop in ranges)


def _missing(total: int, ranges: list[list[int]]) -> list[list[int]]:
    """The ranges of ``range(total)`` that none of ``ranges`` covers."""
    gaps: list[list[int]] = []
    position = 0
    for start, stop in sorted(ranges):
        if start > position:
            gaps.append([position, start])
        position = max(position, stop)
    if position < total:
        gaps.append([position, total])
    return gaps


def _add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)`` (Python 3.11+); on 3.10 the note is kept in ``__notes__`` all the same."""
    add_note = getattr(exc, 'add_note', None)
    if add_note is not None:
        add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, '__notes__', ()), note]  # type: ignore[attr-defined]

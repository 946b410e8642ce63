"""The eager runner: run what is queued, in the test process, until the queues are empty.

::

    signup(queue, 'ada@example.com')            # the code under test enqueues jobs
    run = run_until_empty(queue)                 # runs them, their dependents, retries and repeats
    assert [job.func_name for job in run.jobs] == ['app.jobs.send_welcome', 'app.jobs.add_to_crm']

Every job goes through the states a worker gives it (started, then finished or failed, with its
result entry, registries and released dependents), so the code under test can read results
and statuses exactly as in production. Only rq-core is needed: no worker process, no rq-worker.

- Retries and repeats that a run puts back *with an interval* are run at once by default
  (``follow_intervals``): the interval is skipped, not slept. Pass ``follow_intervals=False`` to
  leave them scheduled, and move them with a :class:`~rq.testing.Clock`.
- Jobs scheduled with ``enqueue_at``/``enqueue_in`` run when they are due at the runner's clock;
  ``run_scheduled=True`` moves the clock to each due time in turn until nothing is scheduled.
- A job that fails (for good, after its retries) is collected in :attr:`EagerRun.failures`; with
  ``fail_fast=True`` its exception is raised as soon as its failure is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rq.job import JobStatus

from . import _execution
from .clock import Clock
from .scheduling import move_now, resolve_queues

if TYPE_CHECKING:
    from collections.abc import Iterable

    from redis import Redis

    from rq.job import Job
    from rq.queue import Queue

__all__ = ['EagerRun', 'EagerRunLimitError', 'EagerRunner', 'JobFailedError', 'JobRun', 'run_until_empty']

FINISHED, FAILED, RETRIED = _execution.FINISHED, _execution.FAILED, _execution.RETRIED


class EagerRunLimitError(RuntimeError):
    """Raised when an eager run reaches its ``max_jobs`` (a job that keeps enqueueing itself, say)."""


class JobFailedError(Exception):
    """Raised by ``fail_fast`` for a failure that has no exception of its own (a returned Retry
    whose retries ran out); also the type of :meth:`EagerRun.raise_first_failure` in that case."""

    def __init__(self, run: JobRun) -> None:
        self.run = run
        super().__init__(f'Job {run.job.id} ({run.func_name}) failed: {run.exc_string.strip() or run.outcome}')


@dataclass
class JobRun:
    """One execution of a job by the eager runner."""

    job: Job
    queue: Queue
    outcome: str  # 'finished', 'failed' (for good) or 'retried' (put back for another attempt)
    return_value: Any = None
    exception: BaseException | None = None
    exc_string: str = ''

    @property
    def func_name(self) -> str:
        try:
            return self.job.func_name
        except Exception:
            return '<undecodable>'

    def raise_failure(self) -> None:
        """Raise the exception this run failed with (or :class:`JobFailedError` when it has none)."""
        if self.exception is not None:
            note = f'(rq.testing: raised by job {self.job.id}, {self.func_name}, on queue {self.queue.name!r})'
            add_note = getattr(self.exception, 'add_note', None)
            if add_note is not None and note not in getattr(self.exception, '__notes__', ()):
                add_note(note)
            raise self.exception
        raise JobFailedError(self)


@dataclass
class EagerRun:
    """What an eager run did: every execution in order, and the jobs that failed for good."""

    runs: list[JobRun] = field(default_factory=list)
    suspended: bool = False  # the run stopped because workers are suspended (rq.suspension)

    @property
    def jobs(self) -> list[Job]:
        """The jobs run, each once, in the order of their first execution (latest state)."""
        latest: dict[str, Job] = {}
        for run in self.runs:
            latest[run.job.id] = run.job
        return list(latest.values())

    @property
    def failures(self) -> list[JobRun]:
        """The runs whose job failed for good (no retry left)."""
        return [run for run in self.runs if run.outcome == FAILED]

    @property
    def failed_jobs(self) -> list[Job]:
        return [run.job for run in self.failures]

    @property
    def return_values(self) -> list[Any]:
        """The return values of the successful runs, in order."""
        return [run.return_value for run in self.runs if run.outcome == FINISHED]

    def raise_first_failure(self) -> None:
        """Raise the first failure's exception, if any job failed."""
        if self.failures:
            self.failures[0].raise_failure()


class EagerRunner:
    """Runs jobs of ``connection``'s queues in this process (see the module docs for the options).

    ``name`` is the worker name recorded on the jobs it runs (``job.worker_name``).
    """

    def __init__(
        self,
        connection: Redis,
        *,
        clock: Clock | None = None,
        fail_fast: bool = False,
        follow_intervals: bool = True,
        run_scheduled: bool = False,
        enforce_timeouts: bool = False,
        max_jobs: int = 1000,
        name: str = 'rq-testing',
        serializer: Any = None,
    ) -> None:
        self.connection = connection
        self.clock = clock or Clock(connection, serializer=serializer)
        self.fail_fast = fail_fast
        self.follow_intervals = follow_intervals
        self.run_scheduled = run_scheduled
        self.enforce_timeouts = enforce_timeouts
        self.max_jobs = max_jobs
        self.name = name
        self.serializer = serializer

    def run(
        self,
        *queues: Queue | str,
        fail_fast: bool | None = None,
        follow_intervals: bool | None = None,
        run_scheduled: bool | None = None,
    ) -> EagerRun:
        """Run the jobs of ``queues`` (names or Queues; default: every queue, looked up again at
        each step) in priority order until they are empty. Per-call options override the runner's."""
        fail_fast = self.fail_fast if fail_fast is None else fail_fast
        follow = self.follow_intervals if follow_intervals is None else follow_intervals
        scheduled = self.run_scheduled if run_scheduled is None else run_scheduled
        report = EagerRun()
        while True:
            current = self._queues(queues)
            self.clock.move_due(current)
            if len(report.runs) >= self.max_jobs and any(queue.count for queue in current):
                raise EagerRunLimitError(
                    f'The eager run stopped after {self.max_jobs} job executions and jobs are still queued '
                    '(a job that enqueues itself, or a long Repeat?). Pass a larger max_jobs if this is expected.'
                )
            claimed = _execution.claim(self.connection, current, self.name) if current else None
            if claimed == _execution.SUSPENDED:
                report.suspended = True
                return report
            if claimed is None:
                if scheduled and self.clock.advance_to_next(current):
                    continue
                return report
            assert isinstance(claimed, _execution.Claimed)
            run = self._run_one(claimed, follow)
            report.runs.append(run)
            if fail_fast and run.outcome == FAILED:
                run.raise_failure()

    def _queues(self, queues: Iterable[Queue | str]) -> list[Queue]:
        given = list(queues)
        return resolve_queues(self.connection, given or None, self.serializer)

    def _run_one(self, claimed: _execution.Claimed, follow_intervals: bool) -> JobRun:
        outcome = claimed.load_error or _execution.perform(claimed.job, claimed.queue, self.enforce_timeouts)
        recorded = _execution.record(claimed, outcome, self.name)
        job = claimed.job
        if follow_intervals and job.get_status(refresh=False) == JobStatus.SCHEDULED:
            move_now(claimed.queue, [job.id])  # a retry or repeat with an interval: no waiting
        return JobRun(
            job,
            claimed.queue,
            recorded,
            return_value=outcome.return_value,
            exception=outcome.exception,
            exc_string=outcome.exc_string,
        )


def run_until_empty(
    *queues: Queue,
    fail_fast: bool = False,
    follow_intervals: bool = True,
    run_scheduled: bool = False,
    clock: Clock | None = None,
    enforce_timeouts: bool = False,
    max_jobs: int = 1000,
) -> EagerRun:
    """Run everything queued on ``queues`` (at least one Queue; the connection is the first one's)
    in this process until they are empty, dependents, retries and repeats included."""
    if not queues:
        raise TypeError('run_until_empty() needs at least one Queue (EagerRunner(connection).run() runs them all)')
    runner = EagerRunner(
        queues[0].connection,
        clock=clock,
        fail_fast=fail_fast,
        follow_intervals=follow_intervals,
        run_scheduled=run_scheduled,
        enforce_timeouts=enforce_timeouts,
        max_jobs=max_jobs,
    )
    return runner.run(*queues)

"""The lines a worker logs about its jobs and its end, one line per event.

Each line names the worker (see :mod:`rq.worker.worker_log`), the queue and the job id; a job's
outcome line also gives its call string (the job's description, as upstream RQ logs it; only the
function's name with ``--disable-job-desc-logging``), how long it ran and, for a failure, the
exception, followed by the traceback when there is one::

    Worker w1: default: tests.jobs.say_hello('you') (0b1e…)
    Worker w1: default: Job OK (0b1e…): tests.jobs.say_hello('you') in 2.1ms
    Worker w1: job 0b1e… result is kept for 500 seconds
    Worker w1: default: Job failed (5c3a…): tests.jobs.div_by_zero() in 0.8ms; ZeroDivisionError: division by zero
    Traceback (most recent call last):
      ...
    Worker w1: warm shutdown complete; jobs: 1 OK, 1 failed
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rq.logutils import styled
from rq.utils import now

from .run import FINISHED, RETRY

if TYPE_CHECKING:
    from rq.job import Job, Retry
    from rq.queue import Queue

    from .run import RunResult

OK, FAILED, STOPPED, RETRIED = 'OK', 'failed', 'stopped', 'retried'
_OUTCOME_STYLES = {OK: 'ok', FAILED: 'failed', STOPPED: 'warning', RETRIED: 'warning'}
_OUTCOME_LEVELS = {OK: logging.INFO, FAILED: logging.ERROR, STOPPED: logging.WARNING, RETRIED: logging.WARNING}


def format_duration(seconds: float) -> str:
    """``0.04ms``, ``512.3ms``, ``12.300s``, ``2m05.0s``, ``1h02m03s``."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        milliseconds = seconds * 1000
        return f'{milliseconds:.2f}ms' if milliseconds < 10 else f'{milliseconds:.1f}ms'
    if seconds < 60:
        return f'{seconds:.3f}s'
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f'{int(minutes)}m{rest:04.1f}s'
    hours, minutes = divmod(int(minutes), 60)
    return f'{hours}h{minutes:02d}m{int(rest):02d}s'


def exception_line(exc_string: str) -> str:
    """The exception of a traceback, on one line (``ZeroDivisionError: division by zero``): what
    follows the last indented line (the last frame). Text that is not a traceback, joined."""
    lines = [line for line in exc_string.rstrip('\n').splitlines() if line.strip()]
    last_indented = max((i for i, line in enumerate(lines) if line[:1].isspace()), default=-1)
    tail = lines[last_indented + 1 :] or lines
    return ' '.join(line.strip() for line in tail)


def call_text(worker: Any, job: Job) -> str:
    """The job's call string (its description), or its function's name when the worker does not
    log descriptions; ``'<undecodable>'`` when the job's data cannot be read here."""
    try:
        text = job.description if worker.log_job_description else job.func_name
    except Exception:
        text = None
    return text or '<undecodable>'


def log_start(worker: Any, job: Job, queue: Queue) -> None:
    """``<queue>: <call string> (<job id>)``, as upstream RQ logs a job it starts."""
    log = worker.log
    if log.isEnabledFor(logging.INFO):
        log.info('%s: %s (%s)', styled(queue.name, 'queue'), styled(call_text(worker, job), 'job'), job.id)


def predicted_outcome(job: Job, result: RunResult, stopped: bool) -> str:
    """What recording ``result`` makes of the job (decided by the same rules as rq-core's)."""
    if result.status == FINISHED:
        return OK
    if result.status == RETRY:
        assert result.retry is not None
        return RETRIED if (job.number_of_retries or 0) < result.retry.max else FAILED
    if stopped:
        return STOPPED
    return RETRIED if job.should_retry else FAILED


def log_outcome(worker: Any, job: Job, queue: Queue, result: RunResult, outcome: str, note: str = '') -> None:
    """The outcome line of a run that was recorded: see the module's docstring. ``note`` replaces
    the exception (and traceback) when the run was recorded otherwise than it ended: Redis refused
    its outcome and a short failure was recorded in its place (``Job failed ...; could not store
    the result: OutOfMemoryError: ...``)."""
    level = _OUTCOME_LEVELS[outcome]
    log = worker.log
    if not log.isEnabledFor(level):
        return
    duration = format_duration((result.ended_at - result.started_at).total_seconds())
    message = '%s: %s (%s): %s %s %s'
    args: tuple[Any, ...] = (
        styled(queue.name, 'queue'),
        styled(f'Job {outcome}', _OUTCOME_STYLES[outcome]),
        job.id,
        styled(call_text(worker, job), 'job'),
        'after' if outcome == STOPPED else 'in',
        duration,
    )
    if outcome == RETRIED and job.retries_left is not None and result.retry is None:
        message += ', %s'
        args += (_retries_left(job.retries_left),)
    details = note or (_details(job, result, outcome) if outcome != STOPPED else '')
    if details:
        message += '; %s'
        args += (styled(details, 'error'),)
    traceback = _traceback(result) if outcome != STOPPED and not note else ''
    if traceback:
        message += '\n%s'
        args += (traceback,)
    log.log(level, message, *args)


def log_unrecorded(
    worker: Any, job: Job, queue: Queue, result: RunResult, refused: str, cause: str, unreleased: str = ''
) -> None:
    """Redis refused a run's outcome (``refused``: what was not stored, and why) and then its
    failure too (``cause``): one error line. The job stays started in Redis until its started
    entry expires, then it is failed (or retried) as abandoned. ``unreleased``: why the worker could
    not let go of the run either (a live worker's run is never failed as abandoned)."""
    fate = (
        f'the worker could not let go of the run either ({unreleased})'
        if unreleased
        else 'it stays started until its started entry expires, then it is failed or retried as abandoned'
    )
    worker.log.error(
        '%s: %s (%s): %s in %s; %s; recording its failure was refused too (%s): %s',
        styled(queue.name, 'queue'),
        styled('Job not recorded', 'failed'),
        job.id,
        styled(call_text(worker, job), 'job'),
        format_duration((result.ended_at - result.started_at).total_seconds()),
        styled(refused, 'error'),
        cause,
        fate,
    )


def log_claim_handed_back(worker: Any, refused: Any) -> None:
    """The job claimed together with a success whose recording Redis refused (``refused``, a
    ``worker_ops.FinishRefused``): put back at the front of its queue, or, when that was refused
    too, kept to run next. Nothing when the claim took no job."""
    if refused.handed_back is not None:
        worker.log.warning(
            'job %s, claimed together with a result Redis refused, was put back at the front of its queue',
            refused.handed_back,
        )
    elif refused.kept is not None:
        worker.log.warning(
            'job %s, claimed together with a result Redis refused, could not be put back (%s): it runs next',
            refused.kept[1].decode() if isinstance(refused.kept[1], bytes) else refused.kept[1],
            refused.hand_back_error,
        )


def _details(job: Job, result: RunResult, outcome: str) -> str:
    if result.retry is not None:
        return _returned_retry(job, result.retry, outcome)
    return exception_line(result.exc_string) if result.exc_string else ''


def _returned_retry(job: Job, retry: Retry, outcome: str) -> str:
    if outcome == RETRIED:  # (recorded: number_of_retries counts this retry already)
        return f'it returned Retry: retry {job.number_of_retries or 1} of {retry.max}'
    return f'it returned Retry: maximum retries ({retry.max}) exceeded'


def _traceback(result: RunResult) -> str:
    """The traceback of a failure (upstream RQ logs it too); none for a one-line reason."""
    text = (result.exc_string or '').rstrip('\n')
    return text if '\n' in text else ''


def _retries_left(count: int) -> str:
    return f'{count} retr{"y" if count == 1 else "ies"} left'


def log_result_lifespan(worker: Any, job: Job) -> None:
    """How long a finished job's result is kept (upstream RQ's line)."""
    log = worker.log
    if not worker.log_result_lifespan or not log.isEnabledFor(logging.INFO):
        return
    ttl = job.get_result_ttl(worker.default_result_ttl)
    if ttl == 0:
        log.info('job %s result discarded immediately', job.id)
    elif ttl > 0:
        log.info('job %s result is kept for %s seconds', job.id, ttl)
    else:
        log.info('job %s result will never expire, clean up result key manually', job.id)


def log_repeat(worker: Any, job: Job, repeats_left: int) -> None:
    """A finished job put back to run again (``repeats_left``: before this repeat, as upstream RQ)."""
    worker.log.info('job %s scheduled to repeat (%s left)', job.id, repeats_left)


class AbandonedJobLogger:
    """Logs each abandoned job this worker fails or retries (a job whose worker stopped sending
    heartbeats). It is called as the first exception handler of that failure, so it sees the job
    before anything else; it never stops the chain."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def __call__(self, job: Job, exc_type: Any, exc_value: Any, tb: Any) -> None:
        try:
            self._log(job)
        except Exception:  # a log line must not keep the job from being recorded
            pass

    def _log(self, job: Job) -> None:
        retrying = job.should_retry
        level = logging.WARNING if retrying else logging.ERROR
        log = self.worker.log
        if not log.isEnabledFor(level):
            return
        started = job.started_at
        last_sign = job.last_heartbeat or now()
        ran = format_duration((last_sign - started).total_seconds()) if started is not None else 'an unknown time'
        fate = f'retried, {_retries_left((job.retries_left or 1) - 1)}' if retrying else 'failed'
        log.log(
            level,
            '%s: %s (%s): %s after %s; its worker %s stopped sending heartbeats; %s',
            styled(job.origin, 'queue'),
            styled('Job abandoned', 'warning' if retrying else 'failed'),
            job.id,
            styled(call_text(self.worker, job), 'job'),
            ran,
            job.worker_name or '(unknown)',
            fate,
        )


def log_closing(worker: Any, ending: str) -> None:
    """The worker's last line: how it ended, and what it did."""
    worker.log.info('%s; jobs: %d OK, %d failed', ending, worker.successful_job_count, worker.failed_job_count)

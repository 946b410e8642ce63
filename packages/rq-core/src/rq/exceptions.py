"""Every exception rq raises, under the names and module path RQ 2.x uses."""

from __future__ import annotations

__all__ = [
    'AbandonedJobError',
    'DependencyNotFoundError',
    'DequeueTimeout',
    'DeserializationError',
    'DuplicateJobError',
    'DuplicateSchedulerError',
    'InvalidJobDependency',
    'InvalidJobOperation',
    'InvalidJobOperationError',
    'JobFailedError',
    'MissingDistributionError',
    'NoSuchGroupError',
    'NoSuchJobError',
    'ReplicationTimeout',
    'SchedulerNotFound',
    'SerializationError',
    'ShutDownImminentException',
    'StopRequested',
    'TimeoutFormatError',
]


class NoSuchJobError(Exception):
    """Raised when a job id names no job hash in Redis."""


class NoSuchGroupError(Exception):
    """Raised when a group name names no group in Redis."""


class DeserializationError(Exception):
    """Raised when stored job data (payload, meta or result) cannot be decoded."""


class SerializationError(TypeError):
    """Raised when a job's function call or return value cannot be encoded with its serializer."""


class InvalidJobDependency(Exception):
    """Raised when a job is made to depend on itself or on something that is not a job."""


class DependencyNotFoundError(InvalidJobDependency):
    """Raised when an operation needs a dependency job that does not exist."""


class DuplicateJobError(Exception):
    """Raised when ``unique=True`` is asked for and a job with the same id already exists."""


class ReplicationTimeout(Exception):
    """Raised by an enqueue of a queue with ``replicas`` set (see :class:`rq.queue.Queue`) when fewer
    replicas than asked acknowledged the jobs' write within ``replica_timeout`` seconds.

    The jobs ARE written on the master (and queued, deferred or scheduled): they run unless the
    master fails before a replica holds them. Attributes: ``job_ids``, ``job_id`` (the first),
    ``acknowledged`` (how many replicas did), ``requested`` (how many were asked), ``timeout``,
    and ``jobs`` (the job objects, as the enqueue would have returned them; not pickled)."""

    def __init__(self, job_ids: list[str], acknowledged: int, requested: int, timeout: float) -> None:
        self.job_ids = list(job_ids)
        self.job_id = self.job_ids[0] if self.job_ids else ''
        self.acknowledged = acknowledged
        self.requested = requested
        self.timeout = timeout
        self.jobs: list[object] = []
        one = len(self.job_ids) == 1
        which = f'job {self.job_id} is' if one else f'{len(self.job_ids)} jobs ({self.job_id}, ...) are'
        it, ids, their = ('it', 'job_id', 'its id') if one else ('them', 'job_ids', 'their ids')
        super().__init__(
            f'{which} written on the master, but only {acknowledged} of the {requested} replicas asked for '
            f'acknowledged the write within {timeout:g} s: a failover before a replica holds {it} would lose '
            f'{it}. Enqueueing {it} again with the same {ids} writes {it} again and queues {their} once more '
            '(a job may then run twice); with unique=True the new attempt raises DuplicateJobError while '
            'the job exists.'
        )

    def __reduce__(self) -> tuple[type[ReplicationTimeout], tuple[list[str], int, int, float]]:
        return type(self), (self.job_ids, self.acknowledged, self.requested, self.timeout)


class InvalidJobOperationError(Exception):
    """Raised by older RQ APIs for an operation that the job's state does not allow (kept for imports)."""


class InvalidJobOperation(Exception):
    """Raised when an operation is not allowed in the job's current state (e.g. requeueing a queued job)."""


class JobFailedError(Exception):
    """Raised by the asyncio API's ``await job.result()`` when the job's final outcome is not a
    success: ``result`` is that outcome (a :class:`rq.results.Result`, failed or stopped), its
    traceback text in ``result.exc_string``."""

    def __init__(self, job_id: str, result: object, exc_string: str | None) -> None:
        super().__init__(f'Job {job_id} did not succeed:\n{exc_string or "(no traceback recorded)"}')
        self.job_id = job_id
        self.result = result


class DequeueTimeout(Exception):
    """Raised when a blocking dequeue times out without a job."""


class ShutDownImminentException(BaseException):
    """Raised inside a job when the platform is about to kill the process (Heroku's SIGRTMIN)."""

    def __init__(self, msg: str, extra_info: dict[str, object] | None = None) -> None:
        self.extra_info = extra_info or {}
        super().__init__(msg)


class TimeoutFormatError(Exception):
    """Raised when a timeout or TTL string is not an integer optionally followed by d, h, m or s."""


class AbandonedJobError(Exception):
    """Raised (and recorded) for a started job whose worker stopped sending heartbeats."""


class SchedulerNotFound(Exception):
    """Raised when a cron scheduler name is not registered in Redis."""


class DuplicateSchedulerError(Exception):
    """Raised when a cron scheduler registers under a name that is already alive."""


class StopRequested(Exception):
    """Raised to unwind a worker or scheduler loop after a shutdown request."""


class MissingDistributionError(ImportError):
    """Raised when a name lives in an rq distribution that is not installed (for example ``rq-worker``).

    The message ends with the command that installs it into this environment (none of the five is on
    PyPI under its name; see :mod:`rq._install_hint`)."""

    def __init__(self, name: str, distribution: str, installed: bool = False) -> None:
        # (imported when the error happens: it needs importlib.metadata, which takes ~10 ms to import
        # where redis-py has not imported it already, as versions before 8 do not)
        from ._install_hint import install_advice  # deferred: importlib.metadata, ~10 ms, only on this error

        self.distribution = distribution
        if installed:
            message = (
                f'{name} is provided by the {distribution!r} distribution, but the installed copy does not '
                f'define it (a version that does not match rq-core?); {install_advice(distribution)}'
            )
        else:
            message = (
                f'{name} is provided by the {distribution!r} distribution, which is not installed; '
                f'{install_advice(distribution)}'
            )
        super().__init__(message, name=name)

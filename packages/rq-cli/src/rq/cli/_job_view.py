"""What ``rq job`` and ``rq failed`` show of a job, read defensively: a payload that cannot be
decoded here (wrong serializer, a class missing in this environment) is shown as such."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rq._redis import worker_ops
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.results import Result

from ._config import CliConfig
from ._errors import CliError, UsageError
from ._job_prefix import job_namespace, resolve_job_id


def fetch_job(cli: CliConfig, given: str) -> Job:
    """The job whose id is ``given``, or starts with it (when no job has that exact id)."""
    job_id = resolve_job_id(cli.connection, job_namespace(cli.job_class), given)
    try:
        job = cli.job_class.fetch(job_id, connection=cli.connection, serializer=cli.serializer)
        job.func_name  # noqa: B018 - the call is decoded when read (as in RQ): a wrong --serializer fails here
        return job
    except NoSuchJobError:
        raise CliError(f'no such job: {job_id!r}') from None
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc), 'JOB_ID') from exc
    except DeserializationError as exc:
        raise CliError(f'cannot read job {job_id!r} (is --serializer right?): {exc}') from exc


def call_string(job: Job) -> str:
    try:
        return job.get_call_string() or '?'
    except DeserializationError as exc:
        return f'<cannot decode the call here: {exc}>'


def latest_result(job: Job) -> Result | None:
    try:
        return job.latest_result()
    except (DeserializationError, ValueError, TypeError):
        return None


def exception_line(traceback_text: str | None) -> str:
    """The last line of a traceback: the exception and its message."""
    lines = [line.strip() for line in (traceback_text or '').splitlines() if line.strip()]
    return lines[-1] if lines else ''


def status_of(job: Job) -> str:
    status = job.get_status(refresh=False)
    return status.value if status is not None else '?'


def timestamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def local_time(iso: str, milliseconds: bool = False) -> str:
    """An ISO timestamp as this machine's local time, ``2024-05-01 12:00:00`` (``.123`` with milliseconds)."""
    moment = datetime.fromisoformat(iso).astimezone()
    return moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3] if milliseconds else moment.strftime('%Y-%m-%d %H:%M:%S')


def _running_slot(job: Job) -> int | None:
    """The slot of the worker that runs the job, when it runs on a worker that runs many at once."""
    if status_of(job) != 'started':
        return None
    slots = worker_ops.execution_slots(job.connection, job.id)
    return max(slots.values()) if len(slots) == 1 else None


def job_document(job: Job, result: Result | None) -> dict[str, Any]:
    """Everything ``rq job --json`` prints (values that JSON cannot hold are given as their repr)."""
    document: dict[str, Any] = {
        'id': job.id,
        'status': status_of(job),
        'queue': job.origin,
        'call': call_string(job),
        'description': job.description,
        'created_at': timestamp(job.created_at),
        'enqueued_at': timestamp(job.enqueued_at),
        'started_at': timestamp(job.started_at),
        'ended_at': timestamp(job.ended_at),
        'worker_name': job.worker_name or None,
        'slot': _running_slot(job),
        'timeout': job.timeout,
        'result_ttl': job.result_ttl,
        'ttl': job.ttl,
        'failure_ttl': job.failure_ttl,
        'retries_left': job.retries_left,
        'dependency_ids': list(job._dependency_ids),  # as stored in the hash (the set goes once met)
        'meta': _safe_meta(job),
        'result': None,
    }
    if result is not None:
        document['result'] = {
            'type': result.type.name,
            'created_at': timestamp(result.created_at),
            'worker_name': result.worker_name or None,
            'return_value': result.return_value,
            'exc_string': result.exc_string,
        }
    return document


def _safe_meta(job: Job) -> Any:
    return job.meta if isinstance(job.meta, dict) else {}

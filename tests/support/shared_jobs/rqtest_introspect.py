"""Public attributes of a job as JSON-able data; runs under our rq and under upstream rq alike."""

from __future__ import annotations

from typing import Any


def _time(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def job_fields(job: Any) -> dict[str, Any]:
    return {
        'id': job.id,
        'func_name': job.func_name,
        'args': repr(job.args),
        'kwargs': repr(job.kwargs),
        'instance': repr(type(job.instance).__name__) if job.instance is not None else None,
        'description': job.description,
        'origin': job.origin,
        'status': str(job.get_status(refresh=False).value) if job.get_status(refresh=False) else None,
        'timeout': job.timeout,
        'result_ttl': job.result_ttl,
        'failure_ttl': job.failure_ttl,
        'ttl': job.ttl,
        'meta': repr(sorted(job.meta.items())),
        'created_at': _time(job.created_at),
        'enqueued_at': _time(job.enqueued_at),
        'started_at': _time(job.started_at),
        'ended_at': _time(job.ended_at),
        'worker_name': job.worker_name,
        'dependency_ids': sorted(job._dependency_ids),
        'allow_dependency_failures': job.allow_dependency_failures,
        'enqueue_at_front': job.enqueue_at_front,
        'retries_left': job.retries_left,
        'retry_intervals': job.retry_intervals,
        'repeats_left': job.repeats_left,
        'repeat_intervals': job.repeat_intervals,
        'success_callback': job._success_callback_name,
        'failure_callback': job._failure_callback_name,
        'stopped_callback': job._stopped_callback_name,
        'success_callback_timeout': job._success_callback_timeout,
        'group_id': job.group_id,
        'webhooks': [w.to_dict() for w in job.webhooks] if job.webhooks else None,
    }


def outcome_fields(job: Any) -> dict[str, Any]:
    """What a reader sees after a run: status, value, traceback tail, result types."""
    job.refresh()
    latest = job.latest_result()
    exc = job.exc_info
    return {
        'status': str(job.get_status().value),
        'return_value': repr(job.return_value()),
        'exc_tail': exc.strip().splitlines()[-1] if exc else None,
        'result_types': [r.type.value for r in job.results()],
        'latest_worker': latest.worker_name if latest is not None else None,
        'worker_name': job.worker_name,
    }


# -- whole-database views (same code under both implementations) ---------------------------------

#: Queues whose jobs use the JSON serializer in the interop tests; every other queue uses pickle.
JSON_QUEUES = ('jq',)
REGISTRIES = ('started', 'finished', 'failed', 'deferred', 'scheduled', 'canceled')


def job_ids(connection: Any) -> list[str]:
    """Ids of every job hash ``rq:job:<id>`` in the database (not the dependents/dependencies sets)."""
    found = []
    for key in connection.scan_iter(match='rq:job:*'):
        rest = key.decode()[len('rq:job:') :]
        if rest and ':' not in rest and connection.type(key) == b'hash':
            found.append(rest)
    return sorted(found)


def serializer_for_queue(name: str) -> Any:
    from rq.serializers import JSONSerializer

    return JSONSerializer if name in JSON_QUEUES else None


def fetch_job(connection: Any, job_id: str) -> Any:
    """``Job.fetch`` with the serializer of the job's origin queue."""
    from rq.job import Job

    origin = connection.hget(f'rq:job:{job_id}', 'origin')
    serializer = serializer_for_queue(origin.decode()) if origin else None
    return Job.fetch(job_id, connection=connection, serializer=serializer)


def all_job_fields(connection: Any) -> dict[str, dict[str, Any]]:
    return {job_id: job_fields(fetch_job(connection, job_id)) for job_id in job_ids(connection)}


def all_outcome_fields(connection: Any) -> dict[str, dict[str, Any]]:
    return {job_id: outcome_fields(fetch_job(connection, job_id)) for job_id in job_ids(connection)}


def queue_contents(connection: Any) -> dict[str, dict[str, list[str]]]:
    """For every queue in ``rq:queues``: the queued ids (``Queue.job_ids`` and the ids of ``Queue.jobs``)
    and each registry's ids, read without cleanup so that reading changes nothing."""
    from rq import Queue

    contents = {}
    for queue in Queue.all(connection=connection):
        queue = Queue(queue.name, connection=connection, serializer=serializer_for_queue(queue.name))
        view = {'queued': list(queue.job_ids), 'jobs': [job.id for job in queue.jobs]}
        for kind in REGISTRIES:
            registry = getattr(queue, f'{kind}_job_registry')
            view[kind] = registry.get_job_ids(cleanup=False)
        contents[queue.name] = view
    return contents


# -- comparing the two sides' answers (in the test process) -----------------------------------------


def as_json(value: Any) -> Any:
    """``value`` as it looks after a JSON round trip (what answers from the other interpreter went through)."""
    import json

    return json.loads(json.dumps(value))


def differences(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> list[str]:
    """``'<job>.<field>: ours ... upstream ...'`` for every job present on one side only and every field
    that differs, job by job (``ours`` is JSON-normalized first)."""
    ours = as_json(ours)
    problems = [f'{job_id}: only one side has it' for job_id in sorted(set(ours) ^ set(theirs))]
    for job_id in sorted(set(ours) & set(theirs)):
        for field in sorted(set(ours[job_id]) | set(theirs[job_id])):
            mine, other = ours[job_id].get(field), theirs[job_id].get(field)
            if mine != other:
                problems.append(f'{job_id}.{field}: ours {mine!r} upstream {other!r}')
    return problems


# -- job functions that need rq at run time (imported lazily, so either rq can run them) ------------


def wait_for_key(key: str, timeout: float = 30) -> str:
    """Block until the Redis key ``key`` exists (the test sets it), then return its value."""
    import time

    from rq import get_current_job

    job = get_current_job()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = job.connection.get(key)
        if value is not None:
            return value.decode()
        time.sleep(0.02)
    raise TimeoutError(f'{key} was not set within {timeout} s')


def retry_by_return(max_retries: int = 1, interval: int = 0) -> Any:
    """Ask for another run by returning ``Retry`` (RQ 2.1+), every time: the budget runs out."""
    from rq import Retry

    return Retry(max=max_retries, interval=interval)

"""Commands to workers, published on ``rq:pubsub:<worker_name>`` as JSON ``{"command": ...}``:
``shutdown``, ``kill-horse``, ``stop-job`` and rq 3.0's ``stop-execution``."""

from __future__ import annotations

import json
import logging
import os
import signal
from typing import TYPE_CHECKING, Any

from ._redis import keys
from .exceptions import InvalidJobOperation
from .executions import Execution
from .job import Job

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    'PUBSUB_CHANNEL_TEMPLATE',
    'handle_command',
    'handle_kill_worker_command',
    'handle_shutdown_command',
    'handle_stop_execution_command',
    'handle_stop_job_command',
    'parse_payload',
    'send_command',
    'send_kill_horse_command',
    'send_shutdown_command',
    'send_stop_execution_command',
    'send_stop_job_command',
]

PUBSUB_CHANNEL_TEMPLATE = keys.PUBSUB_PREFIX + '%s'

logger = logging.getLogger('rq.command')


def send_command(connection: Redis, worker_name: str, command: str, **kwargs: Any) -> int:
    """Publish ``command`` (with extra fields) to one worker; returns how many subscribers got it."""
    payload = {'command': command, **kwargs}
    return int(connection.publish(keys.pubsub_channel(worker_name), json.dumps(payload)))


def parse_payload(payload: dict[Any, Any]) -> dict[str, Any]:
    """Decode the ``data`` of a pub/sub message into the command dict."""
    data = payload['data']
    return json.loads(data.decode('utf-8') if isinstance(data, bytes) else data)  # type: ignore[no-any-return]


def send_shutdown_command(connection: Redis, worker_name: str) -> int:
    """Ask a worker for a warm shutdown (it finishes its current job first)."""
    return send_command(connection, worker_name, 'shutdown')


def send_kill_horse_command(connection: Redis, worker_name: str) -> int:
    """Ask a worker to kill its current work horse (the job fails)."""
    return send_command(connection, worker_name, 'kill-horse')


def send_stop_job_command(connection: Redis, job_id: str, serializer: Any = None) -> int:
    """Ask the worker running ``job_id`` to stop it (the job ends ``stopped``).

    Raises:
        NoSuchJobError: the job does not exist.
        InvalidJobOperation: the job is not being executed by a worker.
    """
    job = Job.fetch(job_id, connection=connection, serializer=serializer)
    if not job.worker_name:
        raise InvalidJobOperation('Job is not currently executing')
    return send_command(connection, job.worker_name, 'stop-job', job_id=job_id)


def send_stop_execution_command(connection: Redis, job_id: str, execution_id: str) -> int:
    """Ask the worker running execution ``execution_id`` of ``job_id`` to stop it (the job ends
    ``stopped``), as rq 3.0 does; the worker is the one the execution names.

    Raises:
        InvalidJobOperation: no such execution is running.
    """
    try:
        execution = Execution.fetch(execution_id, job_id, connection)
    except ValueError:
        raise InvalidJobOperation('Execution is not running') from None
    return send_command(connection, execution.worker_name, 'stop-execution', job_id=job_id, execution_id=execution_id)


# -- the worker side ----------------------------------------------------------------------
# ``worker`` is any worker object: these use ``get_current_job_id()``, ``horse_pid``,
# ``kill_horse()``, ``_stopped_job_id`` and, when present, ``log``.


def _log(worker: Any) -> logging.Logger:
    log = getattr(worker, 'log', None)
    return log if isinstance(log, logging.Logger) else logger


def handle_command(worker: Any, payload: dict[str, Any]) -> None:
    """Run a parsed command (see :func:`parse_payload`) on ``worker``; unknown commands are ignored."""
    command = payload.get('command')
    if command == 'stop-job':
        handle_stop_job_command(worker, payload)
    elif command == 'stop-execution':
        handle_stop_execution_command(worker, payload)
    elif command == 'shutdown':
        handle_shutdown_command(worker)
    elif command == 'kill-horse':
        handle_kill_worker_command(worker, payload)
    else:
        _log(worker).warning('Ignoring unknown command %r', command)


def handle_shutdown_command(worker: Any) -> None:
    """Warm shutdown: the worker sends itself SIGINT (its current job finishes first)."""
    _log(worker).info('Received shutdown command, sending SIGINT signal.')
    os.kill(os.getpid(), signal.SIGINT)


def handle_kill_worker_command(worker: Any, payload: dict[str, Any]) -> None:
    """Kill the worker's work horse, if one is running (its job then fails)."""
    if getattr(worker, 'horse_pid', None):
        _log(worker).info('Received kill horse command, killing horse %s.', worker.horse_pid)
        worker.kill_horse()
    else:
        _log(worker).info('Received kill horse command, but no horse is running: ignored.')


def handle_stop_job_command(worker: Any, payload: dict[str, Any]) -> None:
    """Stop the job if it is the one the worker is running: the job ends ``stopped``, not retried."""
    job_id = payload.get('job_id')
    request = getattr(worker, 'request_stop_job', None)
    if callable(request):  # (a worker that runs several jobs at once finds the one named)
        request(job_id)
        return
    if job_id and worker.get_current_job_id() == job_id:
        _log(worker).info('Received command to stop job %s: stopping it.', job_id)
        worker._stopped_job_id = job_id
        worker.kill_horse()
    else:
        _log(worker).warning('Not working on job %s, command ignored.', job_id)  # (rq 3.0's words and level)


def handle_stop_execution_command(worker: Any, payload: dict[str, Any]) -> None:
    """Stop the execution the payload names if the worker is running it (its job ends ``stopped``,
    as with stop-job): the worker's ``request_stop_execution(execution_id)`` when it has one, else
    a comparison with its ``execution``."""
    job_id = payload.get('job_id', '')
    execution_id = payload.get('execution_id', '')
    request = getattr(worker, 'request_stop_execution', None)
    if callable(request):
        request(execution_id)
        return
    execution = getattr(worker, 'execution', None)
    if execution_id and execution is not None and execution.id == execution_id:
        _log(worker).info('Received command to stop execution %s of job %s: stopping it.', execution_id, job_id)
        worker._stopped_job_id = execution.job_id
        worker.kill_horse()
    else:
        _log(worker).warning('Not running execution %s, command ignored.', execution_id)

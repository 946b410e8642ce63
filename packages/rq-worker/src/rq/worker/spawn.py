"""``SpawnWorker``: runs each job in a freshly started interpreter instead of a fork (for platforms
or programs where fork is unsafe). The new process gets the claimed job and the worker's settings
on its stdin, runs the job like a forked horse, and sends the result back over a pipe. Its stdin
stays open while it runs: should the worker die, the horse sees its end and kills itself."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from redis.sentinel import Sentinel, SentinelConnectionPool

from rq._redis import codec
from rq.executions import Execution
from rq.trust import current_policy, use_policy

from . import protocol
from .forking import EXIT_REPORT_SECONDS, Worker, poll_child, wait_child
from .job_log import log_start
from .run import run_job

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

BOOTSTRAP = 'from rq.worker.spawn import horse_entry; horse_entry()'
_HOOKED_BOOTSTRAP = 'from rq.worker.spawn import hooked_horse_entry; hooked_horse_entry()'


class SpawnWorker(Worker):
    def execute_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> None:
        if self.takes_hook_path(job):
            self._execute_with_hooks(job, queue)
            return
        execution = execution or self.prepare_execution(job)
        log_start(self, job, queue)
        read_fd, write_fd = os.pipe()
        process = spawn(BOOTSTRAP, horse_spec(self, job, queue, write_fd), write_fd)
        self._horse_pid = process.pid
        try:
            result, stopped = self._monitor(job, queue, execution, process.pid, read_fd, wait_child, poll_child)
        finally:
            os.close(read_fd)
            close_stdin(process)
            self._horse_pid = 0
        self.record(job, queue, execution, result, stopped=stopped)

    # -- the hook path: the spawned horse rebuilds this worker and runs main_work_horse --------

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Start the work horse: a fresh interpreter that rebuilds this worker (its class, imported
        by reference, with its settings) and runs :meth:`main_work_horse`, as upstream's
        SpawnWorker does. A class the new interpreter could not import (defined in a function, say)
        gets a forked horse instead."""
        try:
            worker_class = pickle.dumps(type(self))
        except Exception as exc:
            self.log.warning('worker class %s cannot be imported by a spawned horse (%s); forking', type(self), exc)
            super().fork_work_horse(job, queue)
            return
        read_fd, write_fd = os.pipe()  # (its end tells the worker that the horse is gone)
        process = spawn(_HOOKED_BOOTSTRAP, self._hooked_horse_spec(job, queue, worker_class), write_fd)
        self._spawned: subprocess.Popen[bytes] | None = process
        self._horse_pid = process.pid
        self._horse_pipe = read_fd
        self.procline(f'Spawned {process.pid} at {time.time()}')

    def monitor_work_horse(self, job: Job, queue: Queue) -> None:
        try:
            super().monitor_work_horse(job, queue)
        finally:
            process: subprocess.Popen[bytes] | None = getattr(self, '_spawned', None)
            self._spawned = None
            if process is not None and process.stdin is not None:
                try:
                    process.stdin.close()
                except BrokenPipeError:
                    pass

    def _hooked_horse_spec(self, job: Job, queue: Queue, worker_class: bytes) -> bytes:
        execution = self.prepare_execution(job)
        settings = {
            'queues': self.queue_names(),
            'name': self.name,
            'default_result_ttl': self.default_result_ttl,
            'worker_ttl': self.worker_ttl,
            'maintenance_interval': self.maintenance_interval,
            'job_monitoring_interval': self.job_monitoring_interval,
            'log_job_description': self.log_job_description,
            'disable_default_exception_handler': self.disable_default_exception_handler,
            'exception_handlers': picklable_handlers(self),
            'job_class': self.job_class,
            'queue_class': self.queue_class,
            'serializer': self.serializer,
        }
        return (
            pickle.dumps(list(sys.path))
            + worker_class
            + pickle.dumps(
                {
                    **connection_spec(self.connection),
                    'settings': settings,
                    'job_id': job.id,
                    'trust_policy': self.trust_policy,
                    'queue_name': queue.name,
                    'execution_id': execution.id,
                    'execution_created_at': execution.created_at,
                }
            )
        )


def picklable_handlers(worker: Any) -> list[Any]:
    """The worker's exception handlers that a spawned horse can import (the others are skipped,
    with a warning)."""
    handlers = []
    for handler in worker._exc_handlers:
        try:
            pickle.dumps(handler)
            handlers.append(handler)
        except Exception:
            worker.log.warning('exception handler %r cannot be sent to a spawned horse; skipped', handler)
    return handlers


def connection_spec(connection: Any) -> dict[str, Any]:
    """How a spawned horse connects as ``connection`` does: its pool's settings (a Sentinel-managed
    pool: the sentinels' addresses and the service, which the horse asks for the master again)."""
    pool = connection.connection_pool
    spec = {
        'client_class': type(connection),
        'pool_class': type(pool),
        'connection_class': pool.connection_class,
        'connection_kwargs': {k: v for k, v in pool.connection_kwargs.items() if _plain(v)},
    }
    if isinstance(pool, SentinelConnectionPool):
        manager = pool.sentinel_manager
        addresses = [
            (sentinel.connection_pool.connection_kwargs['host'], sentinel.connection_pool.connection_kwargs['port'])
            for sentinel in manager.sentinels
        ]
        plain = {k: v for k, v in manager.sentinel_kwargs.items() if _plain(v)}
        spec['sentinel'] = {'service_name': pool.service_name, 'addresses': addresses, 'sentinel_kwargs': plain}
    return spec


def horse_spec(worker: Any, job: Job, queue: Queue, write_fd: int) -> bytes:
    """What a spawned horse reads on its stdin (see :func:`horse_entry`): the job, the connection
    settings, the timeout rules, the exception handlers."""
    mapping = {key: value for key, value in job.to_dict(include_result=False).items()}
    return pickle.dumps(list(sys.path)) + pickle.dumps(
        {
            'job_id': job.id,
            'job_class': type(job),
            'mapping': mapping,
            'serializer': job.serializer,
            **connection_spec(worker.connection),
            'death_penalty_class': worker.death_penalty_class,
            'exception_handlers': picklable_handlers(worker),
            'default_timeout': queue.DEFAULT_TIMEOUT,
            'worker_name': worker.name,
            'result_fd': write_fd,
            'trust_policy': current_policy(),
        }
    )


def close_stdin(process: subprocess.Popen[bytes]) -> None:
    """Reap the horse, then close its stdin (its end while the horse runs means the worker died)."""
    _reap(process)
    try:
        if process.stdin is not None:
            process.stdin.close()
    except BrokenPipeError:
        pass


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for the horse (it exits right after sending its result), so that it leaves no zombie;
    one that lingers is killed, with its process group."""
    try:
        process.wait(timeout=EXIT_REPORT_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()


def _plain(value: Any) -> bool:
    """A connection setting that means the same in another process: plain data only. (redis-py
    keeps objects there too, such as sentinels that mean "unset", per-pool handlers and retry
    policies: a copy of those means something else, or nothing; the horse uses the defaults.)"""
    if value is None or isinstance(value, (str, bytes, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def horse_entry() -> None:
    """The spawned horse: rebuild the job from stdin, run it, send the result, exit."""
    stream = sys.stdin.buffer
    sys.path[:] = pickle.load(stream)  # import what the worker can import, before the rest
    spec = pickle.load(stream)
    threading.Thread(target=_die_with_worker, args=(stream,), name='rq-worker-watch', daemon=True).start()
    use_policy(spec['trust_policy'])
    connection = _connect(spec)
    job = spec['job_class'](spec['job_id'], connection=connection, serializer=spec['serializer'])
    raw = {key.encode(): _as_bytes(value) for key, value in spec['mapping'].items()}
    job.restore(raw)
    _prepare(spec['worker_name'], job)
    result = run_job(job, spec['death_penalty_class'], spec['exception_handlers'], spec['default_timeout'])
    protocol.send(spec['result_fd'], result)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def hooked_horse_entry() -> None:
    """The spawned horse of a worker class with upstream's hooks overridden: rebuild the worker and
    its job from stdin, then ``worker.main_work_horse(job, queue)`` (which exits)."""
    stream = sys.stdin.buffer
    sys.path[:] = pickle.load(stream)
    worker_class = pickle.load(stream)
    spec = pickle.load(stream)
    threading.Thread(target=_die_with_worker, args=(stream,), name='rq-worker-watch', daemon=True).start()
    connection = _connect(spec)
    worker = worker_class(connection=connection, prepare_for_work=False, **spec['settings'])
    use_policy(spec['trust_policy'])
    queue = next(q for q in worker.queues if q.name == spec['queue_name'])
    job = queue.job_class.fetch(spec['job_id'], connection=connection, serializer=queue.serializer)
    execution = Execution(spec['execution_id'], job.id, connection, worker_name=worker.name)
    execution.created_at = execution.last_heartbeat = spec['execution_created_at']
    job._execution = worker.execution = execution
    worker._current_claim = (queue.name, job.id, execution.id)
    worker._horse_environment(job)
    worker.main_work_horse(job, queue)
    os._exit(0)  # (main_work_horse exits; an override that returns ends here)


def _connect(spec: dict[str, Any]) -> Any:
    sentinel = spec.get('sentinel')
    if sentinel is not None:
        manager = Sentinel(sentinel['addresses'], sentinel_kwargs=sentinel['sentinel_kwargs'])
        return manager.master_for(
            sentinel['service_name'], redis_class=spec['client_class'], **spec['connection_kwargs']
        )
    pool = spec['pool_class'](connection_class=spec['connection_class'], **spec['connection_kwargs'])
    return spec['client_class'](connection_pool=pool)


def _die_with_worker(stream: Any) -> None:
    """The worker keeps the horse's stdin open until the job is over and the horse has exited:
    its end of file while the horse runs means that the worker died. The horse then kills itself
    and what it started (its process group), as a forked horse's factory would, so that no job
    keeps running unwatched while another worker fails or retries it as abandoned."""
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())  # signals are the job's thread's
    try:
        while stream.read(1 << 16):
            pass
    except Exception:
        pass
    os.killpg(0, signal.SIGKILL)


def _prepare(worker_name: str, job: Job) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ['RQ_WORKER_ID'] = worker_name
    os.environ['RQ_JOB_ID'] = job.id


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return codec.text(str(value)).encode('utf-8')


def spawn(bootstrap: str, spec: bytes, write_fd: int) -> subprocess.Popen[bytes]:
    """Start a horse: a new interpreter running ``bootstrap``, which reads ``spec`` from its stdin
    and writes to ``write_fd`` (closed here, the horse holds it). Its stdin is kept open: its end
    tells the horse that the worker is gone."""
    process = subprocess.Popen(
        [sys.executable, '-c', bootstrap], stdin=subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True
    )
    os.close(write_fd)
    assert process.stdin is not None
    try:
        process.stdin.write(spec)
        process.stdin.flush()
    except BrokenPipeError:
        pass
    return process

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
from typing import TYPE_CHECKING, Any

from rq._redis import codec

from . import protocol
from .forking import EXIT_REPORT_SECONDS, Worker, poll_child, wait_child
from .job_log import log_start
from .run import run_job

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue

_BOOTSTRAP = 'from rq.worker.spawn import horse_entry; horse_entry()'


class SpawnWorker(Worker):
    def execute_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> None:
        if self.uses_hooks:
            self._execute_with_hooks(job, queue)
            return
        execution = execution or self.prepare_execution(job)
        log_start(self, job, queue)
        read_fd, write_fd = os.pipe()
        spec = self._horse_spec(job, queue, write_fd)
        process = subprocess.Popen(
            [sys.executable, '-c', _BOOTSTRAP],
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
        os.close(write_fd)
        assert process.stdin is not None
        try:
            process.stdin.write(spec)
            process.stdin.flush()  # and kept open: its end tells the horse that the worker is gone
        except BrokenPipeError:
            pass
        self._horse_pid = process.pid
        try:
            result, stopped = self._monitor(job, queue, execution, process.pid, read_fd, wait_child, poll_child)
        finally:
            os.close(read_fd)
            _reap(process)
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
            self._horse_pid = 0
        self.record(job, queue, execution, result, stopped=stopped)

    def _horse_spec(self, job: Job, queue: Queue, write_fd: int) -> bytes:
        pool = self.connection.connection_pool
        handlers = []
        for handler in self._exc_handlers:
            try:
                pickle.dumps(handler)
                handlers.append(handler)
            except Exception:
                self.log.warning('exception handler %r cannot be sent to a spawned horse; skipped', handler)
        mapping = {key: value for key, value in job.to_dict(include_result=False).items()}
        return pickle.dumps(list(sys.path)) + pickle.dumps(
            {
                'job_id': job.id,
                'job_class': type(job),
                'mapping': mapping,
                'serializer': job.serializer,
                'client_class': type(self.connection),
                'pool_class': type(pool),
                'connection_class': pool.connection_class,
                'connection_kwargs': {k: v for k, v in pool.connection_kwargs.items() if _plain(v)},
                'death_penalty_class': self.death_penalty_class,
                'exception_handlers': handlers,
                'default_timeout': queue.DEFAULT_TIMEOUT,
                'worker_name': self.name,
                'result_fd': write_fd,
            }
        )


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
    pool = spec['pool_class'](connection_class=spec['connection_class'], **spec['connection_kwargs'])
    connection = spec['client_class'](connection_pool=pool)
    job = spec['job_class'](spec['job_id'], connection=connection, serializer=spec['serializer'])
    raw = {key.encode(): _as_bytes(value) for key, value in spec['mapping'].items()}
    job.restore(raw)
    _prepare(spec['worker_name'], job)
    result = run_job(job, spec['death_penalty_class'], spec['exception_handlers'], spec['default_timeout'])
    protocol.send(spec['result_fd'], result)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


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

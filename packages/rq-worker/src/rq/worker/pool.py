"""``WorkerPool``: several worker processes serving the same queues, respawned when they die.

The pool itself has no Redis presence; its workers do. SIGINT or SIGTERM stops the pool: each
worker gets SIGINT (a warm shutdown: it finishes its job) and the pool waits for all of them. Every
further signal is passed on too, so a second Ctrl-C (more than a second later) is a cold shutdown
of the workers, as for a single worker.

Workers are forked with SIGINT and SIGTERM blocked; a worker unblocks them once its own handlers
are installed (see :mod:`rq.worker.signals`), so a stop request that arrives while a worker starts
is never lost nor handled half-way.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
import uuid
from enum import IntEnum
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, NamedTuple

from rq._redis.pool import pool_settings
from rq.job import Job
from rq.logutils import setup_loghandlers
from rq.queue import Queue
from rq.serializers import DefaultSerializer

from .concurrent import REPLACE_EXIT_CODE
from .forking import Worker
from .signals import ShutdownHandling

logger = logging.getLogger('rq.worker_pool')

_FORK = multiprocessing.get_context('fork')
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
RESPAWN_INTERVAL = 1.0


class WorkerData(NamedTuple):
    """A worker process of the pool: its name, pid and process."""

    name: str
    pid: int
    process: BaseProcess


class WorkerPool:
    class Status(IntEnum):
        IDLE = 1
        STARTED = 2
        STOPPED = 3

    def __init__(
        self,
        queues: Any,
        connection: Any,
        num_workers: int = 1,
        worker_class: type[Any] = Worker,
        serializer: Any = DefaultSerializer,
        job_class: type[Job] = Job,
        queue_class: type[Queue] = Queue,
        exception_handlers: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if num_workers < 1:
            raise ValueError('num_workers must be at least 1')
        names = [queues] if isinstance(queues, (str, Queue)) else list(queues)
        self._queue_names = [q.name if isinstance(q, Queue) else q for q in names]
        self.connection = connection
        self.num_workers = num_workers
        self.worker_class = worker_class
        self.serializer = serializer
        self.job_class = job_class
        self.queue_class = queue_class
        self.exception_handlers = exception_handlers
        self.worker_kwargs = kwargs
        self.status = self.Status.IDLE
        self.worker_dict: dict[str, WorkerData] = {}
        self._burst = False
        self._logging_level: str | int = 'INFO'
        self._stop_requested = False
        self._to_replace = 0  # workers that exited to be replaced, not replaced yet

    @property
    def queues(self) -> list[Queue]:
        """The pool's queues, as Queue objects."""
        return [self.queue_class(name, connection=self.connection) for name in self._queue_names]

    @property
    def number_of_active_workers(self) -> int:
        return len(self.worker_dict)

    def all_workers_have_stopped(self) -> bool:
        """Reap the workers that exited; True when none is left."""
        self.reap_workers()
        return self.number_of_active_workers == 0

    @property
    def _pool_kwargs(self) -> dict[str, Any]:
        return pool_settings(self.connection.connection_pool)

    # -- workers ----------------------------------------------------------------------------

    def get_worker_process(self, name: str, burst: bool, _sleep: float = 0, logging_level: str | int = 'INFO') -> Any:
        return _FORK.Process(
            target=run_worker,
            args=(
                name,
                self._queue_names,
                type(self.connection),
                type(self.connection.connection_pool),
                self._pool_kwargs,
            ),
            kwargs={
                'worker_class': self.worker_class,
                'serializer': self.serializer,
                'job_class': self.job_class,
                'queue_class': self.queue_class,
                'exception_handlers': self.exception_handlers,
                'burst': burst,
                'logging_level': logging_level,
                'sleep': _sleep,
                'worker_kwargs': self.worker_kwargs,
            },
            name=f'Worker {name} (WorkerPool)',
        )

    def start_worker(
        self, count: int | None = None, burst: bool = True, _sleep: float = 0, logging_level: str | int = 'INFO'
    ) -> None:
        name = uuid.uuid4().hex
        process = self.get_worker_process(name, burst=burst, _sleep=_sleep, logging_level=logging_level)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)  # the child starts with them blocked
        try:
            process.start()
            self.worker_dict[name] = WorkerData(name, process.pid or 0, process)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        logger.debug('Worker pool: started worker %s (pid %s)', name, process.pid)
        if self.status == self.Status.STOPPED:  # a stop request came in while it was being started
            self.stop_worker(process)

    def start_workers(self, burst: bool = True, _sleep: float = 0, logging_level: str | int = 'INFO') -> None:
        for _ in range(self.num_workers - len(self.worker_dict)):
            self.start_worker(burst=burst, _sleep=_sleep, logging_level=logging_level)

    def reap_workers(self) -> None:
        for data in list(self.worker_dict.values()):
            if not data.process.is_alive():
                self.handle_dead_worker(data)

    def handle_dead_worker(self, worker_data: WorkerData) -> None:
        """A worker process exited: forget it (``check_workers`` starts another; in burst mode, only
        in place of one that stopped to be replaced)."""
        logger.info('Worker pool: worker %s exited with code %s', worker_data.name, worker_data.process.exitcode)
        self.worker_dict.pop(worker_data.name, None)
        if worker_data.process.exitcode == REPLACE_EXIT_CODE and self.status == self.Status.STARTED:
            self._to_replace += 1

    def check_workers(self, respawn: bool = True) -> None:
        self.reap_workers()
        if respawn and not self._burst and self.status == self.Status.STARTED:
            self.start_workers(burst=False, logging_level=self._logging_level)

    def stop_worker(self, worker_data: Any, sig: int = signal.SIGINT) -> None:
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(worker_data.pid, sig)

    def stop_workers(self) -> None:
        for process in self.worker_dict.values():
            self.stop_worker(process)

    # -- running ----------------------------------------------------------------------------

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop the workers: the first request is a warm shutdown; the workers treat a repeated one,
        more than a second later, as a cold shutdown."""
        if self.status != self.Status.STOPPED:
            logger.info('Worker pool: stopping (signal %s); warm shutdown of %d workers', signum, len(self.worker_dict))
        else:
            logger.info('Worker pool: signal %s again; passing it on to %d workers', signum, len(self.worker_dict))
        self.status = self.Status.STOPPED
        self.stop_workers()

    def start(self, burst: bool = False, logging_level: str | int = 'INFO') -> None:
        setup_loghandlers(logging_level, name='rq')
        self._burst = burst
        self._logging_level = logging_level
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        self.status = self.Status.STARTED
        try:
            self.start_workers(burst=burst, logging_level=logging_level)
            last_spawn = time.monotonic()
            while self.worker_dict:
                sentinels = [data.process.sentinel for data in self.worker_dict.values()]
                multiprocessing.connection.wait(sentinels, timeout=1.0)  # returns as soon as one exits
                self.reap_workers()
                replace, self._to_replace = self._to_replace, 0
                if burst and self.status == self.Status.STARTED:
                    for _ in range(replace):
                        self.start_worker(burst=True, logging_level=logging_level)
                if burst or self.status != self.Status.STARTED or len(self.worker_dict) >= self.num_workers:
                    continue
                pause = last_spawn + RESPAWN_INTERVAL - time.monotonic()
                if pause > 0:  # a worker that dies at once is not restarted in a tight loop
                    time.sleep(pause)
                self.check_workers(respawn=True)
                last_spawn = time.monotonic()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.status = self.Status.STOPPED
        logger.info('Worker pool: all workers stopped, exiting')


def run_worker(
    name: str,
    queue_names: list[str],
    client_class: Any,
    pool_class: Any,
    pool_kwargs: dict[str, Any],
    worker_class: Any = Worker,
    serializer: Any = DefaultSerializer,
    job_class: Any = Job,
    queue_class: Any = Queue,
    exception_handlers: Any = None,
    burst: bool = True,
    logging_level: str | int = 'INFO',
    sleep: float = 0,
    worker_kwargs: dict[str, Any] | None = None,
) -> None:
    """In a pool's child process: a fresh connection (never the parent's sockets), then work.

    SIGINT and SIGTERM arrive blocked (see :meth:`WorkerPool.start_worker`); the worker unblocks
    them once its handlers are in place. Until then the defaults apply (not the pool's handlers).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    connection = client_class(connection_pool=pool_class(**pool_kwargs))
    queues = [queue_class(n, connection=connection, job_class=job_class, serializer=serializer) for n in queue_names]
    worker = worker_class(
        queues,
        name=name,
        connection=connection,
        serializer=serializer,
        job_class=job_class,
        queue_class=queue_class,
        exception_handlers=exception_handlers,
        **(worker_kwargs or {}),
    )
    if isinstance(worker, ShutdownHandling):
        # What the worker's teardown restores: the stop signal comes twice (the terminal's and the
        # pool's), and a late duplicate must not interrupt the exit. (A handler, not SIG_IGN, which
        # would discard one that is pending while blocked.)
        for signum in _STOP_SIGNALS:
            signal.signal(signum, _ignore_late_stop_signal)
        worker.unblock_stop_signals = True  # once its handlers are installed
    else:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if sleep:
        time.sleep(sleep)
    worker.work(burst=burst, with_scheduler=True, logging_level=logging_level)
    if getattr(worker, 'replacement_reason', None):
        sys.exit(REPLACE_EXIT_CODE)  # (the pool starts another, in burst mode too)


def _ignore_late_stop_signal(signum: int, frame: FrameType | None) -> None:
    """A pool child's stop signal after its worker has stopped: nothing left to stop."""

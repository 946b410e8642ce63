"""The horse factory: a process forked once from the worker, which forks one work horse per job.
This module is the worker's side; :mod:`rq.worker.factory_process` is the factory's.

Why: after every ``fork()``, each page the forking process writes to takes a copy-on-write fault.
A worker that forks its horses itself pays hundreds of those faults per job in its own Redis and
bookkeeping code. The factory does almost nothing between forks, so the faults disappear from the
worker, and it keeps a horse forked ahead, so ``fork()`` happens while the previous job runs.
Every job still runs in a fresh process, forked from a copy of the worker, never one that ran
another job.

Channels:

- worker -> factory, a pipe of frames: ``T`` (a spare was taken: fork another), ``I`` (a module to
  import, so later horses start with it; the spares forked before are dropped), end of file
  (stop: the factory kills the horses it has and exits; also what happens if the worker dies);
- factory -> worker, a SOCK_SEQPACKET socket: ``S`` (a spare horse: pid and generation, with the
  write end of its job pipe and the read end of its result pipe attached), ``X`` (a horse exited:
  pid, wait status, peak memory).

The worker writes a job (queue name, job id, raw job hash) straight to a spare's job pipe and
closes it; the horse runs it (see :mod:`rq.worker.run`), writes the result on its result pipe
(see :mod:`rq.worker.protocol`) and exits. A spare whose job pipe is closed unused exits.
"""

from __future__ import annotations

import collections
import marshal
import os
import select
import signal
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .factory_process import EVENT_EXIT, EVENT_SPARE, FRAME, factory_main

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

Spare = tuple[int, int, int]  # pid, job pipe (write end), result pipe (read end)


@dataclass
class HorseExit:
    pid: int
    wait_status: int
    max_rss_kb: int

    @property
    def ru_maxrss(self) -> int:
        """Peak memory (kB), under the name of ``resource.struct_rusage`` (what upstream's
        ``work_horse_killed_handler`` gets as its fourth argument)."""
        return self.max_rss_kb


class FactoryDied(Exception):
    """The factory process is gone; the worker starts a new one."""


class HorseFactory:
    """The worker's side of the factory."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.pid = 0
        self._commands = -1
        self._events: socket.socket | None = None
        self._imported: set[str] = set()
        self._distrusted: set[str] = set()
        self._generation = 0  # modules the factory was asked to import: older spares are stale
        self._spares: collections.deque[Spare] = collections.deque()
        self.exits: dict[int, HorseExit] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._drop_spares()  # (a new factory must not inherit them: their job pipes would never end)
        command_read, command_write = os.pipe()
        worker_end, factory_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            os.close(command_write)
            worker_end.close()
            factory_main(self.worker, command_read, factory_end)
        os.close(command_read)
        factory_end.close()
        self.pid, self._commands, self._events = pid, command_write, worker_end
        self._imported = set()
        self._generation = 0
        self.exits.clear()

    @property
    def running(self) -> bool:
        return self.pid != 0

    def stop(self) -> None:
        if not self.running:
            return
        self._drop_spares()
        try:
            os.close(self._commands)
        except OSError:
            pass
        if self._events is not None:
            self._events.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pid, self._events = 0, None

    def _died(self) -> FactoryDied:
        self.worker.log.warning('Worker %s: its horse factory died; starting a new one', self.worker.name)
        self._drop_spares()
        try:
            os.close(self._commands)
        except OSError:
            pass
        if self._events is not None:
            self._events.close()
        _reap(self.pid)
        self.pid, self._events = 0, None
        return FactoryDied()

    # -- commands ---------------------------------------------------------------------------

    def _send(self, kind: bytes, payload: bytes = b'') -> None:
        data = memoryview(FRAME.pack(kind, len(payload)) + payload)
        try:
            while data:
                data = data[os.write(self._commands, data) :]
        except OSError:
            raise self._died() from None

    def preload(self, job: Job) -> None:
        """Have the factory import the job's module, once, so later horses start with it."""
        if not self.running:
            self.start()
        module = _module_of(job)
        if module and module not in self._imported and module not in self._distrusted:
            self._imported.add(module)
            self._send(b'I', module.encode('utf-8'))
            self._generation += 1
            self._drop_spares()  # forked before the import

    def distrust(self, job: Job) -> None:
        """Never preload the job's module again (the factory died after being asked to): a module
        that kills its importer then only kills the horses that run its jobs."""
        module = _module_of(job)
        if module:
            self._distrusted.add(module)

    def dispatch(self, job: Job, queue: Queue, raw: dict[bytes, bytes]) -> tuple[int, int]:
        """Hand the job to a spare horse; returns the horse's pid and the read end of its result
        pipe. A spare that died before its job is passed over."""
        if not self.running:
            self.start()
        message = marshal.dumps((queue.name, job.id, raw))
        while True:
            pid, job_fd, result_fd = self._take_spare()
            try:
                view = memoryview(message)
                while view:
                    view = view[os.write(job_fd, view) :]
            except OSError:
                os.close(result_fd)
                continue
            finally:
                os.close(job_fd)
                self._send(b'T')  # (after the job: the horse starts before the factory forks the next)
            return pid, result_fd

    def _take_spare(self) -> Spare:
        self._read_events()
        while not self._spares:
            self._next_event(block=True)
        return self._spares.popleft()

    def _drop_spares(self) -> None:
        """Close the pipes of the spares held: each one reads the end of its job pipe and exits."""
        while self._spares:
            _, job_fd, result_fd = self._spares.popleft()
            os.close(job_fd)
            os.close(result_fd)

    # -- events -----------------------------------------------------------------------------

    def _next_event(self, block: bool) -> bool:
        """Read one event; False when none was there (only without ``block``)."""
        assert self._events is not None
        self._events.setblocking(block)
        try:
            data, fds, _, _ = socket.recv_fds(self._events, 64, 2)
        except BlockingIOError:
            return False
        except OSError:
            raise self._died() from None
        if not data:
            raise self._died()
        if data[:1] == b'S':
            _, pid, generation = EVENT_SPARE.unpack(data)
            job_fd, result_fd = fds
            if generation == self._generation:
                self._spares.append((pid, job_fd, result_fd))
            else:  # forked before the latest import
                os.close(job_fd)
                os.close(result_fd)
            return True
        _, pid, status, rss = EVENT_EXIT.unpack(data)
        self.exits[pid] = HorseExit(pid, status, rss)
        return True

    def _read_events(self) -> None:
        """Read the events that have arrived, without waiting."""
        while self._events is not None and self._next_event(block=False):
            pass

    def wait_exit(self, pid: int, timeout: float) -> HorseExit | None:
        """The exit report of horse ``pid`` (waiting up to ``timeout`` seconds for it); None when
        it does not come (the factory died: the next job starts a new one)."""
        try:
            while pid not in self.exits:
                if self._events is None:
                    return None
                ready, _, _ = select.select([self._events], [], [], timeout)
                if not ready:
                    return None
                self._next_event(block=True)
        except FactoryDied:
            return None
        return self.exits.pop(pid)

    def poll_exit(self, pid: int) -> HorseExit | None:
        """The exit report of horse ``pid`` if it has arrived (without waiting)."""
        try:
            self._read_events()
        except FactoryDied:
            pass
        return self.exits.pop(pid, None)

    def collect_exits(self) -> None:
        """Read the events that arrived (so exit reports do not pile up)."""
        self._read_events()
        self.exits.clear()


def _reap(pid: int, patience: float = 2.0) -> None:
    """Wait for a factory that is dying (or dead), killing it if it takes longer than ``patience``
    seconds, so that it never stays behind as a zombie of the worker."""
    deadline = time.monotonic() + patience
    try:
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass


def _module_of(job: Job) -> str | None:
    """The module to preload for ``job``, from its function's dotted name. The worker never
    imports job code itself: a module that crashes its importer must not take the worker down."""
    try:
        func_name = job.func_name
    except Exception:
        return None
    if not isinstance(func_name, str) or '.' not in func_name:
        return None
    module = func_name.rsplit('.', 1)[0]
    return None if module == '__main__' else module

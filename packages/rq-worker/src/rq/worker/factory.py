"""The horse factory: a process forked once from the worker, which forks one work horse per job.

Why: after every ``fork()``, each page the forking process writes to takes a copy-on-write fault.
A worker that forks its horses itself pays hundreds of those faults per job in its own Redis and
bookkeeping code. The factory does almost nothing between forks, so the faults disappear from the
worker, and it keeps one horse forked ahead, so ``fork()`` happens while the previous job runs.
Every job still runs in a fresh process, forked from a copy of the worker, never one that ran
another job.

Channels:

- worker -> factory, a pipe of frames: ``J`` (a job: queue name, job id, raw job hash), ``I`` (a
  module to import, so later horses start with it), end of file (stop: the factory kills the
  horses it has and exits; also what happens if the worker dies);
- factory -> worker, a SOCK_SEQPACKET socket: ``P`` (the pid of the horse given the job, with the
  read end of its result pipe attached), ``X`` (a horse exited: pid, wait status, peak memory).

A horse waits for its job on its own pipe, runs it (see :mod:`rq.worker.run`), writes the result on
its result pipe (see :mod:`rq.worker.protocol`) and exits.
"""

from __future__ import annotations

import gc
import importlib
import marshal
import os
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import protocol, rehearsal
from .run import run_job

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

FACTORY_REHEARSALS = 20  # enough for the interpreter to specialise the horse's code path

_FRAME = struct.Struct('>cQ')
_EVENT_PID = struct.Struct('>ci')
_EVENT_EXIT = struct.Struct('>ciiq')


@dataclass
class HorseExit:
    pid: int
    wait_status: int
    max_rss_kb: int


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
        self.exits: dict[int, HorseExit] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        command_read, command_write = os.pipe()
        worker_end, factory_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            os.close(command_write)
            worker_end.close()
            _factory_main(self.worker, command_read, factory_end)
        os.close(command_read)
        factory_end.close()
        self.pid, self._commands, self._events = pid, command_write, worker_end
        self._imported = set()
        self.exits.clear()

    @property
    def running(self) -> bool:
        return self.pid != 0

    def stop(self) -> None:
        if not self.running:
            return
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

    def _send(self, kind: bytes, payload: bytes) -> None:
        data = memoryview(_FRAME.pack(kind, len(payload)) + payload)
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

    def distrust(self, job: Job) -> None:
        """Never preload the job's module again (the factory died after being asked to): a module
        that kills its importer then only kills the horses that run its jobs."""
        module = _module_of(job)
        if module:
            self._distrusted.add(module)

    def dispatch(self, job: Job, queue: Queue, raw: dict[bytes, bytes]) -> tuple[int, int]:
        """Hand the job to a horse; returns the horse's pid and the read end of its result pipe."""
        if not self.running:
            self.start()
        self._send(b'J', marshal.dumps((queue.name, job.id, raw)))
        while True:
            kind, pid, result_fd = self._next_event(block=True)
            if kind == b'P':
                return pid, result_fd

    def _next_event(self, block: bool) -> tuple[bytes, int, int]:
        assert self._events is not None
        self._events.setblocking(block)
        try:
            data, fds, _, _ = socket.recv_fds(self._events, 64, 1)
        except BlockingIOError:
            return b'', 0, -1
        except OSError:
            raise self._died() from None
        if not data:
            raise self._died()
        if data[:1] == b'P':
            _, pid = _EVENT_PID.unpack(data)
            return b'P', pid, fds[0]
        _, pid, status, rss = _EVENT_EXIT.unpack(data)
        self.exits[pid] = HorseExit(pid, status, rss)
        return b'X', pid, -1

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
            while self._events is not None and self._next_event(block=False)[0]:
                pass
        except FactoryDied:
            pass
        return self.exits.pop(pid, None)

    def collect_exits(self) -> None:
        """Read the exit reports that arrived (so they do not pile up)."""
        if self._events is None:
            return
        while self._next_event(block=False)[0]:
            pass
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


def _import_longest_prefix(dotted: str) -> None:
    """Import ``dotted``, or its longest importable prefix (``pkg.mod.Class`` names a class in
    ``pkg.mod``, not a module)."""
    while True:
        try:
            importlib.import_module(dotted)
            return
        except ModuleNotFoundError as exc:
            if '.' not in dotted or exc.name != dotted:
                raise
            dotted = dotted.rsplit('.', 1)[0]


# -- inside the factory ----------------------------------------------------------------------


def _factory_main(worker: Any, commands: int, events: socket.socket) -> None:
    """Never returns. Forks horses (one ahead), feeds them jobs, reports their pids and exits."""
    status = 0
    try:
        os.setpgrp()  # the worker's terminal signals are the worker's business
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        worker.prepare_factory()
        os.environ['RQ_WORKER_ID'] = worker.name  # (inherited by every horse)
        stand_in = rehearsal.stand_in_message(worker)
        rehearsal.rehearse(worker, stand_in, FACTORY_REHEARSALS)
        gc.collect()
        gc.freeze()
        _Factory(worker, commands, events, wake_read, stand_in).run()
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)


class _Factory:
    def __init__(
        self, worker: Any, commands: int, events: socket.socket, wake: int, stand_in: rehearsal.JobMessage | None
    ) -> None:
        self.worker = worker
        self.stand_in = stand_in
        self.commands = commands
        self.events = events
        self.wake = wake
        self.buffer = bytearray()
        self.spare: tuple[int, int, int] | None = None  # pid, job write fd, result read fd
        self.live: set[int] = set()

    def run(self) -> None:
        self.spare = self.fork_horse()
        while True:
            ready, _, _ = select.select([self.commands, self.wake], [], [])
            if self.wake in ready:
                os.read(self.wake, 4096)
                self.reap()
            if self.commands in ready:
                chunk = os.read(self.commands, 1 << 20)
                if not chunk:
                    self.shutdown()
                    return
                self.buffer += chunk
                self.handle_frames()

    def handle_frames(self) -> None:
        while len(self.buffer) >= _FRAME.size:
            kind, length = _FRAME.unpack_from(self.buffer)
            if len(self.buffer) < _FRAME.size + length:
                return
            payload = bytes(self.buffer[_FRAME.size : _FRAME.size + length])
            del self.buffer[: _FRAME.size + length]
            if kind == b'I':
                try:
                    _import_longest_prefix(payload.decode('utf-8'))
                except BaseException:
                    pass  # the horse will report the import error with the job
                if self.spare is not None:  # forked before the import: replace it
                    self.dismiss_spare()
                    self.spare = self.fork_horse()
            elif kind == b'J':
                self.start_job(payload)

    def fork_horse(self) -> tuple[int, int, int]:
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(job_write)
            os.close(result_read)
            os.close(self.commands)
            os.close(self.wake)
            self.events.close()
            _horse_main(self.worker, job_read, result_write, self.stand_in)
        os.close(job_read)
        os.close(result_write)  # only the horse writes: its exit is the end of file
        self.live.add(pid)
        return pid, job_write, result_read

    def start_job(self, payload: bytes) -> None:
        horse, self.spare = self.spare or self.fork_horse(), None
        pid, job_write, result_read = horse
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(job_write, view) :]
        except OSError:
            pass  # the horse died waiting; its exit report tells the worker
        os.close(job_write)
        socket.send_fds(self.events, [_EVENT_PID.pack(b'P', pid)], [result_read])
        os.close(result_read)
        self.spare = self.fork_horse()  # the next one, forked while this one works

    def dismiss_spare(self) -> None:
        if self.spare is not None:
            _, job_write, result_read = self.spare
            for fd in (job_write, result_read):
                os.close(fd)
            self.spare = None

    def reap(self) -> None:
        while True:
            try:
                pid, status, rusage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.live.discard(pid)
            try:
                self.events.send(_EVENT_EXIT.pack(b'X', pid, status, rusage.ru_maxrss))
            except OSError:
                pass

    def shutdown(self) -> None:
        """The worker is gone or stopping: no horse of ours may outlive it."""
        self.dismiss_spare()
        for pid in list(self.live):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in list(self.live):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _read_job(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b''.join(chunks)


def _horse_main(worker: Any, job_fd: int, result_fd: int, stand_in: rehearsal.JobMessage | None) -> None:
    """A horse. Never returns: rehearses (see :mod:`rq.worker.rehearsal`), waits for its job, runs
    it, sends the result, ``os._exit``."""
    status = 1
    gc.disable()  # a short-lived process: collections would only copy shared pages
    try:
        os.setpgrp()  # a kill of the horse's group reaches whatever the job starts
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        worker.prepare_horse()
        rehearsal.rehearse(worker, stand_in)
        message = _read_job(job_fd)
        if not message:  # dismissed
            status = 0
            return
        job, queue = rehearsal.load_job(worker, marshal.loads(message))
        os.environ['RQ_JOB_ID'] = job.id
        result = run_job(job, worker.death_penalty_class, worker._exc_handlers, queue.DEFAULT_TIMEOUT)
        protocol.send(result_fd, result)
        status = 0
    except BaseException:
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)

"""Inside the horse factory (see :mod:`rq.worker.factory` for the worker's side and the channels).

The factory forks spare horses ahead of need and hands each one to the worker as soon as it is
forked (its pid, the write end of its job pipe and the read end of its result pipe, over the
events socket); the worker writes a job straight to a spare, without waiting for the factory, and
tells the factory (``T``) to fork the next one. The factory also reaps every horse and reports
its exit (``X``).

A horse rehearses (see :mod:`rq.worker.rehearsal`), then reads its job until the end of its job
pipe: an empty read means it was dismissed (the worker closed the pipe unused) and it exits.
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
from typing import Any

from . import compaction, protocol, rehearsal
from .run import exit_horse, run_job

FACTORY_REHEARSALS = 20  # enough for the interpreter to specialise the horse's code path
SPARE_HORSES = 1  # forked ahead, so that fork() overlaps the running job; more do not help a CPU-bound host

FRAME = struct.Struct('>cQ')  # worker -> factory: kind, payload length
EVENT_SPARE = struct.Struct('>ciq')  # factory -> worker: b'S', pid, generation (+ two fds)
EVENT_EXIT = struct.Struct('>ciiq')  # factory -> worker: b'X', pid, wait status, peak memory (kB)


def factory_main(worker: Any, commands: int, events: socket.socket) -> None:
    """Never returns. Forks spare horses, reaps them and reports their exits."""
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
        compaction.compact()
        _Factory(worker, commands, events, wake_read, stand_in).run()
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)


def import_longest_prefix(dotted: str) -> None:
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
        self.generation = 0  # modules imported so far: spares forked before an import are stale
        self.live: set[int] = set()

    def run(self) -> None:
        self.hand_over(SPARE_HORSES)
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
        while len(self.buffer) >= FRAME.size:
            kind, length = FRAME.unpack_from(self.buffer)
            if len(self.buffer) < FRAME.size + length:
                return
            payload = bytes(self.buffer[FRAME.size : FRAME.size + length])
            del self.buffer[: FRAME.size + length]
            if kind == b'T':  # a spare was taken
                self.hand_over(1)
            elif kind == b'I':  # import a module; the worker drops the spares forked before
                try:
                    import_longest_prefix(payload.decode('utf-8'))
                except BaseException:
                    pass  # the horse will report the import error with the job
                self.generation += 1
                self.hand_over(SPARE_HORSES)

    def hand_over(self, count: int) -> None:
        """Fork ``count`` spare horses and pass each one to the worker."""
        for _ in range(count):
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
            self.live.add(pid)
            os.close(job_read)
            os.close(result_write)  # only the horse writes: its exit is the end of file
            try:
                socket.send_fds(self.events, [EVENT_SPARE.pack(b'S', pid, self.generation)], [job_write, result_read])
            except OSError:
                pass  # the worker is gone; its end of file on the commands pipe follows
            finally:  # (from now on only the worker holds them: none leaks into the next spare)
                os.close(job_write)
                os.close(result_read)

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
                self.events.send(EVENT_EXIT.pack(b'X', pid, status, rusage.ru_maxrss))
            except OSError:
                pass

    def shutdown(self) -> None:
        """The worker is gone or stopping: no horse of ours may outlive it."""
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
    """A horse. Never returns: rehearses, waits for its job, runs it, sends the result,
    ``os._exit``."""
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
        exit_horse(status)

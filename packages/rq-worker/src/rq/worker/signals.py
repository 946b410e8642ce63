"""Warm and cold shutdown on SIGINT/SIGTERM, and killing a work horse.

First signal: warm shutdown. An idle worker stops at once; a busy one finishes its job first.
A second signal more than a second later: cold shutdown. The running job is interrupted and
recorded as failed (or put back, if it has retries left); then the worker exits. A second signal
within a second is ignored (a WorkerPool and a terminal's Ctrl-C often deliver two at once).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from rq._redis import codec, keys, ops
from rq.exceptions import StopRequested
from rq.logutils import styled
from rq.utils import now

SHUTDOWN_SIGNAL = signal.SIGKILL if hasattr(signal, 'SIGKILL') else signal.SIGTERM
_HANDLED = (signal.SIGINT, signal.SIGTERM)
# The loop's pauses (rq.worker.loop): the back-off before reconnecting, the wait while suspended.
_PAUSES = frozenset({'_with_reconnect', '_wait_while_suspended'})


def signal_name(signum: int) -> str:
    """``'SIGKILL'`` for 9, and so on; ``'SIG_UNKNOWN'`` for numbers Python does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return 'SIG_UNKNOWN'


class ShutdownHandling:
    """Signal handling for a worker (mixed into ``BaseWorker``).

    A warm shutdown interrupts the worker only while it waits for work (``_idle``) or sleeps in one
    of the loop's pauses with no job claimed (see ``_PAUSES``): anywhere else (claiming a job,
    recording an outcome, maintenance) the request is only noted, and the loop stops at its next
    turn or as it starts to wait again. Raising while the claim script's reply is on its way would
    leave a job claimed in Redis (status ``started``) that nobody runs.
    """

    name: str
    connection: Any
    log: Any
    _stop_requested: bool
    _horse_pid: int
    _job_id: str | None
    shutdown_requested_date: Any

    _waiting = False
    _cold = False
    _first_signal_at = 0.0
    _previous_handlers: dict[int, Any]
    _date_writer: threading.Thread | None = None
    #: Set by a WorkerPool, which starts its workers with SIGINT and SIGTERM blocked, so that a stop
    #: request sent while a worker starts waits for the worker's handlers.
    unblock_stop_signals = False

    @property
    def _idle(self) -> bool:
        """True while the worker waits for work (set by the loop around its wait)."""
        return self._waiting

    @_idle.setter
    def _idle(self, waiting: bool) -> None:
        self._waiting = waiting
        if waiting and self._stop_requested:
            raise StopRequested()  # the request came in while the worker was busy elsewhere

    def install_signal_handlers(self) -> None:
        self._previous_handlers = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _HANDLED:
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        if self.unblock_stop_signals:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)  # a pending one is handled now

    def restore_signal_handlers(self) -> None:
        for signum, handler in getattr(self, '_previous_handlers', {}).items():
            signal.signal(signum, handler)
        self._previous_handlers = {}
        writer = self._date_writer
        if writer is not None:
            writer.join(5)  # so the date is written before the worker's death
            self._date_writer = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self._stop_requested:
            self._first_signal_at = time.monotonic()
            self.log.info(
                'Worker %s [PID %d]: got signal %s, warm shut down requested%s',
                styled(self.name, 'worker'),
                os.getpid(),
                signal_name(signum),
                _warm_shutdown_detail(self._job_id),
            )
            self.request_stop(signum, frame)
            return
        if time.monotonic() - self._first_signal_at <= 1.0:
            return
        self.log.warning(
            'got signal %s again, cold shut down%s', signal_name(signum), _cold_shutdown_detail(self._job_id)
        )
        self.request_force_stop(signum, frame)

    def request_force_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Cold shutdown: interrupt the running job now (its run is recorded as failed), then stop."""
        self._stop_requested = True
        self._cold = True
        self.cold_shutdown()

    def handle_warm_shutdown_request(self) -> None:
        """Called on each warm shutdown request, before the worker decides whether to stop at once
        (HerokuWorker warns its horse here)."""
        self.log.debug('warm shut down requested')

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop after the current job (at once when waiting for work, or sleeping between attempts
        to reach Redis or to find workers resumed)."""
        self._stop_requested = True
        self.shutdown_requested_date = now()
        self._write_shutdown_date()
        self.handle_warm_shutdown_request()
        if threading.current_thread() is threading.main_thread() and (self._waiting or self._sleeping(frame)):
            raise StopRequested()

    def _sleeping(self, frame: FrameType | None) -> bool:
        """The signal interrupted one of the worker loop's own pauses, with no job claimed (nor a
        claim whose reply was lost, which the loop sends again once Redis is back): the innermost
        Python frame is the loop's (its ``time.sleep`` is C), not the Redis client's."""
        if self._job_id is not None or getattr(self, '_unanswered_claim', None) is not None:
            return False
        return frame is not None and frame.f_code.co_name in _PAUSES

    def _write_shutdown_date(self) -> None:
        """Record ``shutdown_requested_date`` from a thread: this usually runs in a signal handler,
        which may have interrupted the main thread inside the Redis client (holding its locks).
        Only a registered, live worker has a hash to write to (a request that comes while it
        registers is written once it has: see ``bootstrap``), and the write never creates one: a
        hash without ``birth`` would read as another live worker of that name."""
        if not getattr(self, '_registered', False) or getattr(self, 'death_date', None) is not None:
            return
        value = codec.format_timestamp(self.shutdown_requested_date)

        def write() -> None:
            try:
                ops.set_fields_if_exists(
                    self.connection, keys.worker_key(self.name), {'shutdown_requested_date': value}
                )
            except Exception as exc:
                self.log.warning('could not record the shutdown request (%s)', exc)

        writer = threading.Thread(target=write, name='rq-shutdown-date', daemon=True)
        writer.start()
        self._date_writer = writer

    def cold_shutdown(self) -> None:
        """Interrupt the running job now (each worker class knows how)."""
        self.kill_horse()

    def kill_horse(self, sig: int = SHUTDOWN_SIGNAL) -> None:
        """Kill the work horse and everything it started (its process group, once the horse leads
        one: a horse that has not called ``setpgrp`` yet shares its factory's group)."""
        pid = self._horse_pid
        if not pid:
            return
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
            self.log.info('killed horse pid %s with %s', pid, signal_name(sig))
        except (ProcessLookupError, PermissionError):
            pass


def _warm_shutdown_detail(job_id: str | None) -> str:
    if job_id is None:
        return ''
    return f'; finishing job {job_id} first (the same signal again, a second later or more: cold shutdown)'


def _cold_shutdown_detail(job_id: str | None) -> str:
    return f'; interrupting job {job_id}' if job_id is not None else ''

"""``SimpleWorker``: runs each job in the worker process itself (no fork: fastest, no isolation)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from .heartbeat import Heartbeat
from .job_log import log_start
from .loop import BaseWorker
from .run import COLD_SHUTDOWN_TEXT, STOPPED_TEXT, ColdShutdown, StopJob, interrupted, run_job
from .signals import SHUTDOWN_SIGNAL
from .thread_interrupts import raise_in_thread, withdraw_pending_exception

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue


#: Sent to the worker's own main thread to stop the job it runs (stop-job command).
STOP_SIGNAL = signal.SIGRTMIN + 1 if hasattr(signal, 'SIGRTMIN') else signal.SIGUSR2


class SimpleWorker(BaseWorker):
    """Runs jobs in-process. A crash of a job (a segfault, ``os._exit``) takes the worker with it;
    the job is then noticed as abandoned by another worker. Heartbeats come from a thread, so a
    long job keeps its started entry alive (upstream's SimpleWorker sends none while a job runs)."""

    def execute_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> None:
        """Run ``job`` in this process and record its outcome. A class that overrides upstream's job
        hooks takes upstream's steps instead: ``prepare_execution``, then ``perform_job``."""
        if self.takes_hook_path(job):
            self._execute_with_hooks(job, queue)
            return
        execution = execution or self.prepare_execution(job)
        log_start(self, job, queue)
        self._main_thread_id = threading.get_ident()
        heartbeat = self._heartbeat()
        heartbeat.begin(job, queue, execution)
        stopped = False
        try:
            try:
                with self._interruptible_lock():
                    self._interruptible = True
                result = run_job(job, self.death_penalty_class, self._exc_handlers, queue.DEFAULT_TIMEOUT)
            finally:
                # From here on a stop-job command must not interrupt this thread (it would land in
                # the recording, or in the loop); one that was sent too late is dropped.
                with self._interruptible_lock():
                    self._interruptible = False
                    if self._async_stop_sent:
                        self._async_stop_sent = False
                        withdraw_pending_exception()
        except StopJob:
            stopped = True
            result = interrupted(STOPPED_TEXT, execution.created_at)
            self._run_stopped_callback(job)
        except ColdShutdown:
            result = interrupted(COLD_SHUTDOWN_TEXT, execution.created_at)
        finally:
            self._interruptible = False
            heartbeat.end()
        self._stopped_job_id = None
        self.record(job, queue, execution, result, stopped=stopped)

    def _execute_with_hooks(self, job: Job, queue: Queue) -> None:
        log_start(self, job, queue)
        execution = self.prepare_execution(job)
        self._main_thread_id = threading.get_ident()
        self._heartbeat().begin(job, queue, execution)
        try:
            try:
                with self._interruptible_lock():
                    self._interruptible = True
                self.perform_job(job, queue)
            finally:
                self.job_code_over()
        except StopJob:
            self._run_stopped_callback(job)
            self.handle_job_failure(job, queue=queue, exc_string=STOPPED_TEXT)
        except ColdShutdown:
            self.handle_job_failure(job, queue=queue, exc_string=COLD_SHUTDOWN_TEXT)
        finally:
            self._stopped_job_id = None
            self.finish_hooked_job(job)

    def job_code_over(self) -> None:
        """From here on a stop-job command must not interrupt this thread (it would land in the
        recording, or in the loop); one that was sent too late is dropped. Heartbeats end too."""
        with self._interruptible_lock():
            self._interruptible = False
            if self._async_stop_sent:
                self._async_stop_sent = False
                withdraw_pending_exception()
        heartbeat: Heartbeat | None = getattr(self, '_heartbeat_thread', None)
        if heartbeat is not None:
            heartbeat.end()

    _interruptible = False
    _async_stop_sent = False  # a StopJob was sent to the main thread as an asynchronous exception

    def _interruptible_lock(self) -> threading.RLock:
        lock: threading.RLock | None = getattr(self, '_interrupt_lock', None)
        if lock is None:
            lock = self._interrupt_lock = threading.RLock()
        return lock

    def _heartbeat(self) -> Heartbeat:
        heartbeat: Heartbeat | None = getattr(self, '_heartbeat_thread', None)
        if heartbeat is None:
            heartbeat = Heartbeat(self)
            self._heartbeat_thread: Heartbeat | None = heartbeat
        return heartbeat

    def teardown(self) -> None:
        heartbeat: Heartbeat | None = getattr(self, '_heartbeat_thread', None)
        try:
            if heartbeat is not None:
                heartbeat.close()
                self._heartbeat_thread = None
        finally:  # (the worker deregisters whatever became of its heartbeat thread)
            super().teardown()

    def _run_stopped_callback(self, job: Job) -> None:
        try:
            job.execute_stopped_callback(self.death_penalty_class)
        except Exception:
            self.log.exception('job %s: stopped callback raised', job.id)

    def install_signal_handlers(self) -> None:
        super().install_signal_handlers()
        if threading.current_thread() is threading.main_thread():
            self._previous_handlers[STOP_SIGNAL] = signal.signal(STOP_SIGNAL, self._on_stop_signal)

    def _stop_wanted(self) -> bool:
        return self._interruptible and self._job_id is not None and self._stopped_job_id == self._job_id

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_wanted():
            raise StopJob()

    def kill_horse(self, sig: int = SHUTDOWN_SIGNAL) -> None:
        """No horse here: a stop-job command interrupts the job in the worker's main thread (only
        while the job's own code runs: never the recording of its outcome). A signal to that thread
        cuts a blocking call short; its handler raises :class:`StopJob` there."""
        with self._interruptible_lock():
            if not self._stop_wanted():
                return
            if getattr(self, '_stop_sent_for', None) == self._job_id:
                return  # once per job: realtime signals queue up, a flood would starve the job's thread
            self._stop_sent_for = self._job_id
            if STOP_SIGNAL in getattr(self, '_previous_handlers', {}):
                try:
                    signal.pthread_kill(self._main_thread_id, STOP_SIGNAL)
                    return
                except OSError:
                    pass
            self._async_stop_sent = True
            raise_in_thread(self._main_thread_id, StopJob)

    def cold_shutdown(self) -> None:
        if self._job_id is not None and self._interruptible:
            raise ColdShutdown()

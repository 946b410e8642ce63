"""``Worker``: runs each job in its own forked work horse, for isolation and hard timeouts.

The worker process does all Redis I/O: it claims the job (one script call, which also returns the
job hash), records the outcome, and heartbeats while the job runs. Horses come from a factory
process (see :mod:`rq.worker.factory`); a horse only runs its job and sends a
:class:`~rq.worker.run.RunResult` back over a pipe, opening no Redis connection unless the job
itself uses Redis.

The worker kills the horse's process group once it overruns ``job_timeout + 60`` s (the horse
itself raises ``JobTimeoutException`` in the job at ``job_timeout``). A horse that dies without
sending a result is recorded with the cause: the signal that killed it (name), its exit code, the
timeout, and its peak memory.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rq.exceptions import InvalidJobOperation
from rq.job import JobStatus
from rq.utils import now

from . import protocol
from .factory import FactoryDied, HorseExit, HorseFactory
from .heartbeat import beat
from .job_log import log_start
from .loop import BaseWorker
from .run import FAILED, STOPPED_TEXT, RunResult, effective_timeout
from .signals import signal_name

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue

HARD_KILL_GRACE_SECONDS = 60
EXIT_REPORT_SECONDS = 10.0

Reaper = Callable[[int], 'HorseExit | None']


class Worker(BaseWorker):
    """The default worker: one fresh forked work horse per job."""

    def execute_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> None:
        """Run ``job`` in a work horse and record its outcome. A class that overrides upstream's job
        hooks takes upstream's steps instead: ``prepare_execution``, ``fork_work_horse`` (the horse
        runs ``main_work_horse`` -> ``perform_job``), ``monitor_work_horse``."""
        if self.takes_hook_path(job):
            self._execute_with_hooks(job, queue)
            return
        execution = execution or self.prepare_execution(job)
        log_start(self, job, queue)
        factory = self._factory()
        try:
            factory.collect_exits()
        except FactoryDied:
            pass  # (killed since the last job) dispatch starts a new one
        for attempt in (1, 2):
            try:
                if attempt == 1:
                    factory.preload(job)
                pid, result_fd = factory.dispatch(job, queue, self._claimed_raw)
                break
            except FactoryDied:
                factory.distrust(job)  # it may be what killed the factory: the horse imports it now
                if attempt == 2:
                    raise
        self._horse_pid = pid
        try:
            reaper = functools.partial(factory.wait_exit, timeout=EXIT_REPORT_SECONDS)
            result, stopped = self._monitor(job, queue, execution, pid, result_fd, reaper, factory.poll_exit)
        finally:
            os.close(result_fd)
            self._horse_pid = 0
        self.record(job, queue, execution, result, stopped=stopped)

    # -- the hook path (upstream's steps, for subclasses that override its hooks) --------------

    def _execute_with_hooks(self, job: Job, queue: Queue) -> None:
        log_start(self, job, queue)
        self.prepare_execution(job)
        try:
            self.fork_work_horse(job, queue)
            self.monitor_work_horse(job, queue)
        finally:
            self.finish_hooked_job(job)
        self._with_reconnect(self.refresh_counters)  # (the horse counted its job in the worker hash)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Fork the work horse, which runs :meth:`main_work_horse`. (Upstream's fork, from the
        worker itself: the horse sees the worker as it is now, overrides and all.)"""
        read_fd, write_fd = os.pipe()  # (its end tells the worker that the horse is gone)
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(read_fd)
                os.setpgrp()
                self._horse_environment(job)
                self.main_work_horse(job, queue)
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        self._horse_pid = pid
        self._horse_pipe = read_fd
        self.procline(f'Forked {pid} at {time.time()}')

    def monitor_work_horse(self, job: Job, queue: Queue) -> None:
        """Watch the horse until it exits, heartbeating, enforcing the hard timeout, and running
        maintenance when due. A horse that exits with 0 recorded its job; one killed by a stop-job
        command, or that died otherwise while its job is neither finished nor failed, has its job
        failed here through :meth:`handle_job_failure` (and :meth:`handle_work_horse_killed`)."""
        execution = self.prepare_execution(job)
        pid, read_fd = self._horse_pid, self._horse_pipe
        try:
            watched = self._watch(job, queue, execution, pid, read_fd, wait_child, poll_child)
            exit_report = watched.exit_report or wait_child(pid)
        finally:
            os.close(read_fd)
            self._horse_pid = 0
        self.current_job_working_time = 0.0
        if watched.stopped:
            self.log.warning('job %s stopped by user, moving it to the FailedJobRegistry', job.id)
            self._run_stopped_callback(job)
            self._stopped_job_id = job.id  # (handle_job_failure records it as stopped)
            self.handle_job_failure(job, queue=queue, exc_string=STOPPED_TEXT)
            return
        if exit_report is not None and exit_report.wait_status == os.EX_OK:
            return
        try:
            status = self._with_reconnect(lambda: job.get_status(refresh=True))
        except InvalidJobOperation:
            return  # (its hash is gone: it finished, and its result was not kept)
        if status in (JobStatus.FINISHED, JobStatus.FAILED):
            return
        job.ended_at = now()
        text = describe_death(exit_report, watched.timeout if watched.killed_for_timeout else None, self._cold)
        self._call_killed_handler(job, pid, exit_report)
        self.handle_job_failure(job, queue=queue, exc_string=text)

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        """Wait for the work horse (forked by :meth:`fork_work_horse`) to exit."""
        exit_report = wait_child(self._horse_pid) if self._horse_pid else None
        if exit_report is None:
            return None, None, None
        return exit_report.pid, exit_report.wait_status, exit_report

    def _factory(self) -> HorseFactory:
        factory: HorseFactory | None = getattr(self, '_horse_factory', None)
        if factory is None:
            factory = self._horse_factory = HorseFactory(self)
        return factory

    def prepare_factory(self) -> None:
        """Called in the factory process as it starts (a hook for subclasses)."""

    def prepare_horse(self) -> None:
        """Called in each new horse before it waits for its job (a hook for subclasses)."""

    def teardown(self) -> None:
        factory: HorseFactory | None = getattr(self, '_horse_factory', None)
        try:
            if factory is not None:
                factory.stop()
        finally:  # (the worker deregisters whatever became of its factory)
            super().teardown()

    # -- watching a horse -------------------------------------------------------------------

    def _monitor(
        self,
        job: Job,
        queue: Queue,
        execution: Execution,
        pid: int,
        read_fd: int,
        reaper: Reaper,
        probe: Reaper | None = None,
    ) -> tuple[RunResult, bool]:
        """Read the horse's result (see :meth:`_watch`). Returns the result (or the cause of death)
        and whether the job was stopped by command."""
        watched = self._watch(job, queue, execution, pid, read_fd, reaper, probe)
        if watched.result is not None:
            return watched.result, False
        if watched.stopped:
            self._run_stopped_callback(job)
            return _death(STOPPED_TEXT, execution.created_at), True
        timeout = watched.timeout if watched.killed_for_timeout else None
        text = describe_death(watched.exit_report, timeout, self._cold)
        self._call_killed_handler(job, pid, watched.exit_report)
        return _death(text, execution.created_at), False

    def _watch(
        self,
        job: Job,
        queue: Queue,
        execution: Execution,
        pid: int,
        read_fd: int,
        reaper: Reaper,
        probe: Reaper | None = None,
    ) -> Watched:
        """Read the horse's result while heartbeating, enforcing the hard timeout and looking for
        dead workers' jobs (maintenance) when due. Returns the result, or how the horse ended.

        The horse's death normally shows as the end of its result pipe. ``probe`` (the horse's exit
        report, if it has exited, without waiting) covers a horse that died while a process it
        forked holds the pipe open: at each heartbeat the worker looks, and then kills what is
        left of the horse's process group."""
        started = time.monotonic()
        timeout = effective_timeout(job, queue.DEFAULT_TIMEOUT)
        hard_deadline = started + timeout + HARD_KILL_GRACE_SECONDS if timeout > 0 else None
        next_beat = started + self.beat_period
        maintenance = getattr(self, 'maintenance', None)
        reader = protocol.Reader()
        killed_for_timeout = False
        beating = True
        exited: HorseExit | None = None
        while True:
            moment = time.monotonic()
            wake = min(next_beat, hard_deadline) if hard_deadline is not None else next_beat
            if maintenance is not None:
                wake = min(wake, moment + maintenance.seconds_until_due())
            try:
                ready, _, _ = select.select([read_fd], [], [], max(0.0, wake - moment))
            except InterruptedError:
                ready = []
            if ready:
                if not reader.feed(os.read(read_fd, 1 << 20)):
                    break  # end of file: the horse is gone
                if reader.complete() and not self._stopped_job_id:
                    result = reader.result()
                    if result is not None:
                        return Watched(result, timeout)  # the horse exits on its own; the factory reaps it
            moment = time.monotonic()
            if moment >= next_beat:
                next_beat = moment + self.beat_period
                beating = self._beat(job, queue, execution, moment - started)
                exited = probe(pid) if probe is not None else None
                if exited is not None:  # yet its pipe is open: something it forked holds it
                    _drain(read_fd, reader)
                    result = reader.result()
                    if result is not None and not self._stopped_job_id:
                        return Watched(result, timeout, exit_report=exited)
                    _kill_group(pid)  # what the horse left behind
                    break
            if hard_deadline is not None and moment >= hard_deadline and not killed_for_timeout:
                self.log.warning('job %s: horse %s overran its timeout of %s s; killing it', job.id, pid, timeout)
                self.kill_horse(signal.SIGKILL)
                killed_for_timeout = True
            # (not while heartbeats fail: after Redis comes back, this job's own started entry may
            # have expired; the next heartbeat renews it first)
            if maintenance is not None and beating and maintenance.seconds_until_due() <= 0:
                try:
                    maintenance.run_due(self)
                except Exception as exc:  # (the job runs on: its outcome is what matters now)
                    self.redis_link.report('heartbeat', exc, 'maintenance')
        stopped = self._stopped_job_id is not None and self._stopped_job_id == job.id
        self._stopped_job_id = None
        if stopped:
            return Watched(None, timeout, stopped=True, exit_report=exited)
        result = reader.result()
        if result is not None:
            return Watched(result, timeout, exit_report=exited)
        return Watched(None, timeout, exit_report=exited or reaper(pid), killed_for_timeout=killed_for_timeout)

    def _beat(self, job: Job, queue: Queue, execution: Execution, working: float) -> bool:
        return beat(self, job, queue, execution, working)

    def _run_stopped_callback(self, job: Job) -> None:
        try:
            job.execute_stopped_callback(self.death_penalty_class)
        except Exception:
            self.log.exception('job %s: stopped callback raised', job.id)

    def _call_killed_handler(self, job: Job, pid: int, exit_report: HorseExit | None) -> None:
        status = exit_report.wait_status if exit_report is not None else -1
        self.handle_work_horse_killed(job, pid, status, exit_report)


@dataclass
class Watched:
    """How the watch of a horse ended: its result, or none (stopped by command, or dead)."""

    result: RunResult | None
    timeout: int  # the job's timeout (seconds)
    stopped: bool = False
    exit_report: HorseExit | None = None  # the horse's exit, when known
    killed_for_timeout: bool = False


def describe_death(exit_report: HorseExit | None, timeout: int | None, cold: bool) -> str:
    """The failure text of a horse that sent no result: why it died, as far as can be told."""
    if cold:
        return 'Job interrupted by a cold shutdown of its worker (work-horse killed).'
    if exit_report is None:
        return 'Work-horse terminated unexpectedly (its exit status is unknown)'
    status = exit_report.wait_status
    if timeout is not None:
        cause = f'the job exceeded its timeout of {timeout} seconds and the work-horse was killed'
    elif os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        cause = f'signal {signum} ({signal_name(signum)})'
    elif os.WIFEXITED(status):
        cause = f'exit code {os.WEXITSTATUS(status)}'
    else:
        cause = f'status {status}'
    memory = f'; peak memory {exit_report.max_rss_kb // 1024} MB' if exit_report.max_rss_kb else ''
    return f'Work-horse terminated unexpectedly; waitpid returned {status} ({cause}{memory})'


def _drain(fd: int, reader: protocol.Reader) -> None:
    """Read what is left in the pipe of a horse that exited, without waiting for its end."""
    os.set_blocking(fd, False)
    try:
        while reader.feed(os.read(fd, 1 << 20)):
            pass
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def poll_child(pid: int) -> HorseExit | None:
    """The exit report of a child of this process that has exited (SpawnWorker's horses), else None."""
    try:
        reaped, status, rusage = os.wait4(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return HorseExit(pid, status, rusage.ru_maxrss) if reaped else None


def wait_child(pid: int) -> HorseExit | None:
    """Reap a child of this process (SpawnWorker's horses)."""
    while True:
        try:
            _, status, rusage = os.wait4(pid, 0)
            return HorseExit(pid, status, rusage.ru_maxrss)
        except InterruptedError:
            continue
        except ChildProcessError:
            return None


def _death(text: str, started_at: datetime) -> RunResult:
    """The result of a run whose horse sent none: it failed, having run since ``started_at``."""
    return RunResult(FAILED, started_at, now(), exc_string=text)

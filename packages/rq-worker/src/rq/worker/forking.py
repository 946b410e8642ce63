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
from datetime import datetime
from typing import TYPE_CHECKING

from rq.utils import now

from . import protocol
from .factory import FactoryDied, HorseExit, HorseFactory
from .heartbeat import beat
from .job_log import log_start
from .loop import BaseWorker
from .run import FAILED, RunResult, effective_timeout
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

    def execute_job(self, job: Job, queue: Queue, execution: Execution) -> None:
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
        """Read the horse's result while heartbeating, enforcing the hard timeout and looking for
        dead workers' jobs (maintenance) when due. Returns the result (or the cause of death) and
        whether the job was stopped by command.

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
                        return result, False  # the horse exits on its own; the factory reaps it
            moment = time.monotonic()
            if moment >= next_beat:
                next_beat = moment + self.beat_period
                beating = self._beat(job, queue, execution, moment - started)
                exited = probe(pid) if probe is not None else None
                if exited is not None:  # yet its pipe is open: something it forked holds it
                    _drain(read_fd, reader)
                    result = reader.result()
                    if result is not None and not self._stopped_job_id:
                        return result, False
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
            self._run_stopped_callback(job)
            return _death('Job stopped by user, work-horse terminated.', execution.created_at), True
        result = reader.result()
        if result is not None:
            return result, False
        exit_report = exited or reaper(pid)
        text = describe_death(exit_report, timeout if killed_for_timeout else None, self._cold)
        self._call_killed_handler(job, pid, exit_report)
        return _death(text, execution.created_at), False

    def _beat(self, job: Job, queue: Queue, execution: Execution, working: float) -> bool:
        return beat(self, job, queue, execution, working)

    def _run_stopped_callback(self, job: Job) -> None:
        try:
            job.execute_stopped_callback(self.death_penalty_class)
        except Exception:
            self.log.exception('job %s: stopped callback raised', job.id)

    def _call_killed_handler(self, job: Job, pid: int, exit_report: HorseExit | None) -> None:
        if self.work_horse_killed_handler is None:
            return
        status = exit_report.wait_status if exit_report is not None else -1
        try:
            self.work_horse_killed_handler(job, pid, status, exit_report)
        except Exception:
            self.log.exception('job %s: work_horse_killed_handler raised', job.id)


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

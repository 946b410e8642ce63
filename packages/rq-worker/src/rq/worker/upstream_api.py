"""Upstream RQ's other worker methods (maintenance, suspension, heartbeats, counters, commands,
signals), mixed into ``BaseWorker``: each does what upstream's does, with this worker's machinery."""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rq._outcome import cleanup_execution
from rq._redis import codec, worker_ops
from rq.command import handle_command, parse_payload
from rq.exceptions import StopRequested
from rq.group import Group
from rq.queue import Queue
from rq.utils import get_version, now

from .commands import CommandListener
from .heartbeat import send_execution_heartbeat
from .identity import DequeueStrategy
from .maintenance import Maintenance
from .signals import SHUTDOWN_SIGNAL

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job

try:
    from setproctitle import setproctitle as _setproctitle  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # (optional, as for upstream RQ)
    _setproctitle = None


class UpstreamWorkerAPI:
    """Upstream's worker methods outside the job lifecycle (see :mod:`rq.worker.hooks` for that)."""

    if TYPE_CHECKING:
        name: str
        key: str
        log: Any
        connection: Any
        queues: list[Queue]
        scheduler: Any
        maintenance: Maintenance
        commands: CommandListener
        execution: Execution | None
        work_horse_killed_handler: Any
        current_job_working_time: float
        successful_job_count: int
        failed_job_count: int
        total_working_time: float
        shutdown_requested_date: datetime | None
        _horse_pid: int
        _cold: bool
        _stop_requested: bool
        _ordered_queues: list[Queue]
        _redis_version: tuple[int, ...]
        maintenance_interval: int

        def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None: ...
        def claim(self) -> Any: ...
        def kill_horse(self, sig: int = SHUTDOWN_SIGNAL) -> None: ...
        def cold_shutdown(self) -> None: ...
        def _wait_while_suspended(self, burst: bool) -> bool: ...
        def _wait_for_work(self, max_idle_time: float | None, idle_since: float) -> None: ...
        def _with_reconnect(self, step: Any) -> Any: ...
        @property
        def execution_ttl(self) -> float: ...

    last_cleaned_at: datetime | None = None
    redis_server_version: tuple[int, ...] | None = None
    log_job_description = True
    procline_message = ''

    # -- maintenance ------------------------------------------------------------------------

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """Maintenance is due: the look for dead workers' jobs (every quarter heartbeat interval)
        or the cleaning of registries (every ``maintenance_interval``; at once on a new worker)."""
        maintenance = getattr(self, 'maintenance', None)
        return maintenance is None or maintenance.seconds_until_due() <= 0

    def run_maintenance_tasks(self) -> None:
        """Run the maintenance that is due: fail or retry dead workers' jobs, clean the registries
        (through :meth:`clean_registries`, every ``maintenance_interval``) and restart the
        scheduler thread if it died."""
        self._maintenance().run_due(self)

    def clean_registries(self) -> None:
        """Clean each queue's registries (under the per-queue lock upstream also takes), forget dead
        workers, put back ids stuck in an intermediate list, and prune groups."""
        self._maintenance().clean_queues()
        self.last_cleaned_at = now()

    def clean_group_registries(self) -> None:
        """rq 3.0's group maintenance: prune every group, unless another worker did within this
        maintenance interval (the lock ``rq:clean_groups`` expires just before the next one)."""
        if Group.acquire_maintenance_lock(self.connection, max(int(self.maintenance_interval) - 1, 1)):
            self.log.info('cleaning group registries')
            Group.clean_registries(self.connection)

    def _maintenance(self) -> Maintenance:
        maintenance: Maintenance | None = getattr(self, 'maintenance', None)
        if maintenance is None:
            maintenance = self.maintenance = Maintenance(self)
        return maintenance

    # -- queues and Redis -------------------------------------------------------------------

    def get_redis_server_version(self) -> tuple[int, ...]:
        """The Redis server's version, as a tuple (asked once)."""
        version = getattr(self, '_redis_version', None) or self.redis_server_version
        if version is None:
            version = get_version(self.connection)
        self.redis_server_version = version
        return version

    def validate_queues(self) -> None:
        """Every queue must be a Queue object."""
        for queue in self.queues:
            if not isinstance(queue, Queue):
                raise TypeError(f'{queue!r} is not a valid queue')

    def reorder_queues(self, reference_queue: Queue) -> None:
        """Reorder the queues after a job from ``reference_queue``, by the worker's dequeue strategy
        (``round_robin``: the next queue comes first; ``random``: shuffled; ``default``: unchanged)."""
        strategy = getattr(self, '_dequeue_strategy', DequeueStrategy.DEFAULT)
        if strategy == DequeueStrategy.ROUND_ROBIN:
            index = self._ordered_queues.index(reference_queue)
            self._ordered_queues = self._ordered_queues[index + 1 :] + self._ordered_queues[: index + 1]
        elif strategy == DequeueStrategy.RANDOM:
            random.shuffle(self._ordered_queues)

    def check_for_suspension(self, burst: bool) -> None:
        """Block while workers are suspended (``rq suspend``); in burst mode raise StopRequested."""
        if not self._wait_while_suspended(burst):
            raise StopRequested()

    def procline(self, message: str) -> None:
        """Show ``message`` in the process title (``ps``), when ``setproctitle`` is installed."""
        self.procline_message = f'rq:worker:{self.name}: {message}'
        if _setproctitle is not None:
            _setproctitle(self.procline_message)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Claim the next job of the worker's queues (it is then this worker's, with its execution
        in ``self.execution``), waiting up to ``timeout`` seconds (``None``: not at all) and at most
        ``max_idle_time``; heartbeats while waiting. None when no job came."""
        started = time.monotonic()
        limit = timeout if max_idle_time is None else min(timeout or max_idle_time, max_idle_time)
        while True:
            self.heartbeat()
            claimed = self._with_reconnect(self.claim)
            if isinstance(claimed, tuple):
                job, queue, _ = claimed
                return job, queue
            if claimed == worker_ops.SUSPENDED or limit is None:
                return None
            waited = time.monotonic() - started
            if waited >= limit:
                return None
            if getattr(self, 'waiter', None) is not None:
                self._wait_for_work(limit, started)
            else:
                time.sleep(min(1.0, limit - waited))

    # -- heartbeats and counters ------------------------------------------------------------

    def get_heartbeat_ttl(self, job: Job) -> int:
        """Seconds a running job's started entry lives without a heartbeat."""
        return int(-(-self.execution_ttl // 1))

    def maintain_heartbeats(self, job: Job) -> None:
        """Heartbeat for the worker and for the running ``job`` (its execution and started entry)."""
        self.heartbeat()
        execution = self.execution
        if execution is None or execution.job_id != job.id:
            return
        queue = next((q for q in self.queues if q.name == job.origin), None) or Queue(
            job.origin, connection=self.connection
        )
        send_execution_heartbeat(self, job, queue, execution, self.current_job_working_time)

    def increment_failed_job_count(self, pipeline: Any = None) -> None:
        (pipeline if pipeline is not None else self.connection).hincrby(self.key, 'failed_job_count', 1)
        self.failed_job_count += 1

    def increment_successful_job_count(self, pipeline: Any = None) -> None:
        (pipeline if pipeline is not None else self.connection).hincrby(self.key, 'successful_job_count', 1)
        self.successful_job_count += 1

    def increment_total_working_time(self, job_execution_time: timedelta, pipeline: Any = None) -> None:
        seconds = job_execution_time.total_seconds()
        (pipeline if pipeline is not None else self.connection).hincrbyfloat(self.key, 'total_working_time', seconds)
        self.total_working_time += seconds

    def set_current_job_working_time(self, current_job_working_time: float, pipeline: Any = None) -> None:
        self.current_job_working_time = current_job_working_time
        worker_ops.set_fields(
            pipeline if pipeline is not None else self.connection,
            self.name,
            {'current_job_working_time': current_job_working_time},
        )

    def refresh_counters(self) -> None:
        """Read the job counters back from the worker hash (a horse recorded the last job)."""
        raw = self.connection.hmget(self.key, 'successful_job_count', 'failed_job_count', 'total_working_time')
        self.successful_job_count = int(raw[0] or 0)
        self.failed_job_count = int(raw[1] or 0)
        self.total_working_time = float(raw[2] or 0)

    def cleanup_execution(self, job: Job, pipeline: Any) -> None:
        """Remove the job's execution (its started entry, hash and member of the worker's execution
        index) in ``pipeline``."""
        queue = next((q for q in self.queues if q.name == job.origin), None) or Queue(
            job.origin, connection=self.connection
        )
        execution = self.execution if self.execution is not None and self.execution.job_id == job.id else None
        cleanup_execution(job, queue, pipeline, execution)
        if execution is not None:
            worker_ops.end_execution(pipeline, self.name, job.id, execution.id)
        self.execution = None

    # -- commands ---------------------------------------------------------------------------

    def subscribe(self) -> None:
        """Listen for commands on ``rq:pubsub:<name>`` (a thread of the worker)."""
        self.commands = CommandListener(self)
        self.commands.start()

    def unsubscribe(self) -> None:
        commands: CommandListener | None = getattr(self, 'commands', None)
        if commands is not None:
            commands.stop()

    def handle_payload(self, message: dict[str, Any]) -> None:
        """Run the command in a pubsub ``message`` (shutdown, kill-horse, stop-job)."""
        self.log.debug('received message: %s', message)
        handle_command(self, parse_payload(message))

    # -- shutdown and horses ----------------------------------------------------------------

    def set_shutdown_requested_date(self) -> None:
        self.shutdown_requested_date = self.shutdown_requested_date or now()
        worker_ops.set_fields(
            self.connection,
            self.name,
            {'shutdown_requested_date': codec.format_timestamp(self.shutdown_requested_date)},
        )

    def stop_scheduler(self) -> None:
        """Stop the worker's scheduler (``with_scheduler``), if it runs one."""
        stop = getattr(self.scheduler, 'stop', None)
        if stop is not None:
            stop()

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        """A horse died without a result: call ``work_horse_killed_handler(job, pid, status, rusage)``."""
        self.log.warning('work horse killed for job %s: retpid=%s, ret_val=%s', job.id, retpid, ret_val)
        if self.work_horse_killed_handler is None:
            return
        try:
            self.work_horse_killed_handler(job, retpid, ret_val, rusage)
        except Exception:
            self.log.exception('job %s: work_horse_killed_handler raised', job.id)

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        """Wait for the work horse to exit: (pid, wait status, resource usage); Nones without one."""
        return None, None, None

    def setup_work_horse_signals(self) -> None:
        """In a new work horse: ignore SIGINT (the worker handles Ctrl-C), default SIGTERM."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _horse_environment(self, job: Job) -> None:
        os.environ['RQ_WORKER_ID'] = self.name
        os.environ['RQ_JOB_ID'] = job.id
        if self.execution is not None:
            os.environ['RQ_EXECUTION_ID'] = self.execution.id

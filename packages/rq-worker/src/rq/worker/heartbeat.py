"""A thread that keeps a running job's started entry (and the worker hash) alive, and does the
worker's maintenance while the job runs (a SimpleWorker's main thread is busy running it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rq._redis import codec, scripts, worker_ops
from rq.utils import current_timestamp, now

from .reconnect import is_transient

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue


#: A running job as its heartbeat needs it: the job, its queue, its execution, the seconds it has run.
RunningJob = tuple['Job', 'Queue', 'Execution', float]


def send_execution_heartbeats(worker: Any, running: Sequence[RunningJob]) -> None:
    """The heartbeats of ``running`` jobs, in one round trip."""
    moment = now()
    with worker.connection.pipeline(transaction=True) as pipe:
        for job, queue, execution, working in running:
            worker_ops.execution_heartbeat(
                pipe,
                job.id,
                queue.name,
                execution.id,
                worker.name,
                worker.execution_ttl,
                current_timestamp(),
                codec.format_timestamp(moment),
                codec.format_epoch(moment),
                working,
            )
        scripts.execute(pipe)


def send_execution_heartbeat(worker: Any, job: Job, queue: Queue, execution: Execution, working: float) -> None:
    send_execution_heartbeats(worker, [(job, queue, execution, working)])
    worker.current_job_working_time = working


def beat_all(worker: Any, running: Sequence[RunningJob]) -> bool:
    """Send the heartbeats of ``running`` jobs; False when that failed. A failure because Redis did
    not answer is an outage (logged once for the worker, see :class:`~rq.worker.reconnect.RedisLink`),
    not a line per beat; the beat after it that goes through ends the outage."""
    link = worker.redis_link
    try:
        send_execution_heartbeats(worker, running)
    except Exception as exc:
        link.report('heartbeat', exc, 'heartbeat')
        return False
    link.answered('heartbeat')
    return True


def beat(worker: Any, job: Job, queue: Queue, execution: Execution, working: float) -> bool:
    """Send a running job's heartbeat (see :func:`beat_all`); False when it failed."""
    if not beat_all(worker, [(job, queue, execution, working)]):
        return False
    worker.current_job_working_time = working
    return True


class Heartbeat:
    """One thread per worker that beats for the running job every ``beat_period`` seconds
    (within a quarter second; short jobs never see a beat: starting and ending a job only sets two
    attributes)."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._current: tuple[Job, Queue, Execution, float] | None = None
        self._last_beat = 0.0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name='rq-heartbeat', daemon=True)
        self._thread.start()

    def begin(self, job: Job, queue: Queue, execution: Execution) -> None:
        self._last_beat = time.monotonic()
        self._current = (job, queue, execution, self._last_beat)

    def end(self) -> None:
        self._current = None

    def _run(self) -> None:
        interval = self.worker.beat_period
        # Look often: a beat is due ``interval`` after the previous one (or the job's start), and
        # the started entry lives only ``execution_ttl`` (three beat periods) without one.
        while not self._closed.wait(min(0.25, interval / 4)):
            current = self._current
            if current is None:
                continue
            if time.monotonic() - self._last_beat >= interval:
                job, queue, execution, started = current
                self._last_beat = time.monotonic()
                beat(self.worker, job, queue, execution, self._last_beat - started)
            self._maintain()

    def _maintain(self) -> None:
        """A busy worker still does its maintenance (above all: noticing dead workers' jobs in
        time); the worker's loop cannot while its thread runs the job."""
        maintenance = getattr(self.worker, 'maintenance', None)
        if maintenance is None or maintenance.seconds_until_due() > 0:
            return
        link = self.worker.redis_link
        if link.away:  # (not while Redis does not answer: a heartbeat that goes through comes first)
            return
        try:
            maintenance.run_due(self.worker)
        except Exception as exc:
            if is_transient(exc):
                link.failed('heartbeat', exc)
            else:
                self.worker.log.exception('maintenance failed')

    def close(self) -> None:
        self._closed.set()

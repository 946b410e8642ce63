"""The thread of a :class:`~rq.worker.concurrent.ConcurrentWorker` that watches its slots: it
strikes the timeouts of running jobs, takes over the jobs that did not end within the overrun grace
after an interruption (recording them failed, or stopped, with the cause), and sends the running
jobs' heartbeats, all of them in one round trip; it also keeps the slots' socket timeout (see
:mod:`~rq.worker.slot_link`)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .heartbeat import RunningJob, beat_all
from .run import interrupted
from .slots import RUNNING, Interruption

if TYPE_CHECKING:
    from ._claiming import Claimed
    from .slot_runner import SlotRunner

#: How often (seconds) the monitor looks at the slots: a timeout strikes this much late at most.
TICK = 0.1


class SlotMonitor:
    def __init__(self, worker: Any, runners: list[SlotRunner]) -> None:
        self.worker = worker
        self.runners = runners
        self._closed = threading.Event()
        self._last_beat = time.monotonic()
        self.thread = threading.Thread(target=self._run, name='rq-slot-monitor', daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self._closed.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(5.0)

    def _run(self) -> None:
        while not self._closed.wait(TICK):
            try:
                self.look()
            except Exception:
                self.worker.log.exception('watching the running jobs failed')

    def look(self) -> None:
        moment = time.monotonic()
        grace = float(self.worker.overrun_grace)
        for runner in self.runners:
            runner.recorder.claims.link.cut_if_stuck(moment)  # (the slot logs the outage, once for all)
            slot = runner.slot
            if slot.state != RUNNING:
                continue
            slot.time_out_if_due(moment, grace)
            taken = slot.take_over(moment)
            if taken is not None:
                self._record_taken_over(runner, *taken)
        if moment - self._last_beat >= self.worker.beat_period:
            self._last_beat = moment
            self._beat(moment)

    def _record_taken_over(self, runner: SlotRunner, claim: Claimed, interruption: Interruption) -> None:
        job, queue, execution = claim
        grace = self.worker.overrun_grace
        cause = (
            f'The job did not end within {grace:g} s of being interrupted (its thread cannot be killed): '
            f'recorded as it was interrupted; its worker exits to be replaced.\n{interruption.cause}\n'
        )
        runner.recorder.log.warning('job %s did not end within %g s of being interrupted', job.id, grace)
        runner.recorder.record(job, queue, execution, interrupted(cause, execution.created_at), interruption.stopped)
        self.worker.slot_lost(runner.slot, f'job {job.id} did not end when interrupted ({interruption.cause})')

    def _beat(self, moment: float) -> None:
        """One heartbeat for every job that runs (one round trip for all of them)."""
        running: list[RunningJob] = []
        for runner in self.runners:
            claim = runner.slot.claim
            if claim is not None:
                job, queue, execution = claim
                running.append((job, queue, execution, moment - runner.slot.began))
        if running:
            beat_all(self.worker, running)

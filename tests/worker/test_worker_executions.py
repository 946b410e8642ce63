"""rq 3.0's ``Worker.executions`` (the worker's active executions by id) and ``Worker.execution`` (a
property with a setter over it; None while several are active raises)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rqtest_jobs
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.worker import SimpleWorker, Worker


class Spy(SimpleWorker):
    """Notes what ``executions`` and ``execution`` say while each job runs."""

    seen: list[tuple[dict[str, Execution], Execution | None]]

    def execute_job(self, job: Job, queue: Queue, execution: Execution | None = None) -> None:
        self.seen.append((dict(self.executions), self.execution))
        super().execute_job(job, queue, execution)


def test_executions_hold_the_running_execution(connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    jobs = [queue.enqueue(rqtest_jobs.add, n) for n in (1, 2)]
    worker = Spy([queue], connection=connection)
    worker.seen = []
    assert worker.executions == {} and worker.execution is None  # idle
    worker.work(burst=True)
    assert [job.get_status() for job in jobs] == ['finished', 'finished']
    assert len(worker.seen) == 2
    for job, (executions, execution) in zip(jobs, worker.seen, strict=True):
        assert execution is not None and execution.job_id == job.id
        assert executions == {execution.id: execution}
    assert worker.seen[0][1] is not worker.seen[1][1]  # (one execution per run)
    # one at most, whatever the runs before: (as before this dict existed, the last run's execution
    # stays on the worker object after the run; the Redis index is what says it is idle)
    assert len(worker.executions) <= 1 and worker.get_current_executions(refresh=True) == []


def test_execution_setter(connection: redis.Redis) -> None:
    worker = Worker([Queue(connection=connection)], connection=connection)
    first, second = (Execution(f'e{n}', f'j{n}', connection) for n in (1, 2))
    worker.execution = first
    assert worker.executions == {'e1': first} and worker.execution is first
    worker.execution = second  # (a worker runs one at a time: the new one replaces the old)
    assert worker.executions == {'e2': second} and worker.execution is second
    worker.execution = None
    assert worker.executions == {} and worker.execution is None

    worker.executions.update(e1=first, e2=second)
    with pytest.raises(ValueError, match='several executions'):
        worker.execution = None
    assert worker.execution in (first, second) and len(worker.executions) == 2
    del worker.executions['e1']
    worker.execution = None
    assert worker.executions == {}


def test_each_worker_has_its_own_executions(connection: redis.Redis) -> None:
    one, two = (Worker([Queue(connection=connection)], connection=connection) for _ in range(2))
    one.execution = Execution('e1', 'j1', connection)
    assert two.executions == {} and two.execution is None
    found: Any = Worker.find_by_key(one.key, connection=connection)
    assert found is None or found.executions == {}  # (read back from Redis: nothing runs in this object)

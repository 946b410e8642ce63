"""Worker subclasses written for upstream RQ: their hooks are called with upstream's arguments, at
upstream's moments and in upstream's process, and the outcome they record (through ``super()``) is
the fast path's; a worker that overrides nothing keeps the fast path."""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis

import rq.worker.loop as loop_module
import rqtest_jobs
import rqtest_jobs_worker
from rq import Callback, Queue, Retry
from rq.command import send_stop_job_command
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.worker import BaseWorker, SimpleWorker, SpawnWorker, Worker
from rq.worker.base import BaseWorker as BaseWorkerAtUpstreamPath
from rq.worker.worker_classes import SimpleWorker as SimpleWorkerAtUpstreamPath
from rq.worker.worker_classes import Worker as WorkerAtUpstreamPath
from rq.worker_pool import WorkerData, WorkerPool
from worker_process import wait_until


class NotingHooks:
    """Upstream-style overrides that note each call (hook, process, argument types) in Redis and
    call ``super()``."""

    connection: redis.Redis
    name: str

    def note(self, hook: str, *args: Any, **details: Any) -> None:
        details.update(
            hook=hook,
            pid=os.getpid(),
            spawned=any(frame.name == 'hooked_horse_entry' for frame in traceback.extract_stack()),
            types=[type(arg).__name__ for arg in args],
        )
        self.connection.rpush(f'hooks:{self.name}', json.dumps(details))

    def status_of(self, job: Job) -> str | None:
        raw = self.connection.hget(job.key, 'status')
        return None if raw is None else raw.decode()

    def execute_job(self, job: Job, queue: Queue) -> None:
        self.note('execute_job', job, queue)
        super().execute_job(job, queue)  # type: ignore[misc]
        self.note('execute_job:end', status=self.status_of(job))

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        self.note('prepare_job_execution', job, remove=remove_from_intermediate_queue)
        super().prepare_job_execution(job, remove_from_intermediate_queue)  # type: ignore[misc]

    def perform_job(self, job: Job, queue: Queue) -> bool:
        self.note('perform_job', job, queue)
        outcome: bool = super().perform_job(job, queue)  # type: ignore[misc]
        self.note('perform_job:end', outcome=outcome)
        return outcome

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry) -> None:
        self.note('handle_job_success', job, queue, started_job_registry, result=job._result)
        super().handle_job_success(job, queue, started_job_registry)  # type: ignore[misc]
        self.note('handle_job_success:end', status=self.status_of(job))

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry | None = None, exc_string: str = ''
    ) -> None:
        self.note('handle_job_failure', job, queue, started_job_registry, exc_string=exc_string)
        super().handle_job_failure(job, queue, started_job_registry, exc_string)  # type: ignore[misc]
        self.note('handle_job_failure:end', status=self.status_of(job))

    def handle_job_retry(self, job: Job, queue: Queue, retry: Retry, started_job_registry: Any, execution: Any) -> None:
        self.note('handle_job_retry', job, queue, retry, started_job_registry, execution)
        super().handle_job_retry(job, queue, retry, started_job_registry, execution)  # type: ignore[misc]

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        self.note('handle_exception', job, exc_type=exc_info[0].__name__)
        super().handle_exception(job, *exc_info)  # type: ignore[misc]


class NotingWorker(NotingHooks, Worker):
    pass


class NotingSimpleWorker(NotingHooks, SimpleWorker):
    pass


class NotingSpawnWorker(NotingHooks, SpawnWorker):
    pass


PAIRS = [(Worker, NotingWorker), (SimpleWorker, NotingSimpleWorker), (SpawnWorker, NotingSpawnWorker)]


@pytest.fixture(params=PAIRS, ids=lambda pair: pair[0].__name__)
def classes(request: pytest.FixtureRequest) -> tuple[type[Any], type[Any]]:
    return request.param  # type: ignore[no-any-return]


def notes(connection: redis.Redis, worker: Any) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in connection.lrange(f'hooks:{worker.name}', 0, -1)]


def run(worker_class: type[Any], queue: Queue, **kwargs: Any) -> Any:
    worker = worker_class([queue], job_monitoring_interval=1, **kwargs)
    worker.work(burst=True)
    return worker


def outcome(connection: redis.Redis, queue: Queue, job: Job) -> dict[str, Any]:
    """What a run leaves in Redis, without ids and times: status, registries, result entries."""
    if not connection.exists(job.key):
        return {
            'exists': False,
            'finished': job.id in FinishedJobRegistry(queue=queue),
            'failed': job.id in FailedJobRegistry(queue=queue),
            'started': job.id in StartedJobRegistry(queue=queue),
            'queued': job.id in queue.get_job_ids(),
        }
    job = Job.fetch(job.id, connection=connection)
    results = [(r.type.name, r.return_value, (r.exc_string or '').strip().splitlines()[-1:]) for r in job.results()]
    return {
        'status': str(job.get_status()),
        'finished': job.id in FinishedJobRegistry(queue=queue),
        'failed': job.id in FailedJobRegistry(queue=queue),
        'started': job.id in StartedJobRegistry(queue=queue),
        'queued': job.id in queue.get_job_ids(),
        'retries_left': job.retries_left,
        'results': results,
        'worker_name_set': bool(job.worker_name),
    }


def worker_counts(connection: redis.Redis, worker: Any) -> tuple[int, int]:
    raw = connection.hmget(worker.key, 'successful_job_count', 'failed_job_count')
    return int(raw[0] or 0), int(raw[1] or 0)


def test_overrides_are_detected_once_per_class(connection: redis.Redis, queue: Queue) -> None:
    assert not Worker([queue]).uses_hooks
    assert not SimpleWorker([queue]).uses_hooks
    assert NotingWorker([queue]).uses_hooks
    assert NotingSimpleWorker([queue]).uses_hooks

    class OnlyWrapsExecuteJob(SimpleWorker):
        def execute_job(self, job: Job, queue: Queue, execution: Any = None) -> None:
            super().execute_job(job, queue)

    assert not OnlyWrapsExecuteJob([queue]).uses_hooks  # (it wraps whichever path its super() takes)


def test_success_calls_the_hooks_with_upstream_arguments_in_upstream_processes(
    connection: redis.Redis, queue: Queue, classes: tuple[type[Any], type[Any]]
) -> None:
    _, hooked = classes
    job = queue.enqueue(rqtest_jobs.add, 2, 3)
    worker = run(hooked, queue)
    seen = notes(connection, worker)
    assert [n['hook'] for n in seen] == [
        'execute_job',
        'perform_job',
        'prepare_job_execution',
        'handle_job_success',
        'handle_job_success:end',
        'perform_job:end',
        'execute_job:end',
    ]
    by_hook = {n['hook']: n for n in seen}
    assert by_hook['execute_job']['types'] == ['Job', 'Queue']
    assert by_hook['perform_job']['types'] == ['Job', 'Queue']
    assert by_hook['prepare_job_execution']['remove'] is True  # (one queue, as upstream computes it)
    assert by_hook['handle_job_success']['types'] == ['Job', 'Queue', 'StartedJobRegistry']
    assert by_hook['handle_job_success']['result'] == 5
    assert by_hook['handle_job_success:end']['status'] == 'finished'  # (super() recorded it)
    assert by_hook['perform_job:end']['outcome'] is True
    assert by_hook['execute_job:end']['status'] == 'finished'
    worker_pid = os.getpid()
    assert by_hook['execute_job']['pid'] == worker_pid  # the worker process
    horse_hooks = ('perform_job', 'prepare_job_execution', 'handle_job_success', 'perform_job:end')
    horse_pids = {by_hook[hook]['pid'] for hook in horse_hooks}
    if hooked is not NotingSimpleWorker:
        assert len(horse_pids) == 1 and worker_pid not in horse_pids  # all in one work horse
        # (a SpawnWorker's horse is a new interpreter that rebuilt the worker: not a fork)
        assert by_hook['perform_job']['spawned'] == (hooked is NotingSpawnWorker)
    else:
        assert horse_pids == {worker_pid}  # in-process
    assert job.return_value(refresh=True) == 5
    assert worker_counts(connection, worker) == (1, 0)
    assert (worker.successful_job_count, worker.failed_job_count) == (1, 0)


def test_failure_passes_the_traceback_as_exc_string(
    connection: redis.Redis, queue: Queue, classes: tuple[type[Any], type[Any]]
) -> None:
    _, hooked = classes
    queue.enqueue(rqtest_jobs.div_by_zero)
    worker = run(hooked, queue)
    seen = notes(connection, worker)
    assert [n['hook'] for n in seen] == [
        'execute_job',
        'perform_job',
        'prepare_job_execution',
        'handle_exception',
        'handle_job_failure',
        'handle_job_failure:end',
        'perform_job:end',
        'execute_job:end',
    ]
    by_hook = {n['hook']: n for n in seen}
    assert by_hook['handle_exception']['exc_type'] == 'ZeroDivisionError'
    failure = by_hook['handle_job_failure']
    assert failure['types'] == ['Job', 'Queue', 'StartedJobRegistry']
    assert failure['exc_string'].startswith('Traceback (most recent call last):')
    assert 'ZeroDivisionError: division by zero' in failure['exc_string']
    assert by_hook['handle_job_failure:end']['status'] == 'failed'
    assert by_hook['perform_job:end']['outcome'] is False
    assert worker_counts(connection, worker) == (0, 1)
    assert (worker.successful_job_count, worker.failed_job_count) == (0, 1)


def test_a_failure_with_retries_left_is_retried_through_the_failure_hook(
    connection: redis.Redis, queue: Queue, classes: tuple[type[Any], type[Any]]
) -> None:
    _, hooked = classes
    job = queue.enqueue(rqtest_jobs.fail, 'again', retry=Retry(max=1))
    worker = run(hooked, queue)
    failures = [n for n in notes(connection, worker) if n['hook'] == 'handle_job_failure:end']
    assert [n['status'] for n in failures] == ['queued', 'failed']  # retried once, then failed
    assert job.get_status(refresh=True) == 'failed'
    assert worker_counts(connection, worker) == (0, 2)


def test_a_returned_retry_goes_through_handle_job_retry(
    connection: redis.Redis, queue: Queue, classes: tuple[type[Any], type[Any]]
) -> None:
    _, hooked = classes
    queue.enqueue(rqtest_jobs_worker.return_retry, 1)
    worker = run(hooked, queue)
    retries = [n for n in notes(connection, worker) if n['hook'] == 'handle_job_retry']
    assert len(retries) == 2  # the retry, then the run that used it up
    assert retries[0]['types'] == ['Job', 'Queue', 'Retry', 'StartedJobRegistry', 'Execution']


CASES = [
    ('success', rqtest_jobs.add, (2, 3), {}),
    ('none', rqtest_jobs.return_none, (), {}),
    ('failure', rqtest_jobs.div_by_zero, (), {}),
    ('retried failure', rqtest_jobs.fail, ('x',), {'retry': Retry(max=2)}),
    ('returned retry', rqtest_jobs_worker.return_retry, (1,), {}),
    ('result_ttl=0', rqtest_jobs.add, (1,), {'result_ttl': 0}),
]


@pytest.mark.parametrize('case', CASES, ids=[case[0] for case in CASES])
def test_the_hook_path_leaves_what_the_fast_path_leaves(
    connection: redis.Redis, classes: tuple[type[Any], type[Any]], case: tuple[str, Any, Any, Any]
) -> None:
    plain, hooked = classes
    _, func, args, kwargs = case
    seen = []
    for index, worker_class in enumerate((plain, hooked)):
        queue = Queue(f'q{index}', connection=connection)
        job = queue.enqueue(func, *args, **kwargs)
        worker = run(worker_class, queue)
        seen.append((outcome(connection, queue, job), worker_counts(connection, worker)))
    assert seen[0] == seen[1]


def test_a_horse_that_dies_is_failed_in_the_worker_through_handle_job_failure(
    connection: redis.Redis, queue: Queue
) -> None:
    killed: list[Any] = []
    job = queue.enqueue(rqtest_jobs_worker.kill_self)
    worker = run(NotingWorker, queue, work_horse_killed_handler=lambda *args: killed.append(args))
    failures = [n for n in notes(connection, worker) if n['hook'] == 'handle_job_failure']
    assert len(failures) == 1
    assert failures[0]['pid'] == os.getpid()  # the worker: its horse is dead
    assert 'Work-horse terminated unexpectedly' in failures[0]['exc_string']
    assert 'SIGKILL' in failures[0]['exc_string']
    assert job.get_status(refresh=True) == 'failed'
    assert len(killed) == 1 and killed[0][0].id == job.id


def test_a_subclass_that_replaces_perform_job_entirely(connection: redis.Redis, queue: Queue) -> None:
    """An override that never calls super() but records through the upstream hooks itself."""

    class Custom(SimpleWorker):
        def perform_job(self, job: Job, queue: Queue) -> bool:
            self.prepare_job_execution(job)
            job.started_at = job.started_at
            job._result = 'custom'
            self.handle_execution_ended(job, queue, 60)
            self.handle_job_success(job, queue, queue.started_job_registry)
            return True

    job = queue.enqueue(rqtest_jobs.add, 1, 1)
    run(Custom, queue)
    assert job.get_status(refresh=True) == 'finished'
    assert job.return_value(refresh=True) == 'custom'
    assert job.id in FinishedJobRegistry(queue=queue)
    assert job.id not in StartedJobRegistry(queue=queue)


@pytest.fixture
def spies() -> Iterator[tuple[mock.MagicMock, mock.MagicMock]]:
    """Spies on the hook path's perform_job and on the one-round-trip recording-and-claim."""
    original = loop_module.worker_ops.finish_job_then_claim
    with (
        mock.patch.object(BaseWorker, 'perform_job', autospec=True, side_effect=BaseWorker.perform_job) as perform,
        mock.patch.object(loop_module.worker_ops, 'finish_job_then_claim', side_effect=original) as finish_then_claim,
    ):
        yield perform, finish_then_claim


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker])
def test_a_worker_that_overrides_nothing_keeps_the_fast_path(
    connection: redis.Redis, queue: Queue, worker_class: type[Any], spies: tuple[mock.MagicMock, mock.MagicMock]
) -> None:
    perform, finish_then_claim = spies
    jobs = [queue.enqueue(rqtest_jobs.add, i) for i in range(4)]
    worker = run(worker_class, queue)
    assert not worker.uses_hooks
    assert perform.call_count == 0  # (it would run in the worker for SimpleWorker)
    assert finish_then_claim.call_count == len(jobs)  # each success claims the next job in its round trip
    assert [job.return_value(refresh=True) for job in jobs] == [1, 2, 3, 4]


def test_the_hook_path_claims_no_job_ahead(
    connection: redis.Redis, queue: Queue, spies: tuple[mock.MagicMock, mock.MagicMock]
) -> None:
    perform, finish_then_claim = spies
    for i in range(3):
        queue.enqueue(rqtest_jobs.add, i)
    run(NotingSimpleWorker, queue)
    assert perform.call_count == 3
    assert finish_then_claim.call_count == 0


def test_upstream_module_paths_and_pool_helpers(connection: redis.Redis, queue: Queue) -> None:
    assert BaseWorkerAtUpstreamPath is BaseWorker
    assert WorkerAtUpstreamPath is Worker and SimpleWorkerAtUpstreamPath is SimpleWorker
    pool = WorkerPool(['a', 'b'], connection=connection, num_workers=1)
    assert [q.name for q in pool.queues] == ['a', 'b']
    assert pool.number_of_active_workers == 0
    assert pool.all_workers_have_stopped()
    assert WorkerData._fields == ('name', 'pid', 'process')


def test_prepare_execution_and_perform_job_called_by_hand(connection: redis.Redis, queue: Queue) -> None:
    """Upstream's tests and tools run a job with ``prepare_execution`` then ``perform_job``."""
    job = queue.enqueue(rqtest_jobs.add, 4, 5)
    worker = SimpleWorker([queue])
    worker.register_birth()
    try:
        execution = worker.prepare_execution(job)
        assert execution.job_id == job.id
        assert job.id in StartedJobRegistry(queue=queue)
        assert worker.perform_job(job, queue) is True
    finally:
        worker.register_death()
    assert job.get_status(refresh=True) == 'finished'
    assert job.return_value(refresh=True) == 9
    assert job.id not in StartedJobRegistry(queue=queue)


def test_a_stopped_job_is_recorded_through_handle_job_failure(
    connection: redis.Redis, queue: Queue, classes: tuple[type[Any], type[Any]]
) -> None:
    _, hooked = classes
    job = queue.enqueue(rqtest_jobs_worker.busy_loop, 30, on_stopped=Callback(rqtest_jobs.record_stopped))

    def stop() -> None:
        if wait_until(lambda: connection.hget(job.key, 'status') == b'started', timeout=60):
            deadline = time.monotonic() + 60
            while connection.hget(job.key, 'status') == b'started' and time.monotonic() < deadline:
                send_stop_job_command(connection, job.id)
                time.sleep(0.2)

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    worker = run(hooked, queue)
    thread.join()
    failures = [n for n in notes(connection, worker) if n['hook'] == 'handle_job_failure']
    assert len(failures) == 1
    assert failures[0]['exc_string'] == 'Job stopped by user, work-horse terminated.'
    assert failures[0]['pid'] == os.getpid()  # (the horse is gone; a SimpleWorker runs it in-process)
    assert job.get_status(refresh=True) == 'stopped'
    assert connection.get(f'callback:stopped:{job.id}') == b'stopped'
    assert job.id in FailedJobRegistry(queue=queue)


def test_the_default_handle_exception_runs_the_exception_handlers_in_order(
    connection: redis.Redis, queue: Queue, classes: tuple[type[Any], type[Any]]
) -> None:
    _, hooked = classes
    job = queue.enqueue(rqtest_jobs.div_by_zero)
    handlers = [rqtest_jobs_worker.first_handler, rqtest_jobs_worker.stopping_handler, rqtest_jobs_worker.last_handler]
    run(hooked, queue, exception_handlers=handlers)
    assert connection.lrange(f'handlers:{job.id}', 0, -1) == [b'first:ZeroDivisionError', b'stopping:ZeroDivisionError']


def test_maintenance_goes_through_run_maintenance_tasks_and_clean_registries(
    connection: redis.Redis, queue: Queue
) -> None:
    calls: list[str] = []

    class Maintained(SimpleWorker):
        def run_maintenance_tasks(self) -> None:
            calls.append('run_maintenance_tasks')
            super().run_maintenance_tasks()

        def clean_registries(self) -> None:
            calls.append('clean_registries')
            super().clean_registries()

    queue.enqueue(rqtest_jobs.add, 1)
    worker = run(Maintained, queue)
    assert not worker.uses_hooks  # (maintenance hooks do not change how jobs run)
    assert calls[:2] == ['run_maintenance_tasks', 'clean_registries']  # (at once, on a new worker)
    assert calls.count('clean_registries') == 1  # (then every maintenance_interval)
    assert worker.last_cleaned_at is not None


def test_dequeue_job_and_maintain_ttl_claims_a_job_for_perform_job(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.add, 20, 22)
    worker = SimpleWorker([queue])
    worker.register_birth()
    try:
        claimed = worker.dequeue_job_and_maintain_ttl(None)
        assert claimed is not None
        taken, taken_from = claimed
        assert (taken.id, taken_from.name) == (job.id, queue.name)
        assert worker.execution is not None and worker.execution.job_id == job.id
        assert job.id in StartedJobRegistry(queue=queue)
        assert worker.perform_job(taken, taken_from) is True
        assert worker.dequeue_job_and_maintain_ttl(None) is None  # (empty: no wait without a timeout)
        assert worker.dequeue_job_and_maintain_ttl(1) is None  # (empty for a second)
    finally:
        worker.register_death()
    assert job.return_value(refresh=True) == 42
    assert worker_counts(connection, worker) == (1, 0)


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker, SpawnWorker])
def test_execute_job_called_by_hand_on_a_fresh_worker(
    connection: redis.Redis, queue: Queue, worker_class: type[BaseWorker]
) -> None:
    """rq-dashboard's own tests (and upstream users) build a worker and call ``execute_job(job,
    queue)`` on a job that is still queued, without ``work()``: the job runs and its outcome is
    recorded, as upstream's worker does."""
    succeeding = queue.enqueue(rqtest_jobs.add, 4, 5)
    failing = queue.enqueue(rqtest_jobs.fail, 'by hand')
    worker = worker_class([queue], connection=connection)
    worker.execute_job(succeeding, queue)
    worker.execute_job(failing, queue)
    assert succeeding.get_status(refresh=True) == 'finished'
    assert succeeding.return_value(refresh=True) == 9
    assert failing.get_status(refresh=True) == 'failed'
    latest = failing.latest_result()
    assert latest is not None and 'ValueError: by hand' in (latest.exc_string or '')
    assert failing.id in FailedJobRegistry(queue=queue)
    assert not StartedJobRegistry(queue=queue).get_job_ids()

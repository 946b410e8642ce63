"""ConcurrentWorker (``--concurrency N``): many jobs at once in one process, threads and asyncio,
with hard timeouts, stop commands and shutdowns acting on the one job they name."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import redis

from lost_replies import LoseReply, losing_connection
from redis_server import RedisServer
from rq import Callback, Queue, Retry
from rq._redis import scripts
from rq.command import send_stop_execution_command, send_stop_job_command
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.suspension import resume, suspend
from rq.worker import ConcurrentWorker, Worker
from rqtest_jobs_concurrent import ARRIVED, CALLBACKS, GATE, note_failure, note_success, slow_stopped_callback
from signal_support import launched, worker_command, worker_field
from worker_process import wait_until, worker_env

REPLACE_EXIT_CODE = 75


def run_burst(port: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = worker_command(port, '--burst', *args)
    return subprocess.run(command, env=worker_env(), capture_output=True, text=True, timeout=timeout)


def rq_cli(*args: str) -> str:
    done = subprocess.run([sys.executable, '-m', 'rq.cli', *args], env=worker_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def arrived(connection: redis.Redis) -> int:
    return int(connection.llen(ARRIVED))


def exc_text(job: Job) -> str:
    result = job.latest_result()
    assert result is not None, f'job {job.id} has no result'
    return result.exc_string or ''


def statuses(jobs: list[Job]) -> list[str]:
    return [str(job.get_status(refresh=True)) for job in jobs]


# -- running many at once ---------------------------------------------------------------------


def test_sync_and_async_jobs_run_at_once_in_one_process(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    # each job waits until all ten have started: only jobs that run at the same time can finish
    jobs = [queue.enqueue('rqtest_jobs_concurrent.gathered_sync', 10) for _ in range(5)]
    jobs += [queue.enqueue('rqtest_jobs_concurrent.gathered_async', 10) for _ in range(5)]
    done = run_burst(redis_server.port, '--concurrency', '10')
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses(jobs) == ['finished'] * 10
    assert [job.return_value() for job in jobs] == [job.id for job in jobs]  # (get_current_job in both)
    assert connection.zcard('rq:wip:default') == 0


def test_each_running_job_has_its_own_execution_heartbeat_and_entry(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    jobs = [queue.enqueue('rqtest_jobs_concurrent.held_sync') for _ in range(3)]
    jobs += [queue.enqueue('rqtest_jobs_concurrent.held_async') for _ in range(3)]
    with launched(worker_command(redis_server.port, '--name', 'many', '--concurrency', '6')) as worker:
        assert wait_until(lambda: arrived(connection) == 6, timeout=60), worker.output()
        started = StartedJobRegistry(queue=queue)
        assert sorted(started.get_job_ids()) == sorted(job.id for job in jobs)
        [found] = [w for w in Worker.all(connection=connection) if w.name == 'many']
        executions = found.get_current_executions(refresh=True)
        assert sorted(execution.job_id for execution in executions) == sorted(job.id for job in jobs)
        assert {execution.worker_name for execution in executions} == {'many'}
        assert len({execution.id for execution in executions}) == 6
        assert worker_field(connection, 'many', 'state') == 'busy'
        # rq info says how many of its slots are busy; rq job which slot runs a job
        url = f'redis://127.0.0.1:{redis_server.port}/0'
        info = rq_cli('info', '--url', url, '--only-workers')
        assert 'many (' in info and 'jobs: 0 finished, 0 failed, 6 of 6 slots busy' in info
        assert json.loads(rq_cli('info', '--url', url, '--json'))['workers'][0]['running'] == 6
        slots = {json.loads(rq_cli('job', job.id, '--url', url, '--json'))['slot'] for job in jobs}
        assert slots == set(range(1, 7))
        connection.set(GATE, 1)
        assert wait_until(lambda: statuses(jobs) == ['finished'] * 6, timeout=60), worker.output()
        assert wait_until(lambda: found.get_current_executions(refresh=True) == [])
        assert wait_until(lambda: worker_field(connection, 'many', 'state') == 'idle')
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
        assert '[slot ' in worker.output()  # (each job's lines name its slot)


def test_the_python_api_runs_jobs_concurrently_in_process(connection: redis.Redis, queue: Queue) -> None:
    jobs = [queue.enqueue('rqtest_jobs_concurrent.gathered_async', 4) for _ in range(2)]
    jobs += [queue.enqueue('rqtest_jobs_concurrent.gathered_sync', 4) for _ in range(2)]
    jobs.append(queue.enqueue('rqtest_jobs_concurrent.double', 21))
    worker = ConcurrentWorker([queue], connection=connection, concurrency=4)
    assert worker.work(burst=True) is True
    assert statuses(jobs) == ['finished'] * 5
    assert jobs[-1].return_value() == 42
    assert worker.successful_job_count == 5
    assert worker.executions == {}


def test_a_burst_does_not_end_while_a_retried_job_goes_back_on_its_queue(
    connection: redis.Redis, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that fails with a retry left goes back on its queue as its slot ends it. When that
    happens while the main thread's claim finds the queue empty, the slot is idle by the time the
    claim returns: the burst must still claim again, not end with the retry queued (seen once under
    load; here the claim waits for the slot to end before it answers)."""
    retried = queue.enqueue('rqtest_jobs.fail', 'again', retry=Retry(max=1))
    worker = ConcurrentWorker([queue], connection=connection, concurrency=2, name='race')
    claim_batch = worker._claim_batch

    def claim_then_let_the_slot_end(free: list) -> object:  # type: ignore[type-arg]
        claimed = claim_batch(free)
        if not claimed and worker._busy_count():
            assert wait_until(lambda: worker._busy_count() == 0, 30)
        return claimed

    monkeypatch.setattr(worker, '_claim_batch', claim_then_let_the_slot_end)
    # (with a job limit, slots claim no job ahead: the retry waits on the queue for the main thread)
    assert worker.work(burst=True, max_jobs=10) is True
    assert statuses([retried]) == ['failed']
    assert Job.fetch(retried.id, connection=connection).retries_left == 0  # (it ran twice)
    assert queue.count == 0


def test_async_jobs_end_as_on_any_worker(connection: redis.Redis, queue: Queue) -> None:
    # (a plain success is recorded on the event loop's thread; the rest is handed to the slot's thread)
    plain = [queue.enqueue('rqtest_jobs_concurrent.short_async', index) for index in range(20)]
    noted = queue.enqueue('rqtest_jobs_concurrent.short_async', 7, on_success=Callback(note_success))
    failing = queue.enqueue('rqtest_jobs_concurrent.raises_async', 'boom', on_failure=Callback(note_failure))
    retried = queue.enqueue('rqtest_jobs_concurrent.raises_async', 'again', retry=Retry(max=1))
    unkept = queue.enqueue('rqtest_jobs_concurrent.short_async', 9, result_ttl=0)
    unencodable = queue.enqueue('rqtest_jobs_concurrent.unencodable_async')
    worker = ConcurrentWorker([queue], connection=connection, concurrency=4, name='loop')
    assert worker.work(burst=True) is True
    assert statuses(plain) == ['finished'] * 20
    assert [job.return_value() for job in plain] == list(range(20))
    assert all(connection.xlen(f'rq:results:{job.id}') == 1 for job in plain)
    assert noted.return_value() == 7
    assert statuses([failing, retried]) == ['failed'] * 2
    assert 'ValueError: boom' in exc_text(failing) and 'ValueError: again' in exc_text(retried)
    assert Job.fetch(retried.id, connection=connection).retries_left == 0  # (it ran twice)
    assert unencodable.return_value() == 'Unserializable return value'  # (as upstream stores it)
    assert not connection.exists(unkept.key)  # (result_ttl=0: deleted once it succeeded)
    assert sorted(connection.lrange(CALLBACKS, 0, -1)) == sorted(
        [f'success {noted.id} 7'.encode(), f'failure {failing.id} boom'.encode()]
    )
    assert (worker.successful_job_count, worker.failed_job_count) == (23, 3)
    assert connection.hget('rq:worker:loop', 'successful_job_count') == b'23'
    assert connection.zcard('rq:wip:default') == 0


def test_an_async_success_whose_reply_is_lost_is_recorded_once(
    connection: redis.Redis, redis_server: RedisServer
) -> None:
    jobs = [Queue(connection=connection).enqueue('rqtest_jobs_concurrent.short_async', index) for index in range(3)]
    connection.script_load(scripts.source('finish_job'))
    lossy = losing_connection(redis_server.port, [scripts.sha('finish_job').encode()], retries=False)
    worker = ConcurrentWorker([Queue(connection=lossy)], connection=lossy, concurrency=1, name='w')
    worker.first_reconnect_delay = 0.05
    assert worker.work(burst=True) is True
    assert LoseReply.plan['lost'] == 1
    assert statuses(jobs) == ['finished'] * 3 and [job.return_value() for job in jobs] == [0, 1, 2]
    assert all(connection.xlen(f'rq:results:{job.id}') == 1 for job in jobs)
    assert connection.zcard('rq:finished:default') == 3 and connection.zcard('rq:wip:default') == 0
    # (the claim sent with the lost success was sent again with its execution id: one execution each)
    assert all(connection.zcard(f'rq:executions:{job.id}') == 0 for job in jobs)
    assert connection.hget('rq:worker:w', 'successful_job_count') == b'3'


@pytest.mark.parametrize('bad', [0, -1, 1.5, True, '3'])
def test_a_concurrency_that_is_not_a_whole_number_of_at_least_one_is_refused(
    connection: redis.Redis, queue: Queue, bad: object
) -> None:
    with pytest.raises(ValueError, match='concurrency must be a whole number of at least 1'):
        ConcurrentWorker([queue], connection=connection, concurrency=bad)  # type: ignore[arg-type]


def test_concurrency_needs_a_worker_class_that_supports_it(redis_server: RedisServer) -> None:
    done = run_burst(redis_server.port, '--concurrency', '4', '--worker-class', 'SimpleWorker')
    assert done.returncode == 1
    assert '--concurrency needs a worker class that runs jobs concurrently' in done.stderr
    refused = run_burst(redis_server.port, '--concurrency', '0')
    assert refused.returncode == 2 and 'is not at least 1' in refused.stderr


# -- timeouts -----------------------------------------------------------------------------------


def test_an_async_job_and_a_thread_job_that_overrun_fail_with_a_timeout_while_the_others_finish(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    late_task = queue.enqueue('rqtest_jobs_concurrent.sleeper', 600, job_timeout=1)
    late_thread = queue.enqueue('rqtest_jobs_concurrent.spin', 600, job_timeout=1)
    others = [queue.enqueue('rqtest_jobs_concurrent.nap', 2) for _ in range(3)]
    done = run_burst(redis_server.port, '--concurrency', '5', '--no-supervisor')
    assert done.returncode == 0, done.stdout + done.stderr  # (both were interrupted: nothing to replace)
    assert statuses([late_task, late_thread]) == ['failed', 'failed']
    for job in (late_task, late_thread):
        assert 'JobTimeoutException: Task exceeded maximum timeout value (1 seconds)' in exc_text(job)
    assert statuses(others) == ['finished'] * 3


def test_a_thread_that_cannot_be_interrupted_fails_its_job_and_the_worker_exits_to_be_replaced(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    stuck = queue.enqueue('rqtest_jobs_concurrent.blocked', 600, job_timeout=1)
    others = [queue.enqueue('rqtest_jobs_concurrent.nap', 3) for _ in range(3)]
    done = run_burst(redis_server.port, '--concurrency', '4', '--no-supervisor')
    assert done.returncode == REPLACE_EXIT_CODE, done.stdout + done.stderr
    assert stuck.get_status(refresh=True) == 'failed'
    text = exc_text(stuck)
    assert 'did not end within' in text and 'exits to be replaced' in text
    assert 'JobTimeoutException: Task exceeded maximum timeout value (1 seconds)' in text
    assert statuses(others) == ['finished'] * 3  # (its other jobs ended first)
    assert 'stopped to be replaced' in done.stdout
    assert connection.zcard('rq:wip:default') == 0


def test_an_async_job_that_swallows_its_cancellation_is_failed_all_the_same(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    stubborn = queue.enqueue('rqtest_jobs_concurrent.stubborn', 600, job_timeout=1)
    other = queue.enqueue('rqtest_jobs_concurrent.double', 1)
    done = run_burst(redis_server.port, '--concurrency', '2', '--no-supervisor')
    assert done.returncode == REPLACE_EXIT_CODE, done.stdout + done.stderr
    assert stubborn.get_status(refresh=True) == 'failed'
    assert 'JobTimeoutException' in exc_text(stubborn)
    assert other.get_status(refresh=True) == 'finished'


def test_the_supervisor_replaces_a_worker_whose_thread_is_stuck(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    stuck = queue.enqueue('rqtest_jobs_concurrent.blocked', 600, job_timeout=1)
    with launched(worker_command(redis_server.port, '--concurrency', '2')) as supervisor:
        assert wait_until(lambda: stuck.get_status(refresh=True) == 'failed', timeout=60), supervisor.output()
        first = stuck.latest_result()
        assert first is not None
        # a new worker process takes over (another name), and runs what comes next
        assert wait_until(
            lambda: any(w.name != first.worker_name for w in Worker.all(connection=connection)), timeout=60
        ), supervisor.output()
        later = queue.enqueue('rqtest_jobs_concurrent.double', 4)
        assert wait_until(lambda: later.get_status(refresh=True) == 'finished', timeout=60), supervisor.output()
        supervisor.send(signal.SIGTERM)
        assert supervisor.wait(30) == 0, supervisor.output()
        assert 'stopped to be replaced; starting a new one' in supervisor.output()


def test_a_pool_replaces_a_concurrent_worker_whose_thread_is_stuck(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    stuck = queue.enqueue('rqtest_jobs_concurrent.blocked', 600, job_timeout=1)
    command = [
        sys.executable, '-m', 'rq.cli', 'worker-pool', '--url', f'redis://127.0.0.1:{redis_server.port}/0',
        '--num-workers', '1', '--concurrency', '3', '--isolate', 'other',
    ]  # fmt: skip
    with launched(command) as pool:
        assert wait_until(lambda: stuck.get_status(refresh=True) == 'failed', timeout=60), pool.output()
        later = queue.enqueue('rqtest_jobs_concurrent.double', 5)
        assert wait_until(lambda: later.get_status(refresh=True) == 'finished', timeout=60), pool.output()
        pool.send(signal.SIGTERM)
        assert pool.wait(30) == 0, pool.output()
        assert f'exited with code {REPLACE_EXIT_CODE}' in pool.output()


# -- commands and shutdown ---------------------------------------------------------------------


def test_stop_job_and_stop_execution_stop_exactly_the_job_named(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    jobs = [queue.enqueue('rqtest_jobs_concurrent.held_sync') for _ in range(5)]
    jobs += [queue.enqueue('rqtest_jobs_concurrent.held_async') for _ in range(5)]
    with launched(worker_command(redis_server.port, '--name', 'ten', '--concurrency', '10')) as worker:
        assert wait_until(lambda: arrived(connection) == 10, timeout=60), worker.output()
        thread_job, task_job = jobs[2], jobs[7]
        send_stop_job_command(connection, thread_job.id)
        execution = next(e for e in task_job.get_executions() if e.job_id == task_job.id)
        send_stop_execution_command(connection, task_job.id, execution.id)
        assert wait_until(lambda: statuses([thread_job, task_job]) == ['stopped', 'stopped']), worker.output()
        rest = [job for job in jobs if job not in (thread_job, task_job)]
        assert statuses(rest) == ['started'] * 8
        connection.set(GATE, 1)
        assert wait_until(lambda: statuses(rest) == ['finished'] * 8, timeout=60), worker.output()
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
    assert 'Job stopped by user' in exc_text(thread_job)


@pytest.mark.parametrize('function', ['held_sync', 'held_async'])
def test_a_stopped_jobs_callback_runs_under_its_own_timeout(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer, function: str
) -> None:
    # (the stop's overrun grace is 3 s; the callback's own timeout, 5 s, bounds it instead, and the
    # worker goes on: nothing is left in a thread it cannot interrupt)
    callback = Callback(slow_stopped_callback, timeout=5)
    job = queue.enqueue(f'rqtest_jobs_concurrent.{function}', on_stopped=callback)
    command = worker_command(redis_server.port, '--name', 'calls', '--concurrency', '2', '--no-supervisor')
    with launched(command) as worker:
        assert wait_until(lambda: arrived(connection) == 1, timeout=60), worker.output()
        send_stop_job_command(connection, job.id)
        assert wait_until(lambda: statuses([job]) == ['stopped'], timeout=60), worker.output()
        assert connection.lrange(CALLBACKS, 0, -1) == [f'stopped {job.id}'.encode()]
        assert 'JobTimeoutException' in worker.output()  # (the callback's timeout, logged)
        later = queue.enqueue('rqtest_jobs_concurrent.double', 4)
        assert wait_until(lambda: statuses([later]) == ['finished'], timeout=60), worker.output()
        assert worker.process.poll() is None  # (not replaced: no slot was lost)
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
    assert 'Job stopped by user' in exc_text(job)


def test_a_warm_shutdown_lets_the_running_jobs_finish_and_claims_no_more(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    running = [queue.enqueue('rqtest_jobs_concurrent.held_sync') for _ in range(2)]
    running += [queue.enqueue('rqtest_jobs_concurrent.held_async') for _ in range(2)]
    waiting = [queue.enqueue('rqtest_jobs_concurrent.double', n) for n in range(2)]
    with launched(worker_command(redis_server.port, '--name', 'warm', '--concurrency', '4')) as worker:
        assert wait_until(lambda: arrived(connection) == 4, timeout=60), worker.output()
        worker.send(signal.SIGTERM)
        assert wait_until(lambda: worker_field(connection, 'warm', 'shutdown_requested_date') is not None)
        assert worker.wait(0) is None  # (its jobs still run)
        connection.set(GATE, 1)
        assert worker.wait(60) == 0, worker.output()
    assert statuses(running) == ['finished'] * 4
    assert statuses(waiting) == ['queued'] * 2


def test_a_cold_shutdown_fails_the_running_jobs_with_the_cause(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    running = [queue.enqueue('rqtest_jobs_concurrent.held_sync'), queue.enqueue('rqtest_jobs_concurrent.held_async')]
    retried = queue.enqueue('rqtest_jobs_concurrent.held_sync', retry=Retry(max=1))
    with launched(worker_command(redis_server.port, '--name', 'cold', '--concurrency', '3')) as worker:
        assert wait_until(lambda: arrived(connection) == 3, timeout=60), worker.output()
        worker.send(signal.SIGTERM)
        assert wait_until(lambda: worker_field(connection, 'cold', 'shutdown_requested_date') is not None)
        wait_until(lambda: False, timeout=1.2)  # (a second signal within a second is taken for a duplicate)
        worker.send(signal.SIGTERM)
        assert worker.wait(60) is not None, worker.output()
    assert statuses(running) == ['failed', 'failed']
    for job in running:
        assert 'cold shutdown of its worker' in exc_text(job)
    assert retried.get_status(refresh=True) == JobStatus.QUEUED  # (put back: it has a retry left)
    assert connection.zcard('rq:wip:default') == 0


def test_suspension_stops_the_claims_while_the_running_jobs_go_on(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    running = [queue.enqueue('rqtest_jobs_concurrent.held_sync'), queue.enqueue('rqtest_jobs_concurrent.held_async')]
    with launched(worker_command(redis_server.port, '--name', 'paused', '--concurrency', '4')) as worker:
        assert wait_until(lambda: arrived(connection) == 2, timeout=60), worker.output()
        suspend(connection)
        assert wait_until(lambda: worker_field(connection, 'paused', 'state') == 'suspended'), worker.output()
        later = queue.enqueue('rqtest_jobs_concurrent.double', 7)
        connection.set(GATE, 1)
        assert wait_until(lambda: statuses(running) == ['finished'] * 2, timeout=60), worker.output()
        assert later.get_status(refresh=True) == 'queued'  # (two slots were free all along)
        resume(connection)
        assert wait_until(lambda: later.get_status(refresh=True) == 'finished', timeout=60), worker.output()
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()


# -- isolation: jobs in a work horse of their own ----------------------------------------------


def test_isolated_queues_and_jobs_run_in_a_horse_of_their_own_and_a_crash_stays_there(
    connection: redis.Redis, redis_server: RedisServer
) -> None:
    io, cpu = Queue('io', connection=connection), Queue('cpu', connection=connection)
    shared = io.enqueue('rqtest_jobs_concurrent.pid')
    by_queue = cpu.enqueue('rqtest_jobs_concurrent.pid')
    by_meta = io.enqueue('rqtest_jobs_concurrent.pid', meta={'rq.isolate': True})
    crash = cpu.enqueue('rqtest_jobs_crash.abort')
    late = cpu.enqueue('rqtest_jobs_concurrent.blocked', 600, job_timeout=1)
    after = io.enqueue('rqtest_jobs_concurrent.double', 3)
    done = run_burst(redis_server.port, '--concurrency', '4', '--isolate', 'cpu', '--no-supervisor', 'io', 'cpu')
    assert done.returncode == 0, done.stdout + done.stderr  # (nothing stuck: horses are killed)
    assert statuses([shared, by_queue, by_meta, after]) == ['finished'] * 4
    worker_pid = shared.return_value()
    assert by_queue.return_value() != worker_pid and by_meta.return_value() != worker_pid
    assert len({worker_pid, by_queue.return_value(), by_meta.return_value()}) == 3
    assert crash.get_status(refresh=True) == 'failed'
    assert 'Work-horse terminated unexpectedly' in exc_text(crash) and 'SIGABRT' in exc_text(crash)
    assert late.get_status(refresh=True) == 'failed'
    assert 'JobTimeoutException' in exc_text(late)  # (the horse enforces it in its own main thread)


def test_stop_job_kills_an_isolated_jobs_horse(
    connection: redis.Redis, queue: Queue, redis_server: RedisServer
) -> None:
    isolated = queue.enqueue('rqtest_jobs_concurrent.blocked', 600, meta={'rq.isolate': True})
    other = queue.enqueue('rqtest_jobs_concurrent.held_sync')
    with launched(worker_command(redis_server.port, '--name', 'iso', '--concurrency', '2')) as worker:
        assert wait_until(lambda: arrived(connection) == 2, timeout=60), worker.output()
        send_stop_job_command(connection, isolated.id)
        assert wait_until(lambda: isolated.get_status(refresh=True) == 'stopped'), worker.output()
        assert other.get_status(refresh=True) == 'started'
        connection.set(GATE, 1)
        assert wait_until(lambda: other.get_status(refresh=True) == 'finished'), worker.output()
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()


def test_isolate_needs_concurrency(redis_server: RedisServer) -> None:
    done = run_burst(redis_server.port, '--isolate', 'cpu')
    assert done.returncode == 1 and '--isolate needs --concurrency' in done.stderr

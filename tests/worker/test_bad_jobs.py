"""Bad input: jobs that crash their process, return what cannot be stored, or whose data is broken.

Whatever a job does, its outcome is recorded with a stated cause and the worker goes on to the
next job. (A SimpleWorker runs jobs in its own process, so a job that kills the process kills the
worker; another worker then fails the job as abandoned.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

import rq.worker.forking
from crash_support import ABANDONED_TEXT, ProcessGuard, alive, census, drain, output_of, start_victim
from rq import Queue, Retry
from rq._redis import codec
from rq.job import Job, JobStatus
from rq.worker import SimpleWorker, SpawnWorker, Worker
from worker_process import wait_until, worker_env

pytestmark = pytest.mark.timeout(180)  # (a guard against hangs only)

FORKING = [Worker, SpawnWorker]
ALL = [Worker, SpawnWorker, SimpleWorker]
MB = 1024 * 1024


def run_burst(worker_class: type[Worker] | type[SimpleWorker], queue: Queue, **kwargs: object) -> Worker | SimpleWorker:
    worker = worker_class([queue], connection=queue.connection, job_monitoring_interval=1, **kwargs)  # type: ignore[arg-type]
    worker.work(burst=True)
    return worker


def failure_text(job: Job) -> str:
    result = job.latest_result()
    assert result is not None, f'job {job.id} has no result'
    return result.exc_string or ''


def assert_failed(job: Job, *needles: str) -> str:
    assert job.connection.hget(job.key, 'status') == b'failed'  # (a corrupt job cannot be refreshed)
    assert job.connection.zscore(f'rq:failed:{job.origin}', job.id) is not None
    text = failure_text(job)
    for needle in needles:
        assert needle in text, f'{needle!r} not in the failure text {text!r}'
    return text


def assert_next_job_ran(job: Job) -> None:
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 42


# -- jobs that kill their horse ----------------------------------------------------------------


@pytest.mark.parametrize('worker_class', FORKING)
@pytest.mark.parametrize(
    ('function', 'args', 'cause'),
    [
        ('rqtest_jobs_crash.abort', (), 'SIGABRT'),
        ('rqtest_jobs_crash.segfault', (), 'SIGSEGV'),
        ('rqtest_jobs_crash.hard_exit', (3,), 'exit code 3'),
    ],
    ids=['abort', 'segfault', 'os._exit'],
)
def test_a_job_that_kills_its_horse_fails_with_the_cause(
    queue: Queue,
    worker_class: type[Worker],
    function: str,
    args: tuple[int, ...],
    cause: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    bad = queue.enqueue(function, *args)
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    worker = run_burst(worker_class, queue)
    if worker_class is Worker and cause.startswith('SIG'):
        # A forked horse inherits faulthandler (tests/conftest.py points it at the horse's own
        # stderr): its crash report reaches the worker's stderr, naming the job's function.
        dump = capfd.readouterr().err
        assert 'Fatal Python error' in dump and f' in {function.rsplit(".", 1)[1]}\n' in dump, dump
    text = assert_failed(bad, 'Work-horse terminated unexpectedly', cause)
    assert text.count('\n') <= 1
    assert_next_job_ran(good)
    assert worker.failed_job_count == 1 and worker.successful_job_count == 1
    assert census(queue.connection, ['default'], [bad.id, good.id]).problems == []


@pytest.mark.parametrize('worker_class', ALL)
def test_sys_exit_in_a_job_fails_it_and_the_worker_goes_on(queue: Queue, worker_class: type[Worker]) -> None:
    bad = queue.enqueue('rqtest_jobs_crash.exit_with', 3)
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    run_burst(worker_class, queue)
    assert_failed(bad, 'SystemExit', '3')
    assert_next_job_ran(good)


def test_a_horse_killed_for_memory_reports_its_peak_memory(queue: Queue) -> None:
    """What the kernel's OOM killer does (SIGKILL), after the job grew to 200 MB."""
    bad = queue.enqueue('rqtest_jobs_crash.grow_memory', 200)
    run_burst(Worker, queue)
    text = assert_failed(bad, 'SIGKILL', 'peak memory')
    peak = int(text.split('peak memory ')[1].split(' MB')[0])
    assert 200 <= peak < 1000


def test_a_horse_that_dies_while_serializing_its_result(queue: Queue) -> None:
    bad = queue.enqueue('rqtest_jobs_crash.die_while_serializing_result')
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    run_burst(Worker, queue)
    assert_failed(bad, 'SIGKILL')
    assert_next_job_ran(good)


def test_a_horse_that_dies_while_sending_a_large_result(queue: Queue) -> None:
    """Killed at some point while encoding and sending 64 MB: the job either finished (the
    whole result arrived) or failed with the signal, never anything in between."""
    jobs = [queue.enqueue('rqtest_jobs_crash.die_while_sending_result', 64 * MB, delay) for delay in (0.0, 0.02, 0.1)]
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    run_burst(Worker, queue)
    for job in jobs:
        if job.get_status() == JobStatus.FINISHED:
            assert job.return_value() == b'r' * (64 * MB)
        else:
            assert_failed(job, 'SIGKILL')
    assert_next_job_ran(good)
    assert census(queue.connection, ['default'], [j.id for j in [*jobs, good]]).problems == []


@pytest.mark.parametrize('worker_class', FORKING)
def test_a_horse_that_dies_leaving_a_child_behind(queue: Queue, worker_class: type[Worker]) -> None:
    """The child holds the horse's result pipe open, so its end never shows: the worker notices the
    horse's exit at its next heartbeat, records the cause and kills what the horse left behind."""
    bad = queue.enqueue('rqtest_jobs_crash.fork_then_segfault', 'child')
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    started = time.monotonic()
    try:
        run_burst(worker_class, queue)
        assert time.monotonic() - started < 40  # not held up by the child, which lives 60 s
        assert_failed(bad, 'SIGSEGV')
        assert_next_job_ran(good)
        child = int(queue.connection.lindex('child', 0))  # type: ignore[arg-type]
        assert wait_until(lambda: not alive(child), 30), 'the child of the dead horse is still running'
    finally:
        for pid in queue.connection.lrange('child', 0, -1):
            if alive(int(pid)):
                os.kill(int(pid), signal.SIGKILL)


# -- return values -----------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', ALL)
def test_an_unpicklable_return_value_is_stored_as_a_placeholder(queue: Queue, worker_class: type[Worker]) -> None:
    job = queue.enqueue('rqtest_jobs_crash.unpicklable')
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    run_burst(worker_class, queue)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 'Unserializable return value'
    assert_next_job_ran(good)


@pytest.mark.parametrize('worker_class', ALL)
def test_a_10_mb_return_value_round_trips(queue: Queue, worker_class: type[Worker]) -> None:
    from rqtest_jobs_crash import big_value

    job = queue.enqueue('rqtest_jobs_crash.big_value', 10 * MB, 11)
    run_burst(worker_class, queue)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == big_value(10 * MB, 11)


# -- broken job data ---------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', ALL)
def test_a_corrupt_job_hash_fails_the_job_with_the_reason(queue: Queue, worker_class: type[Worker]) -> None:
    bad = queue.enqueue('rqtest_jobs_crash.short', 1)
    queue.connection.hset(bad.key, 'data', b'\x00garbage, not zlib')
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    worker = run_burst(worker_class, queue)
    assert_failed(bad, 'DeserializationError')
    assert_next_job_ran(good)
    assert worker.failed_job_count == 1
    assert census(queue.connection, ['default'], [bad.id, good.id]).problems == []


def point_at(job: Job, func_name: str) -> None:
    """Make a queued job call ``func_name`` (which enqueue would refuse if it cannot be found)."""
    job.connection.hset(job.key, 'data', codec.encode_payload(job.serializer, (func_name, None, (), {})))


@pytest.mark.parametrize('worker_class', ALL)
def test_a_job_whose_function_cannot_be_imported_fails_with_the_reason(
    queue: Queue, worker_class: type[Worker]
) -> None:
    no_function = queue.enqueue('rqtest_jobs_crash.short', 1)
    point_at(no_function, 'rqtest_jobs_crash.no_such_function')
    no_module = queue.enqueue('rqtest_no_such_module.function')
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    run_burst(worker_class, queue)
    assert_failed(no_function, 'no_such_function')
    assert_failed(no_module, 'rqtest_no_such_module')
    assert_next_job_ran(good)


def make_nested() -> object:
    def nested(x: int) -> int:
        return x

    return nested


@pytest.mark.parametrize('worker_class', ALL)
def test_a_lambda_nested_function_or_bare_name_fails_saying_why_no_worker_can_import_it(
    queue: Queue, worker_class: type[Worker]
) -> None:
    """Enqueue accepts them (as RQ does); the worker's failure names the kind of function and the fix."""
    as_lambda = queue.enqueue(lambda x: x, 1)
    nested = queue.enqueue(make_nested(), 1)
    bare = queue.enqueue('rqtest_bare_name_nowhere', 1)
    module_lacks_it = queue.enqueue('rqtest_jobs_crash.no_such_function_here', 1)
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    run_burst(worker_class, queue)
    assert_failed(as_lambda, 'is a lambda, which no worker can import', 'define it with def at module level')
    assert_failed(nested, 'is a nested function', "'test_bad_jobs.make_nested'", 'move it to module level')
    assert_failed(bare, "'rqtest_bare_name_nowhere' is a bare name", 'package.module.rqtest_bare_name_nowhere')
    assert_failed(module_lacks_it, 'no_such_function_here')
    assert_next_job_ran(good)


@pytest.mark.parametrize('worker_class', FORKING)
def test_a_job_module_that_crashes_on_import_does_not_take_the_worker_down(
    queue: Queue, worker_class: type[Worker], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [queue.enqueue('rqtest_crash_on_import.function') for _ in range(2)]
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    (tmp_path / 'rqtest_crash_on_import.py').write_text('import os\nos.abort()\n\ndef function():\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    run_burst(worker_class, queue)
    for job in bad:
        assert_failed(job, 'SIGABRT')
    assert_next_job_ran(good)


@pytest.mark.parametrize('worker_class', ALL)
@pytest.mark.parametrize('queue_names', [['default'], ['high', 'default']], ids=['one-queue', 'two-queues'])
def test_a_job_hash_deleted_while_queued_is_skipped(
    connection: redis.Redis, worker_class: type[Worker], queue_names: list[str]
) -> None:
    queues = [Queue(name, connection=connection) for name in queue_names]
    gone = queues[-1].enqueue('rqtest_jobs_crash.short', 1)
    good = queues[-1].enqueue('rqtest_jobs_crash.short', 42)
    connection.delete(gone.key)
    worker = worker_class(queues, connection=connection, job_monitoring_interval=1)
    worker.work(burst=True)
    assert_next_job_ran(good)
    assert not connection.exists(gone.key)  # not brought back to life by the claim
    assert connection.llen(queues[-1].key) == 0
    assert not any(connection.zrange(f'rq:wip:{name}', 0, -1) for name in queue_names)
    assert worker.successful_job_count == 1 and worker.failed_job_count == 0


# -- the hard timeout --------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', FORKING)
@pytest.mark.parametrize('function', ['rqtest_jobs_crash.ignore_alarm', 'rqtest_jobs_crash.block_alarm'])
def test_a_job_that_escapes_its_timeout_is_killed(
    queue: Queue, worker_class: type[Worker], function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The horse raises JobTimeoutException at job_timeout with SIGALRM; a job that ignores or blocks
    SIGALRM is killed by the worker at job_timeout + HARD_KILL_GRACE_SECONDS (60 s, 1 s here)."""
    monkeypatch.setattr(rq.worker.forking, 'HARD_KILL_GRACE_SECONDS', 1)
    bad = queue.enqueue(function, 60, job_timeout=1)
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    started = time.monotonic()
    run_burst(worker_class, queue)
    assert time.monotonic() - started < 40  # killed, not run for its 60 s
    assert_failed(bad, 'the job exceeded its timeout of 1 seconds and the work-horse was killed')
    assert_next_job_ran(good)


# -- SimpleWorker: a job that kills the worker --------------------------------------------------


@pytest.mark.parametrize('function', ['rqtest_jobs_crash.segfault', 'rqtest_jobs_crash.hard_exit'])
def test_a_simple_worker_killed_by_its_job_leaves_it_to_be_failed_as_abandoned(
    connection: redis.Redis, redis_server: object, guard: ProcessGuard, function: str
) -> None:
    queue = Queue(connection=connection)
    bad = queue.enqueue(function, *([3] if function.endswith('hard_exit') else []))
    good = queue.enqueue('rqtest_jobs_crash.short', 42)
    victim = guard.add(start_victim(redis_server.port, ['default'], worker_class='SimpleWorker'))  # type: ignore[attr-defined]
    victim.wait(60)
    assert victim.returncode != 0
    assert bad.get_status() == JobStatus.STARTED
    assert good.get_status() == JobStatus.QUEUED
    drain(connection, ['default'], 'SimpleWorker')
    assert_failed(bad, ABANDONED_TEXT)
    assert_next_job_ran(good)
    assert census(connection, ['default'], [bad.id, good.id]).problems == []


def test_a_simple_worker_killed_by_its_job_leaves_it_to_be_retried(
    connection: redis.Redis, redis_server: object, guard: ProcessGuard
) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs_crash.segfault_once', 'runs', retry=Retry(max=1))
    victim = guard.add(start_victim(redis_server.port, ['default'], worker_class='SimpleWorker'))  # type: ignore[attr-defined]
    victim.wait(60)
    assert victim.returncode != 0
    # (else the drain below would run the crashing first attempt in this very process)
    assert connection.get('runs') == b'1', output_of(victim)
    drain(connection, ['default'], 'SimpleWorker')
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 2
    assert connection.get('runs') == b'2'


# -- the command line --------------------------------------------------------------------------


def test_an_unknown_worker_class_is_a_clear_one_line_error(redis_server: object) -> None:
    port = redis_server.port  # type: ignore[attr-defined]
    process = subprocess.run(
        [sys.executable, '-m', 'rq.worker', '--url', f'redis://127.0.0.1:{port}/0', '-w', 'no.such.Class', '--burst'],
        env=worker_env(),
        capture_output=True,
        timeout=30,
    )
    assert process.returncode != 0
    error = process.stderr.decode().strip()
    assert len(error.splitlines()) == 1, error
    assert 'no.such.Class' in error and 'Traceback' not in error
    assert process.stdout == b''


def test_a_worker_class_that_is_not_a_worker_is_refused(redis_server: object) -> None:
    port = redis_server.port  # type: ignore[attr-defined]
    process = subprocess.run(
        [sys.executable, '-m', 'rq.worker', '--url', f'redis://127.0.0.1:{port}/0', '-w', 'rq.Queue', '--burst'],
        env=worker_env(),
        capture_output=True,
        timeout=30,
    )
    assert process.returncode != 0
    error = process.stderr.decode().strip()
    assert len(error.splitlines()) == 1 and 'rq.Queue' in error, error

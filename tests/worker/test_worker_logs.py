"""What a worker logs, seen from the outside: real ``python -m rq.worker`` processes (and a pool).

Every line of a worker names it, the job lines name the queue, the job id and the call string,
an outcome line says how the job ended and how long it ran, and the worker's last line says how it
stopped. Colour codes only on a terminal, never with NO_COLOR or when piped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import time
import traceback
from collections.abc import Iterator

import pytest
import redis

from redis_server import RedisServer
from rq import Queue, Retry
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus
from rq.worker.job_log import exception_line, format_duration
from rq.worker.worker_log import WorkerLogger
from signal_support import (
    Launched,
    launched,
    pool_command,
    registered_workers,
    running_worker,
    wait_running,
    worker_command,
    worker_field,
)
from worker_process import wait_until, worker_env

#: A hang guard only: every wait below ends as soon as its event happens.
PATIENCE = 60.0
TIMESTAMP = re.compile(r'^\d\d:\d\d:\d\d ')
DURATION = r'(?P<duration>\d+\.\d+(?:ms|s)|\d+m\d+\.\ds)'
ESCAPE = '\x1b['
CLASSES = ['Worker', 'SimpleWorker']


def log_messages(output: str) -> list[str]:
    """The messages of the log lines (the time stripped), without traceback lines."""
    return [TIMESTAMP.sub('', line) for line in output.replace('\r', '').splitlines() if TIMESTAMP.match(line)]


def find(messages: list[str], pattern: str) -> re.Match[str]:
    for message in messages:
        match = re.fullmatch(pattern, message)
        if match:
            return match
    raise AssertionError(f'no line matches {pattern!r} in:\n' + '\n'.join(messages))


def seconds(duration: str) -> float:
    if duration.endswith('ms'):
        return float(duration[:-2]) / 1000
    minutes, _, rest = duration.rstrip('s').rpartition('m')
    return float(minutes or 0) * 60 + float(rest)


def assert_every_line_names(messages: list[str], name: str) -> None:
    strangers = [m for m in messages if not m.startswith(f'Worker {name}:') and not m.startswith(f'Worker {name} ')]
    assert not strangers, f'lines without the worker name {name!r}: {strangers}'


def stop_and_wait(worker: Launched, signum: int = signal.SIGTERM) -> str:
    """Stop the worker with ``signum``; what it printed once it has exited."""
    worker.send(signum)
    assert worker.wait(PATIENCE) == 0, worker.output()
    return worker.output()


def run_worker_to_the_end(
    port: int, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m rq.worker`` with ``options`` until it returns, stdout and stderr together."""
    return subprocess.run(
        worker_command(port, *options),
        env=env or worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=PATIENCE,
    )


def status_is(job: Job, status: JobStatus) -> bool:
    return job.get_status(refresh=True) == status


# -- one job ----------------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', ['Worker', 'SimpleWorker', 'SpawnWorker'])
def test_a_successful_job(connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str) -> None:
    name = f'ok-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs.say_hello', 'logs')
        assert wait_until(lambda: status_is(job, JobStatus.FINISHED), PATIENCE), worker.output()
        output = stop_and_wait(worker)

    messages = log_messages(output)
    find(messages, rf"Worker {name}: default: rqtest_jobs\.say_hello\('logs'\) \({job.id}\)")
    find(messages, rf"Worker {name}: default: Job OK \({job.id}\): rqtest_jobs\.say_hello\('logs'\) in {DURATION}")
    find(messages, rf'Worker {name}: job {job.id} result is kept for 500 seconds')
    find(messages, rf'Worker {name}: \*\*\* Listening on default\.\.\.')
    assert_every_line_names(messages, name)


@pytest.mark.parametrize('worker_class', CLASSES)
def test_a_failed_job_with_its_exception_and_traceback(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'failing-{worker_class.lower()}'
    job = queue.enqueue('rqtest_jobs.div_by_zero', 7)
    done = subprocess.run(
        worker_command(redis_server.port, '--burst', '--name', name, '--worker-class', worker_class),
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert job.get_status() == JobStatus.FAILED

    # as upstream RQ: errors on stderr, the rest on stdout
    failure = find(
        log_messages(done.stderr),
        rf'Worker {name}: default: Job failed \({job.id}\): rqtest_jobs\.div_by_zero\(7\) in {DURATION}; '
        r'ZeroDivisionError: division by zero',
    )
    assert failure
    lines = done.stderr.splitlines()
    traceback_at = lines.index('Traceback (most recent call last):')
    assert 'Job failed' in lines[traceback_at - 1]
    assert 'ZeroDivisionError: division by zero' in lines[traceback_at + 1 :]
    stdout = log_messages(done.stdout)
    find(stdout, rf'Worker {name}: default: rqtest_jobs\.div_by_zero\(7\) \({job.id}\)')
    find(stdout, rf'Worker {name}: burst complete, the queues are empty; jobs: 0 OK, 1 failed')
    assert 'Job failed' not in done.stdout
    assert_every_line_names(stdout + log_messages(done.stderr), name)


def test_a_job_retried_then_failed(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    job = queue.enqueue('rqtest_jobs.fail', 'again', retry=Retry(max=1))
    done = run_worker_to_the_end(redis_server.port, '--burst', '--name', 'retrying')
    assert done.returncode == 0, done.stdout
    assert job.get_status() == JobStatus.FAILED
    messages = log_messages(done.stdout)
    call = r"rqtest_jobs\.fail\('again'\)"
    retried = find(
        messages,
        rf'Worker retrying: default: Job retried \({job.id}\): {call} in {DURATION}, 0 retries left; '
        r'ValueError: again',
    )
    failed = find(
        messages, rf'Worker retrying: default: Job failed \({job.id}\): {call} in {DURATION}; ValueError: again'
    )
    assert messages.index(retried.string) < messages.index(failed.string)


def test_a_stopped_job_and_how_long_it_ran(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    with running_worker(connection, redis_server.port, 'stopper') as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 60)
        wait_running(connection, job.id, PATIENCE)
        time.sleep(0.3)  # (so that it has run for a measurable while)
        send_stop_job_command(connection, job.id)
        assert wait_until(lambda: status_is(job, JobStatus.STOPPED), PATIENCE), worker.output()
        output = stop_and_wait(worker)
    stopped = find(
        log_messages(output),
        rf'Worker stopper: default: Job stopped \({job.id}\): rqtest_jobs_signals\.announce_and_sleep\(60\) '
        rf'after {DURATION}',
    )
    assert seconds(stopped['duration']) >= 0.3


# -- how a worker ends ------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
def test_warm_shutdown_finishes_the_job_and_says_so(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'warm-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as worker:
        # the job runs until the test lets it go: after the worker has taken the signal
        job = queue.enqueue('rqtest_jobs_crash.crash_target', 'logs:runs', release_key='logs:go')
        assert wait_until(lambda: connection.get('logs:runs') == b'1', PATIENCE), worker.output()
        worker.send(signal.SIGINT)
        assert wait_until(lambda: worker_field(connection, name, 'shutdown_requested_date') is not None, PATIENCE)
        connection.set('logs:go', 1)
        assert worker.wait(PATIENCE) == 0, worker.output()
        output = worker.output()

    assert job.get_status() == JobStatus.FINISHED
    messages = log_messages(output)
    find(
        messages,
        rf'Worker {name} \[PID {worker.pid}\]: got signal SIGINT, warm shut down requested; finishing job {job.id} '
        r'first .*',
    )
    find(messages, rf'Worker {name}: default: Job OK \({job.id}\): .* in {DURATION}')
    assert messages[-1] == f'Worker {name}: warm shutdown complete; jobs: 1 OK, 0 failed'
    assert_every_line_names(messages, name)


def test_warm_shutdown_of_an_idle_worker(connection: redis.Redis, redis_server: RedisServer) -> None:
    with running_worker(connection, redis_server.port, 'idle-logs') as worker:
        output = stop_and_wait(worker)
    messages = log_messages(output)
    find(messages, rf'Worker idle-logs \[PID {worker.pid}\]: got signal SIGTERM, warm shut down requested')
    assert messages[-1] == 'Worker idle-logs: warm shutdown complete; jobs: 0 OK, 0 failed'


@pytest.mark.parametrize('worker_class', CLASSES)
def test_cold_shutdown_interrupts_the_job_and_says_so(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'cold-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 600)
        wait_running(connection, job.id, PATIENCE)
        worker.send(signal.SIGTERM)
        # a second signal within a second of the first is taken for a duplicate: wait until the
        # worker has handled the first one, then more than a second
        assert wait_until(lambda: worker_field(connection, name, 'shutdown_requested_date') is not None, PATIENCE)
        time.sleep(1.2)
        worker.send(signal.SIGTERM)
        assert worker.wait(PATIENCE) is not None, worker.output()
        output = worker.output()

    assert job.get_status() == JobStatus.FAILED, output
    messages = log_messages(output)
    find(messages, rf'Worker {name}: got signal SIGTERM again, cold shut down; interrupting job {job.id}')
    failed = find(
        messages,
        rf'Worker {name}: default: Job failed \({job.id}\): rqtest_jobs_signals\.announce_and_sleep\(600\) '
        rf'in {DURATION}; Job interrupted by a cold shutdown .*',
    )
    assert seconds(failed['duration']) >= 1.2  # how long it ran, from its start to the interruption
    assert messages[-1] == f'Worker {name}: cold shutdown complete; jobs: 0 OK, 1 failed'
    assert_every_line_names(messages, name)


def test_burst_and_max_jobs_endings(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    for number in range(3):
        queue.enqueue('rqtest_jobs.add', number)
    done = run_worker_to_the_end(redis_server.port, '--max-jobs', '2', '--name', 'limited')
    assert done.returncode == 0, done.stdout
    assert log_messages(done.stdout)[-1] == 'Worker limited: stopped after 2 jobs (max jobs); jobs: 2 OK, 0 failed'
    assert queue.count == 1


def test_an_abandoned_job_is_logged_by_the_worker_that_fails_it(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    fast = ('--job-monitoring-interval', '1')
    with running_worker(connection, redis_server.port, 'doomed', '--worker-class', 'SimpleWorker', *fast) as doomed:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 600)
        wait_running(connection, job.id, PATIENCE)
        doomed.kill()  # SIGKILL: no heartbeat any more, nothing recorded
    with running_worker(connection, redis_server.port, 'finder', *fast) as finder:
        assert wait_until(lambda: status_is(job, JobStatus.FAILED), PATIENCE), finder.output()
        output = stop_and_wait(finder)
    find(
        log_messages(output),
        rf'Worker finder: default: Job abandoned \({job.id}\): rqtest_jobs_signals\.announce_and_sleep\(600\) '
        rf'after {DURATION}; its worker doomed stopped sending heartbeats; failed',
    )


# -- a pool -----------------------------------------------------------------------------------


def test_the_lines_of_a_pool_name_their_worker(connection: redis.Redis, redis_server: RedisServer) -> None:
    queue = Queue('pooled', connection=connection)
    with launched(pool_command(redis_server.port, '--num-workers', '2', 'pooled')) as pool:
        assert wait_until(lambda: len(registered_workers(connection)) == 2, PATIENCE), pool.output()
        names = registered_workers(connection)
        jobs = [queue.enqueue('rqtest_jobs.say_hello', str(number)) for number in range(8)]
        assert wait_until(lambda: all(status_is(job, JobStatus.FINISHED) for job in jobs), PATIENCE), pool.output()
        pool.send(signal.SIGINT)
        assert pool.wait(PATIENCE) == 0, pool.output()
        output = pool.output()

    messages = log_messages(output)
    for job in jobs:
        ran_it = Job.fetch(job.id, connection).worker_name
        assert ran_it in names
        call = rf"rqtest_jobs\.say_hello\('{job.args[0]}'\)"
        find(messages, rf'Worker {ran_it}: pooled: {call} \({job.id}\)')
        find(messages, rf'Worker {ran_it}: pooled: Job OK \({job.id}\): {call} in {DURATION}')
        for other in names - {ran_it}:
            assert not [m for m in messages if job.id in m and m.startswith(f'Worker {other}')]
    for name in names:
        find(messages, rf'Worker {name}: started with PID \d+, version .*')
        find(messages, rf'Worker {name}: warm shutdown complete; jobs: \d+ OK, 0 failed')
    assert messages[-1] == 'Worker pool: all workers stopped, exiting'


# -- colour -----------------------------------------------------------------------------------


def colourless_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in worker_env().items() if k not in ('NO_COLOR', 'FORCE_COLOR')}
    env.update(extra)
    return env


def run_on_a_terminal(command: list[str], env: dict[str, str]) -> str:
    """Run ``command`` with a pseudo-terminal as its stdout and stderr; what it wrote."""
    master, slave = os.openpty()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(os.close, master)
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        cleanup.callback(_kill, process)
        output = bytearray()
        for chunk in _chunks(master):
            output += chunk
        assert process.wait(PATIENCE) == 0, output.decode('utf-8', 'replace')
    return output.decode('utf-8', 'replace').replace('\r\n', '\n')


def _chunks(fd: int) -> Iterator[bytes]:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed the terminal
            return
        if not chunk:
            return
        yield chunk


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def enqueue_one_of_each(queue: Queue) -> tuple[Job, Job]:
    return queue.enqueue('rqtest_jobs.say_hello', 'colour'), queue.enqueue('rqtest_jobs.div_by_zero')


def test_colours_on_a_terminal(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    ok, bad = enqueue_one_of_each(queue)
    output = run_on_a_terminal(
        worker_command(redis_server.port, '--burst', '--name', 'tty'), colourless_env(TERM='xterm-256color')
    )
    assert re.search(r'Worker \x1b\[[0-9;]+mtty\x1b\[0m: ', output), output
    assert f'\x1b[32mdefault\x1b[0m: \x1b[1;32mJob OK\x1b[0m ({ok.id})' in output
    red = '\x1b[31m'  # an error's line is red around its coloured parts
    failed = next(line for line in output.splitlines() if f'({bad.id}):' in line)
    assert failed.startswith(red) and failed.endswith('\x1b[0m'), failed
    assert f'\x1b[32mdefault\x1b[0m{red}: \x1b[1;31mJob failed\x1b[0m{red} ({bad.id})' in failed
    assert f'{red}ZeroDivisionError: division by zero\x1b[0m' in failed
    lines = output.splitlines()
    start = lines.index('Traceback (most recent call last):')
    end = lines.index('ZeroDivisionError: division by zero', start)
    assert not [line for line in lines[start : end + 1] if ESCAPE in line]  # tracebacks stay plain


def test_no_colours_on_a_terminal_with_no_color(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    ok, _ = enqueue_one_of_each(queue)
    output = run_on_a_terminal(
        worker_command(redis_server.port, '--burst', '--name', 'nocolor'),
        colourless_env(TERM='xterm-256color', NO_COLOR='1'),
    )
    assert ESCAPE not in output
    find(
        log_messages(output), rf"Worker nocolor: default: Job OK \({ok.id}\): rqtest_jobs\.say_hello\('colour'\) in .*"
    )


def test_no_colours_when_piped(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    ok, _ = enqueue_one_of_each(queue)
    done = run_worker_to_the_end(
        redis_server.port, '--burst', '--name', 'piped', env=colourless_env(TERM='xterm-256color')
    )
    assert done.returncode == 0, done.stdout
    assert ESCAPE not in done.stdout
    find(
        log_messages(done.stdout),
        rf"Worker piped: default: Job OK \({ok.id}\): rqtest_jobs\.say_hello\('colour'\) in .*",
    )


# -- the parts of a line ------------------------------------------------------------------------


def test_the_worker_logger_puts_the_name_before_any_message(caplog: pytest.LogCaptureFixture) -> None:
    log = WorkerLogger('w%1')
    with caplog.at_level(logging.INFO, logger='rq.worker'):
        log.info('100% done')
        log.info('job %s: %d%%', 'x', 5)
        log.info('%(what)s!', {'what': 'mapped'})
        log.info('Worker w%1: named already, as upstream RQ does')
        log.debug('not shown')
    assert [record.getMessage() for record in caplog.records] == [
        'Worker w%1: 100% done',
        'Worker w%1: job x: 5%',
        'Worker w%1: mapped!',
        'Worker w%1: named already, as upstream RQ does',
    ]
    assert {record.name for record in caplog.records} == {'rq.worker'}


def _formatted(error: BaseException) -> str:
    try:
        raise error
    except BaseException as exc:
        return ''.join(traceback.format_exception(exc))


def test_the_exception_of_a_traceback_on_one_line() -> None:
    assert exception_line(_formatted(ZeroDivisionError('division by zero'))) == 'ZeroDivisionError: division by zero'
    assert exception_line(_formatted(ValueError('two\nlines'))) == 'ValueError: two lines'
    try:
        try:
            raise KeyError('inner')
        except KeyError as inner:
            raise RuntimeError('outer') from inner
    except RuntimeError as outer:
        chained = ''.join(traceback.format_exception(outer))
    assert exception_line(chained) == 'RuntimeError: outer'
    assert exception_line('Work-horse terminated unexpectedly; waitpid returned 9\n') == (
        'Work-horse terminated unexpectedly; waitpid returned 9'
    )


def test_durations() -> None:
    assert [format_duration(s) for s in (0.00004, 0.0123, 0.5123, 12.3, 125.04, 3723.9)] == [
        '0.04ms',
        '12.3ms',
        '512.3ms',
        '12.300s',
        '2m05.0s',
        '1h02m03s',
    ]

"""``python -m rq.cron CONFIG`` (the body of ``rq cron``) in real processes: several processes with the
same config enqueue each run once, a restart does not run an interval job early, and bad configs
and entries get clear messages while the good entries still run."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from redis_server import RedisServer
from rq.cron import get_cron_job_ids
from worker_process import wait_until, worker_env

pytestmark = pytest.mark.timeout(90)


def cron_command(redis_server: RedisServer, config: Path | str, *args: str) -> list[str]:
    return [sys.executable, '-m', 'rq.cron', str(config), '--url', redis_server.url, *args]


def write_config(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text('from rq import cron\nimport rqtest_jobs_cron\n\n' + textwrap.dedent(body))
    return path


@contextmanager
def cron_processes(commands: list[list[str]]) -> Iterator[list[subprocess.Popen[str]]]:
    processes = [
        subprocess.Popen(command, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr


def history_scores(connection: redis.Redis, name: str) -> list[float]:
    from rq._redis import keys

    return [score for _, score in connection.zrange(keys.cron_job_history_key(name), 0, -1, withscores=True)]


def test_two_and_three_processes_enqueue_each_run_once(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    pair = write_config(
        tmp_path, 'pair_config.py', "cron.register(rqtest_jobs_cron.tick, 'pair', interval=1, name='pair')\n"
    )
    trio = write_config(
        tmp_path, 'trio_config.py', "cron.register(rqtest_jobs_cron.tick, 'trio', interval=1, name='trio')\n"
    )
    commands = [cron_command(redis_server, pair, '--logging-level', 'WARNING')] * 2
    commands += [cron_command(redis_server, trio, '--logging-level', 'WARNING')] * 3
    with cron_processes(commands) as processes:
        assert wait_until(lambda: connection.zcard('rq:cron_schedulers') == 5, 20), [p.poll() for p in processes]
        assert wait_until(lambda: history_scores(connection, 'pair') and history_scores(connection, 'trio'), 10)
        start = time.time()
        time.sleep(5)
        processes[2].kill()  # one of the three dies: the other two carry on without a gap
        time.sleep(5)
        end = time.time()
        for process in processes[:2] + processes[3:]:
            code, stderr = stop(process)
            assert code == 0, stderr
    for name in ('pair', 'trio'):
        scores = history_scores(connection, name)
        in_window = [score for score in scores if start <= score < end]
        assert 9 <= len(in_window) <= 11, (name, len(in_window))
        # over the whole run too: one enqueue per second (not two or three), and no gap where a
        # process died
        assert len(scores) <= scores[-1] - scores[0] + 2, (name, scores)
        gaps = [later - earlier for earlier, later in itertools.pairwise(scores)]
        assert max(gaps) < 3, (name, gaps)
    assert connection.zcard('rq:cron_schedulers') == 1  # the SIGKILLed one stays until it ages out (120 s)


def test_a_restart_waits_for_the_rest_of_the_interval(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, 'restart_config.py', "cron.register(rqtest_jobs_cron.tick, 'r', interval=4, name='r')\n"
    )
    with cron_processes([cron_command(redis_server, config)]) as (first,):
        assert wait_until(lambda: len(history_scores(connection, 'r')) == 1, 10)
        assert stop(first)[0] == 0
    with cron_processes([cron_command(redis_server, config)]) as (second,):
        time.sleep(1.5)
        assert len(history_scores(connection, 'r')) == 1  # not again at start
        assert wait_until(lambda: len(history_scores(connection, 'r')) == 2, 6)
        code, stderr = stop(second)
        assert code == 0, stderr
    first_run, second_run = history_scores(connection, 'r')
    assert 3.5 <= second_run - first_run <= 5.5


def run_record(connection: redis.Redis) -> dict[str, float]:
    """The slot and enqueue time of the last run of the only entry (``rq:cron_run:<identity>``)."""
    (key,) = connection.keys('rq:cron_run:*')
    stored = connection.hgetall(key)
    return {'slot': float(stored[b'slot']), 'enqueued_at': float(stored[b'enqueued_at'])}


def test_a_catch_up_after_a_restart_keeps_the_grid_and_the_interval(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    """A 4 s entry runs at o; no process is alive at o + 4; one comes back more than a second later.
    It catches the run up at once, and (being back before o + 8, which would be less than 4 s after
    the catch-up) leaves o + 8 to it: the next run is at o + 12."""
    config = write_config(
        tmp_path, 'catch_up_config.py', "cron.register(rqtest_jobs_cron.tick, 'c', interval=4, name='c')\n"
    )
    with cron_processes([cron_command(redis_server, config)]) as (first,):
        assert wait_until(lambda: len(history_scores(connection, 'c')) == 1, 20)
        assert stop(first)[0] == 0
    origin = run_record(connection)['slot']
    assert wait_until(lambda: time.time() > origin + 4 + 1.2, 20)  # the run due at o + 4 is missed
    with cron_processes([cron_command(redis_server, config)]) as (second,):
        assert wait_until(lambda: len(history_scores(connection, 'c')) == 2, 20)
        catch_up = run_record(connection)
        assert wait_until(lambda: len(history_scores(connection, 'c')) == 3, 30)
        after = run_record(connection)
        code, stderr = stop(second)
    assert code == 0, stderr
    assert after['slot'] - catch_up['slot'] == pytest.approx(4, abs=1e-6)  # on the grid of o
    assert (catch_up['slot'] - origin) / 4 == pytest.approx(round((catch_up['slot'] - origin) / 4), abs=1e-6)
    assert after['enqueued_at'] >= after['slot']  # (never early)
    if catch_up['enqueued_at'] < origin + 8:  # back before o + 8 (unless starting took over 2.8 s)
        assert catch_up['slot'] == pytest.approx(origin + 8, abs=1e-6), (origin, catch_up)
        assert after['enqueued_at'] - catch_up['enqueued_at'] >= 4
        assert 'catch-up for the run due at' in stderr


def test_bad_entries_are_reported_and_the_good_one_runs(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        'mixed_config.py',
        """\
        cron.register(rqtest_jobs_cron.tick, 'bad', interval=5, cron='* * * * *', name='both')
        cron.register(rqtest_jobs_cron.tick, 'bad', name='neither')
        cron.register(rqtest_jobs_cron.tick, 'bad', cron='61 * * * *', name='bad-cron')
        cron.register(rqtest_jobs_cron.tick, 'bad', interval=-5, name='negative')
        cron.register('rqtest_jobs_cron.no_such_function', 'bad', interval=5)
        cron.register(rqtest_jobs_cron.tick, 'bad', cron='0 9 * * *', timezone='Mars/Base', name='bad-tz')
        cron.register(rqtest_jobs_cron.tick, 'good', interval=1, name='good')
        """,
    )
    with cron_processes([cron_command(redis_server, config)]) as (process,):
        assert wait_until(lambda: get_cron_job_ids('good', connection), 10)
        code, stderr = stop(process)
    assert code == 0, stderr
    expected = {
        4: ("'both'", 'give exactly one of interval= or cron=, not both'),
        5: ("'neither'", 'give exactly one of interval= (seconds) or cron= (a cron string)'),
        6: ("'bad-cron'", "invalid cron string '61 * * * *'"),
        7: ("'negative'", 'interval must be a positive number of seconds, not -5'),
        8: ("'rqtest_jobs_cron.no_such_function'", "function 'rqtest_jobs_cron.no_such_function' does not exist"),
        9: ("'bad-tz'", "unknown timezone 'Mars/Base'"),
    }
    for line, (name, reason) in expected.items():
        message = next((text for text in stderr.splitlines() if f'mixed_config.py:{line}: ' in text), None)
        assert message is not None, stderr
        assert name in message and reason in message and message.endswith('skipped'), message
    assert connection.llen('rq:queue:bad') == 0
    assert 'Registered 1 cron jobs' in stderr


@pytest.mark.parametrize(
    ('body', 'args', 'message'),
    [
        (
            'import no_such_module_for_cron\n',
            (),
            "failed to import: ModuleNotFoundError: No module named 'no_such_module_for_cron'",
        ),
        ("cron.register(rqtest_jobs_cron.tick, 'q', interval=0)\n", (), 'nothing to run in cron config'),
        ('x = 1\n', (), 'it registers no cron jobs'),
        (
            "cron.register(rqtest_jobs_cron.tick, 'q', interval=1)\n",
            ('--timezone', 'Nowhere/Special'),
            "unknown timezone 'Nowhere/Special'",
        ),
    ],
    ids=['does-not-import', 'all-entries-bad', 'no-entries', 'bad-default-timezone'],
)
def test_nothing_to_run_is_an_error_with_one_clear_line(
    redis_server: RedisServer, tmp_path: Path, body: str, args: tuple[str, ...], message: str
) -> None:
    config = tmp_path / 'broken_config.py'
    config.write_text('from rq import cron\nimport rqtest_jobs_cron\n' + body)
    done = subprocess.run(
        cron_command(redis_server, config, *args), env=worker_env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith('Error: ')]
    assert len(errors) == 1 and message in errors[0], done.stderr


def test_a_missing_config_and_a_dotted_module_path(redis_server: RedisServer, tmp_path: Path) -> None:
    done = subprocess.run(
        cron_command(redis_server, tmp_path / 'nope.py'), env=worker_env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1 and 'does not exist' in done.stderr
    (tmp_path / 'dotted_cron_config.py').write_text('from rq import cron\nx = 1\n')
    done = subprocess.run(
        [sys.executable, '-m', 'rq.cron', 'dotted_cron_config', '--url', redis_server.url, '--path', str(tmp_path)],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and 'registers no cron jobs' in done.stderr  # (found and imported)

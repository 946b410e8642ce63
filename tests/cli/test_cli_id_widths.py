"""Ids (job ids, worker names, queue names) stay whole, on one line, in every view of the ``rq``
command: at any width (``COLUMNS``, as rich reads it), on a terminal, and through a pipe."""

from __future__ import annotations

import uuid

import pytest
import redis
from cli_helpers import TABLES, invoke, run_rq, strip_styles
from cli_terminal import TerminalProcess

from rq import Queue
from rq.worker import SimpleWorker

WIDTHS = (40, 60, 80, 120)
LONG_ID = 'customer-4711-invoice-2026-11-export-pdf-retry-0003-abcdefgh'  # 60 characters
LONG_QUEUE = 'reports.nightly-export.eu-west-1'
HOST_WORKER = 'host.example.com.12345'
MESSAGE = 'the invoice export could not reach the storage bucket after three attempts'


def lines(output: str) -> list[str]:
    return output.splitlines()


def whole(output: str, identifier: str) -> bool:
    """``identifier`` appears unbroken within one line of ``output``."""
    return any(identifier in line for line in lines(output))


def widest(output: str) -> int:
    return max(len(line) for line in lines(output))


def failed_jobs(connection: redis.Redis) -> list[str]:
    """Two failed jobs of 'default', a UUID and a 60-character id, with long calls and exceptions."""
    queue = Queue(connection=connection)
    jobs = [
        queue.enqueue('rqtest_jobs_cli.fail', MESSAGE),
        queue.enqueue('rqtest_jobs_cli.fail', MESSAGE, job_id=LONG_ID),
    ]
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert all(job.get_status() == 'failed' for job in jobs)
    return [job.id for job in jobs]


def register_worker(connection: redis.Redis, name: str, queues: list[str], current_job: str | None = None) -> None:
    worker = SimpleWorker(queues, connection=connection, name=name)
    worker.register_birth()
    worker.set_state('busy' if current_job else 'idle')
    if current_job:
        worker.set_current_job_id(current_job)


def workers_and_queues(connection: redis.Redis) -> list[str]:
    """Two queues and two workers (one with a 32-character generated name, busy on ``LONG_ID``)."""
    for name in (LONG_QUEUE, 'default'):
        Queue(name, connection=connection).enqueue('rqtest_jobs_cli.echo')
    generated = uuid.uuid4().hex
    register_worker(connection, HOST_WORKER, [LONG_QUEUE, 'default'])
    register_worker(connection, generated, [LONG_QUEUE], current_job=LONG_ID)
    return [HOST_WORKER, generated]


@pytest.mark.parametrize('width', WIDTHS)
def test_failed_keeps_job_ids_whole_at_any_width(url: str, connection: redis.Redis, width: int) -> None:
    ids = failed_jobs(connection)
    result = invoke('failed', '-u', url, 'default', env={'COLUMNS': str(width)})
    assert result.exit_code == 0, result.output
    output = result.stdout
    assert all(whole(output, job_id) for job_id in ids), output
    assert '…' not in output
    assert widest(output) <= max(width, len(LONG_ID)), output  # only an id longer than the width widens it
    if width >= 80:
        assert 'Exception' in output and 'ValueError' in output  # narrowed and wrapped, not dropped
    else:
        assert 'not shown at this width: ' in output and 'Exception' in output.split('not shown')[1]


@pytest.mark.parametrize('width', WIDTHS)
def test_info_keeps_worker_queue_and_job_names_whole(url: str, connection: redis.Redis, width: int) -> None:
    names = workers_and_queues(connection)
    result = invoke('info', '-u', url, env={'COLUMNS': str(width)}, tables=True)
    assert result.exit_code == 0, result.output
    output = result.stdout
    assert all(whole(output, name) for name in [*names, LONG_QUEUE]), output
    assert widest(output) <= width, output  # everything that is never dropped fits in 40 columns here
    if width >= 120:
        assert whole(output, LONG_ID), output
    else:  # a column that does not fit is left out, never cut
        assert LONG_ID[:8] not in output or whole(output, LONG_ID)
        assert 'not shown at this width: ' in output


@pytest.mark.parametrize('width', (40, 60))
def test_info_by_queue_keeps_worker_names_whole(url: str, connection: redis.Redis, width: int) -> None:
    names = workers_and_queues(connection)
    output = invoke('info', '-u', url, '-R', env={'COLUMNS': str(width)}, tables=True).stdout
    assert all(whole(output, name) for name in [*names, LONG_QUEUE]), output
    # a queue name and a worker name side by side need 67 columns: a narrower terminal wraps the line
    assert widest(output) <= max(width, len(LONG_QUEUE) + 3 + len(names[1])), output


@pytest.mark.parametrize('width', (40, 60))
def test_job_view_keeps_its_ids_whole(url: str, connection: redis.Redis, width: int) -> None:
    queue = Queue(LONG_QUEUE, connection=connection)
    parent = queue.enqueue('rqtest_jobs_cli.echo', job_id='parent-' + 'p' * 53)
    job = queue.enqueue('rqtest_jobs_cli.echo', 'x', job_id=LONG_ID, depends_on=parent)
    SimpleWorker([queue], connection=connection, name=HOST_WORKER).work(burst=True)
    assert job.get_status() == 'finished'
    output = invoke('job', '-u', url, LONG_ID, env={'COLUMNS': str(width)}).stdout
    assert lines(output)[0] == f'Job {LONG_ID}'
    assert all(whole(output, name) for name in (LONG_QUEUE, HOST_WORKER, parent.id)), output
    assert '…' not in output


def test_piped_rows_are_never_wrapped(url: str, connection: redis.Redis) -> None:
    """Through a real pipe (no terminal, no COLUMNS) rich would assume 80 columns, or the width of a
    terminal on stdin; each row is one whole line instead, whatever its length."""
    ids = failed_jobs(connection)
    names = workers_and_queues(connection)
    failed = run_rq('failed', '-u', url, 'default')
    assert failed.returncode == 0, failed.stderr
    for job_id in ids:
        row = [line for line in lines(failed.stdout) if job_id in line]
        assert len(row) == 1 and f'ValueError: {MESSAGE}' in row[0], failed.stdout
    info = run_rq('info', '-u', url)  # (upstream's text, which has no current job)
    busy = [line for line in lines(info.stdout) if names[1] in line]
    assert busy and busy[0].startswith(f'{names[1]} (') and f': busy {LONG_QUEUE}. jobs:' in busy[0], info.stdout
    tables = strip_styles(run_rq('info', '-u', url, env=TABLES).stdout)  # (a pipe: no COLUMNS, no width)
    busy = [line for line in lines(tables) if names[1] in line]
    assert busy and LONG_ID in busy[0] and LONG_QUEUE in busy[0], tables
    job = run_rq('job', '-u', url, LONG_ID)
    assert f'Job {LONG_ID}' in lines(job.stdout) and f'ValueError: {MESSAGE}' in job.stdout
    narrow = run_rq('failed', '-u', url, 'default', env={'COLUMNS': '40'})
    assert all(whole(narrow.stdout, job_id) for job_id in ids), narrow.stdout


def test_narrow_terminal_keeps_ids_whole(url: str, connection: redis.Redis) -> None:
    """On a 40-column terminal a 60-character id cannot fit: it is written unbroken (the terminal
    wraps the line), and the live view prints such frames one after the other instead of cutting."""
    ids = failed_jobs(connection)
    failed = TerminalProcess('failed', '-u', url, 'default', columns=40)
    assert failed.finish() == 0
    assert all(job_id in failed.text() for job_id in ids), failed.text()
    register_worker(connection, LONG_ID, ['default'])
    live = TerminalProcess('info', '-u', url, '--interval', '0.1', '--count', '2', columns=40)
    assert live.finish() == 0
    raw = live.text()
    assert raw.count('Updated:') == 2 and raw.count(LONG_ID) == 2, raw

"""On a terminal: the live view of ``rq info --interval`` redraws in place, colour is used unless
``NO_COLOR`` is set, and long ``requeue --all`` / ``empty`` runs draw a progress bar."""

from __future__ import annotations

import re

import redis
from cli_helpers import invoke
from cli_terminal import Screen, TerminalProcess

from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.worker import SimpleWorker

SGR = re.compile(r'\x1b\[([0-9;]*)m')
COLOUR_CODES = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}


def cells(screen: Screen, first: str) -> list[str]:
    rows = [line.split() for line in screen.lines() if line.split()[:1] == [first]]
    return rows[0] if rows else []


def uses_colour(raw: str) -> bool:
    return any(int(code) in COLOUR_CODES for params in SGR.findall(raw) for code in params.split(';') if code.isdigit())


def test_live_view_redraws_in_place(url: str, connection: redis.Redis) -> None:
    queue = Queue('live', connection=connection)
    for number in range(3):
        queue.enqueue('rqtest_jobs_cli.echo', number)
    terminal = TerminalProcess('info', '--interval', '0.5', '-u', url, 'live')
    try:
        terminal.wait_for(lambda screen: cells(screen, 'live')[1:2] == ['3'])
        for number in range(4):
            queue.enqueue('rqtest_jobs_cli.echo', number)
        terminal.wait_for(lambda screen: cells(screen, 'live')[1:2] == ['7'])
        SimpleWorker(['live'], connection=connection).work(burst=True)  # the jobs move: queued -> finished
        screen = terminal.wait_for(lambda screen: cells(screen, 'live')[1:4] == ['0', '0', '7'])
    finally:
        terminal.interrupt()
    assert terminal.finish() == 0
    raw = terminal.text()
    assert raw.count('Updated:') >= 3  # several frames were drawn ...
    assert '\x1b[1A' in raw or '\x1b[A' in raw  # ... each one after moving the cursor back up
    lines = screen.lines()  # ... so the screen holds one copy of the view, with the latest numbers
    assert screen.scrolled == 0
    assert sum(1 for line in lines if line.split()[:2] == ['Queue', 'Queued']) == 1
    assert sum(1 for line in lines if line.split()[:1] == ['live']) == 1
    assert sum(1 for line in lines if line.startswith('Updated:')) == 1


def failed_jobs(connection: redis.Redis, count: int) -> FailedJobRegistry:
    queue = Queue(connection=connection)
    registry = FailedJobRegistry(queue=queue)
    for number in range(count):
        job = queue.create_job('rqtest_jobs_cli.fail', args=[number])
        registry.add(job, ttl=3600, exc_string='Traceback ...\nValueError: boom')
    return registry


def test_colour_on_a_terminal_unless_no_color(url: str, connection: redis.Redis) -> None:
    failed_jobs(connection, 1)
    Queue(connection=connection).enqueue('rqtest_jobs_cli.echo')
    coloured = TerminalProcess('info', '-u', url)
    assert coloured.finish() == 0
    assert uses_colour(coloured.text())
    plain = TerminalProcess('info', '-u', url, env={'NO_COLOR': '1'})
    assert plain.finish() == 0
    assert 'default' in plain.text() and not uses_colour(plain.text())
    error = TerminalProcess('info', '-u', url, '--queue-class', 'nowhere.Queue')
    assert error.finish() == 1
    assert 'Error:' in error.text() and uses_colour(error.text())


def test_progress_bar_for_requeue_all(url: str, connection: redis.Redis) -> None:
    registry = failed_jobs(connection, 40)
    terminal = TerminalProcess('requeue', '--all', '--queue', 'default', '-u', url)
    assert terminal.finish() == 0
    raw = terminal.text()
    assert 'Requeueing 40 jobs from failed queue' in raw
    assert '100%' in raw and '40/40' in raw
    assert registry.count == 0 and Queue(connection=connection).count == 40


def test_no_progress_bar_without_a_terminal(url: str, connection: redis.Redis) -> None:
    failed_jobs(connection, 5)
    result = invoke('requeue', '--all', '--queue', 'default', '-u', url)
    assert result.exit_code == 0
    assert result.stdout == 'Requeueing 5 jobs from failed queue\n\n'  # (upstream's, bar line included)
    assert '%' not in result.stderr


def test_progress_bar_for_empty(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    ids = [queue.enqueue('rqtest_jobs_cli.echo', number).id for number in range(30)]
    terminal = TerminalProcess('empty', 'default', '-u', url)
    assert terminal.finish() == 0
    raw = terminal.text()
    assert '30/30' in raw and '30 jobs removed from default queue' in raw
    assert queue.count == 0
    assert not any(Job.exists(job_id, connection) for job_id in ids)


def test_plain_gives_upstreams_text_on_a_terminal(url: str, connection: redis.Redis) -> None:
    Queue(connection=connection).enqueue('rqtest_jobs_cli.echo')
    tables = TerminalProcess('info', '-u', url, '-Q')
    assert tables.finish() == 0
    assert 'Queues (1)' in tables.text() and 'jobs total' not in tables.text()
    for terminal in (
        TerminalProcess('info', '-u', url, '-Q', '--plain'),
        TerminalProcess('info', '-u', url, '-Q', env={'TTY_COMPATIBLE': '0'}),
    ):
        assert terminal.finish() == 0
        text = SGR.sub('', terminal.text())
        assert 'default      |█ 1, 0 executing, 0 finished, 0 failed' in text and '1 queues, 1 jobs total' in text
        assert 'Queues (' not in text
    coloured = TerminalProcess('info', '-u', url, '-Q', '--plain')
    assert coloured.finish() == 0 and uses_colour(coloured.text())  # (upstream's green bar)

"""``rq enqueue``: every example of the CLI enqueueing documentation, the options, and bad input."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from cli_helpers import assert_one_line_error, invoke, job_id_in, run_rq

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

FUNC = 'path.to.func'  # the documentation's placeholder: not importable here, so it is taken as given


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the files the examples read (``@data/file``, ``@data/file.json``)."""
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'file').write_text('contents of a file\n')
    (tmp_path / 'data' / 'file.json').write_text('{"from": ["a", "json", "file"], "n": 1}')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def enqueue(url: str, *arguments: str) -> tuple[Job, str]:
    result = invoke('enqueue', '-u', url, *arguments)
    assert result.exit_code == 0, result.output
    redis_connection = redis.Redis.from_url(url)
    return Job.fetch(job_id_in(result.stdout), connection=redis_connection), result.stdout


# Each row: the documentation's example (arguments after ``rq enqueue path.to.func``) and the call it
# stands for. The JSON rows use ``:`` / ``:=``, the forms the documentation's table defines (its list
# of examples lost that colon in rendering; see test_plain_text_that_looks_like_json_stays_text).
DOCUMENTED = [
    (['abc'], ['abc'], {}),
    (['abc=def'], [], {'abc': 'def'}),
    ([':{"json": "abc"}'], [{'json': 'abc'}], {}),
    (['key:={"json": "abc"}'], [], {'key': {'json': 'abc'}}),
    (['%1, 2'], [(1, 2)], {}),
    (['%None'], [None], {}),
    (['%True'], [True], {}),
    (['key%=(1, 2)'], [], {'key': (1, 2)}),
    (['key%={"foo": True}'], [], {'key': {'foo': True}}),
    (['@data/file'], ['contents of a file\n'], {}),
    (['key=@data/file'], [], {'key': 'contents of a file\n'}),
    ([':@data/file.json'], [{'from': ['a', 'json', 'file'], 'n': 1}], {}),
    (['key:=@data/file.json'], [], {'key': {'from': ['a', 'json', 'file'], 'n': 1}}),
]


@pytest.mark.parametrize(('arguments', 'args', 'kwargs'), DOCUMENTED, ids=[' '.join(row[0]) for row in DOCUMENTED])
def test_documented_examples(
    url: str, files: Path, arguments: list[str], args: list[Any], kwargs: dict[str, Any]
) -> None:
    job, output = enqueue(url, FUNC, *arguments)
    assert job.func_name == FUNC
    assert job.args == args
    assert job.kwargs == kwargs
    assert job.origin == 'default' and job.get_status() == JobStatus.QUEUED
    call = job.get_call_string()
    assert output == f"Enqueued {call} with job-id '{job.id}'.\n"
    assert job.description == call


def test_plain_text_that_looks_like_json_stays_text(url: str) -> None:
    """Without ``:`` a value is plain text, as the documentation's table and warning say."""
    job, _ = enqueue(url, FUNC, '{"json": "abc"}', 'key={"json": "abc"}')
    assert job.args == ['{"json": "abc"}']
    assert job.kwargs == {'key': '{"json": "abc"}'}


def test_all_forms_together_reach_the_function(url: str, files: Path, connection: redis.Redis) -> None:
    job, _ = enqueue(
        url,
        'rqtest_jobs_cli.echo',
        'hello',
        ':[1, {"k": "v"}]',
        '%1, 2',
        'json:=[3.0, true]',
        'text=abc',
        'f=@data/file',
    )
    SimpleWorker(['default'], connection=connection).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == [
        ['hello', [1, {'k': 'v'}], (1, 2)],
        {'json': [3.0, True], 'text': 'abc', 'f': 'contents of a file\n'},
    ]


def test_options_are_stored_on_the_job(url: str, connection: redis.Redis) -> None:
    Queue('q1', connection=connection).enqueue('rqtest_jobs_cli.echo')
    job, _ = enqueue(
        url,
        '--queue', 'q1',
        '--timeout', '1h',
        '--result-ttl', '600',
        '--ttl', '5m',
        '--failure-ttl', '2d',
        '--description', 'my job',
        '--job-id', 'my-job',
        '--at-front',
        '--retry-max', '3',
        '--retry-interval', '10',
        '--retry-interval', '20',
        'rqtest_jobs_cli.echo', 'x',
    )  # fmt: skip
    assert job.id == 'my-job' and job.origin == 'q1'
    assert (job.timeout, job.result_ttl, job.ttl, job.failure_ttl) == (3600, 600, 300, 172800)
    assert job.description == 'my job'
    assert job.retries_left == 3 and job.retry_intervals == [10, 20]
    assert Queue('q1', connection=connection).job_ids[0] == 'my-job'
    assert 250 < connection.ttl(job.key) <= 300


def test_depends_on_defers_the_job(url: str, connection: redis.Redis) -> None:
    parent = Queue(connection=connection).enqueue('rqtest_jobs_cli.echo')
    child, _ = enqueue(url, '--depends-on', parent.id, 'rqtest_jobs_cli.echo')
    assert child.get_status() == JobStatus.DEFERRED
    assert child.dependency_ids == [parent.id]
    assert child.id in DeferredJobRegistry('default', connection=connection)
    SimpleWorker(['default'], connection=connection).work(burst=True)
    assert child.get_status() == JobStatus.FINISHED


def test_schedule_in(url: str, connection: redis.Redis) -> None:
    before = datetime.now(timezone.utc)
    job, _ = enqueue(url, '--schedule-in', '10m', 'rqtest_jobs_cli.echo')
    assert job.get_status() == JobStatus.SCHEDULED
    due = ScheduledJobRegistry('default', connection=connection).get_scheduled_time(job)
    assert before + timedelta(seconds=598) <= due <= before + timedelta(seconds=602)
    assert Queue(connection=connection).count == 0


def test_schedule_at_is_local_time(url: str, connection: redis.Redis) -> None:
    job, _ = enqueue(url, '--schedule-at', '2031-05-27T21:45:00', '--at-front', 'rqtest_jobs_cli.echo')
    assert job.get_status() == JobStatus.SCHEDULED
    due = ScheduledJobRegistry('default', connection=connection).get_scheduled_time(job)
    assert due == datetime(2031, 5, 27, 21, 45).astimezone(timezone.utc)
    assert job.enqueue_at_front is True


def test_json_serializer(url: str, connection: redis.Redis) -> None:
    result = invoke('enqueue', '-u', url, '-S', 'json', 'rqtest_jobs_cli.echo', ':{"a": [1]}')
    assert result.exit_code == 0, result.output
    job = Job.fetch(job_id_in(result.stdout), connection=connection, serializer=JSONSerializer)
    assert job.args == [{'a': [1]}]


def test_quiet_prints_nothing(url: str, connection: redis.Redis) -> None:
    result = invoke('enqueue', '-u', url, '--quiet', 'rqtest_jobs_cli.echo')
    assert result.exit_code == 0 and result.output == ''
    assert Queue(connection=connection).count == 1


@pytest.mark.parametrize(
    ('options', 'arguments', 'fragments'),
    [
        # (upstream's sentences, then what was wrong)
        ([], [':{"unclosed": 1'], ['Unable to parse 1. non keyword argument as JSON.', 'unclosed']),
        ([], ['a', 'key:=[1,'], ['Unable to parse key as JSON.']),
        ([], ['%(1,'], ['Unable to eval 1. non keyword argument as Python object.', 'SyntaxError']),
        ([], ['%__import__("os")'], ['Unable to eval 1. non keyword argument as Python object.']),
        ([], ['@missing.txt'], ["Could not open file 'missing.txt': Not found"]),
        ([], ['key:=@missing.json'], ["Could not open file 'missing.json': Not found", 'the value of key']),
        ([], ['a=1', 'a=2'], ["You can't specify multiple values for the same keyword.", "'a'"]),
        (['--timeout', '1.5h'], [], ['--timeout']),
        (['--ttl', '0'], [], ['cannot enqueue']),
        (['--schedule-in', '5m', '--schedule-at', '2030-01-01T00:00:00'], [], ["You can't specify both"]),
        (['--schedule-at', 'tomorrow'], [], ['--schedule-at']),
        (['--retry-max', '-1'], [], ['--retry-max']),
        (['--job-id', 'bad id!'], [], ['cannot enqueue']),
    ],
)
def test_bad_input_is_one_line(
    url: str, connection: redis.Redis, options: list[str], arguments: list[str], fragments: list[str]
) -> None:
    result = invoke('enqueue', '-u', url, *options, 'rqtest_jobs_cli.echo', *arguments)
    assert result.exit_code != 0
    assert result.stdout == ''
    assert_one_line_error(result.stderr, *fragments)
    assert Queue(connection=connection).count == 0


def test_a_python_file_runs_as_an_import(url: str, tmp_path: Path, connection: redis.Redis) -> None:
    """FUNCTION may be the dotted path of a Python file; the worker imports it (``__name__`` is not
    ``'__main__'``)."""
    mark = tmp_path / 'ran.txt'
    (tmp_path / 'cli_job_script.py').write_text(
        'import os, pathlib\n'
        "pathlib.Path(os.environ['CLI_SCRIPT_MARK']).write_text(__name__)\n"
        "if __name__ == '__main__':\n"
        "    raise SystemExit('must not run as __main__')\n"
    )
    result = invoke('enqueue', '-u', url, '-P', str(tmp_path), 'cli_job_script')
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('Enqueued cli_job_script() with job-id')
    job = Job.fetch(job_id_in(result.stdout), connection=connection)
    assert (job.func_name, job.args, job.kwargs) == (
        'runpy.run_module',
        ['cli_job_script'],
        {'run_name': 'cli_job_script'},
    )

    worker = run_rq('worker', '--burst', '-u', url, '-P', str(tmp_path), env={'CLI_SCRIPT_MARK': str(mark)})
    assert worker.returncode == 0, worker.stderr
    assert mark.read_text() == 'cli_job_script'
    assert job.get_status() == JobStatus.FINISHED


def test_a_python_file_takes_no_arguments(url: str, tmp_path: Path) -> None:
    (tmp_path / 'cli_job_script2.py').write_text('x = 1\n')
    result = invoke('enqueue', '-u', url, '-P', str(tmp_path), 'cli_job_script2', 'a')
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, 'is a Python file, which takes no arguments')


def test_enqueue_as_a_real_process(url: str, connection: redis.Redis) -> None:
    completed = run_rq('enqueue', '-u', url, 'rqtest_jobs_cli.say_hello', 'name=Ada')
    assert completed.returncode == 0, completed.stderr
    job = Job.fetch(job_id_in(completed.stdout), connection=connection)
    assert job.kwargs == {'name': 'Ada'}
    assert '\x1b[' not in completed.stdout  # not a terminal: no colour


def test_python_dash_m_rq_cli_and_console_script() -> None:
    from rq.version import VERSION

    by_module = subprocess.run([sys.executable, '-m', 'rq.cli', '--version'], capture_output=True, text=True)
    assert by_module.returncode == 0 and by_module.stdout == f'rq, version {VERSION}\n'  # (upstream's form)
    script = Path(sys.executable).with_name('rq')
    by_script = subprocess.run([str(script), '--version'], capture_output=True, text=True)
    assert by_script.stdout == f'rq, version {VERSION}\n'

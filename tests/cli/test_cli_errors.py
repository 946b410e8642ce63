"""Bad input anywhere gives one line on stderr and a non-zero exit; a traceback only with -v."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, invoke, run_rq


@pytest.mark.parametrize(
    ('arguments', 'fragments', 'code'),
    [
        # a value upstream cannot use: exit code 1, as upstream's (it fails when it imports it)
        (['info', '--queue-class', 'nowhere.Queue'], ["--queue-class: cannot import 'nowhere.Queue'"], 1),
        (['info', '--queue-class', 'rqtest_jobs_cli.CliJob'], ['--queue-class', 'not a subclass of rq.queue.Queue'], 1),
        (['enqueue', '--job-class', 'rqtest_jobs_cli.Missing', 'f'], ['--job-class', 'Missing'], 1),
        (['info', '--worker-class', 'NoSuchWorker'], ['--worker-class', 'NoSuchWorker'], 1),
        (['enqueue', '-S', 'nowhere.Serializer', 'f'], ['--serializer', "Unknown serializer 'nowhere.Serializer'"], 1),
        (['empty', '-S', 'rqtest_jobs_cli.NOT_A_CLASS', 'q'], ['--serializer', 'must provide dumps() and loads()'], 1),
        # a command line click cannot parse: exit code 2, as upstream's
        (['enqueue'], ["Missing argument 'FUNCTION'"], 2),
        (['info', '--no-such-option'], ['No such option', '--no-such-option', "(see 'rq info --help')"], 2),
        (['no-such-command'], ["No such command 'no-such-command'"], 2),
    ],
)
def test_bad_input(url: str, arguments: list[str], fragments: list[str], code: int) -> None:
    result = invoke(*arguments, '-u', url) if arguments[0] != 'no-such-command' else invoke(*arguments)
    assert result.exit_code == code, result.output
    assert result.stdout == ''
    assert_one_line_error(result.stderr, *fragments)


def test_bad_class_in_a_real_process(url: str) -> None:
    completed = run_rq('info', '-u', url, '--queue-class', 'nowhere.Queue')
    assert completed.returncode == 1
    assert_one_line_error(completed.stderr, '--queue-class')


def test_unexpected_errors_are_one_line_and_show_a_traceback_with_v(url: str) -> None:
    arguments = ['info', '-u', url, '--queue-class', 'rqtest_jobs_cli.BrokenQueue']
    quiet = invoke(*arguments)
    assert quiet.exit_code == 1
    assert_one_line_error(quiet.stderr, 'RuntimeError: broken on purpose', 'run with -v')
    for verbose in (invoke(*arguments, '-v'), invoke('-v', *arguments)):
        assert verbose.exit_code == 1
        assert 'Traceback (most recent call last)' in verbose.stderr
        assert verbose.stderr.splitlines()[-1].startswith('Error: RuntimeError: broken on purpose')


def test_warning_when_upstream_rq_is_installed(url: str, tmp_path: Path) -> None:
    metadata = tmp_path / 'rq-2.12.0.dist-info'
    metadata.mkdir()
    (metadata / 'METADATA').write_text('Metadata-Version: 2.1\nName: rq\nVersion: 2.12.0\n')
    completed = run_rq('resume', '-u', url, env={'PYTHONPATH': str(tmp_path)})
    assert completed.returncode == 0
    assert completed.stdout == 'Resuming workers.\n'
    warning = completed.stderr.splitlines()
    assert len(warning) == 1
    assert warning[0].startswith('Warning: the upstream "rq" distribution (2.12.0) is installed')
    assert 'pip uninstall rq' in warning[0]
    clean = run_rq('resume', '-u', url)
    assert clean.returncode == 0 and clean.stderr == ''


def test_help_lists_every_command() -> None:
    result = invoke('--help')
    assert result.exit_code == 0
    for command in ('worker', 'worker-pool', 'info', 'enqueue', 'requeue', 'empty', 'suspend', 'resume', 'cron'):
        assert f'  {command} ' in result.stdout
    assert '--interval' in invoke('info', '--help').stdout


def test_bare_rq_shows_the_help() -> None:
    """As click shows a group's help when no command is given: since click 8.2 on stderr with exit
    code 2 (a usage error), before that on stdout with 0 (upstream's `rq` does the same)."""
    result = invoke()
    since_8_2 = tuple(int(part) for part in importlib.metadata.version('click').split('.')[:2]) >= (8, 2)
    shown = result.stderr if since_8_2 else result.stdout
    assert result.exit_code == (2 if since_8_2 else 0)
    assert shown.startswith('Usage: rq [OPTIONS] COMMAND [ARGS]...')
    assert 'Commands:' in shown and 'Error' not in shown

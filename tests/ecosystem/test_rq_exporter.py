"""rq-exporter 3.1.0 (installed unmodified, with our packages in place of upstream rq) reports the same
figures from our data as from upstream rq 2.12.0's: the same scenario (queues with queued, started,
finished, failed, deferred and scheduled jobs; one idle and one busy worker: ecosystem_scenario.py) is
played once by our packages and once by upstream's, on two databases of the test's Redis, and read by the
exporter.

Its own test suite (tests/ of its sdist, run against mocks of rq's classes) passes too, and its
``rq-exporter`` command serves our figures."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from ecosystem_scenario import Side, both_sides, run, wait_for
from served import read_page

from clients import clean_environment, clients_python, pytest_summary, sdist
from redis_server import RedisServer, free_port
from rq import Queue

pytestmark = [pytest.mark.install, pytest.mark.upstream, pytest.mark.timeout(300)]

EXPORTER_VERSION = '3.1.0'
#: The exporter's two readers, ``get_workers_stats`` and ``get_jobs_by_queue``, normalised for JSON: statuses
#: and states as strings, the working time as whether there was any (it is a duration). Run under upstream,
#: the module is loaded from the sdist by path (upstream's virtualenv has no prometheus_client, which the
#: package's __init__ needs).
STATS = """
import importlib.util, sys
path = {utils_path!r}
if path:
    spec = importlib.util.spec_from_file_location('rq_exporter_utils', path)
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
else:
    import rq_exporter.utils as utils

def text(value):
    return str(getattr(value, 'value', value))

workers = sorted(
    [w['name'], text(w['state']), list(w['queues']), w['successful_job_count'], w['failed_job_count'],
     w['total_working_time'] > 0]
    for w in utils.get_workers_stats(conn)
)
jobs = {{
    queue: {{text(status): count for status, count in counts.items()}}
    for queue, counts in utils.get_jobs_by_queue(conn).items()
}}
print(json.dumps({{'workers': workers, 'jobs': jobs}}))
"""

#: The exporter's collector itself: every sample of every metric family it yields, the working time
#: normalised as above.
SAMPLES = """
from rq_exporter.collector import RQCollector

samples = []
for family in RQCollector(conn).collect():
    for sample in family.samples:
        value = sample.value > 0 if family.name == 'rq_workers_working_time' else sample.value
        samples.append([sample.name, sorted(sample.labels.items()), value])
print(json.dumps(sorted(samples)))
"""

#: The exporter as it is deployed (``gunicorn "rq_exporter:create_app()"``, configured by the environment,
#: its worker and queue classes imported from rq's defaults): its /metrics page, parsed, normalised as above.
EXPORTED = """
import os, wsgiref.util
settings = conn.connection_pool.connection_kwargs
os.environ['RQ_REDIS_URL'] = f"redis://127.0.0.1:{settings['port']}/{settings['db']}"
os.environ['RQ_EXPORTER_LOG_LEVEL'] = 'WARNING'
from prometheus_client.parser import text_string_to_metric_families
from rq_exporter import create_app

app = create_app()
environ = {}
wsgiref.util.setup_testing_defaults(environ)
environ['PATH_INFO'] = '/metrics'
statuses = []
page = b''.join(app(environ, lambda status, headers, exc_info=None: statuses.append(status))).decode()
samples = []
for family in text_string_to_metric_families(page):
    for sample in family.samples:
        if sample.name.startswith('rq_') and not sample.name.startswith('rq_request_processing_seconds'):
            value = sample.value > 0 if family.name == 'rq_workers_working_time' else sample.value
            samples.append([sample.name, sorted(sample.labels.items()), value])
print(json.dumps({'status': statuses, 'samples': sorted(samples)}))
"""

ZERO = {'queued': 0, 'started': 0, 'finished': 0, 'failed': 0, 'deferred': 0, 'scheduled': 0}
EXPECTED_STATS: dict[str, Any] = {
    'workers': [
        ['busy-worker', 'busy', ['slow'], 0, 0, False],
        ['idle-worker', 'idle', ['eco'], 2, 1, True],
    ],
    'jobs': {
        'eco': ZERO | {'finished': 2, 'failed': 1},
        'waiting': ZERO | {'queued': 2, 'deferred': 1, 'scheduled': 2},
        'slow': ZERO | {'started': 1},
    },
}


def expected_samples() -> list[Any]:
    """The collector's samples for ``EXPECTED_STATS``, as ``SAMPLES`` prints them."""
    samples: list[Any] = []
    for name, state, queues, successes, failures, worked in EXPECTED_STATS['workers']:
        label = ','.join(queues)
        samples.append(['rq_workers', [['name', name], ['queues', label], ['state', state]], 1.0])
        for metric, value in (('success', successes), ('failed', failures), ('working_time', worked)):
            samples.append([f'rq_workers_{metric}_total', [['name', name], ['queues', label]], value])
    for queue, counts in EXPECTED_STATS['jobs'].items():
        for status, count in counts.items():
            samples.append(['rq_jobs', [['queue', queue], ['status', status]], float(count)])
    return sorted(samples)


def stats_code(utils_path: str = '') -> str:
    return STATS.format(utils_path=utils_path)


@pytest.fixture
def sides(redis_server: RedisServer, connection: redis.Redis, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    with both_sides(redis_server, tmp_path) as pair:
        yield pair


def test_exporter_reads_the_same_figures_from_our_data_as_from_upstreams(sides: tuple[Side, Side]) -> None:
    ours, theirs = sides
    upstream_utils = str(sdist('rq-exporter', EXPORTER_VERSION) / 'rq_exporter' / 'utils.py')
    theirs.play()
    ours.play()

    # Upstream's reading of upstream's data: the scenario is what the test says it is.
    upstream_view = wait_for(lambda: theirs.run(stats_code(upstream_utils)), EXPECTED_STATS)
    assert upstream_view == EXPECTED_STATS, theirs.worker_logs()
    # The exporter on our packages, reading our data.
    our_view = wait_for(lambda: ours.run(stats_code()), EXPECTED_STATS)
    assert our_view == EXPECTED_STATS, ours.worker_logs()
    # Each reading the other's data.
    assert run(ours.python, stats_code(), ours.port, theirs.db) == EXPECTED_STATS
    assert run(theirs.python, stats_code(upstream_utils), theirs.port, ours.db) == EXPECTED_STATS
    # The collector's metric samples: the same from both databases.
    assert ours.run(SAMPLES) == expected_samples()
    assert run(ours.python, SAMPLES, ours.port, theirs.db) == expected_samples()
    # Its /metrics page, from both databases.
    page = {'status': ['200 OK'], 'samples': expected_samples()}
    assert ours.run(EXPORTED) == page
    assert run(ours.python, EXPORTED, ours.port, theirs.db) == page


def test_exporter_own_suite_passes(tmp_path: Path) -> None:
    source = sdist('rq-exporter', EXPORTER_VERSION)
    shutil.copytree(source / 'tests', tmp_path / 'tests')
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    command = [str(clients_python()), '-m', 'pytest', 'tests', '-p', 'no:cacheprovider', '-p', 'no:django', '-q']
    completed = subprocess.run(
        command, cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=300
    )
    assert pytest_summary(completed.stdout) == {'passed': 28}, completed.stdout + completed.stderr
    assert completed.returncode == 0


def test_rq_exporter_command_serves_our_metrics(
    redis_server: RedisServer, connection: redis.Redis, tmp_path: Path
) -> None:
    Queue('eco', connection=connection).enqueue('ecosystem_jobs.add', 1, 2)
    port = free_port()
    command = [str(clients_python().parent / 'rq-exporter'), '--host', '127.0.0.1', '--port', str(port)]
    command += ['--redis-url', redis_server.url, '--log-level', 'WARNING']
    page = read_page(command, f'http://127.0.0.1:{port}/metrics', clean_environment(), tmp_path / 'log')
    lines = page.splitlines()
    assert 'rq_jobs{queue="eco",status="queued"} 1.0' in lines, page
    assert 'rq_jobs{queue="eco",status="failed"} 0.0' in lines, page

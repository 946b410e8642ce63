"""rq over TLS (``rediss://``) with a private certificate authority and client certificates: a
redis-server that listens on a TLS port only and requires a client certificate signed by the
authority, with certificates made for this run (tests/support/tls_redis.py). A producer, workers
(also ``--concurrency``, whose slots open connections of their own), ``rq info``, the scheduler and
``rq cron`` all work through it, and a client without the client certificate is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from security_helpers import (
    all_finished,
    cron_config,
    launch_rq,
    rq_ok,
    run_rq,
    stop_gently,
    wait_for_worker,
)

import rqtest_jobs
from redis_server import running
from rq import Queue
from rq.job import Job, JobStatus
from rq.utils import now
from tls_redis import Certificates, TlsRedisServer, make_certificates
from worker_process import wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope='module')
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp('tls'))


@pytest.fixture(scope='module')
def tls_server(certificates: Certificates) -> Iterator[TlsRedisServer]:
    with running(TlsRedisServer(certificates)) as server:
        yield server


@pytest.fixture
def admin(tls_server: TlsRedisServer) -> Iterator[redis.Redis]:
    """A TLS connection to the server, emptied for this test."""
    client = tls_server.client()
    client.flushall()
    yield client
    client.close()


def python_form(server: TlsRedisServer) -> redis.Redis:
    """The client as a producer makes it in Python (the same options as the URL's query)."""
    files = server.certificates
    return redis.Redis(
        host='127.0.0.1',
        port=server.port,
        ssl=True,
        ssl_ca_certs=str(files.ca),
        ssl_certfile=str(files.client_cert),
        ssl_keyfile=str(files.client_key),
    )


def test_only_a_client_with_a_certificate_of_the_authority_gets_in(tls_server: TlsRedisServer) -> None:
    assert tls_server.url.startswith(f'rediss://127.0.0.1:{tls_server.port}/0?ssl_ca_certs=')
    for client in (redis.Redis.from_url(tls_server.url), python_form(tls_server)):
        assert client.ping() is True
        client.close()
    files = tls_server.certificates
    strangers = {
        'no client certificate': redis.Redis(
            host='127.0.0.1', port=tls_server.port, **tls_server.tls_options(client_certificate=False)
        ),
        'the server not trusted (no private authority)': redis.Redis(
            host='127.0.0.1',
            port=tls_server.port,
            ssl=True,
            ssl_certfile=str(files.client_cert),
            ssl_keyfile=str(files.client_key),
        ),
        'no TLS': redis.Redis(host='127.0.0.1', port=tls_server.port),
    }
    for case, client in strangers.items():
        try:
            client.ping()
        except redis.ConnectionError:
            pass
        else:
            pytest.fail(f'{case}: let in')
        finally:
            client.close()
    no_certificate_url = tls_server.url.split('&ssl_certfile=')[0]
    refused = run_rq('info', '--url', no_certificate_url)
    assert refused.returncode != 0
    assert 'cannot connect to Redis' in refused.stderr, refused.stderr


@pytest.mark.parametrize('options', [(), ('--concurrency', '4')], ids=['Worker', 'concurrency'])
def test_producer_and_burst_worker(tls_server: TlsRedisServer, admin: redis.Redis, options: tuple[str, ...]) -> None:
    by_url = redis.Redis.from_url(tls_server.url)
    by_options = python_form(tls_server)
    jobs = [Queue('tls', connection=by_url).enqueue(rqtest_jobs.add, n, n) for n in range(6)]
    jobs.append(Queue('tls', connection=by_options).enqueue(rqtest_jobs.async_add, 20, 1))
    jobs.append(Queue('tls', connection=by_options).enqueue(rqtest_jobs.say_hello, 'TLS', depends_on=jobs[0]))
    rq_ok('worker', '--burst', '--url', tls_server.url, 'tls', *options)
    assert all_finished(jobs)
    fetched = [Job.fetch(job.id, connection=by_url) for job in jobs]
    assert [job.return_value() for job in fetched] == [0, 2, 4, 6, 8, 10, 21, 'Hi there, TLS!']
    assert admin.scard('rq:workers') == 0
    by_url.close()
    by_options.close()


def test_rq_info_lists_the_queue_and_the_worker(tls_server: TlsRedisServer, admin: redis.Redis) -> None:
    Queue('tls-info', connection=admin).enqueue(rqtest_jobs.say_hello)
    with launch_rq('worker', '--name', 'tls-worker', '--url', tls_server.url, 'tls-idle') as worker:
        wait_for_worker(admin, 'tls-worker', worker)
        text = rq_ok('info', '--url', tls_server.url)
        assert 'tls-info' in text and 'tls-worker' in text, text
        document = json.loads(rq_ok('info', '--json', '--url', tls_server.url))
        assert [queue['name'] for queue in document['queues']] == ['tls-info']
        assert [each['name'] for each in document['workers']] == ['tls-worker']
        assert stop_gently(worker) == 0, worker.output()
    assert admin.scard('rq:workers') == 0


def test_scheduler_in_a_worker(tls_server: TlsRedisServer, admin: redis.Redis) -> None:
    queue = Queue('tls-scheduled', connection=redis.Redis.from_url(tls_server.url))
    due = queue.enqueue_at(now() - timedelta(seconds=1), rqtest_jobs.add, 1, 1)
    later = queue.enqueue_in(timedelta(seconds=1), rqtest_jobs.add, 2, 2)
    with launch_rq('worker', '--with-scheduler', '--url', tls_server.url, 'tls-scheduled') as worker:
        assert wait_until(lambda: all_finished([due, later]), 60), worker.output()
        assert stop_gently(worker) == 0, worker.output()
    assert (due.return_value(refresh=True), later.return_value(refresh=True)) == (2, 4)
    queue.connection.close()


def test_rq_cron(tls_server: TlsRedisServer, admin: redis.Redis, tmp_path: Path) -> None:
    config = cron_config(tmp_path, 'tls-cron', 'tls')
    with launch_rq('cron', str(config), '--url', tls_server.url) as cron:
        assert wait_until(lambda: admin.llen('rq:queue:tls-cron') >= 1 or cron.wait(0) is not None, 60)
        assert stop_gently(cron) == 0, cron.output()
        assert 'Traceback' not in cron.output(), cron.output()
    ticks = [job for job in Queue('tls-cron', connection=admin).get_jobs() if list(job.args) == ['tls']]
    assert ticks and ticks[0].func_name == 'rqtest_jobs_cron.tick'
    assert ticks[0].get_status() == JobStatus.QUEUED

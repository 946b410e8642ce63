"""django-rq's management commands (rqworker, rqworker-pool, rqstats, rqsuspend/rqresume, rqenqueue,
rqscheduler) against our rq and a real Redis; each command runs in its own process, as an operator
would run it (rqcron: checks_cron.py)."""

import json
import signal
import socket
import subprocess
from datetime import datetime

import django_rq
import pytest
import redis
from checks_plugin import WAIT_LIMIT, interrupt, manage, start_manage, wait_for
from rqsite import custom, jobs

from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.suspension import is_suspended
from rq.worker import Worker, WorkerStatus


def _ran(result, what: str) -> None:
    assert result.returncode == 0, f'{what} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}'


@pytest.mark.parametrize(
    'worker_class',
    [None, 'rq.worker.SimpleWorker', 'rq.SimpleWorker', 'rq.worker.SpawnWorker', 'rq.worker.RoundRobinWorker'],
)
def test_rqworker_burst_runs_a_job_enqueued_with_django_rq(rq_connection: redis.Redis, worker_class) -> None:
    job = django_rq.enqueue(jobs.add, 2, 3)
    assert job.get_status() == JobStatus.QUEUED
    options = ['--worker-class', worker_class] if worker_class else []

    result = manage('rqworker', 'default', '--burst', '--name', 'django-burst', *options)

    _ran(result, 'rqworker --burst')
    job = Job.fetch(job.id, connection=rq_connection)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 5
    assert job.worker_name == 'django-burst'
    assert job.id in FinishedJobRegistry('default', connection=rq_connection).get_job_ids()
    assert django_rq.get_queue('default').count == 0


def test_rqworker_listens_on_several_queues_and_records_failures(rq_connection: redis.Redis) -> None:
    high = django_rq.get_queue('high').enqueue(jobs.add, 1, 1)
    low = django_rq.get_queue('low').enqueue(jobs.fail, 'broken on purpose')
    default = django_rq.enqueue(jobs.add, 20, 22)

    result = manage('rqworker', 'high', 'default', 'low', '--burst')

    _ran(result, 'rqworker high default low --burst')
    assert Job.fetch(high.id, connection=rq_connection).return_value() == 2
    assert Job.fetch(default.id, connection=rq_connection).return_value() == 42
    failed = Job.fetch(low.id, connection=rq_connection)
    assert failed.get_status() == JobStatus.FAILED
    result = failed.latest_result()
    assert result is not None
    assert 'ValueError: broken on purpose' in (result.exc_string or '')
    assert low.id in FailedJobRegistry('low', connection=rq_connection).get_job_ids()


def test_rqworker_max_jobs_stops_after_that_many(rq_connection: redis.Redis) -> None:
    first = django_rq.enqueue(jobs.add, 1, 2)
    second = django_rq.enqueue(jobs.add, 3, 4)

    result = manage('rqworker', 'default', '--max-jobs', '1')

    _ran(result, 'rqworker --max-jobs 1')
    assert Job.fetch(first.id, connection=rq_connection).get_status() == JobStatus.FINISHED
    assert Job.fetch(second.id, connection=rq_connection).get_status() == JobStatus.QUEUED


def test_rqworker_pool_runs_two_workers_at_once(rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('default')
    blocking = [queue.enqueue(jobs.wait_for_key, f'started-{n}', 'release') for n in range(2)]
    quick = [queue.enqueue(jobs.add, n, n) for n in range(4)]

    pool = start_manage('rqworker-pool', 'default', '--num-workers', '2', '--burst')
    try:
        # Both blocking jobs run at the same time: only two workers can do that.
        wait_for(lambda: rq_connection.exists('started-0', 'started-1') == 2, 'both jobs started', pool)
        assert rq_connection.get('started-0') != rq_connection.get('started-1')  # two processes
        rq_connection.set('release', 1)
        output, _ = pool.communicate(timeout=120)
    finally:
        if pool.poll() is None:
            interrupt(pool)
    assert pool.returncode == 0, output
    for job in blocking:
        assert Job.fetch(job.id, connection=rq_connection).return_value() == 'released'
    assert [Job.fetch(job.id, connection=rq_connection).return_value() for job in quick] == [0, 2, 4, 6]


def _prepare_stats(rq_connection: redis.Redis) -> None:
    """default: 2 queued; high: 1 queued; low: 1 failed and 1 finished."""
    django_rq.enqueue(jobs.add, 1, 2)
    django_rq.enqueue(jobs.add, 3, 4)
    django_rq.get_queue('high').enqueue(jobs.add, 5, 6)
    django_rq.get_queue('low').enqueue(jobs.fail, 'for the stats')
    django_rq.get_queue('low').enqueue(jobs.add, 0, 0)
    _ran(manage('rqworker', 'low', '--burst'), 'rqworker low --burst')


EXPECTED_COUNTS = {
    'default': {'jobs': 2, 'failed_jobs': 0, 'finished_jobs': 0, 'started_jobs': 0, 'deferred_jobs': 0},
    'high': {'jobs': 1, 'failed_jobs': 0, 'finished_jobs': 0, 'started_jobs': 0, 'deferred_jobs': 0},
    'json': {'jobs': 0, 'failed_jobs': 0, 'finished_jobs': 0, 'started_jobs': 0, 'deferred_jobs': 0},
    'low': {'jobs': 0, 'failed_jobs': 1, 'finished_jobs': 1, 'started_jobs': 0, 'deferred_jobs': 0},
    'sync': {'jobs': 0, 'failed_jobs': 0, 'finished_jobs': 0, 'started_jobs': 0, 'deferred_jobs': 0},
}


def _counts(queues: list[dict]) -> dict[str, dict[str, int]]:
    return {q['name']: {key: q[key] for key in EXPECTED_COUNTS['default']} for q in queues}


def test_rqstats_json_lists_every_queue_with_its_counts(rq_connection: redis.Redis) -> None:
    _prepare_stats(rq_connection)

    result = manage('rqstats', '--json')

    _ran(result, 'rqstats --json')
    statistics = json.loads(result.stdout)
    assert _counts(statistics['queues']) == EXPECTED_COUNTS
    default = next(q for q in statistics['queues'] if q['name'] == 'default')
    assert default['workers'] == 0
    assert default['oldest_job_timestamp'] != '-'


def test_rqstats_table(rq_connection: redis.Redis) -> None:
    _prepare_stats(rq_connection)

    result = manage('rqstats')

    _ran(result, 'rqstats')
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if len(cells) == 7 and cells[0] in EXPECTED_COUNTS:
            rows[cells[0]] = cells[1:]
    # Name | Queued | Active | Deferred | Finished | Failed | Workers
    assert rows['default'] == ['2', '0', '0', '0', '0', '0']
    assert rows['high'] == ['1', '0', '0', '0', '0', '0']
    assert rows['low'] == ['0', '0', '0', '1', '1', '0']


def test_rqstats_yaml(rq_connection: redis.Redis) -> None:
    _prepare_stats(rq_connection)

    result = manage('rqstats', '--yaml')

    try:
        import yaml
    except ImportError:  # the command says so, without a traceback of ours
        assert result.returncode != 0
        assert 'PyYAML is not installed' in result.stderr
        return
    _ran(result, 'rqstats --yaml')
    assert _counts(yaml.safe_load(result.stdout)['queues']) == EXPECTED_COUNTS


def test_rqsuspend_and_rqresume(rq_connection: redis.Redis) -> None:
    job = django_rq.enqueue(jobs.add, 5, 5)

    _ran(manage('rqsuspend'), 'rqsuspend')
    assert is_suspended(rq_connection)
    assert rq_connection.get('rq:suspended') == b'1'  # the key upstream rq uses
    assert rq_connection.ttl('rq:suspended') == -1  # indefinitely

    # A burst worker of a suspended rq starts nothing and leaves.
    suspended = manage('rqworker', 'default', '--burst')
    _ran(suspended, 'rqworker --burst while suspended')
    assert 'suspended in burst mode' in suspended.stderr
    assert Job.fetch(job.id, connection=rq_connection).get_status() == JobStatus.QUEUED

    _ran(manage('rqresume'), 'rqresume')
    assert not is_suspended(rq_connection)
    assert not rq_connection.exists('rq:suspended')
    _ran(manage('rqworker', 'default', '--burst'), 'rqworker --burst after resume')
    assert Job.fetch(job.id, connection=rq_connection).return_value() == 10


def test_rqsuspend_for_a_duration(rq_connection: redis.Redis) -> None:
    _ran(manage('rqsuspend', '-d', '600'), 'rqsuspend -d 600')
    assert is_suspended(rq_connection)
    assert 0 < rq_connection.ttl('rq:suspended') <= 600

    refused = manage('rqsuspend', '--duration', '0')
    assert refused.returncode == 1


def test_rqenqueue_puts_a_job_on_the_named_queue(rq_connection: redis.Redis) -> None:
    result = manage('rqenqueue', '--queue', 'high', '--timeout', '99', 'rqsite.jobs.describe_process', 'from-cli')

    _ran(result, 'rqenqueue')
    assert 'created' in result.stdout
    queue = django_rq.get_queue('high')
    [job] = queue.get_jobs()
    assert job.func_name == 'rqsite.jobs.describe_process'
    assert job.args == ('from-cli',)
    assert job.timeout == 99


def test_a_waiting_worker_stays_idle_while_suspended(rq_connection: redis.Redis) -> None:
    _ran(manage('rqsuspend'), 'rqsuspend')
    job = django_rq.enqueue(jobs.add, 1, 1)
    worker = start_manage('rqworker', 'default', '--max-jobs', '1', '--name', 'patient')
    try:
        key = 'rq:worker:patient'
        wait_for(lambda: rq_connection.hget(key, 'state') == WorkerStatus.SUSPENDED.encode(), 'shown suspended', worker)
        assert Job.fetch(job.id, connection=rq_connection).get_status() == JobStatus.QUEUED
        _ran(manage('rqresume'), 'rqresume')
        output, _ = worker.communicate(timeout=120)  # --max-jobs 1: it leaves after the job
    finally:
        if worker.poll() is None:
            interrupt(worker)
    assert worker.returncode == 0, output
    assert Job.fetch(job.id, connection=rq_connection).return_value() == 2


def test_rqworker_with_scheduler_enqueues_due_jobs(rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('default')
    due = queue.enqueue_at(datetime(2020, 1, 1), jobs.add, 7, 8)
    assert due.get_status() == JobStatus.SCHEDULED

    _ran(manage('rqworker', 'default', '--burst', '--with-scheduler'), 'rqworker --burst --with-scheduler')

    assert Job.fetch(due.id, connection=rq_connection).return_value() == 15
    assert queue.scheduled_job_registry.count == 0


def test_rqworker_with_the_sites_classes(rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('default', queue_class='rqsite.custom.SiteQueue', job_class='rqsite.custom.SiteJob')
    assert isinstance(queue, custom.SiteQueue)
    job = queue.enqueue(jobs.add, 2, 2)
    assert isinstance(job, custom.SiteJob)

    result = manage(
        'rqworker',
        'default',
        '--burst',
        '--worker-class',
        'rqsite.custom.SiteWorker',
        '--queue-class',
        'rqsite.custom.SiteQueue',
        '--job-class',
        'rqsite.custom.SiteJob',
        '--worker-ttl',
        '60',
        '--max-idle-time',
        '5',
        '-v',
        '2',
    )

    _ran(result, 'rqworker with the site classes')
    assert Job.fetch(job.id, connection=rq_connection).return_value() == 4


def test_rqworker_with_the_json_serializer(rq_connection: redis.Redis) -> None:
    job = django_rq.get_queue('json').enqueue(jobs.add, 30, 12)

    _ran(manage('rqworker', 'json', '--burst', '--serializer', 'rq.serializers.JSONSerializer'), 'rqworker json')

    assert django_rq.get_queue('json').fetch_job(job.id).return_value() == 42


def test_rqworker_runs_the_exception_handlers_of_the_settings(rq_connection: redis.Redis) -> None:
    failing = django_rq.enqueue(jobs.fail, 'handled elsewhere')

    _ran(manage('rqworker', 'default', '--burst'), 'rqworker --burst')

    assert rq_connection.get(f'handled:{failing.id}') == b'ValueError: handled elsewhere'
    assert Job.fetch(failing.id, connection=rq_connection).get_status() == JobStatus.FAILED  # rq's handling too


def test_rqworker_without_redis_says_so(rq_connection: redis.Redis) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(('127.0.0.1', 0))
        closed_port = sock.getsockname()[1]

    try:
        result = manage('rqworker', 'default', '--burst', env={'RQ_TEST_REDIS_PORT': str(closed_port)}, timeout=30)
    except subprocess.TimeoutExpired as timed_out:
        raise AssertionError(
            'rqworker kept retrying an unreachable Redis instead of failing (upstream rq lets the '
            f'redis ConnectionError out of Worker.work(), django-rq then exits 1): {timed_out.stderr!r}'
        ) from None

    assert result.returncode == 1, result.stderr
    assert 'Traceback' not in result.stderr
    assert str(closed_port) in result.stderr or 'onnect' in result.stderr


def test_rqworker_pool_with_simple_workers(rq_connection: redis.Redis) -> None:
    queued = [django_rq.get_queue('high').enqueue(jobs.add, n, 1) for n in range(3)]

    result = manage(
        'rqworker-pool',
        'high',
        'default',
        '--num-workers',
        '2',
        '--burst',
        '--worker-class',
        'rq.worker.SimpleWorker',
        timeout=120,
    )

    _ran(result, 'rqworker-pool --worker-class SimpleWorker')
    assert [Job.fetch(job.id, connection=rq_connection).return_value() for job in queued] == [1, 2, 3]
    assert Worker.all(connection=rq_connection) == []  # all of them left


def test_rqscheduler_moves_due_jobs_to_their_queue(rq_connection: redis.Redis) -> None:
    scheduler = django_rq.get_scheduler('default')
    due = scheduler.enqueue_at(datetime(2020, 1, 1), jobs.add, 1, 1)
    later = scheduler.enqueue_at(datetime(2999, 1, 1), jobs.add, 2, 2)

    process = start_manage('rqscheduler', '--interval', '1')
    try:
        # (rq-scheduler pushes a due job onto its queue, then takes it out of its own set: both)
        wait_for(
            lambda: (
                django_rq.get_queue('default').job_ids == [due.id]
                and [job.id for job in scheduler.get_jobs()] == [later.id]
            ),
            'the due job was moved',
            process,
        )
    finally:
        code, output = interrupt(process)
    assert code == 0, output
    assert [job.id for job in scheduler.get_jobs()] == [later.id]


@pytest.mark.parametrize('stop_signal', [signal.SIGTERM, signal.SIGINT])
def test_rqworker_stops_on_a_signal(rq_connection: redis.Redis, stop_signal: signal.Signals) -> None:
    worker = start_manage('rqworker', 'default', 'high', '--name', 'signalled')
    try:
        wait_for(lambda: Worker.find_by_key('rq:worker:signalled', connection=rq_connection), 'registered', worker)
        job = django_rq.enqueue(jobs.add, 1, 2)
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 'the job ran', worker)
        worker.send_signal(stop_signal)
        output, _ = worker.communicate(timeout=WAIT_LIMIT)
    finally:
        if worker.poll() is None:
            interrupt(worker)
    assert worker.returncode == 0, output
    assert Worker.all(connection=rq_connection) == []


def test_rqworker_pool_stops_its_workers_on_sigterm(rq_connection: redis.Redis) -> None:
    pool = start_manage('rqworker-pool', 'default', '--num-workers', '2')
    try:
        wait_for(lambda: len(Worker.all(connection=rq_connection)) == 2, 'both workers registered', pool)
        jobs_run = [django_rq.enqueue(jobs.add, n, n) for n in range(4)]
        wait_for(
            lambda: all(job.get_status(refresh=True) == JobStatus.FINISHED for job in jobs_run), 'the jobs ran', pool
        )
        pool.send_signal(signal.SIGTERM)
        output, _ = pool.communicate(timeout=WAIT_LIMIT)
    finally:
        if pool.poll() is None:
            interrupt(pool)
    assert pool.returncode == 0, output
    assert Worker.all(connection=rq_connection) == []


def test_rqworker_max_idle_time(rq_connection: redis.Redis) -> None:
    job = django_rq.enqueue(jobs.add, 1, 1)

    result = manage('rqworker', 'default', '--max-idle-time', '1')

    _ran(result, 'rqworker --max-idle-time 1')
    assert Job.fetch(job.id, connection=rq_connection).return_value() == 2

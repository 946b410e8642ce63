"""django-rq's dashboard views on our rq, as a logged-in staff user (pytest-django's ``admin_client``):
the stats page and JSON, every job list, job details (also of a job whose data is corrupt), workers,
and the actions (delete, requeue, empty, stop)."""

import html
import re
from datetime import datetime, timedelta
from typing import Any

import django_rq
import pytest
import redis
from checks_plugin import WAIT_LIMIT, interrupt, start_manage, wait_for
from django.test import Client
from django_rq.cron import DjangoCronScheduler
from rqsite import jobs

from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

# django-rq numbers the queues by name: default 0, high 1, json 2, low 3, sync 4.
DEFAULT, HIGH, LOW = 0, 1, 3
PREFIXES = ['/django-rq', '/admin/django_rq/dashboard']

pytestmark = pytest.mark.django_db


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f'{url} answered {response.status_code}'
    return response.content.decode()


def _failed_job(message: str = 'failed on purpose') -> Job:
    failing = django_rq.get_queue('low').enqueue(jobs.fail, message)
    django_rq.get_worker('low').work(burst=True)
    assert failing.get_status(refresh=True) == JobStatus.FAILED
    return failing


@pytest.mark.parametrize('prefix', PREFIXES)
def test_stats_page_lists_the_queues(admin_client: Client, prefix: str) -> None:
    django_rq.enqueue(jobs.add, 1, 2)

    body = _page(admin_client, f'{prefix}/')

    for name in ('default', 'high', 'json', 'low', 'sync'):
        assert name in body
    assert f'{prefix}/queues/{DEFAULT}/' in body


def test_stats_page_needs_a_staff_user(client: Client) -> None:
    response = client.get('/django-rq/')
    assert response.status_code == 302
    assert '/login/' in response['Location']


@pytest.mark.parametrize('prefix', PREFIXES)
def test_stats_json(admin_client: Client, client: Client, prefix: str) -> None:
    django_rq.enqueue(jobs.add, 1, 2)
    _failed_job()

    statistics = admin_client.get(f'{prefix}/stats.json').json()

    queues = {queue['name']: queue for queue in statistics['queues']}
    assert set(queues) == {'default', 'high', 'json', 'low', 'sync'}
    assert queues['default']['jobs'] == 1
    assert queues['low']['failed_jobs'] == 1
    assert queues['low']['index'] == LOW
    assert client.get(f'{prefix}/stats.json').status_code == 401
    with_token = client.get(f'{prefix}/stats.json', headers={'Authorization': 'Bearer statstoken'})
    assert with_token.status_code == 200
    assert with_token.json() == statistics
    assert client.get(f'{prefix}/stats.json/statstoken/').json() == statistics


@pytest.mark.parametrize('prefix', PREFIXES)
def test_queued_jobs_list_and_queue_details(admin_client: Client, prefix: str) -> None:
    first = django_rq.enqueue(jobs.add, 1, 2)
    second = django_rq.enqueue(jobs.add, 3, 4)

    body = _page(admin_client, f'{prefix}/queues/{DEFAULT}/')
    assert first.id in body
    assert second.id in body
    details = _page(admin_client, f'{prefix}/queues/{DEFAULT}/details/')
    assert first.id in details  # the oldest queued job
    assert second.id in details  # the newest


def test_finished_failed_and_result_pages(admin_client: Client) -> None:
    done = django_rq.enqueue(jobs.add, 2, 2)
    django_rq.get_worker('default').work(burst=True)
    failing = _failed_job('shown in the failed list')

    assert done.id in _page(admin_client, f'/django-rq/queues/{DEFAULT}/finished/')
    assert done.id in _page(admin_client, f'/django-rq/queues/{DEFAULT}/finished/?desc=0')
    assert failing.id in _page(admin_client, f'/django-rq/queues/{LOW}/failed/')
    detail = _page(admin_client, f'/django-rq/queues/{LOW}/{failing.id}/')
    assert 'shown in the failed list' in detail
    [result] = done.results()
    result_page = _page(admin_client, f'/django-rq/queues/{DEFAULT}/{done.id}/results/{result.id}/')
    assert '4' in result_page


def test_deferred_and_scheduled_lists(admin_client: Client) -> None:
    queue = django_rq.get_queue('default')
    parent = queue.enqueue(jobs.add, 1, 1)
    child = queue.enqueue(jobs.add, 2, 2, depends_on=parent)
    later = queue.enqueue_in(timedelta(hours=1), jobs.add, 3, 3)
    assert child.get_status() == JobStatus.DEFERRED

    assert child.id in _page(admin_client, f'/django-rq/queues/{DEFAULT}/deferred/')
    assert later.id in _page(admin_client, f'/django-rq/queues/{DEFAULT}/scheduled/')
    detail = _page(admin_client, f'/django-rq/queues/{DEFAULT}/{child.id}/')
    assert parent.id in detail  # the dependency is listed
    assert child.id in _page(admin_client, f'/django-rq/queues/{DEFAULT}/{parent.id}/')  # the dependent too


def test_job_detail(admin_client: Client) -> None:
    enqueued = django_rq.enqueue(jobs.describe_process, 'detail-arg', meta={'origin': 'test'})

    body = _page(admin_client, f'/django-rq/queues/{DEFAULT}/{enqueued.id}/')

    assert enqueued.id in body
    assert 'rqsite.jobs.describe_process' in body
    assert 'detail-arg' in body
    assert 'Unpickling Error' not in body
    assert admin_client.get(f'/django-rq/queues/{DEFAULT}/no-such-job/').status_code == 404


def test_job_with_corrupt_data_is_shown_with_an_error(admin_client: Client, rq_connection: redis.Redis) -> None:
    enqueued = django_rq.enqueue(jobs.add, 1, 2)
    rq_connection.hset(enqueued.key, 'data', b'not a pickle at all')

    body = _page(admin_client, f'/django-rq/queues/{DEFAULT}/{enqueued.id}/')

    assert enqueued.id in body
    assert 'Unpickling Error' in body
    assert enqueued.id in _page(admin_client, f'/django-rq/queues/{DEFAULT}/')


def test_started_list_workers_and_stop(admin_client: Client, rq_connection: redis.Redis) -> None:
    running = django_rq.enqueue(jobs.wait_for_key, 'view-started', 'view-release')
    worker = start_manage('rqworker', 'default', '--burst', '--name', 'viewed-worker')
    try:
        wait_for(lambda: rq_connection.exists('view-started'), 'the job started', worker)

        started = _page(admin_client, f'/django-rq/queues/{DEFAULT}/started/')
        [(job_id, execution_id)] = django_rq.get_queue('default').started_job_registry.get_job_and_execution_ids()
        assert job_id == running.id
        assert execution_id in started  # the execution, as django-rq lists them
        assert running.id in started
        statistics = admin_client.get('/django-rq/stats.json').json()
        default = next(queue for queue in statistics['queues'] if queue['name'] == 'default')
        assert default['workers'] == 1
        assert default['started_jobs'] == 1
        metrics = admin_client.get('/django-rq/metrics/').content.decode()
        assert 'rq_workers{name="viewed-worker",queues="default",state="busy"} 1.0' in metrics
        assert 'rq_jobs{queue="default",status="started"} 1.0' in metrics
        workers_page = _page(admin_client, f'/django-rq/workers/{DEFAULT}/')
        assert 'viewed-worker' in workers_page
        key = 'rq:worker:viewed-worker'
        details = _page(admin_client, f'/django-rq/workers/{DEFAULT}/{key}/')
        assert 'viewed-worker' in details
        assert running.id in details  # its current job

        response = admin_client.post(f'/django-rq/queues/{DEFAULT}/{running.id}/stop/')
        assert response.status_code == 302
        wait_for(lambda: running.get_status(refresh=True) == JobStatus.STOPPED, 'the job stopped', None)
        output, _ = worker.communicate(timeout=WAIT_LIMIT)  # a burst worker: its queue is empty now
    finally:
        rq_connection.set('view-release', 1)
        if worker.poll() is None:
            interrupt(worker)
    assert worker.returncode == 0, output


def test_delete_job(admin_client: Client) -> None:
    enqueued = django_rq.enqueue(jobs.add, 1, 2)
    url = f'/django-rq/queues/{DEFAULT}/{enqueued.id}/delete/'

    assert enqueued.id in _page(admin_client, url)  # the confirmation page
    response = admin_client.post(url)

    assert response.status_code == 302
    assert response['Location'] == f'/django-rq/queues/{DEFAULT}/'
    assert django_rq.get_queue('default').count == 0
    assert not Job.exists(enqueued.id, connection=django_rq.get_connection())


def test_requeue_a_failed_job(admin_client: Client) -> None:
    failing = _failed_job()
    url = f'/django-rq/queues/{LOW}/{failing.id}/requeue/'

    assert failing.id in _page(admin_client, url)
    response = admin_client.post(url)

    assert response.status_code == 302
    assert failing.get_status(refresh=True) == JobStatus.QUEUED
    assert django_rq.get_queue('low').job_ids == [failing.id]
    assert len(FailedJobRegistry('low', connection=django_rq.get_connection('low'))) == 0


def test_requeue_all_failed_jobs(admin_client: Client) -> None:
    failed = [_failed_job('first'), _failed_job('second')]
    url = f'/django-rq/queues/{LOW}/requeue-all/'

    _page(admin_client, url)
    response = admin_client.post(url)

    assert response.status_code == 302
    assert sorted(django_rq.get_queue('low').job_ids) == sorted(job.id for job in failed)


def test_delete_all_failed_jobs(admin_client: Client) -> None:
    failed = [_failed_job('first'), _failed_job('second')]
    url = f'/django-rq/queues/{LOW}/failed/clear/'

    _page(admin_client, url)
    response = admin_client.post(url)

    assert response.status_code == 302
    connection = django_rq.get_connection('low')
    assert not any(Job.exists(job.id, connection=connection) for job in failed)


def test_empty_a_queue(admin_client: Client) -> None:
    for n in range(3):
        django_rq.enqueue(jobs.add, n, n)
    url = f'/django-rq/queues/{DEFAULT}/empty/'

    _page(admin_client, url)
    response = admin_client.post(url)

    assert response.status_code == 302
    assert django_rq.get_queue('default').count == 0


def test_enqueue_a_deferred_job(admin_client: Client) -> None:
    queue = django_rq.get_queue('default')
    parent = queue.enqueue(jobs.add, 1, 1)
    child = queue.enqueue(jobs.add, 2, 2, depends_on=parent)
    queue.remove(parent)

    response = admin_client.post(f'/django-rq/queues/{DEFAULT}/{child.id}/enqueue/')

    assert response.status_code == 302
    assert child.get_status(refresh=True) == JobStatus.QUEUED
    assert queue.job_ids == [child.id]


def test_bulk_actions(admin_client: Client) -> None:
    keep = django_rq.enqueue(jobs.add, 0, 0)
    drop = [django_rq.enqueue(jobs.add, n, n) for n in (1, 2)]
    selected = [job.id for job in drop]

    confirm = admin_client.post(
        f'/django-rq/queues/confirm-action/{DEFAULT}/', {'action': 'delete', '_selected_action': selected}
    )
    assert confirm.status_code == 200
    assert all(job_id in confirm.content.decode() for job_id in selected)
    done = admin_client.post(f'/django-rq/queues/actions/{DEFAULT}/', {'action': 'delete', 'job_ids': selected})
    assert done.status_code == 302
    assert django_rq.get_queue('default').job_ids == [keep.id]

    failed = _failed_job()
    requeued = admin_client.post(f'/django-rq/queues/actions/{LOW}/', {'action': 'requeue', 'job_ids': [failed.id]})
    assert requeued.status_code == 302
    assert django_rq.get_queue('low').job_ids == [failed.id]


def test_prometheus_metrics(admin_client: Client, client: Client) -> None:
    django_rq.enqueue(jobs.add, 1, 2)
    response = admin_client.get('/django-rq/metrics/')
    if response.status_code == 404:  # prometheus_client is not installed: django-rq has no such URL
        return
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'rq_jobs\{queue="default",status="queued"\} 1\.0', body), body
    assert client.get('/django-rq/metrics/').status_code == 401


def test_corrupt_jobs_in_the_registries_lists(admin_client: Client, rq_connection: redis.Redis) -> None:
    failing = _failed_job('then corrupted')
    rq_connection.hset(failing.key, 'data', b'\x00garbage')
    done = django_rq.get_queue('low').enqueue(jobs.add, 1, 1)
    django_rq.get_worker('low').work(burst=True)
    rq_connection.hset(done.key, 'data', b'\x00garbage')

    assert failing.id in _page(admin_client, f'/django-rq/queues/{LOW}/failed/')
    assert done.id in _page(admin_client, f'/django-rq/queues/{LOW}/finished/')
    assert 'Unpickling Error' in _page(admin_client, f'/django-rq/queues/{LOW}/{failing.id}/')
    requeue = admin_client.post(f'/django-rq/queues/{LOW}/{done.id}/delete/')
    assert requeue.status_code == 302
    assert not Job.exists(done.id, connection=rq_connection)


def test_rq_scheduler_page(admin_client: Client) -> None:
    scheduler = django_rq.get_scheduler('default')
    once = scheduler.enqueue_in(timedelta(hours=1), jobs.add, 1, 2)
    repeated = scheduler.schedule(datetime(2999, 1, 1), jobs.add, args=(3, 4), interval=60, repeat=3)
    daily = scheduler.cron('0 9 * * *', jobs.add, args=(5, 6))

    body = html.unescape(_page(admin_client, f'/django-rq/schedulers/{DEFAULT}/'))

    for job in (once, repeated, daily):
        assert job.id in body
    assert 'interval: 60 repeat: 3' in body
    assert "cron: '0 9 * * *'" in body


def test_actions_inside_the_admin_stay_inside_the_admin(admin_client: Client) -> None:
    prefix = '/admin/django_rq/dashboard'
    enqueued = django_rq.enqueue(jobs.add, 1, 2)

    detail = _page(admin_client, f'{prefix}/queues/{DEFAULT}/{enqueued.id}/')
    assert f'{prefix}/queues/{DEFAULT}/{enqueued.id}/delete/' in detail  # links resolved in the admin
    response = admin_client.post(f'{prefix}/queues/{DEFAULT}/{enqueued.id}/delete/')

    assert response.status_code == 302
    assert response['Location'] == f'{prefix}/queues/{DEFAULT}/'
    assert django_rq.get_queue('default').count == 0


def test_json_serialized_jobs_are_shown(admin_client: Client) -> None:
    json_queue = 2
    enqueued = django_rq.get_queue('json').enqueue(jobs.describe_process, 'json-arg')

    assert enqueued.id in _page(admin_client, f'/django-rq/queues/{json_queue}/')
    detail = _page(admin_client, f'/django-rq/queues/{json_queue}/{enqueued.id}/')
    assert 'rqsite.jobs.describe_process' in detail
    assert 'json-arg' in detail
    assert 'Unpickling Error' not in detail


#: Variables django-rq's own templates name without its views providing them (also so with upstream rq):
#: the page title, the optional keys of a queue's settings, the admin's media and options.
DJANGO_RQ_OWN_GAPS = re.compile(r'^(title|queue_config\.[A-Z_]+|media\.\w+|opts\.\w+)$')


def test_pages_find_every_attribute_they_show(admin_client: Client, settings: Any, rq_connection: redis.Redis) -> None:
    """With an invalid-variable marker, every page is rendered: a name a template reads from one of rq's
    objects (a job, a result, an execution, a worker, a queue, a cron scheduler) that ours lacks shows."""
    engine = dict(settings.TEMPLATES[0])
    engine['OPTIONS'] = {**engine['OPTIONS'], 'string_if_invalid': '<<MISSING:%s>>'}
    settings.TEMPLATES = [engine]
    queue = django_rq.get_queue('default')
    parent = queue.enqueue(jobs.add, 1, 1, meta={'k': 'v'})
    child = queue.enqueue(jobs.add, 2, 2, depends_on=parent)
    queue.enqueue_in(timedelta(hours=1), jobs.add, 3, 3)
    django_rq.get_scheduler('default').schedule(datetime(2999, 1, 1), jobs.add, args=(1, 1), interval=60)
    done = django_rq.get_queue('high').enqueue(jobs.add, 1, 1)
    django_rq.get_worker('high').work(burst=True)
    failed = _failed_job()
    running = django_rq.get_queue('low').enqueue(jobs.wait_for_key, 'page-started', 'page-release')
    worker = start_manage('rqworker', 'low', '--burst', '--name', 'paged-worker')
    cron = start_manage('rqcron', 'rqsite/cron_config.py')
    try:
        wait_for(lambda: rq_connection.exists('page-started'), 'the job started', worker)
        wait_for(lambda: DjangoCronScheduler.all(rq_connection), 'the cron scheduler registered itself', cron)
        scheduler = DjangoCronScheduler.all(rq_connection)[0].name
        [result] = done.results()
        pages = [
            '/django-rq/',
            '/admin/django_rq/dashboard/',
            f'/django-rq/queues/{DEFAULT}/',
            f'/django-rq/queues/{DEFAULT}/details/',
            f'/django-rq/queues/{HIGH}/finished/',
            f'/django-rq/queues/{LOW}/failed/',
            f'/django-rq/queues/{DEFAULT}/scheduled/',
            f'/django-rq/queues/{LOW}/started/',
            f'/django-rq/queues/{DEFAULT}/deferred/',
            f'/django-rq/queues/{DEFAULT}/{parent.id}/',
            f'/django-rq/queues/{DEFAULT}/{child.id}/',
            f'/django-rq/queues/{HIGH}/{done.id}/',
            f'/django-rq/queues/{HIGH}/{done.id}/results/{result.id}/',
            f'/django-rq/queues/{LOW}/{failed.id}/',
            f'/django-rq/queues/{LOW}/{running.id}/',
            f'/django-rq/workers/{LOW}/',
            f'/django-rq/workers/{LOW}/rq:worker:paged-worker/',
            f'/django-rq/schedulers/{DEFAULT}/',
            f'/django-rq/cron-schedulers/0/{scheduler}/',
            f'/django-rq/cron-schedulers/0/{scheduler}/jobs/rqsite.jobs.mark/',
            f'/django-rq/queues/{DEFAULT}/{parent.id}/delete/',
            f'/django-rq/queues/{LOW}/requeue-all/',
            f'/django-rq/queues/{LOW}/failed/clear/',
        ]
        missing = {}
        for url in pages:
            body = html.unescape(_page(admin_client, url))
            names = {name for name in re.findall(r'<<MISSING:(.*?)>>', body) if not DJANGO_RQ_OWN_GAPS.match(name)}
            if names:
                missing[url] = sorted(names)
    finally:
        rq_connection.set('page-release', 1)
        interrupt(cron)
        worker.communicate(timeout=WAIT_LIMIT)
    assert missing == {}


def test_lists_drop_the_entries_of_deleted_jobs(admin_client: Client, rq_connection: redis.Redis) -> None:
    gone = _failed_job('then deleted')
    kept = _failed_job('kept')
    rq_connection.delete(gone.key)
    registry = FailedJobRegistry('low', connection=rq_connection)
    assert len(registry) == 2

    body = _page(admin_client, f'/django-rq/queues/{LOW}/failed/')

    assert kept.id in body
    assert gone.id not in body
    assert registry.get_job_ids() == [kept.id]  # django-rq cleaned the registry up

    response = admin_client.post(f'/django-rq/queues/{LOW}/requeue-all/', follow=True)
    assert response.status_code == 200
    assert 'You have successfully requeued 1 jobs!' in response.content.decode()


def test_deferred_list_with_a_deleted_job(admin_client: Client, rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('default')
    parent = queue.enqueue(jobs.add, 1, 1)
    children = [queue.enqueue(jobs.add, n, n, depends_on=parent) for n in (2, 3)]
    rq_connection.delete(children[0].key)

    body = _page(admin_client, f'/django-rq/queues/{DEFAULT}/deferred/')

    assert children[1].id in body


def test_stopping_a_job_that_does_not_run_fails_politely(admin_client: Client) -> None:
    queued = django_rq.enqueue(jobs.add, 1, 2)

    response = admin_client.post(f'/django-rq/queues/{DEFAULT}/{queued.id}/stop/', follow=True)

    assert response.status_code == 200
    assert f'Failed to stop {queued.id}' in response.content.decode()
    assert queued.get_status(refresh=True) == JobStatus.QUEUED


def test_requeue_finished_and_scheduled_jobs(admin_client: Client) -> None:
    queue = django_rq.get_queue('default')
    done = queue.enqueue(jobs.add, 1, 1)
    django_rq.get_worker('default').work(burst=True)
    later = queue.enqueue_in(timedelta(hours=1), jobs.add, 2, 2)

    response = admin_client.post(
        f'/django-rq/queues/actions/{DEFAULT}/', {'action': 'requeue', 'job_ids': [done.id, later.id]}, follow=True
    )

    assert response.status_code == 200
    assert 'You have successfully requeued 2 jobs!' in response.content.decode()
    assert sorted(queue.job_ids) == sorted([done.id, later.id])
    assert queue.finished_job_registry.count == 0
    assert queue.scheduled_job_registry.count == 0
    assert later.get_status(refresh=True) == JobStatus.QUEUED

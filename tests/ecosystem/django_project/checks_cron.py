"""``manage.py rqcron`` on our rq's CronScheduler: it starts with the jobs of the site's cron config,
enqueues the interval job at once, shows up in django-rq's cron views while it runs, and stops cleanly
on Ctrl+C."""

import django_rq
import pytest
import redis
from checks_plugin import interrupt, manage, start_manage, wait_for
from django.test import Client
from django_rq.cron import DjangoCronScheduler

from rq.job import Job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize('config', ['rqsite/cron_config.py', 'rqsite.cron_config'])
def test_rqcron_enqueues_the_registered_interval_job(
    rq_connection: redis.Redis, admin_client: Client, config: str
) -> None:
    queue = django_rq.get_queue('default')
    cron = start_manage('rqcron', config)
    try:
        wait_for(lambda: queue.count >= 1, 'the interval job was enqueued', cron)
        [job] = queue.get_jobs()
        assert job.func_name == 'rqsite.jobs.mark'
        assert job.args == ('cron-runs',) or job.args == ['cron-runs']
        assert django_rq.get_queue('high').count == 0  # the daily cron job is not due

        wait_for(lambda: DjangoCronScheduler.all(rq_connection), 'the scheduler registered itself', cron)
        [scheduler] = DjangoCronScheduler.all(rq_connection)
        registered = {cron_job.func_name: cron_job for cron_job in scheduler.get_jobs()}
        assert set(registered) == {'rqsite.jobs.mark', 'rqsite.jobs.add'}
        assert registered['rqsite.jobs.mark'].interval == 600
        assert registered['rqsite.jobs.mark'].queue_name == 'default'
        assert registered['rqsite.jobs.add'].cron == '0 9 * * *'
        assert registered['rqsite.jobs.add'].queue_name == 'high'

        stats = admin_client.get('/django-rq/')
        assert stats.status_code == 200
        assert scheduler.name in stats.content.decode()
        detail = admin_client.get(f'/django-rq/cron-schedulers/0/{scheduler.name}/')
        assert detail.status_code == 200
        body = detail.content.decode()
        assert 'rqsite.jobs.mark' in body
        assert 'Every 600 seconds' in body
        assert 'Cron: 0 9 * * *' in body
        history = admin_client.get(f'/django-rq/cron-schedulers/0/{scheduler.name}/jobs/rqsite.jobs.mark/')
        assert history.status_code == 200
        assert job.id in history.content.decode()
    finally:
        code, output = interrupt(cron)
    assert code == 0, output
    assert f'Loading cron configuration from {config}' in output
    assert 'Starting cron scheduler with 2 jobs...' in output
    assert DjangoCronScheduler.all(rq_connection) == []  # it said goodbye

    ran = manage('rqworker', 'default', '--burst')
    assert ran.returncode == 0, ran.stderr
    assert Job.fetch(job.id, connection=rq_connection).return_value() == 'cron-runs'
    assert rq_connection.get('cron-runs') == b'1'


def test_rqcron_with_a_missing_config_fails(rq_connection: redis.Redis) -> None:
    result = manage('rqcron', 'rqsite/no_such_config.py')

    assert result.returncode != 0
    assert 'no_such_config' in result.stderr

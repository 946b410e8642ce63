"""rq-scheduler 0.14.0 (installed unmodified, with our packages in place of upstream rq) schedules jobs
that our workers then run: one-off jobs (``enqueue_at``, ``enqueue_in``), interval jobs (``schedule``),
cron jobs (``cron``), cancelling, listing and counting, and its ``rqscheduler`` console script.

The client code runs in the clients virtualenv (tests/support/clients.py); time is moved on with freezegun
(one of rq-scheduler's own dependencies) around the scheduler's moves only, never around a worker."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis

from clients import clean_environment, clients_python, run_client
from redis_server import RedisServer

pytestmark = [pytest.mark.install, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent

#: Run first by every client script: the scheduler of the ``eco`` queue, a burst worker, and the scores of
#: the scheduled jobs (rq-scheduler works in naive UTC datetimes, so the process runs in UTC).
SETUP = """
import calendar, os, time
os.environ['TZ'] = 'UTC'
time.tzset()
from datetime import datetime, timedelta, timezone
from freezegun import freeze_time
from rq import Queue, SimpleWorker
from rq.job import Job
from rq_scheduler import Scheduler
import ecosystem_jobs

scheduler = Scheduler('eco', connection=conn)

def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)

def unix(moment):
    return calendar.timegm(moment.utctimetuple())

def work(*names):
    queues = [Queue(name, connection=conn) for name in (names or ('eco',))]
    return SimpleWorker(queues, connection=conn).work(burst=True)

def scores():
    entries = conn.zrange(scheduler.scheduled_jobs_key, 0, -1, withscores=True)
    return {member.decode(): int(score) for member, score in entries}

def job_ids(name='eco'):
    return Queue(name, connection=conn).job_ids

def fetch(job_id):
    return Job.fetch(job_id, connection=conn)
"""


def run(code: str, server: RedisServer) -> Any:
    return run_client(SETUP + textwrap.dedent(code), server.port, path=HERE)


def test_one_off_jobs_are_listed_moved_when_due_and_run_by_our_worker(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    report = run(
        """
        now = utcnow()
        past = now - timedelta(minutes=1)
        Queue('eco', connection=conn).enqueue(ecosystem_jobs.add, 0, 0, job_id='plain')
        due = scheduler.enqueue_at(past, ecosystem_jobs.add, 2, 3, job_id='due')
        # (schedule(), not enqueue_at(): rq-scheduler 0.14 sets at_front after enqueue_at saved the job)
        front = scheduler.schedule(past, ecosystem_jobs.add, args=[7, 7], id='front', at_front=True)
        elsewhere = scheduler.enqueue_at(past, ecosystem_jobs.add, 1, 1, job_id='elsewhere', queue_name='other')
        later = scheduler.enqueue_in(
            timedelta(hours=1), ecosystem_jobs.add, 10, 20, job_id='later', meta={'k': 'v'},
            job_description='ten and twenty', job_result_ttl=500,
        )
        report = {
            'now': unix(now),
            'status': due.get_status(),
            'fetched_status': fetch('due').get_status(),
            'origin': [fetch('due').origin, fetch('elsewhere').origin],
            'contains': [due in scheduler, 'due' in scheduler, 'later' in scheduler, 'absent' in scheduler],
            'count': scheduler.count(),
            'count_due': scheduler.count(until=timedelta(minutes=30)),
            'listed': sorted(job.id for job in scheduler.get_jobs()),
            'listed_due': sorted(job.id for job in scheduler.get_jobs(until=now)),
            'listed_page': [job.id for job in scheduler.get_jobs(offset=0, length=2)],
            'times': {job.id: unix(at) for job, at in scheduler.get_jobs(with_times=True)},
            'scores': scores(),
        }
        scheduler.enqueue_jobs()
        report['moved'] = {
            'eco': job_ids('eco'),
            'other': job_ids('other'),
            'status': fetch('due').get_status(),
            'scheduled': sorted(scores()),
        }
        work('eco', 'other')
        report['ran'] = {
            name: [fetch(name).get_status(), fetch(name).return_value()]
            for name in ('plain', 'due', 'front', 'elsewhere')
        }
        with freeze_time(now + timedelta(hours=2)):
            scheduler.enqueue_jobs()
        report['later_moved'] = job_ids('eco')
        work('eco')
        job = fetch('later')
        report['later'] = {
            'status': job.get_status(), 'result': job.return_value(), 'meta': job.meta,
            'description': job.description, 'origin': job.origin, 'result_ttl': job.result_ttl,
            'ttl': conn.ttl(job.key),
        }
        report['count_end'] = scheduler.count()
        print(json.dumps(report))
        """,
        redis_server,
    )
    now = report['now']
    assert report['status'] == report['fetched_status'] == 'scheduled'
    assert report['origin'] == ['eco', 'other']
    assert report['contains'] == [True, True, True, False]
    assert report['count'] == 4
    assert report['count_due'] == 3
    assert report['listed'] == ['due', 'elsewhere', 'front', 'later']
    assert report['listed_due'] == ['due', 'elsewhere', 'front']
    assert len(report['listed_page']) == 2
    assert report['times'] == report['scores']
    assert report['scores']['due'] == now - 60
    assert now + 3600 <= report['scores']['later'] <= now + 3600 + 300  # (an hour from when it was called)
    assert report['moved'] == {
        'eco': ['front', 'plain', 'due'],
        'other': ['elsewhere'],
        'status': 'queued',
        'scheduled': ['later'],
    }
    assert report['ran'] == {
        'plain': ['finished', 0],
        'due': ['finished', 5],
        'front': ['finished', 14],
        'elsewhere': ['finished', 2],
    }
    assert report['later_moved'] == ['later']
    later = report['later']
    assert later['status'] == 'finished'
    assert later['result'] == 30
    assert later['meta'] == {'k': 'v'}
    assert later['description'] == 'ten and twenty'
    assert later['origin'] == 'eco'
    assert later['result_ttl'] == 500
    assert 0 < later['ttl'] <= 500
    assert report['count_end'] == 0


def test_cancel_and_change_execution_time(redis_server: RedisServer, connection: redis.Redis) -> None:
    report = run(
        """
        now = utcnow()
        first = scheduler.enqueue_in(timedelta(hours=1), ecosystem_jobs.add, 1, 2, job_id='first')
        second = scheduler.enqueue_in(timedelta(hours=1), ecosystem_jobs.add, 3, 4, job_id='second')
        third = scheduler.enqueue_in(timedelta(hours=1), ecosystem_jobs.add, 5, 6, job_id='third')
        scheduler.cancel(first)
        scheduler.cancel('second')
        scheduler.change_execution_time(third, now - timedelta(seconds=5))
        try:
            scheduler.change_execution_time(first, now)
            unscheduled_error = None
        except ValueError as error:
            unscheduled_error = str(error)
        report = {
            'now': unix(now),
            'contains': [first in scheduler, 'second' in scheduler, third in scheduler],
            'scores': scores(),
            'unscheduled_error': unscheduled_error,
            'cancelled_job_kept': fetch('first').get_status(),
        }
        fetch('third').delete()
        report['listed_after_delete'] = [job.id for job in scheduler.get_jobs()]
        report['scores_after_delete'] = scores()
        print(json.dumps(report))
        """,
        redis_server,
    )
    assert report['contains'] == [False, False, True]
    assert report['scores'] == {'third': report['now'] - 5}
    assert report['unscheduled_error'] == 'Job not in scheduled jobs queue'
    assert report['cancelled_job_kept'] == 'scheduled'
    # get_jobs drops the ids of jobs that no longer exist (it catches our NoSuchJobError).
    assert report['listed_after_delete'] == []
    assert report['scores_after_delete'] == {}


def test_interval_job_is_rescheduled_until_its_repeats_are_spent(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    report = run(
        """
        now = utcnow()
        job = scheduler.schedule(
            scheduled_time=now - timedelta(seconds=1), func=ecosystem_jobs.count_call, args=['eco:interval'],
            interval=600, repeat=2, queue_name='eco', meta={'owner': 'eco'},
        )
        report = {'now': unix(now), 'id': job.id, 'meta': fetch(job.id).meta, 'result_ttl': fetch(job.id).result_ttl}
        scheduler.enqueue_jobs()
        report['first_move'] = {'queued': job_ids(), 'scores': scores(), 'meta': fetch(job.id).meta}
        work()
        report['first_run'] = {
            'count': int(conn.get('eco:interval')), 'result': fetch(job.id).return_value(),
            'status': fetch(job.id).get_status(), 'ttl': conn.ttl(job.key),
        }
        with freeze_time(now + timedelta(hours=1)):
            scheduler.enqueue_jobs()
        report['second_move'] = {'queued': job_ids(), 'scores': scores(), 'meta': fetch(job.id).meta}
        work()
        report['second_run'] = {'count': int(conn.get('eco:interval')), 'result': fetch(job.id).return_value()}
        with freeze_time(now + timedelta(days=1)):
            scheduler.enqueue_jobs()
        report['spent'] = {'queued': job_ids(), 'scores': scores()}
        print(json.dumps(report))
        """,
        redis_server,
    )
    job_id = report['id']
    assert report['meta'] == {'owner': 'eco', 'interval': 600, 'repeat': 2}
    assert report['result_ttl'] == -1  # (an interval job keeps its result: the scheduler needs the job)
    first = report['first_move']
    assert first['queued'] == [job_id]
    assert 600 <= first['scores'][job_id] - report['now'] <= 600 + 300  # (the interval from when it moved)
    assert first['meta']['repeat'] == 1  # (saved by Queue.enqueue_job)
    assert report['first_run'] == {'count': 1, 'result': 1, 'status': 'finished', 'ttl': -1}
    second = report['second_move']
    assert second['queued'] == [job_id]
    assert second['scores'] == {}  # its last repeat: not scheduled again
    assert second['meta']['repeat'] == 0
    assert report['second_run'] == {'count': 2, 'result': 2}
    assert report['spent'] == {'queued': [], 'scores': {}}


def test_cron_job_is_moved_at_its_times_and_rescheduled(redis_server: RedisServer, connection: redis.Redis) -> None:
    report = run(
        """
        start = utcnow()
        with freeze_time(start):
            job = scheduler.cron(
                '*/5 * * * *', func=ecosystem_jobs.count_call, args=['eco:cron'], queue_name='eco', repeat=2,
                meta={'owner': 'eco'},
            )
            first = scores()[job.id]
            scheduler.enqueue_jobs()
            report = {
                'start': unix(start), 'id': job.id, 'first': first, 'early': job_ids(), 'meta': fetch(job.id).meta,
                'result_ttl': fetch(job.id).result_ttl, 'status': fetch(job.id).get_status(),
            }
        with freeze_time(datetime.utcfromtimestamp(first + 1)):
            scheduler.enqueue_jobs()
        report['first_move'] = {'queued': job_ids(), 'scores': scores()}
        work()
        report['first_run'] = {'count': int(conn.get('eco:cron')), 'status': fetch(job.id).get_status(),
                               'ttl': conn.ttl(job.key)}
        with freeze_time(datetime.utcfromtimestamp(first + 300 + 1)):
            scheduler.enqueue_jobs()
        report['second_move'] = {'queued': job_ids(), 'scores': scores()}
        work()
        report['second_run'] = {'count': int(conn.get('eco:cron')), 'result': fetch(job.id).return_value()}
        print(json.dumps(report))
        """,
        redis_server,
    )
    job_id, first = report['id'], report['first']
    assert first % 300 == 0 and report['start'] < first <= report['start'] + 300
    assert report['early'] == []  # not due before its time
    assert report['status'] == 'scheduled'
    assert report['meta'] == {'owner': 'eco', 'cron_string': '*/5 * * * *', 'use_local_timezone': False, 'repeat': 2}
    assert report['result_ttl'] == -1
    assert report['first_move'] == {'queued': [job_id], 'scores': {job_id: first + 300}}
    assert report['first_run'] == {'count': 1, 'status': 'finished', 'ttl': -1}
    assert report['second_move'] == {'queued': [job_id], 'scores': {}}  # its repeats are spent
    assert report['second_run'] == {'count': 2, 'result': 2}


def test_rqscheduler_console_script_moves_due_jobs_for_the_rq_worker_command(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    python = clients_python()
    url = f'redis://127.0.0.1:{redis_server.port}/0'
    scheduled = run(
        """
        default = Scheduler(connection=conn)
        job = default.enqueue_at(utcnow() - timedelta(seconds=5), ecosystem_jobs.add, 4, 4)
        print(json.dumps(job.id))
        """,
        redis_server,
    )
    env = clean_environment() | {'PYTHONPATH': str(HERE)}
    rqscheduler = [str(python.parent / 'rqscheduler'), '--burst', '--url', url, '--path', str(HERE), '-i', '1']
    moved = subprocess.run(rqscheduler, capture_output=True, text=True, env=env, cwd=HERE, timeout=120)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert connection.lrange('rq:queue:default', 0, -1) == [scheduled.encode()]
    instances = connection.keys('rq:scheduler_instance:*')
    assert len(instances) == 1 and connection.hexists(instances[0], 'death')  # (it registered its death)
    assert not connection.exists('rq:scheduler_lock')

    worker = [str(python.parent / 'rq'), 'worker', '--burst', '--url', url, 'default']
    ran = subprocess.run(worker, capture_output=True, text=True, env=env, cwd=HERE, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = run(f'job = fetch({scheduled!r})\nprint(json.dumps([job.get_status(), job.return_value()]))', redis_server)
    assert result == ['finished', 8]


def test_job_options_callbacks_and_classes_pass_through(redis_server: RedisServer, connection: redis.Redis) -> None:
    report = run(
        """
        from rq import Callback
        now = utcnow()
        past = now - timedelta(seconds=5)
        options = scheduler.enqueue_at(
            past, ecosystem_jobs.add, 20, 22, job_id='options', timeout=45, job_ttl=900, job_result_ttl=120,
            job_description='the answer', meta={'why': 'test'}, on_success=Callback(ecosystem_jobs.record_success),
        )
        failing = scheduler.enqueue_at(
            past, ecosystem_jobs.fail, 'scheduled boom', job_id='failing',
            on_failure=Callback(ecosystem_jobs.record_failure),
        )
        # A scheduler made from a queue, naming its queue class by dotted path (kept in the job's meta).
        by_queue = Scheduler(queue=Queue('bar', connection=conn), connection=conn, queue_class='rq.Queue',
                             job_class='rq.job.Job')
        classy = by_queue.enqueue_at(past, ecosystem_jobs.add, 1, 1, job_id='classy')
        stored = fetch('options')
        report = {
            'stored': [stored.timeout, stored.ttl, stored.result_ttl, stored.description, stored.meta, stored.origin],
            'classy': [fetch('classy').origin, fetch('classy').meta],
        }
        scheduler.enqueue_jobs()
        report['queued'] = {'eco': job_ids('eco'), 'bar': job_ids('bar')}
        report['ttl_queued'] = 0 < conn.ttl(stored.key) <= 900
        work('eco', 'bar')
        done, failed = fetch('options'), fetch('failing')
        report['done'] = [done.get_status(), done.return_value(), 0 < conn.ttl(done.key) <= 120]
        report['failed'] = [failed.get_status(), failed.latest_result().exc_string.strip().splitlines()[-1]]
        report['classy_done'] = fetch('classy').return_value()
        report['callbacks'] = sorted(item.decode() for item in conn.lrange('eco:callbacks', 0, -1))
        print(json.dumps(report))
        """,
        redis_server,
    )
    assert report['stored'] == [45, 900, 120, 'the answer', {'why': 'test'}, 'eco']
    assert report['classy'] == ['bar', {'queue_class_name': 'rq.Queue'}]
    assert report['queued'] == {'eco': ['failing', 'options'], 'bar': ['classy']}
    assert report['ttl_queued'] is True
    assert report['done'] == ['finished', 42, True]
    assert report['failed'] == ['failed', 'ValueError: scheduled boom']
    assert report['classy_done'] == 2
    assert report['callbacks'] == ['failure failing ValueError: scheduled boom', 'success options 42']

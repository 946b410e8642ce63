"""Mixed fleets with upstream rq 2.12.0 (its own virtualenv): each side's scheduler moves the jobs the
other scheduled (with the same at-front rules), both honour one lock per queue, ours takes over from
a SIGKILLed upstream scheduler, and each side reads the other's cron records."""

from __future__ import annotations

import datetime as dt
import signal
import time
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_cron
from redis_server import RedisServer
from rq import Queue
from rq._redis import keys
from rq.cron import CronScheduler
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker
from upstream import run_upstream, start_upstream
from worker_process import wait_until

pytestmark = [pytest.mark.upstream, pytest.mark.timeout(120)]

LOCK = keys.scheduler_lock_key('default')

UPSTREAM_SCHEDULES = """
import datetime
from rq import Queue, Retry, SimpleWorker
from rqtest_jobs import add, fail
q = Queue(connection=conn)
now = datetime.datetime.now(datetime.timezone.utc)
q.enqueue_at(now - datetime.timedelta(seconds=5), add, 1, job_id='u_back')
q.enqueue_at(now - datetime.timedelta(seconds=4), add, 2, job_id='u_front', at_front=True)
q.enqueue_in(datetime.timedelta(hours=1), add, 3, job_id='u_later')
q.enqueue(fail, 'x', job_id='u_retry', retry=Retry(max=1, interval=1, enqueue_at_front=True))
SimpleWorker([q], connection=conn).work(burst=True, with_scheduler=False)
print(json.dumps(conn.zrange('rq:scheduled:default', 0, -1, withscores=True), default=lambda b: b.decode()))
"""


def test_our_scheduler_moves_what_upstream_scheduled(connection: redis.Redis, redis_server: RedisServer) -> None:
    scheduled = dict(run_upstream(UPSTREAM_SCHEDULES, redis_server.port))
    assert set(scheduled) == {'u_back', 'u_front', 'u_later', 'u_retry'}  # u_retry failed once: retry in 1 s
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.add, 0, job_id='ours_first')
    mover = RQScheduler([queue], connection=connection, clock=lambda: scheduled['u_retry'])
    mover.acquire_locks()
    assert mover.enqueue_scheduled_jobs() == 3
    ids = queue.get_job_ids()
    assert set(ids[:2]) == {'u_front', 'u_retry'} and ids[2:] == ['ours_first', 'u_back']
    assert connection.zrange(keys.registry_key('scheduled', 'default'), 0, -1) == [b'u_later']
    assert SimpleWorker([queue]).work(burst=True)
    statuses = run_upstream(
        'from rq.job import Job\n'
        'print(json.dumps({i: Job.fetch(i, connection=conn).get_status() for i in '
        '["u_back", "u_front", "u_retry", "u_later", "ours_first"]}))',
        redis_server.port,
    )
    assert statuses == {
        'u_back': 'finished',
        'u_front': 'finished',
        'u_retry': 'failed',
        'u_later': 'scheduled',
        'ours_first': 'finished',
    }


def test_upstream_scheduler_moves_what_we_scheduled(connection: redis.Redis, redis_server: RedisServer) -> None:
    queue = Queue(connection=connection)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    queue.enqueue(rqtest_jobs.add, 0, job_id='o_plain')
    queue.enqueue_at(past, rqtest_jobs.add, 1, job_id='o_back')
    queue.enqueue_at(past, rqtest_jobs.add, 2, job_id='o_front', at_front=True)
    queue.enqueue_in(dt.timedelta(hours=1), rqtest_jobs.add, 3, job_id='o_later')
    moved = run_upstream(
        'from rq.scheduler import RQScheduler\n'
        's = RQScheduler(["default"], conn)\n'
        'held = sorted(s.acquire_locks())\n'
        's.enqueue_scheduled_jobs()\n'
        's.release_locks()\n'
        'print(json.dumps({"held": held, "queue": [i.decode() for i in conn.lrange("rq:queue:default", 0, -1)]}))',
        redis_server.port,
    )
    assert moved == {'held': ['default'], 'queue': ['o_front', 'o_plain', 'o_back']}
    assert SimpleWorker([queue]).work(burst=True)
    assert all(Job.fetch(i, connection=connection).get_status() == JobStatus.FINISHED for i in moved['queue'])
    assert Job.fetch('o_later', connection=connection).get_status() == JobStatus.SCHEDULED


UPSTREAM_HOLDS = """
from rq.scheduler import RQScheduler
s = RQScheduler(['default'], conn, name='upstream-holder')
s.acquire_locks()
s.work()
"""


def test_one_lock_for_both_and_we_take_over_from_a_sigkilled_upstream_holder(
    connection: redis.Redis, redis_server: RedisServer
) -> None:
    holder = start_upstream(UPSTREAM_HOLDS, redis_server.port)
    ours = RQScheduler(['default'], connection=connection, name='ours', takeover_after=3)
    try:
        assert wait_until(lambda: connection.get(LOCK) == b'upstream-holder', 15)
        assert wait_until(lambda: connection.hget(keys.scheduler_key('upstream-holder'), 'last_heartbeat'), 30)
        assert ours.acquire_locks() == set()  # a live upstream holder keeps its lock
        time.sleep(3.5)  # (longer than takeover_after: it is refreshing, so still not taken)
        assert ours.acquire_locks() == set()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        killed_at = time.time()
        job = Queue(connection=connection).enqueue_at(dt.datetime.now(dt.timezone.utc), rqtest_jobs.say_hello)
        ours.start()
        assert wait_until(lambda: job.get_status() == JobStatus.QUEUED, 10)
        assert 2 <= time.time() - killed_at <= 3 + 2 + 1.5
        assert connection.get(LOCK) == b'ours'
        # and upstream, in its turn, cannot take the lock we hold
        held = run_upstream(
            'from rq.scheduler import RQScheduler\n'
            'print(json.dumps(sorted(RQScheduler(["default"], conn).acquire_locks())))',
            redis_server.port,
        )
        assert held == []
    finally:
        ours.stop()
        if holder.poll() is None:
            holder.kill()
        holder.communicate()


UPSTREAM_CRON = """
from rq.cron import CronScheduler, get_cron_job_ids
from rq.cron_job_registry import get_names
from rqtest_jobs_cron import tick
found = [
    {'name': s.name, 'config_file': s.config_file,
     'jobs': [(j.name, j.func_name, j.queue_name, j.interval, j.cron, j.latest_enqueue_time is not None)
              for j in s.get_jobs()]}
    for s in CronScheduler.all(conn)
]
ids = get_cron_job_ids('every-minute', conn)
theirs = CronScheduler(conn, name='upstream-cron')
theirs.register(tick, 'cron', interval=30, name='their-interval')
theirs.register_birth()
theirs.enqueue_jobs()
theirs.save()
print(json.dumps({'found': found, 'ids': ids, 'names': get_names(conn)}))
"""


def test_each_side_reads_the_others_cron_records(connection: redis.Redis, redis_server: RedisServer) -> None:
    ours = CronScheduler(connection, name='our-cron')
    ours.register(rqtest_jobs_cron.tick, 'cron', interval=60, name='every-minute')
    ours.register(rqtest_jobs_cron.tick, 'cron', cron='0 9 * * 1', timezone='Europe/Paris', name='mondays')
    ours.register_birth()
    ours.enqueue_jobs()
    ours.save()
    seen: dict[str, Any] = run_upstream(UPSTREAM_CRON, redis_server.port)
    assert seen['found'] == [
        {
            'name': 'our-cron',
            'config_file': '',
            'jobs': [
                ['every-minute', 'rqtest_jobs_cron.tick', 'cron', 60, None, True],
                ['mondays', 'rqtest_jobs_cron.tick', 'cron', None, '0 9 * * 1', False],
            ],
        }
    ]
    assert seen['ids'] == ours.get_jobs()[0].get_job_ids(connection)
    assert seen['names'] == ['every-minute', 'their-interval']  # (read after upstream's own run)

    theirs = CronScheduler.fetch('upstream-cron', connection)
    (entry,) = theirs.get_jobs()
    assert (entry.name, entry.func_name, entry.interval, entry.queue_name) == (
        'their-interval',
        'rqtest_jobs_cron.tick',
        30,
        'cron',
    )
    assert entry.latest_enqueue_time is not None
    assert {scheduler.name for scheduler in CronScheduler.all(connection)} == {'our-cron', 'upstream-cron'}
    assert len(entry.get_job_ids(connection)) == 1

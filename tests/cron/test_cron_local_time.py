"""Cron strings of entries without a timezone are read in the process's local time (``TZ``), as in
rq 3.0 (rq 2.12 read them in UTC), with rq 3.0's daylight-saving rules; a ``timezone=`` given to the
entry or to the scheduler still wins. Each case runs in a child process with its own ``TZ``.

Also here: a cron job's function may take kwargs named like job options (rq 3.0 passes ``args=``
and ``kwargs=`` to ``enqueue``)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from typing import Any

import redis

import rqtest_jobs
from rq.cron import CronJob, CronScheduler
from rq.job import Job
from worker_process import worker_env

UTC = dt.timezone.utc

#: Run in the child: ``CASES`` (the test's JSON on stdin) -> the UTC instants each case gives.
CHILD = textwrap.dedent(
    """
    import datetime as dt, json, sys
    import redis
    import rqtest_jobs_cron
    from rq.cron import CronJob, CronScheduler
    from rq.cron._schedule import describe

    def run(case):
        if case['kind'] == 'next':  # the next matches of an entry, from a start
            job = CronJob('q', func_name='m.f', cron=case['cron'], timezone=case.get('timezone'))
            found, at = [], case['start']
            for _ in range(case['count']):
                at = job.schedule.next_after(at)
                found.append(at)
            data = job.to_dict()
            return {
                'found': found,
                'describe': describe(job.schedule),
                'identity': job.identity,
                'utc_identity': CronJob('q', func_name='m.f', cron=case['cron'], timezone='UTC').identity,
                'has_timezone_field': 'timezone' in data,
                'read_back_timezone': CronJob.from_dict(data).timezone,
            }
        # 'scheduler': the runs a CronScheduler makes while a fake clock goes from start to end
        clock = [case['start']]
        connection = redis.Redis(port=case['port'])
        connection.flushdb()
        scheduler = CronScheduler(connection, clock=lambda: clock[0], timezone=case.get('scheduler_timezone'))
        scheduler.register(rqtest_jobs_cron.tick, 'cron', cron=case['cron'], name='entry')
        ran = []
        while clock[0] <= case['end']:
            ran.extend(job.last_slot for job in scheduler.enqueue_jobs())
            clock[0] += 30
        return {'found': ran}

    print(json.dumps([run(case) for case in json.load(sys.stdin)]))
    """
)


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def in_zone(tz: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each case gives in a child process whose ``TZ`` is ``tz``."""
    done = subprocess.run(
        [sys.executable, '-c', CHILD],
        input=json.dumps(cases),
        env=worker_env(TZ=tz),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]  # (log lines come first)


def test_cron_strings_are_read_in_local_time_by_default() -> None:
    start = utc(2026, 6, 1)
    (jakarta,) = in_zone('Asia/Jakarta', [{'kind': 'next', 'cron': '0 9 * * *', 'start': start, 'count': 2}])
    assert jakarta['found'] == [utc(2026, 6, 1, 2), utc(2026, 6, 2, 2)]  # 09:00 WIB is 02:00Z
    assert jakarta['describe'] == "with cron schedule '0 9 * * *' (local Asia/Jakarta)"
    # an entry in another zone than UTC has an identity of its own (processes in other zones do not
    # claim its runs) and is described in Redis exactly as upstream describes it (no timezone field)
    assert jakarta['identity'] != jakarta['utc_identity']
    assert jakarta['has_timezone_field'] is False
    assert jakarta['read_back_timezone'] is None

    (utc_host,) = in_zone('UTC', [{'kind': 'next', 'cron': '0 9 * * *', 'start': start, 'count': 1}])
    assert utc_host['found'] == [utc(2026, 6, 1, 9)]
    assert utc_host['identity'] == utc_host['utc_identity']  # (what it was when UTC was the default)


def test_a_given_timezone_wins_over_local_time(redis_server: Any) -> None:
    start = utc(2026, 6, 1)
    entry_utc, entry_tokyo, scheduler_new_york = in_zone(
        'Asia/Jakarta',
        [
            {'kind': 'next', 'cron': '0 9 * * *', 'start': start, 'count': 1, 'timezone': 'UTC'},
            {'kind': 'next', 'cron': '0 9 * * *', 'start': start, 'count': 1, 'timezone': 'Asia/Tokyo'},
            {
                'kind': 'scheduler',
                'cron': '0 9 * * *',
                'start': start,
                'end': utc(2026, 6, 2, 23),
                'port': redis_server.port,
                'scheduler_timezone': 'America/New_York',
            },
        ],
    )
    assert entry_utc['found'] == [utc(2026, 6, 1, 9)]
    assert entry_tokyo['found'] == [utc(2026, 6, 2, 0)]  # (09:00 JST on the 1st is the start itself)
    assert scheduler_new_york['found'] == [utc(2026, 6, 1, 13), utc(2026, 6, 2, 13)]  # 09:00 EDT


def test_daylight_saving_changes_in_local_time(redis_server: Any) -> None:
    # Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z)
    spring_next, spring_runs, autumn_next, autumn_runs = in_zone(
        'Europe/Berlin',
        [
            {'kind': 'next', 'cron': '30 2 * * *', 'start': utc(2026, 3, 28, 12), 'count': 2},
            {
                'kind': 'scheduler',
                'cron': '*/30 1-3 * * *',
                'start': utc(2026, 3, 28, 22),
                'end': utc(2026, 3, 29, 3),
                'port': redis_server.port,
            },
            {'kind': 'next', 'cron': '30 2 * * *', 'start': utc(2026, 10, 24, 12), 'count': 2},
            {
                'kind': 'scheduler',
                'cron': '*/30 1-3 * * *',
                'start': utc(2026, 10, 24, 22),
                'end': utc(2026, 10, 25, 3),
                'port': redis_server.port,
            },
        ],
    )
    # clocks go forward: 02:30 does not exist; it runs shifted by the change, at 03:30 CEST
    assert spring_next['found'] == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    # 01:00 and 01:30 CET; 02:00 runs at 03:00 CEST, then the next match, 03:30 CEST
    assert spring_runs['found'] == [
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 1, 30),
    ]
    # clocks go back: 02:30 happens twice and runs once, the first time (CEST)
    assert autumn_next['found'] == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert autumn_runs['found'] == [
        utc(2026, 10, 24, 23),  # 01:00 CEST
        utc(2026, 10, 24, 23, 30),
        utc(2026, 10, 25, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; the repeated 02:00 and 02:30 CET do not run again
        utc(2026, 10, 25, 2),  # 03:00 CET
        utc(2026, 10, 25, 2, 30),
    ]


def test_a_cron_jobs_kwargs_may_be_named_like_job_options(connection: redis.Redis, clock: Any) -> None:
    kwargs = {'timeout': 5, 'result_ttl': 'theirs', 'description': 'a kwarg', 'job_id': 'not-an-id', 'ttl': 1}
    cron_job = CronJob('q', func=rqtest_jobs.echo, args=(1,), kwargs=kwargs, interval=60, job_timeout=30)
    job = cron_job.enqueue(connection)
    assert (job.args, job.kwargs) == ((1,), kwargs)
    assert job.timeout == 30 and job.id != 'not-an-id' and job.ttl is None

    scheduler = CronScheduler(connection, clock=clock)
    scheduler.register(rqtest_jobs.echo, 'q', args=(2,), kwargs=kwargs, interval=60, result_ttl=77, name='sched')
    (ran,) = scheduler.enqueue_jobs()
    (job_id,) = ran.get_job_ids(connection)
    enqueued = Job.fetch(job_id, connection=connection)
    assert (enqueued.args, enqueued.kwargs, enqueued.result_ttl) == ((2,), kwargs, 77)

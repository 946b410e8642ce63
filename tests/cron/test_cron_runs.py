"""``CronScheduler`` in this process with its clock under the test's control: when runs happen, each
run once however many schedulers share the entries, restarts, missed runs, and the Redis records
(history and monitoring keys, as RQ 2.x writes them)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import redis

import rqtest_jobs_cron
from rq import Queue
from rq._redis import cron_ops, keys
from rq.cron import CronJob, CronScheduler, create_cron, get_cron_job_ids, register
from rq.cron_job_registry import get_names
from rq.exceptions import DuplicateSchedulerError, SchedulerNotFound
from rq.job import Job
from rq.webhook import Webhook

START = 1_800_000_000.0  # a whole minute (2027-01-15T08:00:00Z)


def cron(connection: redis.Redis, clock: Any, name: str = '', **kwargs: Any) -> CronScheduler:
    return CronScheduler(connection, name=name, clock=clock, **kwargs)


def tick_entry(scheduler: CronScheduler, **kwargs: Any) -> CronJob:
    return scheduler.register(rqtest_jobs_cron.tick, 'cron', **kwargs)


def runs(connection: redis.Redis, name: str = 'rqtest_jobs_cron.tick') -> int:
    return len(get_cron_job_ids(name, connection))


def test_an_interval_job_runs_at_once_then_every_interval(connection: redis.Redis, clock: Any) -> None:
    clock.now = START
    scheduler = cron(connection, clock)
    tick_entry(scheduler, interval=60)
    assert len(scheduler.enqueue_jobs()) == 1
    assert Queue('cron', connection=connection).count == 1
    clock.advance(59.9)
    assert scheduler.enqueue_jobs() == []
    assert scheduler.calculate_sleep_interval() == pytest.approx(0.1)
    clock.advance(0.1)
    assert len(scheduler.enqueue_jobs()) == 1
    clock.advance(60.5)  # half a second late: on time (a scheduler's ordinary lateness), the grid is kept
    assert len(scheduler.enqueue_jobs()) == 1
    clock.now = START + 179.9
    assert scheduler.enqueue_jobs() == []
    clock.now = START + 180
    assert len(scheduler.enqueue_jobs()) == 1
    assert runs(connection) == 4


def test_each_run_is_enqueued_once_by_any_number_of_schedulers(connection: redis.Redis, clock: Any) -> None:
    clock.now = START
    schedulers = [cron(connection, clock, name=f'cron{i}') for i in range(3)]
    for scheduler in schedulers:
        tick_entry(scheduler, interval=10)
        scheduler.register(rqtest_jobs_cron.tick, 'cron', args=('minutely',), cron='* * * * *', name='minutely')
    for _ in range(600):  # ten minutes, a look every second by each scheduler, in turn
        for scheduler in schedulers:
            scheduler.enqueue_jobs()
        clock.advance(1)
    assert runs(connection) == 60
    assert runs(connection, 'minutely') == 9  # START + 60 ... START + 540 (a new entry waits for a match)
    jobs = Job.fetch_many(get_cron_job_ids('rqtest_jobs_cron.tick', connection), connection=connection)
    enqueued = sorted(job.enqueued_at.timestamp() for job in jobs if job and job.enqueued_at)
    assert len(enqueued) == 60


def test_a_restart_does_not_run_an_interval_job_again_early(connection: redis.Redis, clock: Any) -> None:
    clock.now = START
    first = cron(connection, clock, name='first')
    tick_entry(first, interval=300)
    assert len(first.enqueue_jobs()) == 1
    clock.advance(120)  # the process restarts two minutes later
    second = cron(connection, clock, name='second')
    entry = tick_entry(second, interval=300)
    assert second.enqueue_jobs() == []
    assert entry.next_enqueue_time is not None and entry.next_enqueue_time.timestamp() == START + 300
    assert entry.latest_enqueue_time is not None
    clock.now = START + 300
    assert len(second.enqueue_jobs()) == 1
    assert runs(connection) == 2


def test_missed_runs_are_coalesced_into_one(connection: redis.Redis, clock: Any) -> None:
    clock.now = START
    first = cron(connection, clock, name='first')
    tick_entry(first, interval=60)
    first.register(rqtest_jobs_cron.tick, 'cron', cron='*/5 * * * *', name='five')
    first.enqueue_jobs()
    clock.now = START + 300
    assert len(first.enqueue_jobs()) == 2  # (the cron entry's first run: the next match after start)
    clock.now = START + 3600 + 30  # nobody ran for an hour: twelve five-minute runs, sixty interval runs
    second = cron(connection, clock, name='second')
    interval_entry = tick_entry(second, interval=60)
    second.register(rqtest_jobs_cron.tick, 'cron', cron='*/5 * * * *', name='five')
    assert len(second.enqueue_jobs()) == 2  # one run each, now
    assert second.enqueue_jobs() == []
    assert runs(connection) == 3 and runs(connection, 'five') == 2
    # then the schedules carry on, on their grid and matches, each skipping the slot that would come
    # too soon after its catch-up (START + 3660: 30 s after it; START + 3900: 270 s after it)
    assert interval_entry.next_due == START + 3720
    clock.now = START + 3690
    assert second.enqueue_jobs() == []
    clock.now = START + 3720
    assert [job.name for job in second.enqueue_jobs()] == ['rqtest_jobs_cron.tick']
    clock.now = START + 3900
    assert [job.name for job in second.enqueue_jobs()] == ['rqtest_jobs_cron.tick']
    clock.now = START + 4200
    assert [job.name for job in second.enqueue_jobs()] == ['rqtest_jobs_cron.tick', 'five']


def run_record(connection: redis.Redis, entry: CronJob) -> dict[str, float]:
    """The entry's run record (``rq:cron_run:<identity>``): its slot and when its last run was enqueued."""
    stored = connection.hgetall(cron_ops.cron_run_key(entry.identity))
    return {field: float(stored[field.encode()]) for field in ('slot', 'enqueued_at')}


def test_a_catch_up_run_takes_the_place_of_a_slot_that_would_come_too_soon(connection: redis.Redis, clock: Any) -> None:
    """The newcomer's case: a 3 s entry ran at 0, missed 3 while no process was alive, and a process
    came back at 5.46. The catch-up runs at once; the slot at 6 would be 0.54 s after it, so the
    catch-up stands in for it too, and the next run is at 9, on the grid."""
    clock.now = START
    first = cron(connection, clock, name='first')
    tick_entry(first, interval=3)
    assert len(first.enqueue_jobs()) == 1
    clock.now = START + 5.46
    second = cron(connection, clock, name='second')
    entry = tick_entry(second, interval=3)
    assert len(second.enqueue_jobs()) == 1
    assert entry.next_due == START + 9
    assert entry.next_enqueue_time is not None and entry.next_enqueue_time.timestamp() == START + 9
    assert run_record(connection, entry)['slot'] == START + 6  # the slot the catch-up took the place of
    for moment in (START + 6, START + 8.99):
        clock.now = moment
        assert second.enqueue_jobs() == [], moment
    clock.now = START + 9
    assert len(second.enqueue_jobs()) == 1
    assert runs(connection) == 3


@pytest.mark.parametrize('comeback', [4.01, 4.5, 5.46, 5.999, 7.25, 7.75, 31.5, 3601.5])
def test_after_a_restart_runs_keep_the_grid_and_their_interval(
    connection: redis.Redis, clock: Any, comeback: float
) -> None:
    """Whenever a process comes back (more than the 1 s on-time allowance after a missed slot), and
    looking every quarter of a second from then on: no two runs less than the interval apart, and
    every run after the catch-up recorded on a slot of the grid of the first run."""
    clock.now = START
    first = cron(connection, clock, name='first')
    tick_entry(first, interval=3)
    first.enqueue_jobs()
    ran_at, slots = [START], []
    clock.now = START + comeback
    second = cron(connection, clock, name='second')
    entry = tick_entry(second, interval=3)
    while clock.now < START + comeback + 12:
        if second.enqueue_jobs():
            ran_at.append(clock.now)
            slots.append(run_record(connection, entry)['slot'])
        clock.advance(0.25)
    assert ran_at[1] == START + comeback  # the catch-up, at once
    gaps = [later - earlier for earlier, later in itertools.pairwise(ran_at)]
    assert min(gaps) > 3 - 1e-6, ran_at
    assert all((slot - START) % 3 == 0 for slot in slots), slots
    assert [later - earlier for earlier, later in itertools.pairwise(slots)] == [3.0] * (len(slots) - 1), slots
    assert len(slots) == 4  # the catch-up, then every grid slot of the 12 s after it but the one it replaced


def test_a_run_within_the_on_time_allowance_keeps_the_next_slot(connection: redis.Redis, clock: Any) -> None:
    """Up to a second late is a scheduler's ordinary lateness (or a restart that quick): the run counts
    as its slot's and the next slot stays."""
    clock.now = START
    first = cron(connection, clock, name='first')
    tick_entry(first, interval=3)
    first.enqueue_jobs()
    clock.now = START + 3 + 1.0
    second = cron(connection, clock, name='second')
    entry = tick_entry(second, interval=3)
    assert len(second.enqueue_jobs()) == 1
    assert entry.next_due == START + 6
    assert run_record(connection, entry)['slot'] == START + 3


def test_a_catch_up_is_claimed_once_by_every_process_that_comes_back(connection: redis.Redis, clock: Any) -> None:
    """Three processes look at the missed slot: one stalled since before it, two just started. One
    catch-up is enqueued, and none of them runs the slot it took the place of."""
    clock.now = START
    stalled = cron(connection, clock, name='stalled')
    tick_entry(stalled, interval=3)
    stalled.enqueue_jobs()
    clock.now = START + 5.46
    fresh = [cron(connection, clock, name=f'fresh{i}') for i in range(2)]
    for scheduler in fresh:
        tick_entry(scheduler, interval=3)
    schedulers = [fresh[0], stalled, fresh[1]]
    assert sum(len(scheduler.enqueue_jobs()) for scheduler in schedulers) == 1
    for moment in (START + 6, START + 8.99):
        clock.now = moment
        assert sum(len(scheduler.enqueue_jobs()) for scheduler in schedulers) == 0, moment
    clock.now = START + 9
    assert sum(len(scheduler.enqueue_jobs()) for scheduler in reversed(schedulers)) == 1
    assert runs(connection) == 3


def test_a_cron_string_catch_up_takes_the_place_of_a_match_that_would_come_too_soon(
    connection: redis.Redis, clock: Any
) -> None:
    """``*/5``: the run due at START + 600 was missed; a process back at START + 890 catches it up,
    and the match at START + 900 (10 s later, where the schedule puts 300 s between runs) is left to
    that catch-up. The next run is at START + 1200."""
    clock.now = START
    first = cron(connection, clock, name='first')
    first.register(rqtest_jobs_cron.tick, 'cron', cron='*/5 * * * *', name='five')
    first.enqueue_jobs()  # (a new entry: its first run is the next match)
    clock.now = START + 300
    assert len(first.enqueue_jobs()) == 1
    clock.now = START + 890
    second = cron(connection, clock, name='second')
    entry = second.register(rqtest_jobs_cron.tick, 'cron', cron='*/5 * * * *', name='five')
    assert len(second.enqueue_jobs()) == 1
    assert entry.next_due == START + 1200
    for moment in (START + 900, START + 1199):
        clock.now = moment
        assert second.enqueue_jobs() == [], moment
    clock.now = START + 1200
    assert len(second.enqueue_jobs()) == 1
    assert runs(connection, 'five') == 3


def test_a_cron_string_catch_up_keeps_a_match_as_far_as_the_schedule_spaces_them(
    connection: redis.Redis, clock: Any
) -> None:
    """Weekdays at 09:00 (START is Friday 08:00 UTC): Friday's run is caught up on Saturday at 10:00.
    Monday 09:00 is 47 h later, more than the 24 h the schedule puts between Monday and Tuesday: it
    stays."""
    clock.now = START
    first = cron(connection, clock, name='first')
    first.register(rqtest_jobs_cron.tick, 'cron', cron='0 9 * * 1-5', name='weekdays')
    first.enqueue_jobs()
    clock.now = START + 26 * 3600  # Saturday 10:00
    second = cron(connection, clock, name='second')
    entry = second.register(rqtest_jobs_cron.tick, 'cron', cron='0 9 * * 1-5', name='weekdays')
    assert len(second.enqueue_jobs()) == 1
    monday_nine = START + 3 * 86400 + 3600
    assert entry.next_due == monday_nine
    clock.now = monday_nine
    assert len(second.enqueue_jobs()) == 1


def test_a_new_cron_entry_waits_for_its_next_match(connection: redis.Redis, clock: Any) -> None:
    clock.now = START + 45
    scheduler = cron(connection, clock)
    entry = scheduler.register(rqtest_jobs_cron.tick, 'cron', cron='* * * * *', name='minutely')
    assert scheduler.enqueue_jobs() == []
    assert entry.next_due == START + 60
    clock.now = START + 60
    assert len(scheduler.enqueue_jobs()) == 1
    assert entry.next_due == START + 120


def test_identical_entries_in_one_config_each_run(connection: redis.Redis, clock: Any) -> None:
    clock.now = START
    scheduler = cron(connection, clock)
    first, second = tick_entry(scheduler, interval=60), tick_entry(scheduler, interval=60)
    assert first.identity != second.identity
    assert len(scheduler.enqueue_jobs()) == 2


def test_job_options_reach_the_job(connection: redis.Redis, clock: Any) -> None:
    scheduler = cron(connection, clock)
    scheduler.register(
        rqtest_jobs_cron.tick,
        'cron',
        args=('x',),
        interval=60,
        job_timeout=30,
        result_ttl=77,
        ttl=600,
        failure_ttl=900,
        meta={'from': 'cron'},
        webhooks=[Webhook('https://example.com/done', 'finished')],
        name='options',
    )
    scheduler.enqueue_jobs()
    (job_id,) = get_cron_job_ids('options', connection)
    job = Job.fetch(job_id, connection=connection)
    assert (job.func_name, job.args, job.origin) == ('rqtest_jobs_cron.tick', ('x',), 'cron')
    assert (job.timeout, job.result_ttl, job.ttl, job.failure_ttl) == (30, 77, 600, 900)
    assert job.meta == {'from': 'cron'}
    assert [webhook.url for webhook in job.webhooks or ()] == ['https://example.com/done']
    (described,) = json.loads(scheduler.to_dict()['cron_jobs'])
    assert json.loads(described['webhooks'])[0]['url'] == 'https://example.com/done'
    assert CronJob.from_dict(described).job_options['webhooks'][0].job_status == 'finished'


def test_history_and_monitoring_keys_as_upstream_writes_them(connection: redis.Redis, clock: Any) -> None:
    scheduler = cron(connection, clock, name='monitored')
    entry = tick_entry(scheduler, interval=60)
    scheduler.register_birth()
    with pytest.raises(DuplicateSchedulerError):
        cron(connection, clock, name='monitored').register_birth()
    scheduler.enqueue_jobs()
    scheduler.save()

    (job_id,) = connection.zrange(keys.cron_job_history_key(entry.name), 0, -1)
    assert 0 < connection.ttl(keys.cron_job_history_key(entry.name)) <= 31536000
    assert get_names(connection) == ['rqtest_jobs_cron.tick']
    assert entry.get_job_ids(connection) == [job_id.decode()]
    assert 0 < connection.ttl(keys.cron_scheduler_key('monitored')) <= 120
    stored = connection.hgetall(keys.cron_scheduler_key('monitored'))
    assert {f.decode() for f in stored} == {'hostname', 'pid', 'name', 'created_at', 'config_file', 'cron_jobs'}
    (described,) = json.loads(stored[b'cron_jobs'])
    assert described['interval'] == 60 and described['queue_name'] == 'cron'
    assert described['latest_enqueue_time'] and described['next_enqueue_time']

    (found,) = CronScheduler.all(connection)
    assert found.name == 'monitored' and found.last_heartbeat is not None
    assert [job.func_name for job in found.get_jobs()] == ['rqtest_jobs_cron.tick']
    scheduler.register_death()
    assert CronScheduler.all(connection) == []

    # a name left behind by a scheduler that died (its hash expired after 120 s) can be used again
    connection.zadd(keys.CRON_SCHEDULERS, {'crashed': 1.0})
    cron(connection, clock, name='crashed').register_birth()
    assert connection.exists(keys.cron_scheduler_key('crashed'))
    with pytest.raises(SchedulerNotFound):
        CronScheduler.fetch('nobody', connection)


def test_register_and_create_cron_take_the_registered_entries(connection: redis.Redis) -> None:
    entry = register(rqtest_jobs_cron.tick, 'cron', interval=5)
    assert entry['func'] is rqtest_jobs_cron.tick and entry['interval'] == 5
    scheduler = create_cron(connection)
    assert [job.interval for job in scheduler.get_jobs()] == [5]
    assert create_cron(connection).get_jobs() == []


@pytest.mark.parametrize(
    ('options', 'message'),
    [
        ({'interval': 5, 'cron': '* * * * *'}, "cron job 'x': give exactly one of interval= or cron=, not both"),
        ({}, "cron job 'x': give exactly one of interval= (seconds) or cron= (a cron string)"),
        ({'interval': -1}, "cron job 'x': interval must be a positive number of seconds, not -1"),
        ({'interval': 0}, "cron job 'x': interval must be a positive number of seconds, not 0"),
        ({'interval': '60'}, "cron job 'x': interval must be a number of seconds, not '60'"),
        ({'cron': '* * *'}, "cron job 'x': invalid cron string '* * *'"),
        ({'cron': '0 0 31 2 *'}, "cron job 'x': cron string '0 0 31 2 *' never matches"),
        ({'cron': '0 9 * * *', 'timezone': 'Nowhere/Land'}, "cron job 'x': unknown timezone 'Nowhere/Land'"),
    ],
)
def test_bad_entries_raise_a_message_naming_them(
    connection: redis.Redis, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        CronScheduler(connection).register(rqtest_jobs_cron.tick, 'q', name='x', **options)
    assert str(caught.value).startswith(message)


def test_a_function_given_by_a_path_that_does_not_exist(connection: redis.Redis) -> None:
    scheduler = CronScheduler(connection)
    with pytest.raises(ValueError, match=r"function 'rqtest_jobs_cron\.nope' does not exist"):
        scheduler.register('rqtest_jobs_cron.nope', 'q', interval=5)
    with pytest.raises(ValueError, match="no module named 'no_such_package'"):
        scheduler.register('no_such_package.tasks.run', 'q', interval=5)
    entry = scheduler.register('rqtest_jobs_cron.tick', 'q', interval=5)
    assert entry.func is rqtest_jobs_cron.tick and entry.name == 'rqtest_jobs_cron.tick'

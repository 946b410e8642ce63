"""Cron as RQ 2.x's subclasses and clients see it: ``rq.cron.register`` records entries of upstream's
shape (time zones kept beside them), a ``CronScheduler`` subclass with upstream's ``register``
signature (django-rq's ``DjangoCronScheduler`` is one) gets every entry of a config and runs them,
``rq.cron_scheduler_registry`` at upstream's path, and ``rq.scheduler``'s module-level names."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

import rqtest_jobs_cron
from rq import Queue, cron_scheduler_registry
from rq import cron as rq_cron
from rq.cron import CronJob, CronScheduler, create_cron, register
from rq.exceptions import DuplicateSchedulerError, SchedulerNotFound
from rq.scheduler import ForkProcess, RQScheduler, run

#: The keys of an entry recorded by RQ 2.x's ``rq.cron.register`` (its ``CronScheduler.register``'s
#: parameters).
UPSTREAM_ENTRY_KEYS = {
    'func',
    'queue_name',
    'args',
    'kwargs',
    'interval',
    'cron',
    'job_timeout',
    'result_ttl',
    'ttl',
    'failure_ttl',
    'meta',
    'webhooks',
    'name',
}


class UpstreamShapedScheduler(CronScheduler):
    """A subclass written against RQ 2.x's API, as django-rq's is: the connection may come with the
    first registered job, ``register`` has upstream's parameters (no ``timezone``) and passes them on
    by keyword, and ``all`` is overridden."""

    def __init__(self, connection: redis.Redis | None = None, logging_level: int = logging.INFO, name: str = ''):
        super().__init__(connection=connection, logging_level=logging_level, name=name)  # type: ignore[arg-type]
        self.queues_seen: list[str] = []

    def register(  # type: ignore[override]
        self,
        func: Callable[..., Any],
        queue_name: str,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        interval: int | None = None,
        cron: str | None = None,
        job_timeout: int | None = None,
        result_ttl: int = 500,
        ttl: int | None = None,
        failure_ttl: int | None = None,
        meta: dict[str, Any] | None = None,
        webhooks: Sequence[Any] | None = None,
        name: str = '',
    ) -> CronJob:
        if queue_name == 'unknown':
            raise KeyError(f'queue {queue_name!r} is not configured')
        if self.connection is None:
            self.connection = self.connection_for_queues
        self.queues_seen.append(queue_name)
        extra: dict[str, Any] = {'webhooks': webhooks} if webhooks is not None else {}
        if name:
            extra['name'] = name
        return super().register(
            func=func,
            queue_name=queue_name,
            args=args,
            kwargs=kwargs,
            interval=interval,
            cron=cron,
            job_timeout=job_timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            meta=meta,
            **extra,
        )

    @classmethod
    def all(cls, connection: redis.Redis, cleanup: bool = True) -> list[UpstreamShapedScheduler]:
        return super().all(connection, cleanup)

    connection_for_queues: redis.Redis


def write_config(tmp_path: Path, body: str) -> str:
    path = tmp_path / 'upstream_shape_config.py'
    path.write_text('from rq import cron\nimport rqtest_jobs_cron\n\n' + textwrap.dedent(body))
    return str(path)


CONFIG = """
    cron.register(rqtest_jobs_cron.tick, 'every', interval=60, kwargs={'label': 'i'})
    cron.register(rqtest_jobs_cron.tick, 'daily', cron='0 9 * * *', name='utc-daily')
    cron.register(rqtest_jobs_cron.tick, 'daily', cron='0 9 * * *', name='paris-daily', timezone='Europe/Paris')
    cron._job_data_registry.append(
        {'func': rqtest_jobs_cron.tick, 'queue_name': 'daily', 'args': None, 'kwargs': None, 'interval': None,
         'cron': '30 6 * * *', 'job_timeout': None, 'result_ttl': 500, 'ttl': None, 'failure_ttl': None,
         'meta': None, 'webhooks': None, 'name': 'added-by-hand'}
    )
"""


def shaped(connection: redis.Redis, **kwargs: Any) -> UpstreamShapedScheduler:
    scheduler = UpstreamShapedScheduler(**kwargs)
    scheduler.connection_for_queues = connection
    return scheduler


def test_register_records_upstreams_keys_only(tmp_path: Path) -> None:
    entry = register(rqtest_jobs_cron.tick, 'q', cron='0 9 * * *', timezone='Asia/Tokyo', name='tokyo')
    by_other_name = register(rqtest_jobs_cron.tick, 'q', cron_string='*/5 * * * *')
    try:
        assert set(entry) == UPSTREAM_ENTRY_KEYS
        assert set(by_other_name) == UPSTREAM_ENTRY_KEYS
        assert by_other_name['cron'] == '*/5 * * * *'
        assert rq_cron._job_data_registry[-2:] == [entry, by_other_name]
    finally:
        rq_cron._job_data_registry.clear()


def test_a_subclass_with_upstreams_signature_gets_every_config_entry(connection: redis.Redis, tmp_path: Path) -> None:
    scheduler = shaped(connection)
    assert scheduler.load_config_from_file(write_config(tmp_path, CONFIG)) == 4
    assert scheduler.errors == []
    assert scheduler.queues_seen == ['every', 'daily', 'daily', 'daily']
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert set(jobs) == {'rqtest_jobs_cron.tick', 'utc-daily', 'paris-daily', 'added-by-hand'}
    assert jobs['rqtest_jobs_cron.tick'].interval == 60
    assert jobs['rqtest_jobs_cron.tick'].kwargs == {'label': 'i'}
    # An entry's timezone reaches its CronJob although the subclass's register has no such parameter
    assert jobs['paris-daily'].timezone == 'Europe/Paris'
    assert jobs['utc-daily'].timezone is None
    assert jobs['added-by-hand'].timezone is None
    utc_next, paris_next = jobs['utc-daily'].next_enqueue_time, jobs['paris-daily'].next_enqueue_time
    assert utc_next is not None and paris_next is not None
    assert (utc_next.hour, utc_next.minute) == (9, 0)
    assert paris_next.astimezone(dt.timezone.utc).hour in (7, 8)  # 09:00 in Paris (summer or winter)
    assert rq_cron._job_data_registry == []


def test_the_scheduler_wide_timezone_applies_to_entries_that_name_none(connection: redis.Redis, tmp_path: Path) -> None:
    scheduler = CronScheduler(connection, timezone='America/New_York')
    assert scheduler.load_config_from_file(write_config(tmp_path, CONFIG)) == 4
    zones = {job.name: job.timezone for job in scheduler.get_jobs()}
    assert zones == {
        'rqtest_jobs_cron.tick': None,  # an interval: no wall clock
        'utc-daily': 'America/New_York',
        'paris-daily': 'Europe/Paris',
        'added-by-hand': 'America/New_York',
    }


def test_what_a_subclasss_register_raises_skips_that_entry_only(
    connection: redis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(
        tmp_path,
        """
        cron.register(rqtest_jobs_cron.tick, 'unknown', interval=5, name='nowhere')
        cron.register(rqtest_jobs_cron.tick, 'every', interval=5, name='somewhere')
        """,
    )
    scheduler = shaped(connection)
    with caplog.at_level(logging.ERROR, logger='rq.cron'):
        assert scheduler.load_config_from_file(config) == 1
    assert [job.name for job in scheduler.get_jobs()] == ['somewhere']
    [error] = scheduler.errors
    assert error.startswith('upstream_shape_config.py:5: ') and "queue 'unknown' is not configured" in error
    assert error in caplog.text


def test_a_subclass_runs_its_jobs_and_reads_them_back(connection: redis.Redis, tmp_path: Path) -> None:
    scheduler = shaped(connection, name='shaped-1')
    scheduler.load_config_from_file(write_config(tmp_path, CONFIG))
    runner = threading.Thread(target=scheduler.start)
    runner.start()
    try:
        queue = Queue('every', connection=connection)
        deadline = time.monotonic() + 30
        while not (queue.count == 1 and cron_scheduler_registry.get_keys(connection)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.count == 1
        [job] = queue.get_jobs()
        assert (job.func_name, job.kwargs) == ('rqtest_jobs_cron.tick', {'label': 'i'})

        [seen] = UpstreamShapedScheduler.all(connection)
        assert type(seen) is UpstreamShapedScheduler
        assert seen == scheduler and hash(seen) == hash(scheduler)  # equal by name, as upstream
        assert seen.config_file == scheduler.config_file
        assert {cron_job.name: cron_job.timezone for cron_job in seen.get_jobs()} == {
            'rqtest_jobs_cron.tick': None,
            'utc-daily': None,
            'paris-daily': 'Europe/Paris',
            'added-by-hand': None,
        }
        described = {data['name']: data for data in (cron_job.to_dict() for cron_job in scheduler.get_jobs())}
        assert 'timezone' not in described['utc-daily']  # a UTC entry is described exactly as upstream
        assert described['paris-daily']['timezone'] == 'Europe/Paris'
    finally:
        scheduler.stop()
        runner.join(10)
    assert not runner.is_alive()
    assert UpstreamShapedScheduler.all(connection) == []


def test_create_cron_keeps_each_entrys_timezone(connection: redis.Redis) -> None:
    register(rqtest_jobs_cron.tick, 'q', cron='0 9 * * *', timezone='Asia/Tokyo', name='tokyo')
    register(rqtest_jobs_cron.tick, 'q', cron='0 9 * * *', name='utc')
    scheduler = create_cron(connection)
    assert {job.name: job.timezone for job in scheduler.get_jobs()} == {'tokyo': 'Asia/Tokyo', 'utc': None}


def test_schedulers_are_equal_by_name(connection: redis.Redis) -> None:
    assert CronScheduler(connection, name='a') == CronScheduler(connection, name='a')
    assert CronScheduler(connection, name='a') != CronScheduler(connection, name='b')
    assert len({CronScheduler(connection, name='a'), CronScheduler(connection, name='a')}) == 1
    assert CronScheduler(connection, name='a') != shaped(connection, name='a')  # another class


def test_a_scheduler_shows_its_log_when_logging_is_not_configured() -> None:
    code = (
        'from rq.cron import CronScheduler\n'
        "scheduler = CronScheduler(None, logging_level='DEBUG')\n"
        "scheduler.log.debug('debug line shown')\n"
    )
    shown = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60, check=True)
    assert 'debug line shown' in shown.stdout


# -- rq.cron_scheduler_registry ---------------------------------------------------------------


class Named:
    def __init__(self, name: str, connection: redis.Redis) -> None:
        self.name = name
        self.connection = connection


def test_the_scheduler_registry_at_upstreams_path(connection: redis.Redis) -> None:
    key = cron_scheduler_registry.get_registry_key()
    assert key == 'rq:cron_schedulers'
    before = time.time()
    cron_scheduler_registry.register(Named('one', connection))
    score = connection.zscore(key, 'one')
    assert score is not None and before <= score <= time.time()
    with pytest.raises(DuplicateSchedulerError, match="'one'"):
        cron_scheduler_registry.register(Named('one', connection))
    with connection.pipeline() as pipe:
        cron_scheduler_registry.register(Named('one', connection), pipe)  # queued: no check, no error
        cron_scheduler_registry.register(Named('two', connection), pipe)
        pipe.execute()
    connection.zadd(key, {'stale': time.time() - 500})
    assert cron_scheduler_registry.get_keys(connection) == ['stale', 'one', 'two']
    assert cron_scheduler_registry.cleanup(connection) == 1
    assert cron_scheduler_registry.cleanup(connection, threshold=0) == 2
    assert cron_scheduler_registry.get_keys(connection) == []

    cron_scheduler_registry.register(Named('three', connection))
    cron_scheduler_registry.unregister(Named('three', connection))
    with pytest.raises(SchedulerNotFound, match="'three'"):
        cron_scheduler_registry.unregister(Named('three', connection))
    with connection.pipeline() as pipe:
        cron_scheduler_registry.unregister(Named('three', connection), pipe)  # queued: no error
        pipe.execute()


def test_a_running_scheduler_is_in_the_registry_until_it_stops(connection: redis.Redis) -> None:
    scheduler = CronScheduler(connection, name='listed')
    scheduler.register(rqtest_jobs_cron.tick, 'listed', interval=600)
    scheduler.register_birth()
    assert cron_scheduler_registry.get_keys(connection) == ['listed']
    assert [found.name for found in CronScheduler.all(connection)] == ['listed']
    scheduler.register_death()
    assert cron_scheduler_registry.get_keys(connection) == []


# -- rq.scheduler -----------------------------------------------------------------------------


def test_rq_scheduler_run_works_until_stopped(connection: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    queue = Queue('later', connection=connection)
    job = queue.enqueue_in(dt.timedelta(seconds=-1), rqtest_jobs_cron.tick)
    scheduler = RQScheduler(['later'], connection=connection, interval=0.05)
    assert scheduler.connection is connection
    with caplog.at_level(logging.INFO, logger='rq.scheduler'):
        runner = threading.Thread(target=run, args=(scheduler,))
        runner.start()
        deadline = time.monotonic() + 30
        while job.id not in queue.get_job_ids() and time.monotonic() < deadline:
            time.sleep(0.02)
        scheduler.request_stop()
        runner.join(10)
    assert job.id in queue.get_job_ids()
    assert not runner.is_alive()
    assert 'Scheduler for later started with PID' in caplog.text
    assert 'has stopped' in caplog.text


def test_rq_scheduler_run_logs_and_raises_what_ends_the_scheduler(
    connection: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(RQScheduler):
        def work(self) -> None:
            raise RuntimeError('broken on purpose')

    with caplog.at_level(logging.ERROR, logger='rq.scheduler'), pytest.raises(RuntimeError, match='on purpose'):
        run(Broken(['q'], connection=connection))
    assert 'raised an exception' in caplog.text and 'broken on purpose' in caplog.text


def test_rq_scheduler_connection_can_be_replaced(connection: redis.Redis) -> None:
    scheduler = RQScheduler(['q'], connection=connection)
    other = redis.Redis(connection_pool=connection.connection_pool)
    scheduler.connection = other
    assert scheduler.connection is other
    assert isinstance(RQScheduler.__dict__['connection'], property)
    assert callable(ForkProcess)

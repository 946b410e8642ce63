"""Logging as rq 3.0 sets it up: ``setup_loghandlers`` stops propagation from a logger it gives
handlers (and gives none when the hierarchy has one); ``CronScheduler`` and ``WorkerPool`` leave an
application's logging alone; a stop-job command for another job is a WARNING in rq 3.0's words."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from rq import Queue
from rq.command import handle_command
from rq.cron import CronScheduler
from rq.logutils import setup_loghandlers
from rq.worker import SimpleWorker
from rq.worker.pool import WorkerPool

NAMES = ('rq', 'rq.cron', 'rq.worker', 'rq.worker_pool', 'rqtest.logging', 'rqtest')


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def loggers() -> Iterator[None]:
    """Put back the handlers, ``propagate`` and level of the loggers these tests change."""
    kept = {name: (list(lg.handlers), lg.propagate, lg.level) for name in NAMES for lg in [logging.getLogger(name)]}
    for name in NAMES:
        logging.getLogger(name).handlers.clear()
    yield
    for name, (handlers, propagate, level) in kept.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate, logger.level = propagate, level


def isolate(name: str) -> None:
    """No handler above ``name`` (pytest's own, on the root logger, would count as the application's)."""
    logging.getLogger(name).propagate = False


@pytest.mark.usefixtures('loggers')
def test_setup_loghandlers_stops_propagation_from_a_logger_it_gives_handlers() -> None:
    isolate('rqtest')
    logger = logging.getLogger('rqtest.logging')
    setup_loghandlers('INFO', name='rqtest.logging')
    assert len(logger.handlers) == 2 and logger.propagate is False

    logging.getLogger('rqtest').propagate = True  # an ancestor handler: pytest's, on the root logger
    other = logging.getLogger('rqtest.logging.other')
    setup_loghandlers('INFO', name='rqtest.logging.other')
    assert other.handlers == [] and other.propagate is True


@pytest.mark.usefixtures('loggers')
def test_cron_scheduler_leaves_an_applications_logging_alone(connection: redis.Redis) -> None:
    application = Collect()
    logging.getLogger('rq').addHandler(application)
    scheduler = CronScheduler(connection)
    cron = logging.getLogger('rq.cron')
    assert cron.handlers == [] and cron.propagate is True  # (RQ 2.12 set propagate=False here)
    scheduler.log.warning('hello')
    assert [record.getMessage() for record in application.records] == ['hello']


@pytest.mark.usefixtures('loggers')
def test_cron_scheduler_without_logging_sets_up_its_own(connection: redis.Redis) -> None:
    isolate('rq')
    CronScheduler(connection)
    cron = logging.getLogger('rq.cron')
    assert len(cron.handlers) == 2 and cron.propagate is False  # (by setup_loghandlers)


@pytest.mark.usefixtures('loggers')
def test_a_worker_pool_sets_up_no_logging_when_made(connection: redis.Redis) -> None:
    isolate('rq')
    WorkerPool(['default'], connection=connection, num_workers=1)
    assert logging.getLogger('rq.worker_pool').handlers == [] and logging.getLogger('rq').handlers == []


@pytest.mark.usefixtures('loggers')
def test_stop_job_for_another_job_is_a_warning(connection: redis.Redis) -> None:
    worker = SimpleWorker([Queue(connection=connection)], connection=connection)
    seen = Collect()
    worker.log.addHandler(seen)
    try:
        handle_command(worker, {'command': 'stop-job', 'job_id': 'not-mine'})
    finally:
        worker.log.removeHandler(seen)
    (record,) = seen.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().endswith('Not working on job not-mine, command ignored.')  # (after the worker's name)

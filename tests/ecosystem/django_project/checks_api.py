"""django-rq's Python API on our rq: the ``@job`` decorator, ``get_queue`` and its options,
``enqueue``, ``get_connection``, ``get_worker``, ``get_scheduler`` and the commit modes."""

import importlib.util
import json
import zlib
from datetime import timedelta

import django_rq
import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django_rq import job, thread_queue
from django_rq.queues import DjangoRQ
from rqsite import custom, jobs

from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer


def test_job_decorator_without_arguments_uses_the_default_queue(rq_connection: redis.Redis) -> None:
    enqueued = jobs.decorated_default.delay(21)

    assert isinstance(enqueued, Job)
    assert enqueued.origin == 'default'
    assert enqueued.func_name == 'rqsite.jobs.decorated_default'
    assert enqueued.result_ttl == 5000  # RQ['DEFAULT_RESULT_TTL']
    assert enqueued.timeout == 360  # the queue's DEFAULT_TIMEOUT
    assert django_rq.get_queue('default').job_ids == [enqueued.id]
    assert jobs.decorated_default(5) == 10  # still a plain function when called

    django_rq.get_worker('default').work(burst=True)
    assert Job.fetch(enqueued.id, connection=rq_connection).return_value() == 42


def test_job_decorator_with_a_queue_name(rq_connection: redis.Redis) -> None:
    enqueued = jobs.decorated_high.delay(3)

    assert enqueued.origin == 'high'
    assert enqueued.result_ttl == 800  # the queue's DEFAULT_RESULT_TTL wins over RQ's
    assert enqueued.timeout == 500
    assert django_rq.get_queue('high').job_ids == [enqueued.id]
    django_rq.get_worker('high').work(burst=True)
    assert Job.fetch(enqueued.id, connection=rq_connection).return_value() == 9


def test_job_decorator_with_timeout_and_result_ttl() -> None:
    enqueued = jobs.decorated_with_options.delay(1)

    assert enqueued.origin == 'low'
    assert enqueued.timeout == 1234
    assert enqueued.result_ttl == 77


def test_job_decorator_on_a_nested_function_with_a_connection(rq_connection: redis.Redis) -> None:
    port = rq_connection.connection_pool.connection_kwargs['port']
    own_connection = redis.Redis(host='127.0.0.1', port=port, db=1)
    own_connection.flushdb()

    # A queue object of its own, on its own connection (RQ_QUEUES does not name it).
    @job(Queue('elsewhere', connection=own_connection), timeout=77)
    def nested(x: int) -> int:
        return x

    # A queue of RQ_QUEUES: django-rq hands rq the configured queue, whose connection wins.
    @job('default', connection=own_connection)
    def nested_on_default() -> None:
        pass

    enqueued = nested.delay(7)
    also = nested.enqueue(8)
    on_default = nested_on_default.delay()

    assert enqueued.func_name == f'{__name__}.test_job_decorator_on_a_nested_function_with_a_connection.<locals>.nested'
    assert enqueued.timeout == 77
    assert enqueued.result_ttl == 5000
    assert Queue('elsewhere', connection=own_connection).job_ids == [enqueued.id, also.id]
    assert Queue('elsewhere', connection=rq_connection).job_ids == []
    assert Queue('default', connection=rq_connection).job_ids == [on_default.id]
    assert Queue('default', connection=own_connection).job_ids == []
    own_connection.flushdb()


def test_job_decorator_with_a_queue_object(rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('low')

    @job(queue)
    def nested() -> None:
        pass

    enqueued = nested.delay()
    assert enqueued.origin == 'low'
    assert queue.job_ids == [enqueued.id]


def test_get_queue_reads_the_settings() -> None:
    queue = django_rq.get_queue('high')

    assert isinstance(queue, DjangoRQ)
    assert queue.name == 'high'
    assert queue.is_async
    assert queue.connection.connection_pool.connection_kwargs['port'] == settings.REDIS_PORT
    assert queue.enqueue(jobs.add, 1, 2).timeout == 500
    assert django_rq.get_queue('low').enqueue(jobs.add, 1, 2).timeout == Queue.DEFAULT_TIMEOUT


def test_get_queue_default_timeout_argument() -> None:
    queue = django_rq.get_queue('default', default_timeout=42)

    assert queue.enqueue(jobs.add, 1, 2).timeout == 42
    assert queue.enqueue(jobs.add, 1, 2, job_timeout=7).timeout == 7


def test_enqueue_call_applies_the_default_result_ttl() -> None:
    assert django_rq.get_queue('high').enqueue_call(jobs.add, args=(1, 2)).result_ttl == 800
    assert django_rq.get_queue('low').enqueue_call(jobs.add, args=(1, 2)).result_ttl == 5000


def test_synchronous_queue_runs_the_job_at_once(rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('sync')

    assert not queue.is_async
    done = queue.enqueue(jobs.add, 4, 5)
    assert done.get_status() == JobStatus.FINISHED
    assert done.return_value() == 9
    assert queue.count == 0

    failed = queue.enqueue(jobs.fail, 'sync failure')
    assert failed.get_status() == JobStatus.FAILED
    assert failed.id in queue.failed_job_registry.get_job_ids()


def test_is_async_argument_overrides_the_settings() -> None:
    assert django_rq.get_queue('sync', is_async=True).enqueue(jobs.add, 1, 1).get_status() == JobStatus.QUEUED
    ran = django_rq.get_queue('default', is_async=False).enqueue(jobs.add, 2, 2)
    assert ran.get_status() == JobStatus.FINISHED
    assert ran.return_value() == 4


def test_serializer_from_the_settings(rq_connection: redis.Redis) -> None:
    queue = django_rq.get_queue('json')
    assert queue.serializer is JSONSerializer or isinstance(queue.serializer, JSONSerializer)

    enqueued = queue.enqueue(jobs.add, 10, 11)

    stored = json.loads(zlib.decompress(rq_connection.hget(enqueued.key, 'data')))
    assert stored[0] == 'rqsite.jobs.add'
    assert list(stored[2]) == [10, 11]
    fetched = Job.fetch(enqueued.id, connection=rq_connection, serializer=JSONSerializer)
    assert fetched.args == [10, 11] or fetched.args == (10, 11)

    django_rq.get_worker('json', serializer=JSONSerializer).work(burst=True)
    assert Job.fetch(enqueued.id, connection=rq_connection, serializer=JSONSerializer).return_value() == 21


def test_serializer_argument() -> None:
    queue = django_rq.get_queue('default', serializer='rq.serializers.JSONSerializer')
    assert queue.serializer is JSONSerializer or isinstance(queue.serializer, JSONSerializer)


def test_get_connection() -> None:
    connection = django_rq.get_connection('low')
    assert connection.connection_pool.connection_kwargs['port'] == settings.REDIS_PORT

    assert isinstance(connection, redis.Redis)
    assert connection.ping()
    assert connection.connection_pool.connection_kwargs['db'] == 0


def test_enqueue_puts_the_job_on_the_default_queue(rq_connection: redis.Redis) -> None:
    enqueued = django_rq.enqueue(jobs.add, 1, b=2)

    assert enqueued.origin == 'default'
    assert enqueued.args == (1,) or enqueued.args == [1]
    assert enqueued.kwargs == {'b': 2}
    assert rq_connection.lrange('rq:queue:default', 0, -1) == [enqueued.id.encode()]


def test_get_worker(rq_connection: redis.Redis) -> None:
    worker = django_rq.get_worker()
    assert type(worker) is Worker
    assert worker.queue_names() == ['default']

    several = django_rq.get_worker('low', 'high')
    assert several.queue_names() == ['low', 'high']
    assert all(isinstance(queue, DjangoRQ) for queue in several.queues)

    simple = django_rq.get_worker('default', worker_class='rq.worker.SimpleWorker', name='simple-one')
    assert isinstance(simple, SimpleWorker)
    assert simple.name == 'simple-one'
    enqueued = django_rq.enqueue(jobs.add, 6, 7)
    assert simple.work(burst=True)
    assert Job.fetch(enqueued.id, connection=rq_connection).return_value() == 13


def test_get_worker_of_an_unknown_queue() -> None:
    with pytest.raises(KeyError):
        django_rq.get_worker('no-such-queue')


@pytest.mark.django_db(transaction=True)
def test_on_db_commit_mode_enqueues_when_the_transaction_commits() -> None:
    queue = django_rq.get_queue('default', commit_mode='on_db_commit')

    with transaction.atomic():
        queue.enqueue(jobs.add, 1, 1)
        assert queue.count == 0
    assert queue.count == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue(jobs.add, 2, 2)
        raise RuntimeError('rolled back')
    assert queue.count == 1


def test_get_scheduler(rq_connection: redis.Redis) -> None:
    if importlib.util.find_spec('rq_scheduler') is None:
        with pytest.raises(ImproperlyConfigured):
            django_rq.get_scheduler('default')
        return
    scheduler = django_rq.get_scheduler('default')

    scheduled = scheduler.enqueue_in(timedelta(hours=1), jobs.add, 1, 2)

    assert scheduler.count() == 1
    assert scheduled.timeout == 360  # the queue's DEFAULT_TIMEOUT, applied by DjangoScheduler
    assert scheduled.result_ttl == 5000
    assert [found.id for found in scheduler.get_jobs()] == [scheduled.id]


def test_request_finished_mode_holds_the_call_until_the_request_ends() -> None:
    queue = django_rq.get_queue('default', commit_mode='request_finished')

    held = queue.enqueue(jobs.add, 1, 1)
    assert held is None  # django-rq keeps the call until the request finishes
    assert queue.count == 0
    thread_queue.commit()  # what the request_finished signal runs when that mode is the site's
    assert queue.count == 1
    [job] = queue.get_jobs()
    assert job.func_name == 'rqsite.jobs.add'


def test_get_queue_with_job_and_queue_classes() -> None:
    queue = django_rq.get_queue('default', queue_class=custom.SiteQueue, job_class=custom.SiteJob)

    assert type(queue) is custom.SiteQueue
    enqueued = queue.enqueue(jobs.add, 1, 2)
    assert type(enqueued) is custom.SiteJob
    assert type(queue.fetch_job(enqueued.id)) is custom.SiteJob
    assert type(queue.get_jobs()[0]) is custom.SiteJob


def test_get_worker_with_the_sites_classes(rq_connection: redis.Redis) -> None:
    worker = django_rq.get_worker(
        'default', worker_class='rqsite.custom.SiteWorker', job_class='rqsite.custom.SiteJob', name='site-worker'
    )
    enqueued = django_rq.enqueue(jobs.add, 3, 3)

    assert type(worker) is custom.SiteWorker
    assert worker.job_class is custom.SiteJob
    assert worker.work(burst=True)
    assert Job.fetch(enqueued.id, connection=rq_connection).return_value() == 6
    assert Job.fetch(enqueued.id, connection=rq_connection).worker_name == 'site-worker'


def test_get_worker_runs_the_exception_handlers_of_the_settings(rq_connection: redis.Redis) -> None:
    failing = django_rq.enqueue(jobs.fail, 'in process')

    django_rq.get_worker('default', worker_class='rq.worker.SimpleWorker').work(burst=True)

    assert rq_connection.get(f'handled:{failing.id}') == b'ValueError: in process'
    assert failing.get_status(refresh=True) == JobStatus.FAILED


def test_delay_takes_rqs_own_keywords() -> None:
    first = jobs.decorated_default.delay(1)
    front = jobs.decorated_default.delay(2, job_id='chosen-id', at_front=True)
    after = jobs.decorated_default.delay(3, depends_on=first)

    assert front.id == 'chosen-id'
    assert django_rq.get_queue('default').job_ids == ['chosen-id', first.id]
    assert after.get_status() == JobStatus.DEFERRED
    assert after._dependency_ids == [first.id]  # what django-rq's job page reads

"""Worker registration in Redis: the worker hash, ``rq:workers`` sets, lookups and state."""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_worker
from rq import Queue
from rq.job import Job
from rq.utils import now
from rq.version import VERSION
from rq.worker import SimpleWorker, SpawnWorker, Worker, WorkerStatus
from worker_process import wait_until

BIRTH_FIELDS = {'birth', 'last_heartbeat', 'queues', 'pid', 'hostname', 'ip_address', 'version', 'python_version'}


def text_hash(connection: redis.Redis, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in connection.hgetall(key).items()}


def members(connection: redis.Redis, key: str) -> set[str]:
    return {m.decode() for m in connection.smembers(key)}


# -- birth and death ------------------------------------------------------------------------


def test_register_birth_writes_the_hash_and_the_sets(connection: redis.Redis) -> None:
    worker = SimpleWorker(['high', 'low'], name='w1', connection=connection)
    worker.register_birth()
    fields = text_hash(connection, 'rq:worker:w1')
    assert set(fields) == BIRTH_FIELDS
    assert fields['queues'] == 'high,low'
    assert fields['pid'] == str(worker.pid)
    assert fields['hostname'] == worker.hostname
    assert fields['ip_address'].startswith('127.0.0.1:')  # from CLIENT LIST
    assert fields['version'] == VERSION
    assert fields['python_version'] == sys.version
    assert fields['birth'].endswith('Z') and fields['birth'] == fields['last_heartbeat']
    assert 470 < connection.ttl('rq:worker:w1') <= 480  # worker_ttl + 60
    assert members(connection, 'rq:workers') == {'rq:worker:w1'}
    assert members(connection, 'rq:workers:high') == {'rq:worker:w1'}
    assert members(connection, 'rq:workers:low') == {'rq:worker:w1'}

    worker.register_death()
    fields = text_hash(connection, 'rq:worker:w1')
    assert fields['death'].endswith('Z')
    assert 55 < connection.ttl('rq:worker:w1') <= 60
    assert members(connection, 'rq:workers') == set()
    assert members(connection, 'rq:workers:high') == set()


def test_the_connection_is_named_after_the_worker(connection: redis.Redis) -> None:
    worker = SimpleWorker(['default'], name='named-worker', connection=connection)
    clients = {c['name']: c['addr'] for c in connection.client_list()}
    assert clients['named-worker'] == worker.ip_address


def test_worker_ttl_sets_the_idle_ttl(connection: redis.Redis) -> None:
    worker = SimpleWorker(['default'], connection=connection, worker_ttl=100)
    assert worker.dequeue_timeout == 85
    worker.register_birth()
    assert 150 < connection.ttl(worker.key) <= 160
    alias = SimpleWorker(['default'], connection=connection, default_worker_ttl=50)
    assert alias.worker_ttl == 50
    assert SimpleWorker(['default'], connection=connection).worker_ttl == 420


def test_burst_work_registers_then_dies(connection: redis.Redis, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.add, 1)
    worker = SimpleWorker([queue])
    worker.work(burst=True)
    fields = text_hash(connection, worker.key)
    assert set(fields) >= BIRTH_FIELDS
    assert 'death' in fields
    assert fields['state'] == 'idle'
    assert 0 < connection.ttl(worker.key) <= 60
    assert not connection.sismember('rq:workers', worker.key)
    assert not connection.sismember('rq:workers:default', worker.key)
    assert worker.death_date is not None


def test_an_empty_burst_still_registers_and_dies(connection: redis.Redis, queue: Queue) -> None:
    worker = SimpleWorker([queue])
    assert worker.work(burst=True) is False
    assert 'death' in text_hash(connection, worker.key)


def test_duplicate_live_name_is_refused(connection: redis.Redis, queue: Queue) -> None:
    first = SimpleWorker([queue], name='twin')
    first.register_birth()
    queue.enqueue(rqtest_jobs.add, 1)
    with pytest.raises(ValueError, match='twin'):
        SimpleWorker([queue], name='twin').work(burst=True)
    assert queue.count == 1  # the refused worker took nothing
    assert 'death' not in text_hash(connection, first.key)
    first.register_death()
    second = SimpleWorker([queue], name='twin')
    assert second.work(burst=True) is True  # a dead worker's name may be reused


def test_a_registration_sent_again_is_not_a_clash_with_itself(connection: redis.Redis, queue: Queue) -> None:
    """A worker starting while Redis is slow registers again when its first attempt's reply was
    lost: finding its own hash (its birth date) is no clash; another live worker's hash still is."""
    worker = Worker([queue], connection=connection, name='again')
    birth = now()
    worker.register_birth_at(birth)
    worker.register_birth_at(birth)  # (as when the first reply was lost: no ValueError)
    assert connection.sismember('rq:workers', 'rq:worker:again')
    with pytest.raises(ValueError, match='again'):
        Worker([queue], connection=connection, name='again').register_birth()


def test_default_name_is_a_uuid_hex(connection: redis.Redis) -> None:
    worker = SimpleWorker(['default'], connection=connection)
    assert len(worker.name) == 32 and int(worker.name, 16) >= 0
    assert worker.key == f'rq:worker:{worker.name}'
    assert worker.pubsub_channel_name == f'rq:pubsub:{worker.name}'


# -- while working --------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker, SpawnWorker], ids=lambda cls: cls.__name__)
def test_registration_seen_from_a_running_job(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs_worker.snapshot_worker)
    worker = worker_class([queue], job_monitoring_interval=1)
    worker.work(burst=True)
    seen = Job.fetch(job.id, connection=connection).return_value()
    assert seen['worker_name'] == worker.name
    assert seen['workers'] == [worker.key]
    assert seen['queue_workers'] == [worker.key]
    assert seen['hash']['state'] == 'busy'
    assert seen['hash']['current_job'] == job.id
    assert set(seen['hash']) >= BIRTH_FIELDS
    assert 0 < seen['ttl'] <= math.ceil(worker.execution_ttl)
    if worker_class is not SimpleWorker:
        assert (seen['env_worker'], seen['env_job']) == (worker.name, job.id)


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_current_job_and_state_while_busy(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue('rqtest_introspect.wait_for_key', 'release', 60)  # runs until the watcher is done
    worker = worker_class([queue], job_monitoring_interval=1)
    seen: dict[str, Any] = {}

    def watch() -> None:
        try:
            if wait_until(lambda: worker.get_current_job_id() == job.id, timeout=30):
                seen['state'] = worker.get_state()
                current = worker.get_current_job()
                seen['current'] = current.id if current is not None else None
                seen['hash'] = text_hash(connection, worker.key)
        finally:
            connection.set('release', 'go')

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    worker.work(burst=True)
    thread.join()
    assert seen['state'] == WorkerStatus.BUSY
    assert seen['current'] == job.id
    assert seen['hash']['state'] == 'busy' and seen['hash']['current_job'] == job.id
    assert worker.get_current_job_id() is None
    assert worker.get_current_job() is None
    assert worker.get_state() == 'idle'
    fields = text_hash(connection, worker.key)
    assert 'current_job' not in fields


def test_worker_state_values() -> None:
    assert [status.value for status in WorkerStatus] == ['started', 'suspended', 'busy', 'idle']
    assert str(WorkerStatus.BUSY) == 'busy'


# -- lookups --------------------------------------------------------------------------------


def test_all_count_all_keys_find_by_key(connection: redis.Redis) -> None:
    high = Queue('high', connection=connection)
    one = SimpleWorker([high, 'low'], name='one', connection=connection)
    two = Worker(['low'], name='two', connection=connection)
    one.register_birth()
    two.register_birth()
    one.set_state(WorkerStatus.IDLE)

    assert Worker.all_keys(connection) == ['rq:worker:one', 'rq:worker:two']
    assert Worker.all_keys(queue=high) == ['rq:worker:one']
    assert sorted(w.name for w in Worker.all(connection)) == ['one', 'two']
    assert [w.name for w in Worker.all(queue=high)] == ['one']
    assert Worker.count(connection) == 2
    assert Worker.count(queue=Queue('low', connection=connection)) == 2
    assert Worker.count(queue=Queue('other', connection=connection)) == 0

    found = Worker.find_by_key('rq:worker:one', connection=connection)
    assert found is not None
    assert found.name == 'one'
    assert found.queue_names() == ['high', 'low']
    assert found.queue_keys() == ['rq:queue:high', 'rq:queue:low']
    assert found.pid == one.pid and found.hostname == one.hostname
    assert found.ip_address == one.ip_address
    assert found.get_state() == 'idle'
    assert found.birth_date is not None and found.last_heartbeat is not None
    assert found.version == VERSION
    assert found.successful_job_count == 0


def test_lookups_forget_workers_whose_hash_is_gone(connection: redis.Redis) -> None:
    worker = SimpleWorker(['default'], name='ghost', connection=connection)
    worker.register_birth()
    connection.delete(worker.key)  # as if it expired (the worker died without a word)
    assert Worker.find_by_key('rq:worker:ghost', connection=connection) is None
    assert not connection.sismember('rq:workers', 'rq:worker:ghost')

    worker = SimpleWorker(['default'], name='ghost2', connection=connection)
    worker.register_birth()
    connection.delete(worker.key)
    assert Worker.all(connection) == []
    assert Worker.count(connection) == 0
    assert not connection.sismember('rq:workers', 'rq:worker:ghost2')


def test_find_by_key_rejects_other_keys(connection: redis.Redis) -> None:
    with pytest.raises(ValueError):
        Worker.find_by_key('rq:queue:default', connection=connection)


def test_counters_read_back_after_work(connection: redis.Redis, queue: Queue) -> None:
    queue.enqueue(rqtest_jobs.add, 1)
    queue.enqueue(rqtest_jobs.fail)
    worker = SimpleWorker([queue], name='counted')
    worker.work(burst=True)
    found = Worker.find_by_key(worker.key, connection=connection)
    assert found is not None
    assert (found.successful_job_count, found.failed_job_count) == (1, 1)
    assert found.total_working_time == pytest.approx(worker.total_working_time, abs=1e-3)
    assert found.death_date is not None
    found.refresh()
    assert found.successful_job_count == 1


# -- construction ---------------------------------------------------------------------------


def test_queues_given_as_names_objects_or_one_name(connection: redis.Redis) -> None:
    queue = Queue('first', connection=connection)
    worker = SimpleWorker([queue, 'second'])  # the connection comes from the Queue
    assert worker.connection is connection
    assert worker.queue_names() == ['first', 'second']
    assert SimpleWorker('solo', connection=connection).queue_names() == ['solo']
    assert SimpleWorker(queue).queue_names() == ['first']
    with pytest.raises(TypeError):
        SimpleWorker(['no-connection'])
    with pytest.raises(ValueError):
        SimpleWorker([], connection=connection)


def test_prepare_for_work_false_touches_no_connection(connection: redis.Redis) -> None:
    worker = SimpleWorker(['default'], name='quiet', connection=connection, prepare_for_work=False)
    assert worker.ip_address == 'unknown'
    assert 'quiet' not in {c['name'] for c in connection.client_list()}

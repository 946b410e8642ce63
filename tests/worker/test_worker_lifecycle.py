"""One job through each worker class: what success, failure and timeouts leave in Redis.

Every test runs a worker in this process with ``work(burst=True)`` and then reads the raw Redis
data (job hash, registries, results stream, TTLs, worker hash) against rq2-reference §3-4.
"""

from __future__ import annotations

import base64
import pickle
import threading
import time
import zlib
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_worker
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.worker import SimpleWorker, SpawnWorker, Worker
from ttl_checks import assert_ttl
from worker_process import wait_until

WORKER_CLASSES = [Worker, SimpleWorker, SpawnWorker]
YEAR = 31536000


@pytest.fixture(params=WORKER_CLASSES, ids=lambda cls: cls.__name__)
def worker_class(request: pytest.FixtureRequest) -> type[Worker]:
    return request.param  # type: ignore[no-any-return]


def run_burst(worker_class: type[Any], queue: Queue, **kwargs: Any) -> Any:
    worker = worker_class([queue], job_monitoring_interval=1, **kwargs)
    worker.work(burst=True)
    return worker


def text_hash(connection: redis.Redis, key: str) -> dict[str, str]:
    return {k.decode(): v.decode('utf-8', 'replace') for k, v in connection.hgetall(key).items()}


def stream(connection: redis.Redis, job_id: str) -> list[dict[str, str]]:
    return [
        {k.decode(): v.decode() for k, v in fields.items()} for _, fields in connection.xrange(f'rq:results:{job_id}')
    ]


def decode_value(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def decode_exc(text: str) -> str:
    return zlib.decompress(base64.b64decode(text)).decode()


def assert_execution_gone(connection: redis.Redis, job_id: str, queue_name: str = 'default') -> None:
    assert connection.zcard(f'rq:wip:{queue_name}') == 0
    assert connection.keys(f'rq:execution:{job_id}:*') == []
    assert connection.zcard(f'rq:executions:{job_id}') == 0


# -- success --------------------------------------------------------------------------------


def test_success_writes_status_result_registry_and_ttls(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.add, 2, 3)
    before = int(time.time())
    worker = run_burst(worker_class, queue)
    after = int(time.time())

    fields = text_hash(connection, job.key)
    assert fields['status'] == 'finished'
    assert fields['worker_name'] == worker.name
    assert fields['started_at'].endswith('Z') and fields['ended_at'].endswith('Z')
    assert fields['started_at'] <= fields['ended_at']
    assert 'result' not in fields and 'exc_info' not in fields

    entries = stream(connection, job.id)
    assert len(entries) == 1
    entry = entries[0]
    assert entry['type'] == '1'
    assert decode_value(entry['return_value']) == 5
    assert entry['worker_name'] == worker.name
    assert len(entry['execution_id']) == 32
    assert float(entry['execution_started_at']) <= float(entry['execution_ended_at'])
    assert before - 1 <= float(entry['execution_started_at']) <= after + 1
    assert 'exc_string' not in entry

    score = connection.zscore('rq:finished:default', job.id)
    assert score is not None and before + 500 <= score <= after + 500
    assert_ttl(connection, job.key, 500, before)
    assert_ttl(connection, f'rq:results:{job.id}', 500, before)
    assert_execution_gone(connection, job.id)
    assert connection.llen('rq:queue:default') == 0
    assert connection.zcard('rq:failed:default') == 0

    job = Job.fetch(job.id, connection=connection)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 5
    assert job.latest_result().type.value == 1  # type: ignore[union-attr]


def test_success_counts_on_the_worker_hash(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    queue.enqueue(rqtest_jobs.sleep, 0.2)
    queue.enqueue(rqtest_jobs.add, 1)
    started = time.monotonic()
    worker = run_burst(worker_class, queue)
    elapsed = time.monotonic() - started
    fields = text_hash(connection, worker.key)
    assert fields['successful_job_count'] == '2'
    assert 'failed_job_count' not in fields
    assert 0.2 <= float(fields['total_working_time']) <= elapsed  # (the jobs' time: within the run)
    assert fields['state'] == 'idle'
    assert 'current_job' not in fields
    assert worker.successful_job_count == 2 and worker.failed_job_count == 0
    assert worker.total_working_time >= 0.2


def test_none_return_value_writes_no_return_value_field(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.return_none)
    run_burst(worker_class, queue)
    (entry,) = stream(connection, job.id)
    assert entry['type'] == '1'
    assert 'return_value' not in entry
    assert job.get_status(refresh=True) == JobStatus.FINISHED


def test_result_ttl_minus_one_keeps_everything_for_ever(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, result_ttl=-1)
    run_burst(worker_class, queue)
    assert connection.zscore('rq:finished:default', job.id) == float('inf')
    assert connection.ttl(job.key) == -1
    assert connection.ttl(f'rq:results:{job.id}') == -1
    assert Job.fetch(job.id, connection=connection).return_value() == 2


def test_result_ttl_given_per_job(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, result_ttl=30)
    now = int(time.time())
    run_burst(worker_class, queue)
    score = connection.zscore('rq:finished:default', job.id)
    assert score is not None and now + 30 <= score <= time.time() + 30
    assert 25 < connection.ttl(job.key) <= 30
    assert 25 < connection.ttl(f'rq:results:{job.id}') <= 30


def test_default_result_ttl_of_the_worker(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1)
    run_burst(SimpleWorker, queue, default_result_ttl=70)
    assert 65 < connection.ttl(job.key) <= 70
    assert 65 < connection.ttl(f'rq:results:{job.id}') <= 70


def test_result_ttl_zero_deletes_the_job_and_keeps_no_result(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, result_ttl=0)
    worker = run_burst(worker_class, queue)
    assert not connection.exists(job.key)
    assert not connection.exists(f'rq:results:{job.id}')
    assert connection.zcard('rq:finished:default') == 0
    assert_execution_gone(connection, job.id)
    assert text_hash(connection, worker.key)['successful_job_count'] == '1'


def test_ttl_of_a_queued_job_is_dropped_while_it_runs(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs_worker.count_runs, 'runs', ttl=5, result_ttl=-1)
    assert connection.ttl(job.key) > 0
    run_burst(worker_class, queue)
    assert connection.get('runs') == b'1'
    assert connection.ttl(job.key) == -1


def test_async_job_function(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.async_add, 20, 22)
    run_burst(worker_class, queue)
    assert Job.fetch(job.id, connection=connection).return_value() == 42


def test_job_sees_itself_started_by_the_worker(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    from rqtest_jobs_lifecycle import current_job_info

    job = queue.enqueue(current_job_info)
    worker = run_burst(worker_class, queue)
    assert Job.fetch(job.id, connection=connection).return_value() == {
        'id': job.id,
        'status': 'started',
        'worker_name': worker.name,
    }


def test_unpicklable_return_value_is_recorded_as_a_placeholder(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.unpicklable_return)
    run_burst(worker_class, queue)
    (entry,) = stream(connection, job.id)
    assert entry['type'] == '1'
    assert decode_value(entry['return_value']) == 'Unserializable return value'
    assert job.get_status(refresh=True) == JobStatus.FINISHED


# -- failure --------------------------------------------------------------------------------


def test_failure_writes_status_failed_registry_and_traceback(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.fail, 'kaput')
    before = int(time.time())
    worker = run_burst(worker_class, queue)
    after = int(time.time())

    fields = text_hash(connection, job.key)
    assert fields['status'] == 'failed'
    assert fields['worker_name'] == worker.name
    assert fields['ended_at'].endswith('Z')
    assert 'exc_info' not in fields  # 2.12 keeps the traceback only in the results stream

    score = connection.zscore('rq:failed:default', job.id)
    assert score is not None and before + YEAR <= score <= after + YEAR
    assert_ttl(connection, job.key, YEAR, before)
    assert connection.ttl(f'rq:results:{job.id}') == -1  # failure_ttl None: no TTL on the stream

    (entry,) = stream(connection, job.id)
    assert entry['type'] == '2'
    assert entry['worker_name'] == worker.name
    assert len(entry['execution_id']) == 32
    assert 'return_value' not in entry
    text = decode_exc(entry['exc_string'])
    assert text.startswith('Traceback (most recent call last)')
    assert 'ValueError: kaput' in text
    assert 'rqtest_jobs.py' in text

    assert_execution_gone(connection, job.id)
    assert connection.zcard('rq:finished:default') == 0
    counters = text_hash(connection, worker.key)
    assert counters['failed_job_count'] == '1'
    assert 'successful_job_count' not in counters
    assert float(counters['total_working_time']) >= 0
    assert worker.failed_job_count == 1

    job = Job.fetch(job.id, connection=connection)
    assert job.get_status() == JobStatus.FAILED
    assert 'ValueError: kaput' in (job.latest_result().exc_string or '')  # type: ignore[union-attr]
    assert job.return_value() is None


def test_failure_ttl_given_per_job(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.fail, failure_ttl=40)
    now = int(time.time())
    run_burst(worker_class, queue)
    score = connection.zscore('rq:failed:default', job.id)
    assert score is not None and now + 40 <= score <= time.time() + 40
    assert_ttl(connection, job.key, 40, now)
    assert 35 < connection.ttl(f'rq:results:{job.id}') <= 40


def test_failure_ttl_minus_one_gives_a_raw_negative_score(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail, failure_ttl=-1)
    run_burst(SimpleWorker, queue)
    assert connection.zscore('rq:failed:default', job.id) == -1
    assert connection.ttl(job.key) == -1
    assert connection.ttl(f'rq:results:{job.id}') == -1


def test_disabled_default_exception_handler_only_sets_the_status(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.fail)
    worker = run_burst(worker_class, queue, disable_default_exception_handler=True)
    assert text_hash(connection, job.key)['status'] == 'failed'
    assert connection.zcard('rq:failed:default') == 0
    assert not connection.exists(f'rq:results:{job.id}')
    assert_execution_gone(connection, job.id)
    assert text_hash(connection, worker.key)['failed_job_count'] == '1'


def test_system_exit_in_a_job_is_a_failure_and_the_worker_goes_on(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    exiting = queue.enqueue(rqtest_jobs_worker.exit_with, 3)
    after = queue.enqueue(rqtest_jobs.add, 1)
    run_burst(worker_class, queue)
    assert exiting.get_status(refresh=True) == JobStatus.FAILED
    assert 'SystemExit: 3' in decode_exc(stream(connection, exiting.id)[0]['exc_string'])
    assert after.get_status(refresh=True) == JobStatus.FINISHED


def test_failed_and_finished_jobs_are_mixed_in_one_run(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    jobs = [queue.enqueue(rqtest_jobs.add, 1), queue.enqueue(rqtest_jobs.fail), queue.enqueue(rqtest_jobs.add, 2)]
    worker = run_burst(worker_class, queue)
    assert [job.get_status(refresh=True) for job in jobs] == [JobStatus.FINISHED, JobStatus.FAILED, JobStatus.FINISHED]
    counters = text_hash(connection, worker.key)
    assert (counters['successful_job_count'], counters['failed_job_count']) == ('2', '1')


# -- timeouts -------------------------------------------------------------------------------


def test_job_over_its_timeout_fails_with_job_timeout_exception(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.sleep, 60, job_timeout=1)
    next_job = queue.enqueue(rqtest_jobs.add, 1)
    started = time.monotonic()
    run_burst(worker_class, queue)
    assert time.monotonic() - started < 40  # interrupted, not run for its 60 s
    assert job.get_status(refresh=True) == JobStatus.FAILED
    text = decode_exc(stream(connection, job.id)[0]['exc_string'])
    assert 'JobTimeoutException: Task exceeded maximum timeout value (1 seconds)' in text
    assert connection.zscore('rq:failed:default', job.id) is not None
    assert next_job.get_status(refresh=True) == JobStatus.FINISHED


def test_timeout_interrupts_a_busy_loop(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs_worker.busy_loop, 60, job_timeout=1)
    started = time.monotonic()
    run_burst(Worker, queue)
    assert time.monotonic() - started < 40  # interrupted, not run for its 60 s
    assert 'JobTimeoutException' in decode_exc(stream(connection, job.id)[0]['exc_string'])


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_timeout_minus_one_means_unlimited(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.sleep, 1.2, job_timeout=-1)
    assert connection.hget(job.key, 'timeout') == b'-1'
    run_burst(worker_class, queue)
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value() == 1.2


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_heartbeats_keep_a_long_job_started(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    """A job running longer than execution_ttl (1.5 s at job_monitoring_interval=1) is not
    abandoned: every half second a heartbeat pushes its started entry forward, so the cleanup another worker's
    maintenance runs leaves it alone; the job hash and worker hash get fresh heartbeats too."""
    job = queue.enqueue('rqtest_introspect.wait_for_key', 'release', 60)  # runs until the watcher is done
    worker = worker_class([queue], job_monitoring_interval=1)
    assert worker.execution_ttl == 1.5 and worker.beat_period == 0.5
    seen: dict[str, Any] = {}

    def watch() -> None:
        try:
            if not wait_until(lambda: worker.get_current_job_id() == job.id, timeout=30):
                return
            claimed = time.monotonic()
            seen['first'] = connection.zrange('rq:wip:default', 0, -1, withscores=True)
            worker_beats, job_beats = set(), set()
            # past execution_ttl, and three heartbeats seen (however slowly they come)
            while time.monotonic() - claimed < 2.2 or min(len(worker_beats), len(job_beats)) < 3:
                if time.monotonic() - claimed > 30:
                    break
                worker_beats.add(connection.hget(worker.key, 'last_heartbeat'))
                job_beats.add(connection.hget(job.key, 'last_heartbeat'))
                time.sleep(0.05)
            seen['later'] = connection.zrange('rq:wip:default', 0, -1, withscores=True)
            seen['worker_ttl'] = connection.ttl(worker.key)
            seen['working_time'] = float(connection.hget(worker.key, 'current_job_working_time') or 0)
            StartedJobRegistry(queue=queue).cleanup()  # what every live worker's maintenance does
            seen['status'] = connection.hget(job.key, 'status')
            seen['beats'] = (len(worker_beats), len(job_beats))
        finally:
            connection.set('release', 'go')

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    worker.work(burst=True)
    thread.join()
    ((member, first_score),) = seen['first']
    ((later_member, later_score),) = seen['later']
    assert member == later_member and member.decode().startswith(f'{job.id}:')
    assert later_score >= first_score + 0.9  # at least one heartbeat moved it on
    assert seen['status'] == b'started'  # not taken for abandoned
    assert seen['beats'][0] >= 3 and seen['beats'][1] >= 3
    assert 0 < seen['worker_ttl'] <= 2  # EXPIRE takes whole seconds: 1.5 rounded up
    assert seen['working_time'] >= 1
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert [entry['type'] for entry in stream(connection, job.id)] == ['1']
    assert connection.zcard('rq:failed:default') == 0


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_a_busy_worker_fails_abandoned_jobs(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    """While running a long job, a worker still checks its queues for dead workers' jobs (every
    a quarter interval, 0.25 s here) and fails them."""
    long_job = queue.enqueue('rqtest_introspect.wait_for_key', 'release', 60)  # runs until the watcher is done
    abandoned = queue.enqueue(rqtest_jobs.add, 1)
    connection.lrem('rq:queue:default', 0, abandoned.id)
    worker = worker_class([queue], job_monitoring_interval=1)
    seen: dict[str, Any] = {}

    def abandon_then_watch() -> None:
        try:
            if not wait_until(lambda: worker.get_current_job_id() == long_job.id, timeout=30):
                return
            connection.hset(abandoned.key, mapping={'status': 'started', 'worker_name': 'dead-worker'})
            connection.zadd('rq:wip:default', {f'{abandoned.id}:{"0" * 32}': time.time() - 1})
            seen['failed'] = wait_until(lambda: connection.hget(abandoned.key, 'status') == b'failed', timeout=30)
            seen['still_busy'] = worker.get_current_job_id() == long_job.id
        finally:
            connection.set('release', 'go')

    thread = threading.Thread(target=abandon_then_watch, daemon=True)
    thread.start()
    worker.work(burst=True)
    thread.join()
    assert seen == {'failed': True, 'still_busy': True}
    (entry,) = stream(connection, abandoned.id)
    assert entry['type'] == '2' and entry['worker_name'] == ''
    assert 'AbandonedJobError' in decode_exc(entry['exc_string'])
    assert long_job.get_status(refresh=True) == JobStatus.FINISHED


# -- bad jobs -------------------------------------------------------------------------------


def test_unimportable_function_fails_and_the_worker_goes_on(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    missing_module = queue.enqueue('rqtest_no_such_module.func')
    missing_attr = queue.enqueue(rqtest_jobs.add, 1)  # then made to name a function that does not exist
    payload = ('rqtest_jobs.no_such_function', None, (1,), {})
    connection.hset(missing_attr.key, 'data', zlib.compress(pickle.dumps(payload)))
    good = queue.enqueue(rqtest_jobs.add, 1)
    worker = run_burst(worker_class, queue)
    assert missing_module.get_status(refresh=True) == JobStatus.FAILED
    assert 'rqtest_no_such_module' in decode_exc(stream(connection, missing_module.id)[0]['exc_string'])
    assert missing_attr.get_status(refresh=True) == JobStatus.FAILED
    assert 'no_such_function' in decode_exc(stream(connection, missing_attr.id)[0]['exc_string'])
    assert good.get_status(refresh=True) == JobStatus.FINISHED
    counters = text_hash(connection, worker.key)
    assert (counters['successful_job_count'], counters['failed_job_count']) == ('1', '2')
    assert_execution_gone(connection, missing_module.id)


def test_undecodable_data_fails_with_the_reason_and_the_worker_goes_on(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    corrupt = queue.enqueue(rqtest_jobs.add, 1)
    connection.hset(corrupt.key, 'data', b'\x00not a pickle at all')
    good = queue.enqueue(rqtest_jobs.add, 2)
    run_burst(worker_class, queue)
    assert connection.hget(corrupt.key, b'status') == b'failed'
    assert connection.zscore('rq:failed:default', corrupt.id) is not None
    (entry,) = stream(connection, corrupt.id)
    assert entry['type'] == '2'
    assert 'Deserialization' in decode_exc(entry['exc_string'])
    assert good.get_status(refresh=True) == JobStatus.FINISHED
    assert connection.zcard('rq:wip:default') == 0


def test_job_hash_deleted_while_queued_is_skipped(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    gone = queue.enqueue(rqtest_jobs.add, 1)
    good = queue.enqueue(rqtest_jobs.add, 2)
    connection.delete(gone.key)
    worker = run_burst(worker_class, queue)
    assert not connection.exists(gone.key)
    assert not connection.exists(f'rq:results:{gone.id}')
    assert connection.zscore('rq:failed:default', gone.id) is None
    assert connection.llen('rq:queue:default') == 0
    assert good.get_status(refresh=True) == JobStatus.FINISHED
    assert text_hash(connection, worker.key)['successful_job_count'] == '1'
    assert 'failed_job_count' not in text_hash(connection, worker.key)


def test_job_deleted_while_running_leaves_nothing_behind(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    """The job deletes its own hash: the worker records nothing for it (no finished entry, no
    result, no resurrected hash) but still ends the execution."""
    job = queue.enqueue(rqtest_jobs_worker.delete_own_hash)
    run_burst(worker_class, queue)
    assert not connection.exists(job.key)
    assert connection.zscore('rq:finished:default', job.id) is None
    assert not connection.exists(f'rq:results:{job.id}')
    assert_execution_gone(connection, job.id)

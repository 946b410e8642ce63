"""Redis going away under a worker: restarts, crashes, dropped connections and lost replies.

The worker must reconnect (backing off), finish every job, and never take or record a job twice
because a command was sent again after its reply was lost.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from crash_support import PersistentRedisServer, ProcessGuard, census, output_of, start_victim, wait_for_worker
from lost_replies import LoseReply, losing_connection
from redis_events import blocked_clients
from redis_server import RedisServer
from rq import Queue
from rq._redis import scripts
from rq.worker import SimpleWorker, Worker
from worker_process import wait_until

pytestmark = pytest.mark.timeout(180)  # (a guard against hangs only)


def count(connection: redis.Redis, kind: str, names: list[str]) -> int:
    """Entries of the ``kind`` registries of ``names``; -1 while the test's own connection is broken
    by the restart (redis-py before 6 does not retry it: the next call reconnects)."""
    try:
        return sum(int(connection.zcard(f'rq:{kind}:{name}')) for name in names)
    except redis.exceptions.ConnectionError:
        return -1


# -- Redis restarts or crashes mid-run ----------------------------------------------------------

RESTARTS = [
    ('restart', 'Worker', ['default']),
    ('crash', 'Worker', ['high', 'default']),
    ('restart', 'SimpleWorker', ['high', 'default']),
    ('crash', 'SimpleWorker', ['default']),
]


@pytest.mark.parametrize(
    ('how', 'worker_class', 'queue_names'), RESTARTS, ids=[f'{h}-{c}-{len(q)}q' for h, c, q in RESTARTS]
)
def test_a_worker_rides_out_a_redis_restart(
    persistent: PersistentRedisServer,
    guard: ProcessGuard,
    tmp_path: Path,
    how: str,
    worker_class: str,
    queue_names: list[str],
) -> None:
    """Redis goes away for a second in the middle of a run (shut down, or SIGKILLed: the AOF keeps
    every write); the worker reconnects and finishes every job, each exactly once."""
    connection = redis.Redis(port=persistent.port)
    queues = [Queue(name, connection=connection) for name in queue_names]
    total = 40
    runs = tmp_path / 'runs'
    jobs = [queues[i % len(queues)].enqueue('rqtest_jobs_crash.note_run', str(runs), i, 0.05) for i in range(total)]
    # (Heartbeat interval 1 s: on a loaded machine the outage may outlast the started entry of the
    # job held at that moment; the worker must still run that job, once.)
    worker = guard.add(start_victim(persistent.port, queue_names, worker_class, name='survivor'))
    try:
        assert wait_until(lambda: count(connection, 'finished', queue_names) >= total // 4, 60)
        if how == 'crash':
            persistent.kill()
        else:
            persistent.stop()
        time.sleep(1.0)
        persistent.start()
        assert wait_until(lambda: count(connection, 'finished', queue_names) == total, 60, 0.1), census(
            connection, queue_names, [job.id for job in jobs]
        ).places
        assert worker.poll() is None, 'the worker must keep going'
    except BaseException:
        print(output_of(worker))
        raise
    found = census(connection, queue_names, [job.id for job in jobs])
    assert found.problems == [] and found.count('finished') == total
    assert sorted(int(line) for line in runs.read_text().split()) == list(range(total))  # each ran once
    assert connection.hget('rq:worker:survivor', 'state') in (b'idle', b'busy')
    connection.close()


def test_a_worker_started_while_redis_is_loading_or_down_waits_for_it(
    persistent: PersistentRedisServer, guard: ProcessGuard
) -> None:
    """Redis goes away while the worker waits for jobs, for longer than a backoff step: jobs
    pushed after it came back are taken."""
    connection = redis.Redis(port=persistent.port)
    worker = guard.add(start_victim(persistent.port, ['a', 'b'], 'Worker', name='waiter'))
    assert wait_for_worker(connection, 'waiter')
    persistent.stop()
    time.sleep(2.5)
    persistent.start()
    jobs = [Queue(name, connection=connection).enqueue('rqtest_jobs_crash.short', 42) for name in ('a', 'b')]
    assert wait_until(lambda: count(connection, 'finished', ['a', 'b']) == 2, 60, 0.05), output_of(worker)
    assert census(connection, ['a', 'b'], [job.id for job in jobs]).count('finished') == 2
    connection.close()


@pytest.mark.parametrize(
    ('worker_class', 'queue_names'),
    [(Worker, ['default']), (SimpleWorker, ['a', 'b'])],
    ids=['Worker-1q', 'SimpleWorker-2q'],
)
def test_an_idle_worker_outlasts_its_connections_socket_timeout(
    connection: redis.Redis, redis_server: RedisServer, worker_class: type[Worker], queue_names: list[str]
) -> None:
    """redis-py (6+) gives connections a socket timeout (5 s by default): waiting for jobs with a
    longer blocking command would end in TimeoutError, which stops a worker. It waits in shorter
    steps instead, and still takes a job the moment it comes."""
    client = redis.Redis(port=redis_server.port, socket_timeout=1)
    worker = worker_class(queue_names, connection=client)  # default interval: maintenance due in 22 s
    pushed: list[float] = []

    def push() -> None:
        Queue(queue_names[-1], connection=connection).enqueue('rqtest_jobs_crash.short', 42)
        pushed.append(time.monotonic())

    timer = threading.Timer(3.0, push)  # three socket timeouts into the wait
    timer.start()
    started = time.monotonic()
    try:
        assert worker.work(max_jobs=1, max_idle_time=60)  # it took the job (and no TimeoutError stopped it)
    finally:
        timer.cancel()
        client.close()
    assert time.monotonic() - started >= 2.9
    assert connection.zcard(f'rq:finished:{queue_names[-1]}') == 1
    assert pushed


def test_the_socket_timeout_of_a_url_connection_is_honoured(redis_server: RedisServer) -> None:
    """``Redis.from_url`` (redis-py 8) keeps the 5 s default socket timeout out of the pool's keyword
    arguments, but its connections use it: a worker must still wait in steps shorter than the
    timeout its sockets really have (it used to block for 405 s, hit the timeout after 5 s and quit).
    Older redis-py versions give URL connections no timeout at all: then nothing limits the wait."""
    from rq.worker.waiting import QueueWaiter

    for url in (
        f'redis://127.0.0.1:{redis_server.port}/0',
        f'redis://127.0.0.1:{redis_server.port}/0?socket_timeout=2',
    ):
        client = redis.Redis.from_url(url)
        try:
            client.ping()
            [pooled] = client.connection_pool._available_connections
            socket_timeout = pooled.socket_timeout
            waited = QueueWaiter(client, can_block=True)._blocking(405)
            if socket_timeout is None:
                assert waited == 405
            else:
                assert 0 < waited < socket_timeout
        finally:
            client.close()
    assert 'socket_timeout=2' in url and socket_timeout == 2


# -- dropped connections -------------------------------------------------------------------------


def kill_clients(connection: redis.Redis, by: str) -> int:
    """``CLIENT KILL TYPE normal SKIPME yes`` (by='type'), or CLIENT KILL of every connection
    named after the worker 'target' (by='name'; the name is on its command channel)."""
    if by == 'type':
        return int(connection.client_kill_filter(_type='normal', skipme=True))
    killed = 0
    for client in connection.client_list():
        if client.get('name') == 'target':
            killed += int(connection.client_kill_filter(_id=client['id']))
    return killed


KILLS = [
    *[('type', cls, queues) for cls in ('Worker', 'SimpleWorker') for queues in (['default'], ['a', 'b'])],
    ('type', 'SpawnWorker', ['default']),
    ('name', 'Worker', ['a', 'b']),
    ('name', 'SimpleWorker', ['default']),
]


@pytest.mark.parametrize(('by', 'worker_class', 'queue_names'), KILLS, ids=[f'{b}-{c}-{len(q)}q' for b, c, q in KILLS])
def test_a_worker_whose_connections_are_killed_keeps_going(
    connection: redis.Redis,
    redis_server: RedisServer,
    guard: ProcessGuard,
    worker_class: str,
    queue_names: list[str],
    by: str,
) -> None:
    """CLIENT KILL while the worker waits for jobs, then while a job runs: no job is lost, the
    worker goes on."""
    worker = guard.add(start_victim(redis_server.port, queue_names, worker_class, name='target'))
    assert wait_for_worker(connection, 'target', 60)
    # waiting (blocked) now: one BLMOVE per queue
    assert wait_until(lambda: blocked_clients(connection, 'blmove') == len(queue_names), 60), output_of(worker)
    assert kill_clients(connection, by) >= 1
    queues = [Queue(name, connection=connection) for name in queue_names]
    first = [queue.enqueue('rqtest_jobs_crash.short', 42) for queue in queues]
    assert wait_until(lambda: count(connection, 'finished', queue_names) == len(first), 60), output_of(worker)

    running = queues[-1].enqueue('rqtest_jobs_crash.crash_target', 'runs', 'done', 0, 1.6)
    assert wait_until(lambda: connection.llen('runs:pids') >= 1, 60)
    time.sleep(0.2)
    killed = kill_clients(connection, by)
    time.sleep(1.0)  # a heartbeat on a fresh connection
    killed += kill_clients(connection, by)
    assert killed >= (1 if by == 'type' else 0)
    after = [queue.enqueue('rqtest_jobs_crash.short', 42) for queue in queues]
    every = [*first, running, *after]
    total = len(every)
    assert wait_until(lambda: count(connection, 'finished', queue_names) == total, 60), output_of(worker)
    found = census(connection, queue_names, [job.id for job in every])
    assert found.problems == [] and found.count('finished') == total
    assert connection.get('runs') == b'1'
    assert worker.poll() is None


# -- lost replies ------------------------------------------------------------------------------


WORKERS = [Worker, SimpleWorker]


@pytest.mark.parametrize('worker_class', WORKERS)
@pytest.mark.parametrize('retries', [True, False], ids=['redis-py-resends', 'worker-resends'])
def test_a_claim_whose_reply_is_lost_takes_the_same_job_again(
    connection: redis.Redis, redis_server: RedisServer, worker_class: type[Worker], retries: bool
) -> None:
    """The claim ran but its reply was lost; the claim is sent again (by redis-py, or by the
    worker after backing off): it returns the job taken the first time instead of taking another
    and leaving the first started with nobody running it."""
    queue = Queue(connection=connection)
    jobs = [queue.enqueue('rqtest_jobs_crash.crash_target', f'runs:{i}') for i in range(3)]
    connection.script_load(scripts.source('claim_job'))
    lossy = losing_connection(redis_server.port, [scripts.sha('claim_job').encode()], retries=retries)
    worker = worker_class([Queue(connection=lossy)], connection=lossy, job_monitoring_interval=1)
    worker.first_reconnect_delay = 0.05
    worker.work(burst=True)
    assert LoseReply.plan['lost'] == 1
    found = census(connection, ['default'], [job.id for job in jobs])
    assert found.problems == [] and found.count('finished') == 3, found.places
    assert [connection.get(f'runs:{i}') for i in range(3)] == [b'1'] * 3
    assert connection.zcard('rq:wip:default') == 0


@pytest.mark.parametrize('worker_class', WORKERS)
@pytest.mark.parametrize(
    'retries',
    [
        True,
        False,
    ],
    ids=['redis-py-resends', 'worker-resends'],
)
def test_a_success_whose_reply_is_lost_is_recorded_once(
    connection: redis.Redis, redis_server: RedisServer, worker_class: type[Worker], retries: bool
) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs_crash.short', 42)
    connection.script_load(scripts.source('finish_job'))
    lossy = losing_connection(redis_server.port, [scripts.sha('finish_job').encode()], retries=retries)
    # (an interval long enough that the worker hash, which the counters are read from, outlives a
    # slow teardown on a loaded machine: it lives 1.5 intervals after the last claim or heartbeat)
    worker = worker_class([Queue(connection=lossy)], connection=lossy, job_monitoring_interval=10, name='w')
    worker.first_reconnect_delay = 0.05
    worker.work(burst=True)
    assert LoseReply.plan['lost'] == 1
    assert connection.hget(job.key, 'status') == b'finished'
    assert connection.xlen(f'rq:results:{job.id}') == 1
    assert connection.zcard('rq:finished:default') == 1 and connection.zcard('rq:wip:default') == 0
    assert connection.hget('rq:worker:w', 'successful_job_count') == b'1'


@pytest.mark.parametrize('worker_class', WORKERS)
@pytest.mark.parametrize(
    'retries',
    [
        True,
        False,
    ],
    ids=['redis-py-resends', 'worker-resends'],
)
def test_a_failure_whose_reply_is_lost_is_recorded_once(
    connection: redis.Redis, redis_server: RedisServer, worker_class: type[Worker], retries: bool
) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs.fail', 'boom')
    lossy = losing_connection(redis_server.port, [b'EXEC', b'rq:failed:default', job.id.encode()], retries=retries)
    # (an interval long enough that the worker hash, which the counters are read from, outlives a
    # slow teardown on a loaded machine: it lives 1.5 intervals after the last claim or heartbeat)
    worker = worker_class([Queue(connection=lossy)], connection=lossy, job_monitoring_interval=10, name='w')
    worker.first_reconnect_delay = 0.05
    worker.work(burst=True)
    assert LoseReply.plan['lost'] == 1
    assert connection.hget(job.key, 'status') == b'failed'
    assert connection.xlen(f'rq:results:{job.id}') == 1
    assert connection.zcard('rq:failed:default') == 1 and connection.zcard('rq:wip:default') == 0
    assert connection.hget('rq:worker:w', 'failed_job_count') == b'1'

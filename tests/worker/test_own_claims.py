"""A worker never loses, nor fails as abandoned, a job it holds itself.

A worker holds a job from the moment a claim took it: while it runs it, while it records it, when it
claimed it ahead (with the previous job's recording), and when the reply to the claim was lost (the
claim is then sent again with the same execution id, and must return that same job). An outage of
Redis may outlast the worker hash (its ``current_job`` is how a claim sent again used to find its
job) and the started entries (which the worker's own look for abandoned jobs used to fail). These
tests drive those sequences step by step: the outage is its effect on the data (the worker hash
deleted, the started entries' expiry put in the past), nothing depends on timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry

from crash_support import census
from redis_server import RedisServer
from rq import Queue
from rq._redis import scripts, worker_ops
from rq.job import Job
from rq.worker import SimpleWorker, Worker
from rq.worker.maintenance import Maintenance

CLAIM = scripts.sha('claim_job').encode()
FINISH = scripts.sha('finish_job').encode()


def _data(command: Any) -> bytes:
    chunks = [command] if isinstance(command, (bytes, str, memoryview)) else list(command)
    return b''.join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)


class Outage(redis.connection.Connection):
    """A connection that breaks once, where :attr:`plan` says:

    - ``'claim-reply'``: after Redis ran a claim that took a job, before its reply reaches the
      worker (the reply is read, then dropped as the connection breaks);
    - ``'finish-alone'``: before a success is recorded on its own (the send fails: nothing ran).

    At the break, ``during`` runs: what the outage did to the data meanwhile."""

    plan: ClassVar[dict[str, Any]] = {}

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        data = _data(command)
        plan = Outage.plan
        if plan.get('at') == 'finish-alone' and FINISH in data and CLAIM not in data:
            plan['at'] = None
            self._break()
        super().send_packed_command(command, check_health)
        self._sent_claim = CLAIM in data

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        reply = super().read_response(*args, **kwargs)  # (an error reply, NOSCRIPT: nothing ran)
        plan = Outage.plan
        took = worker_ops.claimed_job(reply) if getattr(self, '_sent_claim', False) else None
        if plan.get('at') == 'claim-reply' and took is not None:
            plan['at'] = None
            plan['lost'] = took[1]
            self._break()
        return reply

    def _break(self) -> None:
        Outage.plan['during']()
        self.disconnect()
        raise redis.ConnectionError('connection lost (test)')


def outage_connection(port: int, at: str, during: Callable[[], None], redis_py_retries: int = 0) -> redis.Redis:
    Outage.plan = {'at': at, 'during': during, 'lost': None}
    retry = RedisRetry(NoBackoff(), redis_py_retries)
    pool = redis.ConnectionPool(host='127.0.0.1', port=port, connection_class=Outage, retry=retry)
    return redis.Redis(connection_pool=pool)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / 'runs'


def ran(runs: Path) -> list[int]:
    return sorted(int(line) for line in runs.read_text().split()) if runs.exists() else []


def enqueue(queue: Queue, runs: Path, count: int) -> list[Job]:
    return [queue.enqueue('rqtest_jobs_crash.note_run', str(runs), i) for i in range(count)]


def claimed_id(reply: Any) -> str:
    """The id of the job a claim of queue 'default' took."""
    decoded = worker_ops.decode_claim(['default'], reply)
    assert isinstance(decoded, tuple)
    return decoded[1]


def expire_started(connection: redis.Redis, queue_name: str = 'default') -> None:
    """The outage outlasted every started entry: their expiry is in the past."""
    key = f'rq:wip:{queue_name}'
    past = time.time() - 60
    connection.zadd(key, {member: past for member in connection.zrange(key, 0, -1)}, xx=True)


@pytest.fixture
def stop_heartbeats() -> Iterator[list[Any]]:
    workers: list[Any] = []
    yield workers
    for worker in workers:
        heartbeat = getattr(worker, '_heartbeat_thread', None)
        if heartbeat is not None:
            heartbeat.close()


# -- a claim sent again after its reply was lost --------------------------------------------------


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker])
@pytest.mark.parametrize('resent_by', ['worker', 'redis-py'])
def test_a_claim_sent_again_after_the_worker_hash_expired_takes_the_same_job(
    connection: redis.Redis, redis_server: RedisServer, runs: Path, worker_class: type[Worker], resent_by: str
) -> None:
    """The claim of the first job ran, its reply was lost, and the outage outlasted the worker hash
    (and the started entry). The claim sent again (by the worker after backing off, or by redis-py
    at once: its script was not loaded, so it went through redis-py's own command path) returns
    the first job: it is not left started with nobody running it while the next one is taken."""
    queue = Queue(connection=connection)
    jobs = enqueue(queue, runs, 3)
    if resent_by == 'worker':
        connection.script_load(scripts.source('claim_job'))
    else:
        connection.script_flush()

    def outage() -> None:
        connection.delete('rq:worker:w')
        expire_started(connection)

    lossy = outage_connection(
        redis_server.port, 'claim-reply', outage, redis_py_retries=3 if resent_by == 'redis-py' else 0
    )
    worker = worker_class([Queue(connection=lossy)], connection=lossy, job_monitoring_interval=1, name='w')
    worker.first_reconnect_delay = 0.01
    try:
        worker.work(burst=True)
    finally:
        lossy.close()
    assert Outage.plan['lost'] == jobs[0].id
    found = census(connection, ['default'], [job.id for job in jobs])
    assert found.places == {job.id: 'finished' for job in jobs}, found.places
    assert ran(runs) == [0, 1, 2]  # each ran once
    assert connection.zcard('rq:wip:default') == 0


def test_a_claim_sent_again_renews_the_execution_the_outage_let_expire(connection: redis.Redis) -> None:
    """What the lost claim wrote and the outage let expire (the worker hash, the execution hash) is
    written again by the claim sent again, and its started entry lives one ttl more."""
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs.say_hello')
    first = worker_ops.claim_job(
        connection, ['default'], 'w', 'e1', '2026-01-01T00:00:00.000000Z', '1767225600.0', 1767225600, 1.5
    )
    assert claimed_id(first) == job.id
    connection.delete('rq:worker:w', f'rq:execution:{job.id}:e1')
    moment = time.time()
    again = worker_ops.claim_job(
        connection, ['default'], 'w', 'e1', '2026-01-01T00:00:09.000000Z', repr(moment), int(moment), 1.5, resend=True
    )
    assert claimed_id(again) == job.id
    assert connection.zrange('rq:wip:default', 0, -1, withscores=True) == [
        (f'{job.id}:e1'.encode(), pytest.approx(moment + 1.5))
    ]
    assert connection.hget('rq:worker:w', 'current_job') == job.id.encode()
    assert connection.hget('rq:worker:w', 'state') == b'busy'
    assert connection.hgetall(f'rq:execution:{job.id}:e1').keys() == {
        b'id',
        b'job_id',
        b'created_at',
        b'last_heartbeat',
        b'worker_name',
    }
    assert connection.ttl(f'rq:execution:{job.id}:e1') > 0


def test_a_claim_sent_again_never_takes_another_executions_job(connection: redis.Redis) -> None:
    """The whole execution id is what identifies a claim sent again: another worker's started
    entry whose execution id merely ends like this one is not taken for it."""
    queue = Queue(connection=connection)
    first, second = (queue.enqueue('rqtest_jobs.say_hello') for _ in range(2))
    worker_ops.claim_job(connection, ['default'], 'other', 'xe2', '2026-01-01T00:00:00.000000Z', '1.0', 1, 1.5)
    reply = worker_ops.claim_job(
        connection, ['default'], 'w', 'e2', '2026-01-01T00:00:00.000000Z', '1.0', 1, 1.5, resend=True
    )
    assert claimed_id(reply) == second.id
    assert sorted(connection.zrange('rq:wip:default', 0, -1)) == sorted(
        [f'{first.id}:xe2'.encode(), f'{second.id}:e2'.encode()]
    )


def test_a_claim_ahead_sent_while_a_claim_is_unanswered_reuses_its_execution_id(
    connection: redis.Redis, redis_server: RedisServer, runs: Path, stop_heartbeats: list[Any]
) -> None:
    """After a restart of Redis only the claim's script was loaded again: the success of the first
    job and the claim of the next one are sent together; the claim runs (it takes the second job),
    the success does not (unknown script), and the connection breaks as the success is sent again
    on its own. The worker records the success again, with a claim: that claim is the unanswered
    one sent again, and returns the second job instead of taking the third."""
    queue = Queue(connection=connection)
    jobs = enqueue(queue, runs, 3)
    lossy = outage_connection(redis_server.port, 'finish-alone', lambda: None)
    worker = SimpleWorker([Queue(connection=lossy)], connection=lossy, job_monitoring_interval=600, name='w')
    stop_heartbeats.append(worker)
    worker.first_reconnect_delay = 0.01
    worker.maintenance = Maintenance(worker)
    worker.maintenance.run_due(worker)  # (next due in 150 s: meanwhile every success claims ahead)
    worker._may_claim_ahead = True  # (as work() sets it with the default dequeue strategy)
    claimed = worker.claim()
    assert isinstance(claimed, tuple) and claimed[0].id == jobs[0].id
    connection.script_flush()
    connection.script_load(scripts.source('claim_job'))
    worker.execute_job(*claimed)
    assert Outage.plan['at'] is None  # the connection broke where planned
    for expected in jobs[1:]:
        claimed = worker.claim()
        assert isinstance(claimed, tuple) and claimed[0].id == expected.id
        worker.execute_job(*claimed)
    assert worker.claim() is None
    lossy.close()
    found = census(connection, ['default'], [job.id for job in jobs])
    assert found.places == {job.id: 'finished' for job in jobs}, found.places
    assert ran(runs) == [0, 1, 2]
    assert connection.zcard('rq:wip:default') == 0


# -- the look for abandoned jobs spares the worker's own ------------------------------------------


HELD = ['running', 'claimed-ahead', 'claim-unanswered']


@pytest.mark.parametrize('held', HELD)
def test_a_worker_never_fails_a_job_it_holds_as_abandoned(
    connection: redis.Redis, redis_server: RedisServer, runs: Path, stop_heartbeats: list[Any], held: str
) -> None:
    """The worker holds a job (it runs it, claimed it ahead, or its claim's reply was lost); an
    outage outlasted that job's started entry and the worker hash. The worker's own look for
    abandoned jobs renews the entry rather than failing the job, and the worker then runs it to
    the end. A dead worker's expired job in the same registry is failed by the same look."""
    queue = Queue(connection=connection)
    dead = queue.enqueue('rqtest_jobs_crash.note_run', str(runs), 99)
    moment = time.time()
    worker_ops.claim_job(
        connection, ['default'], 'dead', 'e-dead', '2026-01-01T00:00:00.000000Z', repr(moment), int(moment), 600
    )
    jobs = enqueue(queue, runs, 2)
    lossy = outage_connection(redis_server.port, 'claim-reply' if held == 'claim-unanswered' else '', lambda: None)
    worker = SimpleWorker([Queue(connection=lossy)], connection=lossy, job_monitoring_interval=1, name='w')
    stop_heartbeats.append(worker)
    maintenance = worker.maintenance = Maintenance(worker)

    if held == 'running':
        claimed = worker.claim()
        assert isinstance(claimed, tuple)
        holds = claimed[0].id
    elif held == 'claimed-ahead':
        worker._may_claim_ahead = True  # (as work() sets it with the default dequeue strategy)
        worker.job_monitoring_interval = 600  # (no look due while the first job is recorded: it claims ahead)
        maintenance.run_due(worker)
        claimed = worker.claim()
        assert isinstance(claimed, tuple)
        worker.execute_job(*claimed)
        assert worker.holds_claimed_job
        worker.job_monitoring_interval = 1
        holds = jobs[1].id
    else:
        with pytest.raises(redis.ConnectionError):
            worker.claim()
        holds = Outage.plan['lost']
        assert holds == jobs[0].id
    connection.delete('rq:worker:w')
    expire_started(connection)

    maintenance.fail_abandoned_jobs()

    assert connection.hget(f'rq:job:{holds}', 'status') == b'started'
    [(member, score)] = connection.zrange('rq:wip:default', 0, -1, withscores=True)
    assert member.decode().startswith(f'{holds}:') and score > time.time()
    assert connection.hget(f'rq:job:{dead.id}', 'status') == b'failed'  # (the dead worker's)
    assert connection.zrange('rq:failed:default', 0, -1) == [dead.id.encode()]

    if held == 'running':
        worker.execute_job(*claimed)
    while (claimed := worker.claim()) is not None:
        assert isinstance(claimed, tuple)
        worker.execute_job(*claimed)
    lossy.close()
    found = census(connection, ['default'], [job.id for job in jobs])
    assert found.places == {job.id: 'finished' for job in jobs}, found.places
    assert ran(runs) == [0, 1]  # (the dead worker's job never ran)
    assert connection.zcard('rq:wip:default') == 0

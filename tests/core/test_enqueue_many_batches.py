"""``enqueue_many`` without a caller's pipeline: plain jobs placed in batches (``enqueue_batch``),
the others one by one (``enqueue``), all streamed on one connection.

The Redis data must be what one enqueue per job writes (field order included, timestamps
excepted); order, at_front, TTLs, groups and dependencies inside the same call hold across batch
boundaries; a batch call sent twice pushes once; NOSCRIPT and lost connections leave nothing lost
or doubled unseen; memory per job stays flat as the number of jobs grows.
"""

from __future__ import annotations

import gc
import re
import time
import tracemalloc
from collections import deque
from typing import Any, ClassVar

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry

import rqtest_jobs
from redis_server import RedisServer
from rq import Callback, Queue, Repeat, Retry, Webhook
from rq import _bulk_enqueue as bulk
from rq._redis import batch_ops, scripts
from rq._redis.pool import checkout
from rq.job import JobStatus
from rq.queue import EnqueueData

TIMESTAMPS = {'created_at', 'enqueued_at', 'signature'}


def dump(connection: redis.Redis) -> dict[str, Any]:
    """Every key but the call tokens: type, TTL, encoding and value; hashes as their fields in
    order with timestamps masked."""
    out: dict[str, Any] = {}
    for key in sorted(connection.keys('*')):
        if key.startswith(b'rq:enqueue-token:'):
            continue
        kind = connection.type(key).decode()
        entry: dict[str, Any] = {
            'type': kind,
            'ttl': connection.ttl(key),
            'encoding': connection.object('encoding', key),
        }
        if kind == 'hash':
            raw = connection.hgetall(key)
            entry['value'] = [(f.decode(), '<t>' if f.decode() in TIMESTAMPS else v) for f, v in raw.items()]
        elif kind == 'list':
            entry['value'] = connection.lrange(key, 0, -1)
        elif kind == 'set':
            entry['value'] = sorted(connection.smembers(key))
        elif kind == 'zset':
            entry['value'] = connection.zrange(key, 0, -1)
        out[key.decode()] = entry
    return out


def assert_same(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    assert sorted(ours) == sorted(reference)
    for key, entry in ours.items():
        other = reference[key]
        assert abs(entry.pop('ttl') - other.pop('ttl')) <= 2, key
        assert entry == other, key


def queue_ids(connection: redis.Redis, name: str = 'default') -> list[str]:
    return [i.decode() for i in connection.lrange(f'rq:queue:{name}', 0, -1)]


def varied(prefix: str, count: int) -> list[Any]:
    """Jobs with every option a plain job can have, some at the queue's head."""
    datas = []
    for n in range(count):
        options: dict[str, Any] = {'job_id': f'{prefix}{n}', 'at_front': n % 7 == 3}
        kind = n % 6
        if kind == 1:
            options.update(timeout='1h', result_ttl=10, failure_ttl=300, ttl=600, description='described')
        elif kind == 2:
            options.update(meta={'n': n}, retry=Retry(max=2, interval=[1, 5]), kwargs={'b': n})
        elif kind == 3:
            options.update(on_success=Callback(rqtest_jobs.record_success), on_failure=Callback('x.y', timeout=5))
        elif kind == 4:
            options.update(repeat=Repeat(times=2, interval=30), ttl=50)
        elif kind == 5:
            options.update(webhooks=[Webhook('https://example.test/done', 'finished')], on_stopped=Callback('x.z'))
        datas.append(Queue.prepare_data(rqtest_jobs.add, (n,), **options))
    return datas


def test_enqueue_many_forwards_every_field() -> None:
    """``_bulk_enqueue.build`` names each field of EnqueueData when it builds the jobs: a new field
    must be added there too (then here)."""
    assert EnqueueData._fields == (
        'func', 'args', 'kwargs', 'timeout', 'result_ttl', 'ttl', 'failure_ttl', 'description', 'depends_on',
        'job_id', 'at_front', 'meta', 'retry', 'on_success', 'on_failure', 'on_stopped', 'repeat', 'webhooks',
    )  # fmt: skip


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 10)


def test_same_data_as_single_enqueues(connection: redis.Redis, small_batches: None) -> None:
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.say_hello, job_id='old')
    datas = varied('j', 45)
    for data in datas:
        queue.enqueue_call(**data._asdict())
    reference = dump(connection)
    connection.flushall()
    queue.enqueue(rqtest_jobs.say_hello, job_id='old')

    jobs = queue.enqueue_many(varied('j', 45))

    assert_same(dump(connection), reference)
    assert [job.id for job in jobs] == [f'j{n}' for n in range(45)]
    assert all(job.get_status(refresh=False) == JobStatus.QUEUED for job in jobs)
    stored = {job.id: connection.hget(job.key, 'enqueued_at') for job in jobs}
    assert all(stored[job.id] == job.enqueued_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ').encode() for job in jobs)  # type: ignore[union-attr]


@pytest.mark.parametrize('group_id', [None, 'grp'])
def test_same_data_as_the_per_job_script(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch, small_batches: None, group_id: str | None
) -> None:
    queue = Queue(connection=connection)
    # sets that the job's ttl reaches (enqueue.lua expires them with the job)
    connection.sadd('rq:job:j4:dependents', 'someone')
    connection.sadd('rq:job::j4:dependencies', 'something')
    with monkeypatch.context() as patch:
        patch.setattr(bulk, '_is_plain', lambda job: False)
        queue.enqueue_many(varied('j', 33), group_id=group_id)
    reference = dump(connection)
    connection.flushall()
    connection.sadd('rq:job:j4:dependents', 'someone')
    connection.sadd('rq:job::j4:dependencies', 'something')

    queue.enqueue_many(varied('j', 33), group_id=group_id)

    ours = dump(connection)
    assert_same(ours, reference)
    assert 0 < connection.ttl('rq:job:j4:dependents') <= 50
    assert 0 < connection.ttl('rq:job::j4:dependencies') <= 50
    if group_id:
        assert ours['rq:group:grp']['value'] == sorted(f'j{n}'.encode() for n in range(33))
        assert ours['rq:groups']['value'] == [b'grp']


def test_order_across_batch_boundaries(connection: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 100)
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.say_hello, job_id='old')
    fronts = [n % 3 == 0 or 500 <= n < 700 for n in range(1234)]
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'o{n}', at_front=f) for n, f in enumerate(fronts)]

    jobs = queue.enqueue_many(datas)

    expected: deque[str] = deque(['old'])
    for n, front in enumerate(fronts):
        if front:
            expected.appendleft(f'o{n}')
        else:
            expected.append(f'o{n}')
    assert queue_ids(connection) == list(expected)
    assert len(jobs) == 1234 and all(job.enqueued_at is not None for job in jobs)
    assert len({job.enqueued_at for job in jobs}) == 13  # one moment per batch


def test_ttl(connection: redis.Redis, small_batches: None) -> None:
    queue = Queue(connection=connection)
    jobs = queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (n,), ttl=100 + n) for n in range(25)])
    for n, job in enumerate(jobs):
        assert 95 + n <= connection.ttl(job.key) <= 100 + n
        assert connection.hget(job.key, 'ttl') == str(100 + n).encode()
    plain = queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,))])[0]
    assert connection.ttl(plain.key) == -1


def test_group(connection: redis.Redis, small_batches: None) -> None:
    queue = Queue(connection=connection)
    jobs = queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (n,)) for n in range(25)], group_id='g')
    assert connection.smembers('rq:group:g') == {job.id.encode() for job in jobs}
    assert connection.smembers('rq:groups') == {b'g'}
    assert all(connection.hget(job.key, 'group_id') == b'g' for job in jobs)
    assert connection.smembers('rq:queues') == {b'rq:queue:default'}


def test_dependencies_inside_the_call(connection: redis.Redis, small_batches: None) -> None:
    queue = Queue(connection=connection)
    done = queue.enqueue(rqtest_jobs.say_hello, job_id='done')
    connection.hset(done.key, 'status', 'finished')
    datas = []
    for n in range(40):
        datas.append(Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'p{n}'))
        if n % 9 == 4:  # right after a plain job of a batch still unanswered
            datas.append(Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'c{n}', depends_on=f'p{n}'))
        if n % 13 == 0:
            datas.append(Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'd{n}', depends_on='done'))

    jobs = queue.enqueue_many(datas)

    status = {job.id: job.get_status(refresh=False) for job in jobs}
    assert {i: s for i, s in status.items() if i.startswith('c')} == {
        f'c{n}': JobStatus.DEFERRED for n in (4, 13, 22, 31)
    }
    assert all(s == JobStatus.QUEUED for i, s in status.items() if not i.startswith('c'))
    assert all(job.get_status() == status[job.id] for job in jobs)
    assert queue_ids(connection) == ['done'] + [data.job_id for data in datas if not data.job_id.startswith('c')]
    assert connection.smembers('rq:job:p13:dependents') == {b'c13'}
    assert set(queue.deferred_job_registry.get_job_ids()) == {'c4', 'c13', 'c22', 'c31'}


def test_a_batch_call_sent_again_pushes_nothing(connection: redis.Redis) -> None:
    connection.script_load(scripts.source('enqueue_batch'))
    queue = Queue(connection=connection)
    jobs = [queue.create_job(rqtest_jobs.add, (n,), job_id=f'b{n}') for n in range(3)]
    builder = batch_ops.BatchBuilder('default', None, '2030-01-01T00:00:00.000000Z', batch_ops.JobPacker())
    for job in jobs:
        builder.add((job.id, False, None, job.to_dict()))
    request = builder.unit(None).request()
    pool = connection.connection_pool
    raw = checkout(pool, 'EVALSHA')
    try:
        raw.send_packed_command([request])
        first = raw.read_response()
        raw.send_packed_command([request])
        second = raw.read_response()
    finally:
        pool.release(raw)
    assert first == second == 3
    assert queue_ids(connection) == ['b0', 'b1', 'b2']
    assert connection.hget('rq:job:b1', 'enqueued_at') == b'2030-01-01T00:00:00.000000Z'


def test_a_batch_after_a_call_that_did_not_run_writes_nothing(connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    job = queue.create_job(rqtest_jobs.add, (1,), job_id='late')
    call_keys, args = batch_ops.batch_call('default', [(job.id, False, None, job.to_dict())], 'now', None, 'tok')
    assert scripts.run('enqueue_batch', connection, [*call_keys, 'rq:enqueue-token:missing'], args) == -1
    assert connection.keys('*') == []
    connection.set('rq:enqueue-token:before', 1)
    assert scripts.run('enqueue_batch', connection, [*call_keys, 'rq:enqueue-token:before'], args) == 1
    assert queue_ids(connection) == ['late']


def test_stream_sends_again_in_order_what_did_not_run() -> None:
    def unit(name: str, tag: str) -> batch_ops.Unit:
        keys = [f'k{n}' for n in range(10)]
        keys[4 if name == 'enqueue_batch' else 9] = f'rq:enqueue-token:{tag}'
        return batch_ops.Unit(name, keys, b'', 0, tag)

    units = [unit('enqueue_batch', 'a'), unit('enqueue_batch', 'b'), unit('enqueue', 'c'), unit('enqueue_batch', 'd')]
    stream = batch_ops.Stream(iter(units), ahead=4)
    written = []
    while (request := stream.next_request()) is not None:
        written.append(request)
    assert [u.payload for u in stream.in_flight] == ['a', 'b']  # c waits: it cannot check that b ran
    assert written[1].endswith(b'$18\r\nrq:enqueue-token:a\r\n')  # b names a's token
    assert b'\r\n$2\r\n10\r\n' in written[0]  # (a names none: nothing before it)
    assert stream.received(scripts.NOT_LOADED) is None
    assert stream.received(-1) is None
    assert stream.next_request() is None and stream.stopped and stream.to_load == {'enqueue_batch'}
    stream.resume()
    order = []
    while True:
        request = stream.next_request()
        if request is not None:
            written.append(request)
            continue
        if not stream.in_flight:
            break
        done = stream.received(1)
        assert done is not None
        order.append(done[0].payload)
    assert order == ['a', 'b', 'c', 'd']


def test_after_script_flush(connection: redis.Redis, small_batches: None) -> None:
    queue = Queue(connection=connection)
    queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,), job_id='first')])
    connection.script_flush()
    queue.enqueue(rqtest_jobs.add, 2, job_id='single')  # loads enqueue, not enqueue_batch
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'f{n}') for n in range(25)]
    datas.insert(3, Queue.prepare_data(rqtest_jobs.add, (0,), job_id='child', depends_on='f2'))

    jobs = queue.enqueue_many(datas)

    assert queue_ids(connection) == ['first', 'single'] + [f'f{n}' for n in range(25)]
    assert jobs[3].get_status() == JobStatus.DEFERRED
    connection.script_flush()
    queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,), job_id='last')])
    assert queue_ids(connection)[-1] == 'last'


class Breaking(redis.connection.Connection):
    """A connection that fails on the request containing ``plan['needle']``: ``'after'`` sending it
    (it runs, the reply is lost), ``'before'`` (it never reaches Redis), ``'down'`` like before and
    the server stays out of reach afterwards."""

    plan: ClassVar[dict[str, Any]] = {}

    def connect(self) -> None:
        if Breaking.plan.get('down_now'):
            raise redis.ConnectionError('server out of reach (test)')
        super().connect()

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        plan = Breaking.plan
        data = b''.join(bytes(c) for c in command) if isinstance(command, list) else bytes(command)
        hit = plan.get('needle') is not None and plan['needle'] in data
        if hit and plan['mode'] in ('before', 'down'):
            plan['needle'] = None
            plan['down_now'] = plan['mode'] == 'down'
            time.sleep(0.05)  # what was sent before it runs
            self.disconnect()
            raise redis.ConnectionError('connection lost (test)')
        super().send_packed_command(command, check_health)
        if hit:
            plan['needle'] = None
            time.sleep(0.05)  # it reaches Redis and runs
            self.disconnect()
            raise redis.ConnectionError('reply lost (test)')


def breaking_queue(server: RedisServer, needle: bytes, mode: str, retries: int = 0) -> Queue:
    Breaking.plan = {'needle': needle, 'mode': mode}
    pool = redis.ConnectionPool(port=server.port, connection_class=Breaking, retry=RedisRetry(NoBackoff(), retries))
    return Queue(connection=redis.Redis(connection_pool=pool))


@pytest.mark.parametrize('mode', ['after', 'before'])
def test_lost_connection_goes_on_with_the_clients_retries(
    connection: redis.Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 100)
    queue = breaking_queue(redis_server, b'x0250', mode, retries=2)
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'x{n:04}', at_front=n == 260) for n in range(1234)]
    datas.insert(300, Queue.prepare_data(rqtest_jobs.add, (0,), job_id='child', depends_on='x0299'))

    jobs = queue.enqueue_many(datas)

    assert Breaking.plan['needle'] is None  # the connection was lost
    assert queue_ids(connection) == ['x0260'] + [f'x{n:04}' for n in range(1234) if n != 260]
    assert [job.get_status(refresh=False) for job in jobs].count(JobStatus.QUEUED) == 1234
    assert jobs[300].get_status() == JobStatus.DEFERRED


def placed_by_note(note: str) -> int:
    found = re.match(r'enqueue_many\(\) stopped part of the way\. Enqueued: (\d+) of 1234 jobs', note)
    assert found is not None, note
    return int(found.group(1))


@pytest.mark.parametrize(('mode', 'sent'), [('after', 300), ('before', 200)])
def test_lost_connection_note_names_what_was_enqueued(
    connection: redis.Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, mode: str, sent: int
) -> None:
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 100)
    connection.script_load(scripts.source('enqueue_batch'))  # (else the first batches get NOSCRIPT)
    queue = breaking_queue(redis_server, b'x0250', mode)  # in the third batch
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'x{n:04}') for n in range(1234)]

    with pytest.raises(redis.ConnectionError) as caught:
        queue.enqueue_many(datas)

    # Every batch that reached Redis has run by now (unless the machine is very slow: then the
    # fence stopped it, and the note says so); none can run later.
    [note] = caught.value.__notes__
    enqueued = placed_by_note(note)
    assert enqueued == sent or (enqueued < sent and enqueued % 100 == 0), note
    assert f'1234 jobs, positions 0-{enqueued - 1} (ids x0000 .. x{enqueued - 1:04}).' in note
    assert f'Not enqueued: {1234 - enqueued} jobs, positions {enqueued}-1233 (ids x{enqueued:04} .. x1233).' in note
    time.sleep(0.1)
    assert queue_ids(connection) == [f'x{n:04}' for n in range(enqueued)]
    tokens = [connection.get(key) for key in connection.keys('rq:enqueue-token:*')]
    assert tokens.count(batch_ops.FENCED.encode()) == (300 - enqueued) // 100  # the batches that had not run


def test_lost_connection_before_anything_ran(connection: redis.Redis, redis_server: RedisServer) -> None:
    queue = breaking_queue(redis_server, b'x0000', 'before')
    with pytest.raises(redis.ConnectionError) as caught:
        queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'x{n:04}') for n in range(1234)])
    assert caught.value.__notes__ == ['enqueue_many(): none of the 1234 jobs was enqueued.']
    assert queue_ids(connection) == []


def test_lost_connection_and_server_out_of_reach(
    connection: redis.Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_ops, 'BATCH_JOBS', 100)
    # (loaded first: on a server that does not know the script yet, the batches sent before the loss
    # get NOSCRIPT, and with the server out of reach nothing can load it and send them again)
    connection.script_load(scripts.source('enqueue_batch'))
    queue = breaking_queue(redis_server, b'x0250', 'down')
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'x{n:04}') for n in range(1234)]

    with pytest.raises(redis.ConnectionError) as caught:
        queue.enqueue_many(datas)

    [note] = caught.value.__notes__
    placed = placed_by_note(note)
    assert placed in (0, 100, 200)  # those answered before the loss; the others are unknown
    assert f'Unknown: {300 - placed} jobs, positions {placed}-299 (ids x{placed:04} .. x0299) (the connection' in note
    assert note.endswith('Not enqueued: 934 jobs, positions 300-1233 (ids x0300 .. x1233).')
    time.sleep(0.1)
    assert queue_ids(connection) == [f'x{n:04}' for n in range(200)]  # the third never reached Redis


def test_error_reply_midway(connection: redis.Redis, small_batches: None) -> None:
    connection.set('rq:job:weird', 'not a hash')
    queue = Queue(connection=connection)
    datas = [Queue.prepare_data(rqtest_jobs.add, (n,), job_id=f'e{n}') for n in range(30)]
    datas.insert(15, Queue.prepare_data(rqtest_jobs.add, (0,), job_id='bad', depends_on='weird'))

    with pytest.raises(redis.ResponseError, match='WRONGTYPE') as caught:
        queue.enqueue_many(datas)

    assert caught.value.__notes__ == [
        'enqueue_many() stopped part of the way. Enqueued: 15 of 31 jobs, positions 0-14 (ids e0 .. e14). '
        'Not enqueued: 16 jobs, positions 15-30 (ids bad .. e29).'
    ]
    assert queue_ids(connection) == [f'e{n}' for n in range(15)]


class Counting(redis.Redis):
    """A client with its own command path (not sent directly: ``scripts.direct`` is False)."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        return super().execute_command(*args, **options)


def test_client_with_its_own_command_path(
    connection: redis.Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, small_batches: None
) -> None:
    def datas() -> list[Any]:
        return [*varied('w', 25), Queue.prepare_data(rqtest_jobs.add, (1,), job_id='dep', depends_on='w3')]

    with monkeypatch.context() as patch:
        patch.setattr(bulk, '_is_plain', lambda job: False)
        Queue(connection=connection).enqueue_many(datas(), group_id='g')
    reference = dump(connection)
    connection.flushall()
    client = Counting(port=redis_server.port)
    assert not scripts.direct(client)

    jobs = Queue(connection=client).enqueue_many(datas(), group_id='g')

    assert_same(dump(connection), reference)
    assert jobs[-1].get_status(refresh=False) == JobStatus.DEFERRED
    client.close()


def traced(queue: Queue, count: int) -> tuple[float, float]:
    """Peak traced memory during ``enqueue_many`` of ``count`` no-op jobs, per job, and what of it
    was gone by the end (what the call held besides the jobs it returns), in bytes."""
    datas = [Queue.prepare_data(rqtest_jobs.add, (1,)) for _ in range(count)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        jobs = queue.enqueue_many(datas)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(jobs) == count
    return (peak - before) / count, peak - current


@pytest.mark.timeout(120)
def test_memory_per_job_is_flat(connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,)) for _ in range(100)])
    small, _ = traced(queue, 5_000)
    connection.flushall()
    large, transient = traced(queue, 50_000)
    assert large <= 1.3 * small, (small, large)
    # Besides the jobs, a few calls' packed bytes (one MULTI of 50,000 calls held ~130 MB).
    assert transient < 3_000_000, transient

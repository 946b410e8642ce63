"""Script calls run on connections held out of the client's pool (rq._redis.held_connections):
they stay the pool's, are never more than a tenth of it, survive the server closing them, are not
shared with a forked child, and close with the pool."""

from __future__ import annotations

import gc
import os
import resource
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from redis_server import RedisServer, running
from rq import Queue
from rq._redis import held_connections, scripts
from rq._redis.pool import checkout

NAME = 'held-test'


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with running(RedisServer()) as started:
        yield started


def named_clients(observer: redis.Redis) -> list[dict[str, object]]:
    return [client for client in observer.client_list() if client.get('name') == NAME]


def wait_until_closed(observer: redis.Redis) -> None:
    """Until the server has seen every connection of the producer close (it learns of it in its
    own time)."""
    deadline = time.monotonic() + 30
    while named_clients(observer) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert named_clients(observer) == []


def producer(server: RedisServer, **options: object) -> redis.Redis:
    return redis.Redis(port=server.port, client_name=NAME, **options)  # type: ignore[arg-type]


def held_id(pool: object) -> int:
    """The CLIENT ID of the connection the next script call on ``pool`` would use."""
    connection = held_connections.take(pool)
    try:
        return client_id(connection)
    finally:
        held_connections.give_back(pool, connection)


def client_id(connection: object) -> int:
    connection.send_command('CLIENT', 'ID')  # type: ignore[attr-defined]
    return int(connection.read_response())  # type: ignore[attr-defined]


def test_the_server_closing_a_held_connection_costs_no_job_and_no_error(server: RedisServer) -> None:
    observer = redis.Redis(port=server.port)
    client = producer(server)
    queue = Queue('default', connection=client)
    queue.enqueue('rqtest_jobs.add', 1, 2)
    first = held_id(client.connection_pool)
    observer.client_kill_filter(_id=str(first))

    queue.enqueue('rqtest_jobs.add', 3, 4)

    assert queue.count == 2
    assert held_id(client.connection_pool) != first


def test_a_call_after_the_server_closed_its_connection_is_sent_on_a_new_one(server: RedisServer) -> None:
    observer = redis.Redis(port=server.port)
    client = producer(server)
    client.hset('job', 'status', 'queued')
    assert scripts.call('hset_if_exists', client, ['job'], ['status', 'started']) == 1
    observer.client_kill_filter(_id=str(held_id(client.connection_pool)))

    # (a call of its own: no retry behind it, as the enqueue has)
    assert scripts.call('hset_if_exists', client, ['job'], ['status', 'finished']) == 1
    assert client.hget('job', 'status') == b'finished'


def test_a_restart_of_the_server_between_calls(server: RedisServer) -> None:
    queue = Queue('default', connection=producer(server))
    queue.enqueue('rqtest_jobs.add', 1, 2)
    server.restart()  # (nothing kept on disk: the queue starts empty)

    queue.enqueue('rqtest_jobs.add', 3, 4)

    assert queue.count == 1


def test_a_connection_past_descriptor_1023_is_looked_at_too(server: RedisServer) -> None:
    """(``select`` refuses such a descriptor; a busy web process has them.)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        client = producer(server)
        queue = Queue('default', connection=client)
        queue.enqueue('rqtest_jobs.add', 1, 2)
        connection = held_connections.take(client.connection_pool)
        assert connection._sock.fileno() > 1023
        held_connections.give_back(client.connection_pool, connection)
        queue.enqueue('rqtest_jobs.add', 3, 4)
        assert queue.count == 2
        client.close()
    finally:
        for descriptor in fillers:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_small_pool_keeps_every_connection_for_its_other_callers(server: RedisServer) -> None:
    client = producer(server, max_connections=9)
    Queue('default', connection=client).enqueue('rqtest_jobs.add', 1, 2)

    taken = [checkout(client.connection_pool, 'GET') for _ in range(9)]  # (the 10th would be refused)

    assert len(taken) == 9


def test_at_most_a_tenth_of_a_pool_is_held_whatever_the_callers(server: RedisServer) -> None:
    client = producer(server, max_connections=50)
    queue = Queue('default', connection=client)
    start = threading.Barrier(16)

    def enqueue_some() -> None:
        start.wait()
        for _ in range(20):
            queue.enqueue('rqtest_jobs.add', 1, 2)

    threads = [threading.Thread(target=enqueue_some) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert queue.count == 16 * 20
    taken = [checkout(client.connection_pool, 'GET') for _ in range(45)]  # (50 less at most 5 held)
    assert len(taken) == 45
    with pytest.raises(redis.exceptions.ConnectionError):  # (MaxConnectionsError: the pool's own bound)
        [checkout(client.connection_pool, 'GET') for _ in range(5)]


def test_closing_the_client_closes_the_held_connections_and_they_connect_again(server: RedisServer) -> None:
    observer = redis.Redis(port=server.port)
    client = producer(server)
    queue = Queue('default', connection=client)
    queue.enqueue('rqtest_jobs.add', 1, 2)
    assert held_id(client.connection_pool) in [int(str(named['id'])) for named in named_clients(observer)]

    client.close()
    wait_until_closed(observer)

    queue.enqueue('rqtest_jobs.add', 3, 4)
    assert queue.count == 2


def test_a_pool_that_is_gone_leaves_no_connection_open(server: RedisServer) -> None:
    observer = redis.Redis(port=server.port)
    client = producer(server)
    Queue('default', connection=client).enqueue('rqtest_jobs.add', 1, 2)
    assert held_id(client.connection_pool) in [int(str(named['id'])) for named in named_clients(observer)]

    del client
    gc.collect()

    wait_until_closed(observer)


def test_a_forked_child_holds_connections_of_its_own(server: RedisServer) -> None:
    client = producer(server)
    queue = Queue('default', connection=client)
    queue.enqueue('rqtest_jobs.add', 1, 2)
    pool = client.connection_pool
    parent_id = held_id(pool)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first call holds a new connection, never the parent's
        try:
            queue.enqueue('rqtest_jobs.add', 3, 4)
            os.write(write_end, b'%d' % held_id(pool))
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = int(os.read(read_end, 64))
    os.waitpid(pid, 0)
    os.close(read_end)

    assert child_id != parent_id
    assert held_id(pool) == parent_id  # (the parent's is still its own, in step with its replies)
    queue.enqueue('rqtest_jobs.add', 5, 6)
    assert queue.count == 3

"""A slot's own connection reads in blocking mode; the socket timeout it was given is kept by cutting
off an exchange that waits longer (what the worker's monitor does ten times a second).

The server is made to hold its replies with ``CLIENT PAUSE`` from another connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from redis_server import RedisServer
from rq._redis import scripts
from rq.worker.slot_link import SlotLink

LIMIT = 0.3
PAUSE_MS = 1500

CALL: scripts.ScriptCall = ('hset_if_exists', ['slot-link:hash'], ['field', 'value'])


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    connection = redis.Redis(port=redis_server.port, socket_timeout=LIMIT)
    connection.flushall()
    connection.hset('slot-link:hash', 'field', 'before')
    connection.script_load(scripts.source('hset_if_exists'))  # (a raw exchange does not load it)
    yield connection
    connection.execute_command('CLIENT', 'UNPAUSE')
    connection.close()


def test_the_socket_reads_in_blocking_mode_and_keeps_the_timeout_as_its_limit(client: redis.Redis) -> None:
    link = SlotLink(client)
    link.connect()
    assert link.connection is not None and link.connection._sock is not None
    assert link.connection._sock.gettimeout() is None
    assert link.reply_limit == LIMIT
    assert link.call_many(client, [CALL]) == [1]
    assert client.hget('slot-link:hash', 'field') == b'value'
    link.close()


def test_an_exchange_that_waits_longer_than_the_socket_timeout_is_cut_off(client: redis.Redis) -> None:
    link = SlotLink(client)
    link.connect()
    finished = threading.Event()
    cuts: list[float] = []

    def watch() -> None:  # (as the monitor does, more often)
        while not finished.is_set():
            if link.cut_if_stuck(time.monotonic()):
                cuts.append(time.monotonic())
            time.sleep(0.02)

    pauser = redis.Redis(port=client.connection_pool.connection_kwargs['port'])
    pauser.execute_command('CLIENT', 'PAUSE', PAUSE_MS, 'ALL')
    watcher = threading.Thread(target=watch)
    watcher.start()
    began = time.monotonic()
    try:
        with pytest.raises(redis.TimeoutError, match=f'no reply within {LIMIT:g} s'):
            link.call_many(client, [CALL])
    finally:
        finished.set()
        watcher.join()
        pauser.close()
    assert len(cuts) == 1 and cuts[0] - began >= LIMIT
    client.execute_command('CLIENT', 'UNPAUSE')
    # (the call sent may still run once the server answers again; the next exchange connects anew)
    assert link.call_many(client, [CALL]) == [1]
    link.close()


def test_an_exchange_that_ends_in_time_is_left_alone(client: redis.Redis) -> None:
    link = SlotLink(client)
    assert link.call_many(client, [CALL]) == [1]
    assert not link.cut_if_stuck(time.monotonic() + 10 * LIMIT)  # (no exchange in progress)
    link.close()


def test_a_connection_without_a_socket_timeout_has_no_limit(redis_server: RedisServer) -> None:
    unlimited = redis.Redis(port=redis_server.port, socket_timeout=None)
    link = SlotLink(unlimited)
    assert link.reply_limit is None
    assert not link.cut_if_stuck(time.monotonic() + 3600)
    unlimited.close()

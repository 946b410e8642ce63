"""Sweeping ids whose job is gone never holds Redis for long.

A queue (or a group) can hold a great many ids whose job hash expired (``ttl``). The worker's claim,
``Queue.empty()`` and a group's cleanup drop them, and each does it in bounded batches, one short
script call at a time: a single call sweeping all of them would keep Redis busy (every other client
answered ``BUSY``) for seconds. Here a million dead ids sit in front of one real job on a queue,
and fewer in the other sweeps, whose bound is tighter to keep the file fast.

The stall is measured on the server, with ``SLOWLOG``: every command (a script call is one) that ran
longer than :data:`LOGGED_FROM_US` is logged with its own running time. That is what blocks other
clients, and unlike the gaps between a client's PING replies it does not grow when this loaded
machine is slow to schedule the client's thread. One unbounded call runs for about two seconds
over a million ids here, half a second over 200,000; a bounded one for a few milliseconds (a few
tens on a loaded machine).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

import rqtest_jobs
from rq import Queue
from rq.group import Group
from rq.job import JobStatus
from rq.worker import SimpleWorker

DEAD_IDS = 1_000_000
#: The longest a single command may hold the server (the issue's bound).
MAX_STALL_S = 1.0
#: The same for the sweeps tested on fewer ids.
FEWER_DEAD_IDS = 200_000
MAX_STALL_FEWER_S = 0.25
LOGGED_FROM_US = 50_000

#: Pushes (or adds to a set) ids 'dead-1' .. 'dead-<n>' with no job hash, in chunks of 5,000
#: arguments: fast setup, run before the slow log is read.
FILL = """
local n = tonumber(ARGV[1])
for i = 1, n, 5000 do
    local ids = {}
    for j = i, math.min(i + 4999, n) do
        ids[#ids + 1] = 'dead-' .. j
    end
    redis.call(ARGV[2], KEYS[1], unpack(ids))
end
"""


@pytest.fixture
def slowlog(connection: redis.Redis) -> Iterator[redis.Redis]:
    """Log every command slower than :data:`LOGGED_FROM_US`; the server's settings come back after."""
    before = connection.config_get('slowlog-*')
    connection.config_set('slowlog-log-slower-than', LOGGED_FROM_US)
    connection.config_set('slowlog-max-len', 1024)
    yield connection
    for name, value in before.items():
        connection.config_set(name, value)


def fill(connection: redis.Redis, key: str, command: str, count: int = DEAD_IDS) -> None:
    connection.eval(FILL, 1, key, count, command)
    connection.slowlog_reset()  # (the fill itself is a long script)


def longest_stall(connection: redis.Redis) -> float:
    """The longest running time, in seconds, of a command logged since the last reset."""
    entries = connection.slowlog_get(1024)
    return max((entry['duration'] for entry in entries), default=0) / 1e6


def test_worker_claims_the_job_behind_dead_ids_in_short_calls(slowlog: redis.Redis) -> None:
    queue = Queue('default', connection=slowlog)
    fill(slowlog, queue.key, 'RPUSH')
    job = queue.enqueue(rqtest_jobs.add, 2, 3)

    SimpleWorker([queue], connection=slowlog).work(burst=True)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 5
    assert slowlog.llen(queue.key) == 0
    assert longest_stall(slowlog) < MAX_STALL_S


def test_empty_sweeps_dead_ids_in_short_calls(slowlog: redis.Redis) -> None:
    queue = Queue('default', connection=slowlog)
    job = queue.enqueue(rqtest_jobs.add, 2, 3)
    fill(slowlog, queue.key, 'RPUSH', FEWER_DEAD_IDS)

    assert queue.empty() == FEWER_DEAD_IDS + 1

    assert slowlog.llen(queue.key) == 0
    assert not slowlog.exists(job.key)
    assert longest_stall(slowlog) < MAX_STALL_FEWER_S


def test_group_cleanup_sweeps_dead_ids_in_short_calls(slowlog: redis.Redis) -> None:
    group = Group.create(slowlog, name='big')
    (job,) = group.enqueue_many('default', [Queue.prepare_data(rqtest_jobs.add, (2, 3))])
    fill(slowlog, group.key, 'SADD', FEWER_DEAD_IDS)

    group.cleanup()

    assert group.get_job_ids() == [job.id]
    assert longest_stall(slowlog) < MAX_STALL_FEWER_S

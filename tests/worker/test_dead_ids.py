"""Sweeping ids whose job is gone never holds Redis for long.

A queue (or a group) can hold a great many ids whose job hash expired (``ttl``). The worker's claim,
``Queue.empty()`` and a group's cleanup drop them, and each does it in bounded batches, one short
script call at a time: a single call sweeping all of them would keep Redis busy (every other client
answered ``BUSY``) for seconds. Here a million dead ids sit in front of one real job on a queue,
and fewer in the other sweeps, whose bound is tighter to keep the file fast.

The stall is measured on the server, by its latency monitor: every command (a script call is one,
and so is a whole MULTI/EXEC transaction) that ran longer than :data:`MONITORED_FROM_MS` is recorded
with its own running time. That is what blocks other clients, and unlike the gaps between a
client's PING replies it does not grow when this loaded machine is slow to schedule the client's
thread. (``SLOWLOG`` would do for scripts, but it times the commands of a transaction one by one.)
One unbounded call runs for about two seconds over a million ids here, half a second over 200,000;
a bounded one for a few milliseconds (a few tens on a loaded machine).
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
MONITORED_FROM_MS = 50

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
def monitored(connection: redis.Redis) -> Iterator[redis.Redis]:
    """Record every command slower than :data:`MONITORED_FROM_MS`; the setting comes back after."""
    before = connection.config_get('latency-monitor-threshold')['latency-monitor-threshold']
    connection.config_set('latency-monitor-threshold', MONITORED_FROM_MS)
    yield connection
    connection.config_set('latency-monitor-threshold', before)
    connection.execute_command('LATENCY', 'RESET')


def fill(connection: redis.Redis, key: str, command: str, count: int = DEAD_IDS) -> None:
    connection.eval(FILL, 1, key, count, command)
    connection.execute_command('LATENCY', 'RESET')  # (the fill itself is a long script)


def longest_stall(connection: redis.Redis) -> float:
    """The longest running time, in seconds, of a command since the last reset (``LATENCY LATEST``
    rows: event, time of the latest spike, its duration and the longest, in ms)."""
    rows = connection.execute_command('LATENCY', 'LATEST')
    durations = [int(row[3]) for row in rows if row[0] in (b'command', b'fast-command')]
    return max(durations, default=0) / 1000


def test_worker_claims_the_job_behind_dead_ids_in_short_calls(monitored: redis.Redis) -> None:
    queue = Queue('default', connection=monitored)
    fill(monitored, queue.key, 'RPUSH')
    job = queue.enqueue(rqtest_jobs.add, 2, 3)

    SimpleWorker([queue], connection=monitored).work(burst=True)

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 5
    assert monitored.llen(queue.key) == 0
    assert longest_stall(monitored) < MAX_STALL_S


def test_empty_sweeps_dead_ids_in_short_calls(monitored: redis.Redis) -> None:
    queue = Queue('default', connection=monitored)
    job = queue.enqueue(rqtest_jobs.add, 2, 3)
    fill(monitored, queue.key, 'RPUSH', FEWER_DEAD_IDS)

    assert queue.empty() == FEWER_DEAD_IDS + 1

    assert monitored.llen(queue.key) == 0
    assert not monitored.exists(job.key)
    assert longest_stall(monitored) < MAX_STALL_FEWER_S


def test_group_cleanup_sweeps_dead_ids_in_short_calls(monitored: redis.Redis) -> None:
    group = Group.create(monitored, name='big')
    (job,) = group.enqueue_many('default', [Queue.prepare_data(rqtest_jobs.add, (2, 3))])
    fill(monitored, group.key, 'SADD', FEWER_DEAD_IDS)

    group.cleanup()

    assert group.get_job_ids() == [job.id]
    assert longest_stall(monitored) < MAX_STALL_FEWER_S


def test_compact_drops_dead_ids_in_short_calls_and_keeps_the_order(monitored: redis.Redis) -> None:
    """(Fewer ids still: compacting them all in one transaction costs their number squared.)"""
    queue = Queue('default', connection=monitored)
    first = queue.enqueue(rqtest_jobs.add, 1, 1)
    fill(monitored, queue.key, 'RPUSH', 10_000)
    second = queue.enqueue(rqtest_jobs.add, 2, 2)
    fill(monitored, queue.key, 'RPUSH', 10_000)
    third = queue.enqueue(rqtest_jobs.add, 3, 3)
    monitored.execute_command('LATENCY', 'RESET')

    queue.compact()

    assert queue.get_job_ids() == [first.id, second.id, third.id]
    assert longest_stall(monitored) < MAX_STALL_FEWER_S

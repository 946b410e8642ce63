"""rq 3.0's ``Worker.clean_group_registries()``: groups are pruned under the global lock
``rq:clean_groups``, at most once per maintenance interval across workers."""

from __future__ import annotations

import redis

import rqtest_jobs
from rq import Queue
from rq.group import Group
from rq.worker import Worker


def test_clean_group_registries_runs_once_per_lock_window(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection)
    group = Group.create(connection, name='g1')
    first = group.enqueue_many(queue, [Queue.prepare_data(rqtest_jobs.add, (1,), job_id='gone')])[0]
    connection.delete(first.key)  # the job expired: the group should be forgotten
    worker = Worker([queue], connection=connection, maintenance_interval=120)

    worker.clean_group_registries()
    assert not connection.sismember('rq:groups', 'g1')
    assert 0 < connection.ttl('rq:clean_groups') <= 119

    again = Group.create(connection, name='g2')
    second = again.enqueue_many(queue, [Queue.prepare_data(rqtest_jobs.add, (2,), job_id='gone-too')])[0]
    connection.delete(second.key)
    Worker([queue], connection=connection, maintenance_interval=120).clean_group_registries()
    assert connection.sismember('rq:groups', 'g2')  # another worker cleaned within this window

"""``Group``: jobs tracked together in ``rq:group:<name>``, names listed in ``rq:groups``."""

from __future__ import annotations

import pytest
import redis

from rq import Queue
from rq.exceptions import NoSuchGroupError
from rq.group import Group
from rq.job import Job, JobStatus
from rqtest_jobs import add, div_by_zero, say_hello


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def names(connection: redis.Redis) -> set[str]:
    return {m.decode() for m in connection.smembers('rq:groups')}


def test_create(connection: redis.Redis) -> None:
    group = Group.create(connection, name='reports')
    assert group.name == 'reports'
    assert group.key == 'rq:group:reports'
    assert Group.get_key('reports') == 'rq:group:reports'
    assert group.connection is connection
    # nothing is written until jobs are enqueued
    assert connection.keys('*') == []


def test_create_default_name(connection: redis.Redis) -> None:
    first = Group.create(connection)
    second = Group(connection)
    assert len(first.name) == 32
    int(first.name, 16)
    assert first.name != second.name


def test_invalid_name(connection: redis.Redis) -> None:
    with pytest.raises(ValueError):
        Group.create(connection, name='bad name')


def test_enqueue_many(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    jobs = group.enqueue_many(
        queue,
        [Queue.prepare_data(add, (1,), job_id='a'), Queue.prepare_data(add, (2,), job_id='b', at_front=True)],
    )
    assert sorted(job.id for job in jobs) == ['a', 'b']
    assert {m.decode() for m in connection.smembers('rq:group:g1')} == {'a', 'b'}
    assert names(connection) == {'g1'}
    assert queue.get_job_ids() == ['b', 'a']
    for job in jobs:
        assert job.group_id == 'g1'
        assert connection.hget(job.key, 'group_id') == b'g1'
        assert Job.fetch(job.id, connection=connection).group_id == 'g1'
        assert job.get_status() == JobStatus.QUEUED


def test_jobs_outside_groups_have_empty_group_id(queue: Queue) -> None:
    job = queue.enqueue(add, 1)
    assert queue.connection.hget(job.key, 'group_id') == b''
    assert Job.fetch(job.id, connection=queue.connection).group_id is None


def test_enqueue_many_by_queue_name(connection: redis.Redis) -> None:
    group = Group.create(connection, name='g1')
    jobs = group.enqueue_many('low', [Queue.prepare_data(add, (1,)), Queue.prepare_data(add, (2,))])
    low = Queue('low', connection=connection)
    assert sorted(low.get_job_ids()) == sorted(job.id for job in jobs)
    assert all(job.origin == 'low' for job in jobs)
    assert sorted(group.get_job_ids()) == sorted(job.id for job in jobs)


def test_enqueue_many_with_pipeline(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    with connection.pipeline() as pipe:
        group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a')], pipeline=pipe)
        assert not connection.exists('rq:group:g1')
        assert queue.count == 0
        pipe.execute()
    assert group.get_job_ids() == ['a']
    assert queue.get_job_ids() == ['a']
    assert names(connection) == {'g1'}


def test_enqueue_many_more_than_once(queue: Queue) -> None:
    group = Group.create(queue.connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a')])
    group.enqueue_many(queue, [Queue.prepare_data(add, (2,), job_id='b')])
    assert group.get_job_ids() == ['a', 'b']


def test_enqueue_many_sync_queue(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection, is_async=False)
    group = Group.create(connection, name='g1')
    jobs = group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a')])
    assert jobs[0].get_status() == JobStatus.FINISHED
    assert group.get_job_ids() == ['a']


def test_enqueue_many_with_dependencies(queue: Queue) -> None:
    parent = queue.enqueue(say_hello, job_id='parent')
    group = Group.create(queue.connection, name='g1')
    jobs = group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='child', depends_on=parent)])
    assert jobs[0].get_status() == JobStatus.DEFERRED
    assert group.get_job_ids() == ['child']


def test_fetch(queue: Queue) -> None:
    Group.create(queue.connection, name='g1').enqueue_many(queue, [Queue.prepare_data(add, (1,))])
    group = Group.fetch('g1', connection=queue.connection)
    assert group.name == 'g1'
    assert group.key == 'rq:group:g1'


def test_fetch_missing(connection: redis.Redis) -> None:
    with pytest.raises(NoSuchGroupError):
        Group.fetch('nope', connection=connection)
    Group.create(connection, name='empty')
    with pytest.raises(NoSuchGroupError):
        Group.fetch('empty', connection=connection)


def test_all(queue: Queue) -> None:
    connection = queue.connection
    assert Group.all(connection) == []
    Group.create(connection, name='g1').enqueue_many(queue, [Queue.prepare_data(add, (1,))])
    Group.create(connection, name='g2').enqueue_many(queue, [Queue.prepare_data(add, (2,))])
    assert sorted(g.name for g in Group.all(connection)) == ['g1', 'g2']


def test_all_forgets_vanished_groups(queue: Queue) -> None:
    connection = queue.connection
    Group.create(connection, name='g1').enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a')])
    connection.sadd('rq:groups', 'gone')
    assert [g.name for g in Group.all(connection)] == ['g1']
    assert names(connection) == {'g1'}


def test_groups_written_by_other_clients_may_have_any_name(connection: redis.Redis) -> None:
    """RQ does not restrict group names: a group it created is still readable."""
    connection.sadd('rq:groups', 'batch:2024.1')
    connection.sadd('rq:group:batch:2024.1', 'a')
    Queue('default', connection=connection).enqueue(add, 1, job_id='a')
    assert [g.name for g in Group.all(connection)] == ['batch:2024.1']
    group = Group.fetch('batch:2024.1', connection=connection)
    assert [job.id for job in group.get_jobs()] == ['a']
    Group.clean_registries(connection)
    assert names(connection) == {'batch:2024.1'}


def test_get_jobs_and_job_ids(queue: Queue) -> None:
    group = Group.create(queue.connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (i,), job_id=f'j{i}') for i in range(3)])
    assert group.get_job_ids() == ['j0', 'j1', 'j2']
    jobs = group.get_jobs()
    assert sorted(job.id for job in jobs) == ['j0', 'j1', 'j2']
    assert all(isinstance(job, Job) for job in jobs)
    assert {job.args[0] for job in jobs} == {0, 1, 2}
    assert len(group) == 3


def test_get_jobs_drops_gone_jobs(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a'), Queue.prepare_data(add, (2,), job_id='b')])
    connection.delete('rq:job:a')
    assert [job.id for job in group.get_jobs()] == ['b']
    assert group.get_job_ids() == ['b']
    connection.delete('rq:job:b')
    assert group.get_jobs() == []
    assert names(connection) == set()


def test_delete_job(queue: Queue) -> None:
    group = Group.create(queue.connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a'), Queue.prepare_data(add, (2,), job_id='b')])
    group.delete_job('a')
    assert group.get_job_ids() == ['b']
    # only the membership goes: the job stays
    assert Job.exists('a', queue.connection)
    with queue.connection.pipeline() as pipe:
        group.delete_job('b', pipeline=pipe)
        assert group.get_job_ids() == ['b']
        pipe.execute()
    assert group.get_job_ids() == []


def test_job_delete_leaves_its_group(queue: Queue) -> None:
    group = Group.create(queue.connection, name='g1')
    jobs = group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a'), Queue.prepare_data(add, (2,))])
    jobs[0].delete()
    assert 'a' not in group.get_job_ids()
    assert len(group.get_job_ids()) == 1


def test_cleanup(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a'), Queue.prepare_data(add, (2,), job_id='b')])
    connection.delete('rq:job:a')
    group.cleanup()
    assert group.get_job_ids() == ['b']
    assert names(connection) == {'g1'}
    connection.delete('rq:job:b')
    group.cleanup()
    assert not connection.exists('rq:group:g1')
    assert names(connection) == set()
    with pytest.raises(NoSuchGroupError):
        Group.fetch('g1', connection=connection)


def test_cleanup_with_pipeline(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a')])
    connection.delete('rq:job:a')
    with connection.pipeline() as pipe:
        group.cleanup(pipeline=pipe)
        assert group.get_job_ids() == ['a']
        pipe.execute()
    assert group.get_job_ids() == []
    assert names(connection) == set()


def test_clean_registries(queue: Queue) -> None:
    connection = queue.connection
    live = Group.create(connection, name='live')
    live.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a'), Queue.prepare_data(add, (2,), job_id='b')])
    dead = Group.create(connection, name='dead')
    dead.enqueue_many(queue, [Queue.prepare_data(add, (3,), job_id='c')])
    connection.sadd('rq:groups', 'never-had-jobs')
    connection.delete('rq:job:b', 'rq:job:c')

    Group.clean_registries(connection)

    assert live.get_job_ids() == ['a']
    assert not connection.exists('rq:group:dead')
    assert names(connection) == {'live'}
    assert [g.name for g in Group.all(connection)] == ['live']


def test_expired_results_prune_the_group(connection: redis.Redis) -> None:
    """Jobs of a group that run with result_ttl=0 are deleted at once; cleanup then forgets the group."""
    queue = Queue('default', connection=connection, is_async=False)
    group = Group.create(connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), result_ttl=0)])
    Group.clean_registries(connection)
    assert names(connection) == set()


def test_failed_jobs_stay_in_the_group(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection, is_async=False)
    group = Group.create(connection, name='g1')
    jobs = group.enqueue_many(queue, [Queue.prepare_data(div_by_zero, job_id='bad')])
    assert jobs[0].get_status() == JobStatus.FAILED
    Group.clean_registries(connection)
    assert group.get_job_ids() == ['bad']


def test_delete_group(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    group.enqueue_many(queue, [Queue.prepare_data(add, (1,), job_id='a')])
    group.delete()
    assert not connection.exists('rq:group:g1')
    assert names(connection) == set()
    assert Job.exists('a', connection)


def test_repr(connection: redis.Redis) -> None:
    assert 'g1' in repr(Group.create(connection, name='g1'))

"""The fake connection: rq's Lua scripts run on it, INFO is answered, and what fakeredis lacks is
explained (unknown commands, use from another process, a missing Lua extra)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import fakeredis
import kit_jobs
import pytest
import redis

from rq import Queue
from rq.job import Dependency
from rq.testing import FakeRedisConnection, FakeRedisUnsupportedError, fake_connection, is_fake
from rq.testing.fake import FAKE_REDIS_VERSION
from rq.utils import get_version


def test_rq_lua_scripts_run_on_the_fake() -> None:
    connection = fake_connection()
    queue = Queue(connection=connection)
    parent = queue.enqueue(kit_jobs.add, 1, 2)
    child = queue.enqueue(kit_jobs.add, 3, 4, depends_on=Dependency([parent]))
    unique = queue.enqueue(kit_jobs.echo, 'x', job_id='only-one', unique=True)
    assert child.get_status() == 'deferred'  # enqueue.lua checked the dependency
    assert queue.job_ids == [parent.id, unique.id]
    assert queue.empty() == 2  # empty_queue.lua
    assert is_fake(connection)
    assert is_fake(connection.pipeline())
    assert not is_fake(redis.Redis())


def test_each_fake_connection_has_its_own_server_unless_one_is_shared() -> None:
    first, second = fake_connection(), fake_connection()
    first.set('k', 'v')
    assert second.get('k') is None
    shared = fake_connection(server=first.connection_pool.connection_kwargs['server'])
    assert shared.get('k') == b'v'


def test_info_reports_the_fake_server_version() -> None:
    connection = fake_connection()
    assert get_version(connection) == FAKE_REDIS_VERSION
    assert connection.info('server')['fakeredis_version'] == fakeredis.__version__
    assert isinstance(connection, FakeRedisConnection)


@pytest.mark.parametrize(
    'call',
    [
        lambda c: c.execute_command('DEBUG', 'SLEEP', '0'),
        lambda c: c.object('freq', 'key'),
        lambda c: c.eval("return redis.call('DEBUG', 'SLEEP', '0')", 0),
    ],
    ids=['direct', 'client-method', 'lua'],
)
def test_commands_fakeredis_lacks_raise_an_explanation(call: object) -> None:
    connection = fake_connection()
    with pytest.raises(FakeRedisUnsupportedError) as info:
        call(connection)  # type: ignore[operator]
    message = str(info.value)
    assert 'does not implement the Redis command' in message
    assert '--rq-real-redis' in message and 'rq_real_redis' in message
    assert isinstance(info.value, redis.exceptions.ResponseError)  # existing handlers still catch it


def test_a_pipeline_explains_too() -> None:
    connection = fake_connection()
    pipe = connection.pipeline()
    pipe.set('a', 1)
    pipe.execute_command('WAIT', '0', '0')
    with pytest.raises(FakeRedisUnsupportedError, match="'WAIT'"):
        pipe.execute()
    pipe = connection.pipeline(transaction=False)
    pipe.execute_command('MEMORY', 'USAGE', 'a')
    (reply,) = pipe.execute(raise_on_error=False)
    assert isinstance(reply, FakeRedisUnsupportedError)


def test_other_errors_are_left_alone() -> None:
    connection = fake_connection()
    connection.set('text', 'x')
    with pytest.raises(redis.exceptions.ResponseError) as info:
        connection.incr('text')
    assert not isinstance(info.value, FakeRedisUnsupportedError)


def test_a_forked_child_is_told_that_the_fake_is_not_shared() -> None:
    connection = fake_connection()
    connection.set('k', 'v')
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what using the connection does, then leave at once
        try:
            connection.get('k')
            message = 'no error'
        except FakeRedisUnsupportedError as exc:
            message = str(exc)
        except BaseException as exc:  # report anything to the parent
            message = repr(exc)
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, 'rb') as reader:
        message = reader.read().decode()
    os.waitpid(pid, 0)
    assert 'keeps its data in the memory of one process' in message
    assert 'SimpleWorker' in message and '--rq-real-redis' in message
    assert connection.get('k') == b'v'


BLOCK_LUPA = textwrap.dedent(
    """
    import sys

    class BlockLupa:
        def find_spec(self, name, path=None, target=None):
            if name == 'lupa' or name.startswith('lupa.'):
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)
            return None

    sys.meta_path.insert(0, BlockLupa())
    from rq.testing import FakeRedisUnsupportedError, fake_connection
    try:
        fake_connection()
    except FakeRedisUnsupportedError as exc:
        print(exc)
    """
)


def test_without_the_lua_extra_the_fix_is_named() -> None:
    completed = subprocess.run([sys.executable, '-c', BLOCK_LUPA], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "pip install 'fakeredis[lua]'" in completed.stdout

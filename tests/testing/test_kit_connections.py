"""The switch between fake and real Redis, and the throwaway redis-server."""

from __future__ import annotations

import os

import pytest
import redis

from rq.testing import (
    RealRedisUnavailableError,
    RedisServerNotFoundError,
    RedisServerProcess,
    RedisTarget,
    is_fake,
    real_connection,
)
from rq.testing.server import BINARY_ENV, find_redis_server, free_port


def test_the_default_target_is_a_new_fake_each_time() -> None:
    target = RedisTarget()
    first, second = target.connect(), target.connect()
    first.set('k', 'v')
    assert target.is_fake and target.url is None and 'fake' in target.describe()
    assert is_fake(first) and second.get('k') is None


def test_a_url_target_empties_its_database(kit_redis_server: RedisServerProcess) -> None:
    target = RedisTarget(kit_redis_server.url)
    target.connect().set('left-over', 1)
    connection = target.connect()
    assert not is_fake(connection) and connection.get('left-over') is None
    assert target.connect(clean=False) is not None
    assert target.describe() == f'real Redis at {kit_redis_server.url}'


def test_the_environment_variable_chooses(
    monkeypatch: pytest.MonkeyPatch, kit_redis_server: RedisServerProcess
) -> None:
    monkeypatch.setenv('RQ_TESTING_REDIS_URL', kit_redis_server.url)
    assert RedisTarget.from_environment().url == kit_redis_server.url
    monkeypatch.delenv('RQ_TESTING_REDIS_URL')
    assert RedisTarget.from_environment().is_fake


def test_spawn_starts_a_throwaway_server_and_stops_it() -> None:
    with RedisTarget('spawn') as target:
        connection = target.connect()
        assert connection.ping() and 'throwaway' in target.describe()
        server = target._server
        assert server is not None and server.running
        workdir = server.workdir
    assert not server.running and not os.path.exists(workdir)


def test_an_unreachable_url_says_what_to_do() -> None:
    url = f'redis://127.0.0.1:{free_port()}/0'
    with pytest.raises(RealRedisUnavailableError) as info:
        real_connection(url)
    message = str(info.value)
    assert url in message and '--rq-real-redis' in message and 'RQ_TESTING_REDIS_URL' in message


def test_a_malformed_setting_is_refused() -> None:
    with pytest.raises(RealRedisUnavailableError, match='Unknown Redis setting'):
        RedisTarget('localhost:6379')


def test_a_missing_redis_server_binary_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PATH', '/nonexistent')
    monkeypatch.setattr('rq.testing.server._WELL_KNOWN_PATHS', ())
    with pytest.raises(RedisServerNotFoundError, match='apt-get install redis-server'):
        find_redis_server()
    monkeypatch.setenv(BINARY_ENV, '/nonexistent/redis-server')
    with pytest.raises(RedisServerNotFoundError, match=BINARY_ENV):
        find_redis_server()


def test_a_server_that_cannot_start_reports_its_log(tmp_path: object) -> None:
    server = RedisServerProcess(binary='/bin/false', start_timeout=2)
    with pytest.raises(RuntimeError, match='did not start'):
        server.start()
    assert not server.running


def test_the_server_serves_rq(kit_redis_server: RedisServerProcess) -> None:
    client = redis.Redis.from_url(kit_redis_server.url)
    assert client.config_get('save') == {'save': ''}
    client.close()

"""A throwaway Sentinel setup for tests: a master, one replica (``--replicaof``) and redis-server
processes in sentinel mode (``redis-server <conf> --sentinel``: Debian's ``redis-sentinel`` is the
same binary), every one on a free loopback port with its own temporary directory.

One sentinel with quorum 1 by default: it marks the master down after ``down-after-milliseconds``
(1 s) and, being the only voter, wins the election at once, so a failover takes a few seconds
even on a loaded machine (three sentinels may split their votes and wait ``failover-timeout``
before trying again). ``sentinels=3`` gives quorum 2.

:meth:`SentinelCluster.stop` removes everything; :func:`running_sentinel_cluster` is a context
manager that calls it however the block ends (a failed start included).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.sentinel import Sentinel

from redis_server import RedisServer

MASTER_NAME = 'mymaster'
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
READY_TIMEOUT = 60.0
FAILOVER_PATIENCE = 90.0


class DataServer(RedisServer):
    """A master or a replica (``replica_of``: the port of its master). A replica's full sync starts
    at once (not after the default 5 s wait for more replicas to share it)."""

    def __init__(self, replica_of: int | None = None) -> None:
        super().__init__()
        self.replica_of = replica_of

    def listen_options(self) -> list[str]:
        options = super().listen_options()
        if self.replica_of is not None:
            options += ['--replicaof', '127.0.0.1', str(self.replica_of)]
        return options

    def persistence_options(self) -> list[str]:
        return [*super().persistence_options(), '--repl-diskless-sync-delay', '0']


class SentinelServer(RedisServer):
    """A redis-server in sentinel mode watching ``master_port`` as :data:`MASTER_NAME`. The
    sentinel rewrites its configuration file (what it learns, the new master after a failover),
    so the file lives in the server's temporary directory."""

    def __init__(self, master_port: int, quorum: int, failover_timeout_ms: int = FAILOVER_TIMEOUT_MS) -> None:
        super().__init__()
        self.config_path = os.path.join(self.workdir, 'sentinel.conf')
        with open(self.config_path, 'w', encoding='utf-8') as stream:
            stream.write(
                f'sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}\n'
                f'sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n'
                f'sentinel failover-timeout {MASTER_NAME} {failover_timeout_ms}\n'
                f'sentinel parallel-syncs {MASTER_NAME} 1\n'
            )

    def listen_options(self) -> list[str]:
        # (the configuration file first: redis-server reads the rest as options added to it)
        return [self.config_path, '--sentinel', *super().listen_options()]

    def persistence_options(self) -> list[str]:
        return []


class SentinelCluster:
    """A master, a replica and ``sentinels`` sentinels (quorum: a majority of them).

    ``failover_timeout_ms`` is also how long a sentinel lets a replica follow another master
    before it points the replica back at the master it watches (``+fix-slave-config``)."""

    def __init__(self, sentinels: int = 1, failover_timeout_ms: int = FAILOVER_TIMEOUT_MS) -> None:
        self.sentinel_count = sentinels
        self.quorum = sentinels // 2 + 1
        self.failover_timeout_ms = failover_timeout_ms
        self.master: DataServer | None = None
        self.replica: DataServer | None = None
        self.sentinels: list[SentinelServer] = []
        self._servers: list[RedisServer] = []
        self._dead_end: socket.socket | None = None

    # -- addresses ------------------------------------------------------------------------------

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [('127.0.0.1', server.port) for server in self.sentinels]

    def sentinel_settings(self) -> dict[str, Any]:
        """The ``SENTINEL`` setting of an rq config module that points at this setup."""
        return {'INSTANCES': self.sentinel_addresses, 'MASTER_NAME': MASTER_NAME, 'SOCKET_TIMEOUT': 5}

    def sentinel_client(self, **connection_kwargs: Any) -> Sentinel:
        """redis-py's :class:`~redis.sentinel.Sentinel` for these sentinels (use ``master_for``)."""
        options = {'socket_timeout': 5, **connection_kwargs}
        return Sentinel(self.sentinel_addresses, sentinel_kwargs={'socket_timeout': 5}, **options)

    def master_address(self) -> tuple[str, int] | None:
        """The master the first sentinel that answers reports (None when none answers)."""
        for address in self.sentinel_addresses:
            client = redis.Redis(*address, socket_timeout=5, decode_responses=True)
            try:
                found = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                return (str(found[0]), int(found[1])) if found else None
            except redis.RedisError:
                continue
            finally:
                client.close()
        return None

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the master, then the replica (once the master's port is known), then the
        sentinels; ready once the replica is in sync and every sentinel knows the replica (a
        sentinel promotes only a replica it knows). On any failure everything is stopped."""
        try:
            self.master = self._started(DataServer())
            self.replica = self._started(DataServer(replica_of=self.master.port))
            for _ in range(self.sentinel_count):
                sentinel = SentinelServer(self.master.port, self.quorum, self.failover_timeout_ms)
                self.sentinels.append(self._started(sentinel))
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _started(self, server: Any) -> Any:
        self._servers.append(server)
        server.start()
        return server

    def _wait_ready(self) -> None:
        assert self.master is not None and self.replica is not None
        master_port, replica_port = self.master.port, self.replica.port
        expected = self.sentinel_count - 1
        _wait(lambda: _replication(replica_port).get('master_link_status') == 'up', 'the replica to sync')
        for sentinel in self.sentinels:
            _wait(lambda s=sentinel: _knows_replica(s.port, replica_port), 'the sentinels to find the replica')
            _wait(
                lambda s=sentinel: _master_state(s.port).get('num-other-sentinels', 0) >= expected,
                'the sentinels to find each other',
            )
        assert self.master_address() == ('127.0.0.1', master_port)

    def kill_master(self) -> int:
        """SIGKILL the current master (no shutdown: nothing more reaches its replica). Returns
        the port it served."""
        address = self.master_address()
        assert address is not None, 'no sentinel reports a master'
        server = self.server_on(address[1])
        assert server.process is not None, 'the master is not running'
        server.process.kill()
        server.process.wait(10)
        server.process = None
        return address[1]

    def wait_for_new_master(self, old_port: int, timeout: float = FAILOVER_PATIENCE) -> int:
        """Wait until every sentinel reports a master other than ``old_port`` and that server
        says it is a master (it accepts writes). Returns its port."""

        def promoted() -> bool:
            ports = {_reported_master_port(sentinel.port) for sentinel in self.sentinels}
            if len(ports) != 1 or None in ports or old_port in ports:
                return False
            port = ports.pop()
            assert port is not None
            return _replication(port).get('role') == 'master' and all(
                _serves_as_master(sentinel.port, port) for sentinel in self.sentinels
            )

        _wait(promoted, f'the sentinels to promote a new master (old: {old_port})', timeout)
        address = self.master_address()
        assert address is not None
        return address[1]

    def cut_replication(self) -> None:
        """Point the replica at a loopback port this process holds bound without listening on it
        (no other server can take it): the replica keeps its data and stays a read-only replica, but
        receives nothing more from the master, as when a master dies with writes not replicated yet.
        The sentinels leave it so for ``failover_timeout_ms`` before they point it back."""
        assert self.replica is not None
        if self._dead_end is None:
            self._dead_end = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._dead_end.bind(('127.0.0.1', 0))
        client = _client(self.replica.port)
        try:
            client.replicaof('127.0.0.1', self._dead_end.getsockname()[1])
        finally:
            client.close()

    def revive_as_replica(self, port: int, master_port: int) -> None:
        """Start the (killed) server of ``port`` again, empty, as a replica of ``master_port``
        (as an operator would bring a failed master back), and wait until it is in sync: the new
        master has a replica again, so a replica-acknowledged enqueue can succeed again."""
        server = self.server_on(port)
        server.replica_of = master_port
        server.start()
        _wait(lambda: _replication(port).get('master_link_status') == 'up', f'the revived server ({port}) to sync')

    def server_on(self, port: int) -> DataServer:
        for server in (self.master, self.replica):
            if server is not None and server.port == port:
                return server
        raise LookupError(f'no data server of this setup listens on {port}')

    def stop(self) -> None:
        """Stop every process started (sentinels first: none fails over what is being stopped)
        and remove their directories. Safe to call more than once."""
        for server in reversed(self._servers):
            try:
                server.stop()
            finally:
                shutil.rmtree(server.workdir, ignore_errors=True)
        self._servers.clear()
        if self._dead_end is not None:
            self._dead_end.close()
            self._dead_end = None


@contextmanager
def running_sentinel_cluster(
    sentinels: int = 1, failover_timeout_ms: int = FAILOVER_TIMEOUT_MS
) -> Iterator[SentinelCluster]:
    cluster = SentinelCluster(sentinels, failover_timeout_ms)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


# -- what the servers say ---------------------------------------------------------------------


def _wait(predicate: Any, what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f'timed out waiting for {what}')
        time.sleep(0.05)


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=2, decode_responses=True)


def _replication(port: int) -> dict[str, Any]:
    client = _client(port)
    try:
        return dict(client.info('replication'))
    finally:
        client.close()


def _master_state(sentinel_port: int) -> dict[str, Any]:
    client = _client(sentinel_port)
    try:
        return dict(client.sentinel_master(MASTER_NAME))
    finally:
        client.close()


def _serves_as_master(sentinel_port: int, port: int) -> bool:
    """Whether the sentinel hands ``port`` out as the master (redis-py's ``Sentinel`` asks
    ``SENTINEL MASTERS`` and takes a master only while it is not flagged down)."""
    state = _master_state(sentinel_port)
    return int(state['port']) == port and state['is_master'] and not state['is_sdown'] and not state['is_odown']


def _knows_replica(sentinel_port: int, replica_port: int) -> bool:
    client = _client(sentinel_port)
    try:
        replicas = client.sentinel_slaves(MASTER_NAME)
    finally:
        client.close()
    return any(
        int(replica['port']) == replica_port and not replica['is_sdown'] and not replica['is_odown']
        for replica in replicas
    )


def _reported_master_port(sentinel_port: int) -> int | None:
    client = _client(sentinel_port)
    try:
        found = client.sentinel_get_master_addr_by_name(MASTER_NAME)
    except redis.RedisError:
        return None
    finally:
        client.close()
    return int(found[1]) if found else None

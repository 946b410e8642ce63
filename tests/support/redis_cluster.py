"""A throwaway Redis Cluster for tests: three masters on free loopback ports (persistence off, no
replicas), joined with ``redis-cli --cluster create`` and ready once every node says ``cluster_state:ok``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import redis

from redis_server import RedisServer, free_port

START_TIMEOUT = 60.0
MASTERS = 3


def find_redis_cli() -> str:
    found = shutil.which('redis-cli') or next(
        (p for p in ('/usr/bin/redis-cli', '/usr/local/bin/redis-cli') if os.path.exists(p)), None
    )
    if not found:
        raise RuntimeError('redis-cli not found: install it (Debian: apt-get install redis-tools)')
    return found


class ClusterNode(RedisServer):
    """One cluster-enabled master; its nodes.conf lives in its own temporary directory.

    The cluster bus gets a free port of its own (``--cluster-port``, Redis 7.0+): by default it is
    the client port + 10000, which is out of range or taken for many free ports."""

    bus_port = 0

    def persistence_options(self) -> list[str]:
        # (called on each launch: a retry after a port clash also tries another bus port)
        self.bus_port = free_port()
        cluster = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']
        return [*super().persistence_options(), *cluster, '--cluster-port', str(self.bus_port)]


class RedisCluster:
    """Start, join and remove a three-master cluster on loopback."""

    def __init__(self, masters: int = MASTERS) -> None:
        self.nodes = [ClusterNode() for _ in range(masters)]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """A URL for ``RedisCluster.from_url`` (any node: the client discovers the others)."""
        return f'redis://127.0.0.1:{self.nodes[0].port}/0'

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
            self._create()
            self._wait_until_ok()
        except BaseException:
            self.stop()
            raise

    def _create(self) -> None:
        addresses = [f'127.0.0.1:{port}' for port in self.ports]
        command = [find_redis_cli(), '--cluster', 'create', *addresses, '--cluster-replicas', '0', '--cluster-yes']
        completed = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f'redis-cli --cluster create failed:\n{completed.stdout}\n{completed.stderr}')

    def _wait_until_ok(self) -> None:
        """Every node must report the cluster healthy and know every other node (the gossip that
        spreads the slot map takes a moment after ``--cluster create`` returns)."""
        clients = [redis.Redis(port=port, socket_timeout=5) for port in self.ports]
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while not all(_ready(client, len(self.nodes)) for client in clients):
                if time.monotonic() > deadline:
                    states = {
                        port: client.execute_command('CLUSTER INFO')
                        for port, client in zip(self.ports, clients, strict=True)
                    }
                    raise RuntimeError(f'the cluster did not become ready: {states!r}')
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.workdir, ignore_errors=True)

    def flushall(self) -> None:
        for port in self.ports:
            client = redis.Redis(port=port)
            try:
                client.flushall()
            finally:
                client.close()

    def keys(self) -> list[str]:
        """Every key on every master."""
        found: list[str] = []
        for port in self.ports:
            client = redis.Redis(port=port, decode_responses=True)
            try:
                found.extend(client.scan_iter(count=1000))
            finally:
                client.close()
        return found


def _ready(client: redis.Redis, expected_nodes: int) -> bool:
    info = client.execute_command('CLUSTER INFO')
    if isinstance(info, bytes):
        info = info.decode()
    if isinstance(info, str):
        fields = dict(line.split(':', 1) for line in info.splitlines() if ':' in line)
    else:
        fields = {str(k): str(v) for k, v in dict(info).items()}
    return fields.get('cluster_state') == 'ok' and int(fields.get('cluster_known_nodes', 0)) == expected_nodes

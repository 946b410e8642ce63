"""Which Redis the ``rq`` command talks to.

In order: ``--url`` (or ``RQ_REDIS_URL``); else, with ``--config``, the module's ``REDIS_URL``,
``SENTINEL`` or ``REDIS_HOST``/``REDIS_PORT``/... settings; else the same names as environment
variables. Whatever is not set defaults to ``localhost:6379``, database 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.connection import SSLConnection

from ._errors import CliError

_TRUE = ('y', 'yes', 't', 'true', '1', 'on')
_FALSE = ('n', 'no', 'f', 'false', '0', 'off', '')

#: setting name -> Redis() keyword, for the settings passed through unchanged.
_PASSTHROUGH = {
    'REDIS_PASSWORD': 'password',
    'REDIS_SSL_CA_CERTS': 'ssl_ca_certs',
    'REDIS_SSL_CA_DATA': 'ssl_ca_data',
    'REDIS_SSL_KEYFILE': 'ssl_keyfile',
    'REDIS_SSL_CERTFILE': 'ssl_certfile',
}


def connect(connection_class: type[Redis], url: str | None, settings: Mapping[str, Any]) -> Redis:
    """Build the client (no round trip yet) from ``url``, else from ``settings`` (the config
    module's, or the environment)."""
    if url:
        return _from_url(connection_class, url, '--url')
    return from_settings(connection_class, settings)


def from_settings(connection_class: type[Redis], settings: Mapping[str, Any]) -> Redis:
    if settings.get('REDIS_URL'):
        return _from_url(connection_class, str(settings['REDIS_URL']), 'REDIS_URL')
    sentinel = settings.get('SENTINEL')
    if isinstance(sentinel, Mapping):
        return _from_sentinel(connection_class, sentinel)
    kwargs: dict[str, Any] = {
        'host': settings.get('REDIS_HOST') or 'localhost',
        'port': _integer(settings.get('REDIS_PORT', 6379), 'REDIS_PORT'),
        'db': _integer(settings.get('REDIS_DB', 0), 'REDIS_DB'),
        'ssl': _boolean(settings.get('REDIS_SSL', False), 'REDIS_SSL'),
        'ssl_cert_reqs': settings.get('REDIS_SSL_CERT_REQS') or 'required',
    }
    kwargs.update({keyword: settings.get(name) for name, keyword in _PASSTHROUGH.items()})
    return connection_class(**kwargs)


def _from_url(connection_class: type[Redis], url: str, source: str) -> Redis:
    try:
        return connection_class.from_url(url)
    except ValueError as exc:  # (exit code 1, as upstream's traceback)
        raise CliError(f'not a Redis URL: {url!r} ({exc})', source) from exc


def _from_sentinel(connection_class: type[Redis], options: Mapping[str, Any]) -> Redis:
    from redis.sentinel import Sentinel

    connection_kwargs: dict[str, Any] = {
        'db': options.get('DB', 0),
        'username': options.get('USERNAME'),
        'password': options.get('PASSWORD'),
        'socket_timeout': options.get('SOCKET_TIMEOUT'),
        'ssl': options.get('SSL', False),
    }
    connection_kwargs.update(options.get('CONNECTION_KWARGS') or {})
    # (typed as Any: redis-py types Sentinel from 8.2 on, not before)
    sentinel_class: Any = Sentinel
    sentinel = sentinel_class(
        options.get('INSTANCES') or [('localhost', 26379)],
        sentinel_kwargs=options.get('SENTINEL_KWARGS') or {},
        **connection_kwargs,
    )
    master: Redis = sentinel.master_for(options.get('MASTER_NAME') or 'mymaster', redis_class=connection_class)
    return master


def _integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CliError(f'expected an integer, not {value!r}', name) from None


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise CliError(f'expected true or false, not {value!r}', name)
    return bool(value)


def describe(connection: Redis) -> str:
    """Where ``connection`` points, for messages (``redis://host:port/db``, a socket path, or the
    nodes of a Redis Cluster)."""
    pool = getattr(connection, 'connection_pool', None)
    if pool is None:  # redis-py's cluster client: one pool per node
        nodes: list[Any] = getattr(connection, 'get_nodes', list)()
        return 'Redis Cluster at ' + (', '.join(f'{node.host}:{node.port}' for node in nodes) or 'no known node')
    kwargs = pool.connection_kwargs
    if kwargs.get('path'):
        return f'unix://{kwargs["path"]}?db={kwargs.get("db", 0)}'
    if 'host' in kwargs:
        scheme = 'rediss' if issubclass(getattr(pool, 'connection_class', object), SSLConnection) else 'redis'
        return f'{scheme}://{kwargs["host"]}:{kwargs.get("port", 6379)}/{kwargs.get("db", 0)}'
    service = getattr(pool, 'service_name', None)
    return f'sentinel master {service!r}' if service else 'Redis'

"""Copied next to rq-dashboard's own tests as their ``conftest.py``: sends the connections they make to
the default Redis (``redis.Redis()``, ``redis://127.0.0.1``, both localhost:6379) to the test's private
redis-server, whose port is in ``$RQ_CLIENT_REDIS_PORT``. The machine's shared 6379 is never touched."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import redis.connection

_PORT = int(os.environ['RQ_CLIENT_REDIS_PORT'])
_DEFAULT_PORT = 6379
_LOCAL_HOSTS = frozenset({'localhost', '127.0.0.1'})
_original_init: Callable[..., None] = redis.connection.Connection.__init__
_signature = inspect.signature(_original_init)


def _init_on_test_server(self: redis.connection.Connection, *args: Any, **kwargs: Any) -> None:
    bound = _signature.bind(self, *args, **kwargs)
    bound.apply_defaults()
    if bound.arguments['host'] in _LOCAL_HOSTS and int(bound.arguments['port']) == _DEFAULT_PORT:
        bound.arguments['port'] = _PORT
    _original_init(*bound.args, **bound.kwargs)


redis.connection.Connection.__init__ = _init_on_test_server  # type: ignore[method-assign]

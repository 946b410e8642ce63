"""Script calls followed by ``WAIT`` on the same connection: replica-acknowledged writes.

``WAIT n timeout`` blocks until ``n`` replicas have acknowledged every write made so far *on the
connection it is sent on* (or the timeout passes) and returns how many did. So the calls and the
WAIT go in one redis-py pipeline without a transaction of its own: one connection, one round trip
(with ``atomic``, the calls are wrapped in MULTI/EXEC inside it, so that they are applied together;
a WAIT inside MULTI would not block). A pipeline that redis-py sends again after a connection error
sends the calls again on the new connection: the scripts used here (``enqueue``) recognise a copy
by its token and write the token again, so the WAIT still covers what the first copy wrote.

The scripts are called by SHA; a server that does not know one (after a restart, ``SCRIPT FLUSH``
or a failover to a server that never ran it) answers NOSCRIPT to every call of it: nothing was
written, the script is loaded and everything is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from . import scripts

#: How many times the calls are sent when the server keeps forgetting the script (a failover
#: between the load and the calls).
_ATTEMPTS = 3


def run_then_wait(
    client: Any,
    name: str,
    calls: Sequence[tuple[list[str], list[Any]]],
    replicas: int,
    timeout_ms: int,
    atomic: bool = False,
) -> tuple[list[Any], int]:
    """Run script ``name`` once per ``(keys, args)`` of ``calls``, then ``WAIT replicas timeout_ms``
    on the same connection. Returns the scripts' replies and how many replicas acknowledged.

    Raises:
        ResponseError: a call's error reply (the first), or EXEC's (nothing was applied).
        ConnectionError, TimeoutError: as any command (a ``timeout_ms`` longer than the client's
            ``socket_timeout`` ends in TimeoutError).
    """
    owner = _client_for(client, calls[0][0][0])
    for _ in range(_ATTEMPTS):
        replies = _send(owner, name, calls, replicas, timeout_ms, atomic)
        outcomes = replies[-2] if atomic else replies[:-1]
        if isinstance(outcomes, ResponseError):  # (EXECABORT: a call was refused before it ran)
            raise outcomes
        if all(isinstance(outcome, NoScriptError) for outcome in outcomes):
            owner.script_load(scripts.source(name))
            continue
        error = next((outcome for outcome in outcomes if isinstance(outcome, ResponseError)), None)
        if error is not None:
            raise error
        acknowledged = replies[-1]
        if isinstance(acknowledged, ResponseError):
            raise acknowledged
        return list(outcomes), int(acknowledged)
    raise NoScriptError(f'the server keeps forgetting script {name!r}')


def _send(
    client: Any,
    name: str,
    calls: Sequence[tuple[list[str], list[Any]]],
    replicas: int,
    timeout_ms: int,
    atomic: bool,
) -> list[Any]:
    sha = scripts.sha(name)
    pipe = client.pipeline(transaction=False)
    try:
        if atomic:
            pipe.execute_command('MULTI')
        for keys, args in calls:
            pipe.execute_command('EVALSHA', sha, len(keys), *keys, *args)
        if atomic:
            pipe.execute_command('EXEC')
        pipe.execute_command('WAIT', replicas, timeout_ms)
        replies: list[Any] = pipe.execute(raise_on_error=False)
    finally:
        pipe.reset()
    return replies


def _client_for(client: Any, key: str) -> Any:
    """The client whose connections serve ``key``: ``client``, or for redis-py's cluster client
    (whose pipelines neither pass MULTI through nor send a keyless WAIT to the right node) the
    client of the node that holds ``key`` (every key of one call is in one slot)."""
    if hasattr(client, 'connection_pool') or not hasattr(client, 'get_node_from_key'):
        return client
    return client.get_redis_connection(client.get_node_from_key(key))

"""The Lua scripts in ``lua/``, run by SHA.

``run`` calls a script at once (redis-py loads it again after a ``SCRIPT FLUSH`` or a restart).
In a pipeline or transaction, ``queue`` adds the call as an EVAL with the script's source, so it
can never be refused: a transaction whose later steps read what an earlier script wrote (a success
marks the job finished, then releases the dependents that waited for it) must run every step in
order, and the server may know some of the scripts and not others (after a restart or
``SCRIPT FLUSH``, once other calls loaded theirs again). The server still compiles each script once.

Redis runs one script at a time and nothing else meanwhile (past ``busy-reply-threshold`` every
other client is answered ``BUSY``), so every script does a bounded amount of work per call:

- sweeps go in batches of at most :data:`SWEEP_BATCH` ids and the Python side calls again:
  ``claim_job`` (dead ids: a reply ``{0, n}`` means "n dropped, nothing claimed yet"),
  ``empty_queue`` (``{removed, left}``), ``forget_empty_group`` (one ``SSCAN`` step, ``{cursor, n}``),
  ``compact_queue`` (one window of the queue, reached by one walk from its head: ``{looked at, dropped}``);
- the others do work proportional to what the caller names or to one job: ``enqueue`` (its
  dependencies), ``enqueue_batch`` (the jobs of its batch, at most ``batch_ops.BATCH_JOBS``),
  ``move_due_jobs`` (the ids passed, a batch the scheduler reads with a limit),
  ``enqueue_ready`` (the ids passed, batches of at most :data:`SWEEP_BATCH` that ``ready_ops`` reads),
  ``cancel`` (the job's executions; its ``LREM`` on the queue is one command, as upstream's),
  ``release_dependents``/``move_dependents``/``lib_release`` (the parent's dependents, each of which
  is queued, made ready or dropped: work the release has to do anyway), ``claim_job``'s look-up of
  an unanswered claim (the started registries: the jobs running now), and scripts about one job or one key (``requeue``,
  ``push_job_id``, ``claim_expired``, ``hset_if_exists``, the scheduler lock ones,
  ``move_back_from_intermediate``, and the one-job ``finish_job`` and ``hand_back_claim``).

Scripts that push ids onto a queue (``enqueue``, ``enqueue_batch``, ``push_job_id``, ``requeue``) take a call token
(``rq:enqueue-token:<token>``, see ``ops.ENQUEUE_TOKEN_TTL``), so a copy that redis-py sends again
after a late reply (alone or in a pipeline) pushes nothing and returns the first copy's reply. The
others are safe to repeat by what they check: ``move_due_jobs`` moves an id only while it is in the
scheduled registry, ``enqueue_ready`` only an id it takes out of the ready registry,
``release_dependents`` and ``move_dependents`` only a dependent still ``deferred``,
``move_back_from_intermediate`` only an id still in the intermediate list, and ``claim_job`` returns
the job already claimed under its execution id.

No script spells a key prefix (the headers name keys as they are with the default prefix ``rq``):
key names come in KEYS, and a script that builds names from ids it reads or is given (``claim_job``, ``enqueue_batch``,
``empty_queue``, ``compact_queue``, ``forget_empty_group``, ``lib_release`` through
``release_dependents``, ``move_dependents`` and ``finish_job``, and every script that may queue a
rate-limited job: ``keys.RATE_LIMIT_CONTEXT``, see ``lib_rate_limit``) gets the prefixes of
:mod:`rq._redis.keys`, which follow ``RQ_KEY_PREFIX``, in ARGV.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.cluster import ClusterPipeline
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError

from . import held_connections, keys
from .pool import checkout

_INCLUDE = '-- @include '

#: The most ids a sweeping script handles in one call (see the module docstring).
SWEEP_BATCH = 1000


@cache
def source(name: str) -> str:
    """The text of ``lua/<name>.lua``, with each ``-- @include <lib>`` line replaced by that file."""
    text = resources.files(__package__).joinpath('lua').joinpath(f'{name}.lua').read_text(encoding='utf-8')
    lines = [source(line[len(_INCLUDE) :].strip()) if line.startswith(_INCLUDE) else line for line in text.split('\n')]
    return '\n'.join(lines)


@cache
def sha(name: str) -> str:
    return hashlib.sha1(source(name).encode('utf-8')).hexdigest()


_scripts: dict[str, Script] = {}


def run(name: str, client: Any, keys: list[str], args: list[Any]) -> Any:
    """Run script ``name`` with ``client`` (a connection or a pipeline).

    In a pipeline the call is queued and its reply comes with ``execute()``. In a pipeline of
    redis-py's cluster client the call is queued as an EVAL (:func:`queue`): such a pipeline does
    not load its scripts before it runs, as ``Pipeline`` does, and before redis-py 8.2 it refuses
    EVALSHA altogether.
    """
    if isinstance(client, ClusterPipeline):
        queue(client, name, keys, args)
        return client
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = Script(client, source(name))
    return script(keys=keys, args=args, client=client)


def queue(pipe: Pipeline | ClusterPipeline, name: str, keys: list[str], args: list[Any]) -> None:
    """Queue a call of script ``name`` in ``pipe`` (an EVAL: it runs even where the server does not
    know the script yet, in its place among the pipeline's commands)."""
    pipe.execute_command('EVAL', source(name), len(keys), *keys, *args)  # type: ignore[no-untyped-call]


def execute(pipe: Pipeline) -> list[Any]:
    """Execute ``pipe``; errors are returned in place of their replies (as ``raise_on_error=False``)."""
    replies: list[Any] = pipe.execute(raise_on_error=False)
    return replies


#: A script call as :func:`call` and :func:`call_pair` take it: name, keys, arguments.
ScriptCall = tuple[str, list[str], list[Any]]

#: What :func:`call_pair` returns in place of a reply when the server did not know the script.
NOT_LOADED = object()


def call(name: str, client: Any, keys: list[str], args: list[Any]) -> Any:
    """Like :func:`run`, for the calls a worker makes on every job: the EVALSHA is packed here and
    sent on a pooled connection directly, which costs a fraction of redis-py's generic command
    path (this matters at thousands of jobs a second). A script unknown to the server (NOSCRIPT:
    after a restart or ``SCRIPT FLUSH``) is run by :func:`run`, which loads it. Connection errors
    propagate, as from any command."""
    if not direct(client):
        return run(name, client, keys, args)
    [reply] = _exchange(client, [(name, keys, args)])
    if reply is NOT_LOADED:
        return run(name, client, keys, args)
    if isinstance(reply, ResponseError):
        raise reply
    return reply


def call_pair(client: Any, first: ScriptCall, second: ScriptCall, via: Any = None) -> list[Any]:
    """Two script calls in one round trip (sent together, run one after the other). Returns both
    replies; a reply is :data:`NOT_LOADED` when that script was unknown to the server (it did not
    run: the caller decides what to do, since the other one may have run) and an exception
    instance when the script raised. Connection errors propagate.

    ``via``: a connection of the caller's own (see :func:`own_connection`), used instead of one
    from the client's pool."""
    return call_many(client, [first, second], via)


def call_many(client: Any, calls: list[ScriptCall], via: Any = None) -> list[Any]:
    """Several script calls in one round trip, as :func:`call_pair` sends two."""
    if not direct(client):  # one after the other, through the client's own command path
        return [run(name, client, keys, args) for name, keys, args in calls]
    if via is not None:
        return _exchange_on(via, calls)
    return _exchange(client, calls)


def own_connection(client: Any) -> Any:
    """A connection of its own for a thread that calls scripts on every job (a worker's slot),
    made like the client pool's connections: no pool to check it out from and give it back to
    (which costs a lock, a look at the socket and redis-py's events on every call). None for a
    client whose calls go through its own command path (see :func:`direct`)."""
    if not direct(client):
        return None
    pool = client.connection_pool
    return pool.connection_class(**pool.connection_kwargs)


def direct(client: Any) -> bool:
    """Whether calls may bypass the client's command path: a plain ``Redis`` (or subclass that
    keeps its ``execute_command``) on a connection pool. A client that routes its commands itself
    (a single-connection client, rq-testing's fake connection, a wrapper that counts commands)
    keeps every call on its own path."""
    return (
        isinstance(client, Redis)
        and getattr(client, 'connection', None) is None
        and type(client).execute_command is Redis.execute_command
    )


def _exchange(client: Any, calls: list[ScriptCall]) -> list[Any]:
    """Send ``calls`` as EVALSHAs in one write on a connection of the client's pool (a held one,
    see :mod:`.held_connections`) and read their replies: :data:`NOT_LOADED` for NOSCRIPT, the
    exception for any other error reply."""
    pool = client.connection_pool
    connection = held_connections.take(pool)
    held = connection is not None
    if not held:
        connection = checkout(pool, 'EVALSHA')
    try:
        return _exchange_on(connection, calls)
    finally:
        if held:
            held_connections.give_back(pool, connection)
        else:
            pool.release(connection)


def _exchange_on(connection: Any, calls: list[ScriptCall]) -> list[Any]:
    """:func:`_exchange` on a given connection (a lost one is connected again by redis-py)."""
    send_calls(connection, calls)
    return read_replies(connection, len(calls))


def send_calls(connection: Any, calls: list[ScriptCall]) -> None:
    """Send ``calls`` as EVALSHAs in one write on ``connection`` (connected first if it is not);
    read their replies with :func:`read_replies`. On an error the connection is dropped."""
    packed = packed_calls(calls)
    try:
        connection.send_packed_command([packed])
    except BaseException:
        connection.disconnect()
        raise


def read_replies(connection: Any, count: int) -> list[Any]:
    """The replies to ``count`` script calls sent on ``connection``: :data:`NOT_LOADED` for
    NOSCRIPT, the exception for any other error reply. On an error reading them the connection is
    dropped (a reply may still be on its way: it is never reused)."""
    replies: list[Any] = []
    try:
        for _ in range(count):
            try:
                replies.append(connection.read_response())
            except NoScriptError:
                replies.append(NOT_LOADED)
            except ResponseError as exc:
                replies.append(exc)
    except BaseException:
        connection.disconnect()
        raise
    return replies


def packed_calls(calls: list[ScriptCall]) -> bytes:
    """``calls`` as EVALSHA requests, in one buffer (see :func:`pack`)."""
    return b''.join(pack(['EVALSHA', sha(name), len(keys), *keys, *args]) for name, keys, args in calls)


def _bulk_string(word: bytes) -> bytes:
    return b'$%d\r\n%s\r\n' % (len(word), word)


#: Words that most script calls carry, packed once: the job hash's and result entries' field names
#: and empty value, the scripts' flags, the key prefixes and fixed key names, small numbers (counts,
#: TTLs, outcomes), and the words a process says it uses on every call (see :func:`remember`).
#: Looked up by exact type and value.
_PACKED_WORDS: dict[str | int, bytes] = {
    **{
        word: _bulk_string(word.encode())
        for word in (
            '', '0', '1', 'R', 'L', 'S', 'N', 'EVALSHA', 'data', 'created_at', 'status', 'queued',
            'success_callback_name', 'failure_callback_name', 'stopped_callback_name', 'started_at',
            'ended_at', 'last_heartbeat', 'worker_name', 'group_id', 'origin', 'description', 'timeout',
            'result_ttl', 'failure_ttl', 'ttl', 'meta', 'enqueued_at', 'signature',
            'type', 'return_value', 'exc_string', 'execution_id', 'execution_started_at',
            'execution_ended_at', keys.QUEUES, keys.SUSPENDED, keys.JOB_PREFIX, keys.QUEUE_PREFIX,
            keys.EXECUTION_PREFIX, keys.EXECUTIONS_PREFIX, *keys.RATE_LIMIT_CONTEXT,
            *keys.REGISTRY_PREFIXES.values(),
        )
    },
    **{number: _bulk_string(b'%d' % number) for number in range(-1, 1025)},
}  # fmt: skip

#: How many words :func:`remember` adds at most (it is for a process's fixed names, not for ids).
_REMEMBERED_LIMIT = 4096
_remembered = 0


def remember(*words: str) -> None:
    """Pack ``words`` once from now on: names a process sends on every call and that do not
    change (a worker's name and its keys, its queues' keys). Words past the first
    ``_REMEMBERED_LIMIT`` are left out: packing them each time is only slower."""
    global _remembered
    for word in words:
        if word not in _PACKED_WORDS and _remembered < _REMEMBERED_LIMIT:
            _PACKED_WORDS[word] = _bulk_string(word.encode())
            _remembered += 1


def pack(items: list[Any]) -> bytes:
    """The RESP request for one command, each item as :func:`bulk` writes it (its steps inlined
    here: a call per item would cost a quarter more on each enqueue)."""
    parts = [b'*%d\r\n' % len(items)]
    append = parts.append
    packed_word = _PACKED_WORDS.get
    for item in items:
        kind = type(item)
        if kind is str or kind is int:
            packed = packed_word(item)
            if packed is not None:
                append(packed)
                continue
            item = item.encode('utf-8') if kind is str else b'%d' % item
        elif kind is not bytes:
            item = _encoded(item)
        append(b'$%d\r\n%s\r\n' % (len(item), item))
    return b''.join(parts)


def bulk(item: Any) -> bytes:
    """One argument as a RESP bulk string (strings as UTF-8, numbers as their decimal text). The
    common types are told apart by their exact type (this runs for every argument of every job's
    script calls); subclasses take the general path."""
    kind = type(item)
    if kind is str or kind is int:
        packed = _PACKED_WORDS.get(item)
        if packed is not None:
            return packed
        item = item.encode('utf-8') if kind is str else b'%d' % item
    elif kind is not bytes:
        item = _encoded(item)
    return b'$%d\r\n%s\r\n' % (len(item), item)


def _encoded(item: Any) -> bytes:
    if isinstance(item, str):
        return item.encode('utf-8')
    if isinstance(item, float):
        return repr(item).encode('ascii')
    if isinstance(item, int) and not isinstance(item, bool):
        return b'%d' % item
    if isinstance(item, bytes):
        return bytes(item)
    raise TypeError(f'cannot send {type(item).__name__} to Redis: {item!r}')

"""Script calls that place many jobs (``lua/enqueue_batch.lua`` for plain jobs, ``enqueue`` for the
others), built without I/O, and a stream that sends them on one connection.

With one call per job, most of an enqueue's time goes to the call itself (dispatch, packing ~60
arguments, a round trip); with one MULTI holding every call, Redis starts only once the last byte has
arrived and the client holds every packed call at once. Here a batch of plain jobs is one call, packed
straight from the job hashes, and the client writes the next calls while Redis runs the earlier ones
(at most :data:`AHEAD` unanswered), reading each reply as it comes: client and server work at the
same time, and only a window of packed calls exists at any moment.

:class:`BatchBuilder`, :func:`job_unit` and :class:`Stream` do no I/O (the asyncio client sends the
same units with its own connections); :func:`send_stream` drives a stream on a redis-py connection.

Calls written on one connection run in order, so a job that depends on an earlier job of the same
stream finds it saved. A call refused with NOSCRIPT (after a restart or ``SCRIPT FLUSH``) while later
calls of another, loaded script run would break that: so a batch call names the token of the call
written just before it when that one's reply has not come yet, and does nothing when that token is
missing (see the script), and a per-job call, which cannot check, is not written while a batch call
is unanswered; what did not run is written again, in order, once its script is loaded. (Per-job
calls in a row share one script: one refused means the next is refused too, unless another client
loads the script in the microseconds between the two.) A lost connection: see :meth:`Stream.requeue`
and :func:`fence`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from . import keys, ops, scripts
from .pool import checkout

#: The most jobs in one ``enqueue_batch`` call: the script's work is proportional to it (a few ms at
#: most, during which every other client waits).
BATCH_JOBS = 100
#: A batch also ends once its packed jobs pass this many bytes (jobs with large arguments).
BATCH_BYTES = 1 << 20
#: Calls written before the reply to the first is read: enough that Redis has the next call at hand
#: while the client packs another; each keeps its packed bytes until its reply comes.
AHEAD = 4
#: Times in a row that calls which did not run are written again (a failover between load and call).
_ATTEMPTS = 3
#: The steps of a :class:`Stream` (see :meth:`Stream.next_step`).
WRITE, READ, LOAD = 'write', 'read', 'load'
#: What :func:`fence` writes under the token of a call that had not run (that it never will).
FENCED = 'fenced'
#: The errors after which the calls written on a connection have unknown outcomes.
CONNECTION_ERRORS = (ConnectionError, TimeoutError, OSError)

#: A prepared plain job: its id, whether it goes to the queue's head, its ttl (None or <= 0: none)
#: and its hash (``Job.to_dict()``).
PlainJob = tuple[str, bool, 'int | None', Mapping[str, Any]]
#: Called with each unit that ran and its reply; with the units whose outcome stays unknown.
OnReply = Callable[['Unit', Any], None]
OnUnknown = Callable[[list['Unit']], None]

_TOKEN_PREFIX = keys.enqueue_token_key('')
_bulk = scripts.bulk


class JobPacker:
    """Packs plain jobs' arguments of ``enqueue_batch`` calls (RESP bulk strings), for one stream.

    This runs for every job, and most fields of the jobs of one call have the same value (empty
    callback names and timestamps, origin, timeout, often description): each field's last packed
    value is kept, and a job whose value is the same (same type, equal) reuses its bytes. That
    halves the packing time of a typical job; what is kept is one value per field name."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Any, bytes]] = {}

    def pack(self, job: PlainJob) -> bytes:
        job_id, at_front, ttl, mapping = job
        encoded_id = job_id.encode('utf-8')
        count = 2 * len(mapping)
        parts = [
            b'$%d\r\n%s\r\n' % (len(encoded_id), encoded_id),
            b'$1\r\nL\r\n' if at_front else b'$1\r\nR\r\n',
            _bulk(ttl) if ttl and ttl > 0 else b'$2\r\n-1\r\n',
            _bulk(count),
        ]
        append = parts.append
        last = self._last
        for field, value in mapping.items():
            kind = type(value)
            entry = last.get(field)
            if entry is not None:
                known = entry[0]
                if known is value or (type(known) is kind and known == value):
                    append(entry[1])
                    continue
            packed = _bulk(field) + _bulk(value)
            last[field] = (value, packed)
            append(packed)
        return b''.join(parts)


def batch_head(enqueued_at: str, group_id: str | None) -> list[Any]:
    """The arguments of an ``enqueue_batch`` call before its jobs' (see the script)."""
    return [keys.JOB_PREFIX, enqueued_at, group_id or '', ops.ENQUEUE_TOKEN_TTL]


def batch_keys(queue_name: str, group_id: str | None, token: str) -> list[str]:
    """The keys of an ``enqueue_batch`` call (without the optional sixth, see :meth:`Unit.request`)."""
    queue_keys = [keys.queue_key(queue_name), keys.QUEUES]
    return [*queue_keys, keys.group_key(group_id or ''), keys.GROUPS, keys.enqueue_token_key(token)]


def batch_call(
    queue_name: str, jobs: Iterable[PlainJob], enqueued_at: str, group_id: str | None, token: str
) -> tuple[list[str], list[Any]]:
    """One ``enqueue_batch`` call as ``(keys, args)``, for a caller that sends it itself (the same
    call that :class:`BatchBuilder` packs)."""
    args = batch_head(enqueued_at, group_id)
    for job_id, at_front, ttl, mapping in jobs:
        args += (job_id, 'L' if at_front else 'R', ttl if ttl and ttl > 0 else -1, 2 * len(mapping))
        for field, value in mapping.items():
            args += (field, value)
    return batch_keys(queue_name, group_id, token), args


@dataclass(eq=False)
class Unit:
    """One script call of a stream: its keys, its arguments packed (``body``, ``argc`` of them) or
    as a list (``args``, for a client that packs them itself), and what the caller needs once its
    reply comes (``payload``)."""

    name: str
    keys: list[str]
    body: bytes
    argc: int
    payload: Any
    args: list[Any] | None = None
    #: The key of its call token (``rq:enqueue-token:<token>``), one of ``keys``.
    token_key: str = ''

    def __post_init__(self) -> None:
        if not self.token_key:
            self.token_key = next(key for key in self.keys if key.startswith(_TOKEN_PREFIX))

    def request(self, after: str | None = None) -> bytes:
        """The EVALSHA request; for a batch, ``after`` is the token key of the call written just
        before it whose reply has not come yet (the script checks that it ran)."""
        call_keys = [*self.keys, after] if after and self.name == 'enqueue_batch' else self.keys
        head = [b'EVALSHA', scripts.sha(self.name), len(call_keys), *call_keys]
        return b'*%d\r\n%s%s' % (len(head) + self.argc, b''.join(map(_bulk, head)), self.body)


class BatchBuilder:
    """Packs plain jobs into one ``enqueue_batch`` call as they come (``packer`` is shared by the
    batches of a stream). With ``keep_args`` the unit also gets its arguments as a list, for a
    client that sends through its own command path (the jobs are then kept until :meth:`unit`)."""

    def __init__(
        self, queue_name: str, group_id: str | None, enqueued_at: str, packer: JobPacker, keep_args: bool = False
    ) -> None:
        self.queue_name, self.group_id, self.enqueued_at, self._packer = queue_name, group_id, enqueued_at, packer
        self._kept: list[PlainJob] | None = [] if keep_args else None
        head = batch_head(enqueued_at, group_id)
        self._parts = [_bulk(item) for item in head]
        self._argc, self._size, self.jobs = len(head), 0, 0

    def add(self, job: PlainJob) -> bool:
        """Add a job; True when the batch is full."""
        packed = self._packer.pack(job)
        self._parts.append(packed)
        if self._kept is not None:
            self._kept.append(job)
        self._argc += 4 + 2 * len(job[3])
        self._size += len(packed)
        self.jobs += 1
        return self.jobs >= BATCH_JOBS or self._size >= BATCH_BYTES

    def unit(self, payload: Any) -> Unit:
        """The call, with a token of its own."""
        token = ops.new_token()
        call_keys = batch_keys(self.queue_name, self.group_id, token)
        args = None
        if self._kept is not None:
            args = batch_call(self.queue_name, self._kept, self.enqueued_at, self.group_id, token)[1]
        return Unit('enqueue_batch', call_keys, b''.join(self._parts), self._argc, payload, args, call_keys[4])


def job_unit(call: tuple[list[str], list[Any]], payload: Any) -> Unit:
    """An ``enqueue`` call (``ops.enqueue_call``'s keys and arguments) as a unit of a stream."""
    call_keys, args = call
    packed = scripts.pack(args)
    return Unit('enqueue', call_keys, packed[packed.index(b'\r\n') + 2 :], len(args), payload, args)


def ran(unit: Unit, reply: Any) -> bool:
    """Whether a reply says that the call ran (not NOSCRIPT, no error, not held back by ``after``)."""
    if reply is scripts.NOT_LOADED or isinstance(reply, ResponseError):
        return False
    return unit.name != 'enqueue_batch' or int(reply) >= 0


class Stream:
    """Which requests of a stream of units to write, and when; no I/O: the caller writes each
    :meth:`next_request`, reads replies in the order written and hands each to :meth:`received`.

    A unit that did not run stops the stream (``stopped``) until every unanswered unit is answered;
    the caller then loads the scripts of :attr:`to_load`, or raises :attr:`error`, and calls
    :meth:`resume`: the units that did not run are written again, in order, before the others."""

    def __init__(self, units: Iterator[Unit], ahead: int = AHEAD) -> None:
        self._units, self._ahead = units, ahead
        self._pending: deque[Unit] = deque()
        self._not_run: list[Unit] = []
        self.in_flight: deque[Unit] = deque()
        self.to_load: set[str] = set()
        self.error: ResponseError | None = None
        self.stopped = False
        self._attempts = 0
        #: Units written on a lost connection and not answered since: each may have run.
        self.uncertain: dict[int, Unit] = {}

    def next_request(self) -> bytes | None:
        """The next request to write, or None: read a reply first, or (nothing in flight) the
        stream is stopped or over."""
        if self.stopped or len(self.in_flight) >= self._ahead:
            return None
        unit = self._pending.popleft() if self._pending else next(self._units, None)
        if unit is None:
            return None
        if unit.name != 'enqueue_batch' and any(other.name == 'enqueue_batch' for other in self.in_flight):
            self._pending.appendleft(unit)  # it cannot check that the batches before it ran
            return None
        after = self.in_flight[-1].token_key if self.in_flight else None
        self.in_flight.append(unit)
        return unit.request(after)

    def next_step(self) -> tuple[str, Any] | None:
        """What the driver does next: ``(WRITE, request)``; ``(READ, None)``: read a reply for
        :meth:`take`; ``(LOAD, names)``: load these scripts, then :meth:`resume`; None: over. Raises
        a call's error reply (``ResponseError``) once every call written is answered."""
        request = self.next_request()
        if request is not None:
            return WRITE, request
        if self.in_flight:
            return READ, None
        if not self.stopped:
            return None
        if self.error is not None:
            raise self.error
        return LOAD, sorted(self.to_load)

    def take(self, reply: Any, on_reply: OnReply) -> None:
        """:meth:`received`, then ``on_reply`` with the unit when it ran."""
        outcome = self.received(reply)
        if outcome is not None:
            on_reply(*outcome)

    def received(self, reply: Any) -> tuple[Unit, Any] | None:
        """The reply to the oldest unanswered unit: ``(unit, reply)`` when it ran, else None."""
        unit = self.in_flight.popleft()
        self.uncertain.pop(id(unit), None)
        if ran(unit, reply):
            if not self.stopped:
                self._attempts = 0
            return unit, reply
        if reply is scripts.NOT_LOADED:
            self.to_load.add(unit.name)
        elif isinstance(reply, ResponseError) and self.error is None:
            self.error = reply
        self._not_run.append(unit)
        self.stopped = True
        return None

    def requeue(self) -> None:
        """The connection was lost: the unanswered units are written again, first and in order, on
        the next one. Each carries its token, so a copy of a unit that did run does nothing and
        answers as the first copy did; and a copy sent before the loss that reaches the server
        late finds the token of the one sent again. Order holds as well: the copies of one
        connection run in order, and a batch runs only after the call before it ran."""
        for unit in self.in_flight:
            self.uncertain[id(unit)] = unit
        self._pending.extendleft(reversed(self.in_flight))
        self.in_flight.clear()

    def resume(self) -> None:
        """Write the units that did not run again (once :attr:`to_load` is loaded).

        Raises:
            NoScriptError: this happened too many times in a row (the server keeps forgetting).
        """
        self._attempts += 1
        if self._attempts > _ATTEMPTS:
            raise NoScriptError(f'the server keeps forgetting scripts {sorted(self.to_load)}')
        self._pending.extendleft(reversed(self._not_run))
        self._not_run.clear()
        self.to_load.clear()
        self.stopped = False


def send_stream(client: Any, units: Iterator[Unit], on_reply: OnReply, on_unknown: OnUnknown) -> None:
    """Send ``units`` as a :class:`Stream` on one pooled connection of ``client`` (a plain redis-py
    client, see ``scripts.direct``); ``on_reply`` gets each unit that ran, in order.

    A lost connection is handled by the connection's own retry policy (``Retry``, as redis-py does
    for any command): the stream goes on on a new connection, from the units whose replies had not
    come (:meth:`Stream.requeue`). When the stream fails for good, the units it cannot account for
    are settled first (their replies read, or :func:`fence`); ``on_unknown`` gets those whose
    outcome stays unknown.

    Raises:
        ResponseError: a call's error reply (nothing after it was written again).
        NoScriptError: see :meth:`Stream.resume`.
        ConnectionError, TimeoutError: as any command, once the retries are spent.
    """
    pool = client.connection_pool
    connection = checkout(pool, 'EVALSHA')
    stream = Stream(units)

    def lost(error: BaseException | None = None) -> None:
        connection.disconnect()
        stream.requeue()

    def settle() -> None:
        lost()
        on_unknown(fence(client, list(stream.uncertain.values()), on_reply))

    retry = getattr(connection, 'retry', None)
    try:
        if retry is None:
            _drive(connection, stream, on_reply)
        else:
            retry.call_with_retry(lambda: _drive(connection, stream, on_reply), lost)
    except CONNECTION_ERRORS:
        settle()
        raise
    except Exception:  # raised while packing a unit, or an error reply: the connection is sound
        try:
            while stream.in_flight:
                stream.take(scripts.read_replies(connection, 1)[0], on_reply)
        except CONNECTION_ERRORS:
            settle()
        raise
    except BaseException:  # (KeyboardInterrupt) replies may be on their way: the connection is dropped
        lost()
        on_unknown(list(stream.uncertain.values()))
        raise
    finally:
        pool.release(connection)


def _drive(connection: Any, stream: Stream, on_reply: OnReply) -> None:
    while (step := stream.next_step()) is not None:
        kind, value = step
        if kind == WRITE:
            try:
                connection.send_packed_command([value])
            except BaseException:
                connection.disconnect()
                raise
        elif kind == READ:
            stream.take(scripts.read_replies(connection, 1)[0], on_reply)
        else:
            for name in value:
                connection.send_command('SCRIPT', 'LOAD', scripts.source(name))
                connection.read_response()
            stream.resume()


def fence(client: Any, units: Sequence[Unit], on_reply: OnReply) -> list[Unit]:
    """After a lost connection, find out for each unanswered unit whether it ran: one transaction
    reads each token and writes :data:`FENCED` under those that are missing, so that a copy still on
    its way to the server finds a token and does nothing. ``on_reply`` gets the units that ran, with
    the reply they left under their token. Returns the units whose outcome stays unknown (all of
    them when the server cannot be reached either)."""
    if not units:
        return []
    try:
        with client.pipeline(transaction=True) as pipe:
            queue_fence(pipe, units)
            replies = pipe.execute()
    except Exception:  # still out of reach (or a client that refuses the transaction): unknown
        return list(units)
    apply_fence(units, replies, on_reply)
    return []


def queue_fence(pipe: Any, units: Sequence[Unit]) -> None:
    """Add :func:`fence`'s reads and writes to a transaction (sync or asyncio)."""
    for unit in units:
        pipe.get(unit.token_key)
        pipe.set(unit.token_key, FENCED, nx=True, ex=ops.ENQUEUE_TOKEN_TTL)


def apply_fence(units: Sequence[Unit], replies: Sequence[Any], on_reply: OnReply) -> None:
    """Hand ``on_reply`` the units that ran, by the replies of :func:`queue_fence`'s transaction."""
    for unit, earlier in zip(units, replies[::2], strict=True):
        if earlier is not None and earlier not in (FENCED, FENCED.encode()):
            on_reply(unit, int(earlier))

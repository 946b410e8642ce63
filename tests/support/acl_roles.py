"""The Redis ACL users of rq's four roles: the one place that says what each may run.

tests/security/test_acl.py creates exactly these users (``ACL SETUSER``) on a private server and
runs each role's real operations under them; the README's "TLS and ACL" section shows the same
``ACL SETUSER`` lines, and a test compares them with this module.

Each line starts with ``reset`` (no commands, keys or passwords; user off), then ``on`` and the
password, then the commands one by one (no ``@category``), the key pattern, ``resetchannels`` and
the channel pattern. Every key rq uses starts with ``rq:`` (the default ``RQ_KEY_PREFIX``), every channel
(a worker's commands) with ``rq:pubsub:``.

The lists were found by running each role's operations under a user allowed everything but
dangerous commands, then under these rules with ``ACL LOG`` watched, removing what no operation
needed. Redis checks the commands a Lua script sends against the caller's ACL too, whichever
branch the script takes, so ``scripts`` names the scripts (``rq/_redis/lua``) each role runs and a
role is allowed every command they contain: test_acl checks both (the scripts a role's operations
load are among its ``scripts``, and their commands among its ``commands``).

Commands outside the scripts, by role:

- producer: ``multi``/``exec`` (enqueue_many, cancel), ``script|exists``/``script|load``
  (redis-py loads a script a pipeline runs), ``hgetall`` (Job.fetch), ``llen`` (Queue.count),
  ``lpos`` (Queue.get_job_position), ``xrevrange``/``xread`` (results; ``latest_result(timeout=)``
  blocks on XREAD).
- worker: ``blmove`` (waiting for a job), ``subscribe``/``unsubscribe`` (its command channel),
  ``ping``, ``client|setname`` and
  ``client|info`` (it names its connection; without them it logs a warning), ``watch``,
  ``hexists``, ``zrangebyscore`` and ``zremrangebyscore`` (registries and their cleaning),
  ``eval`` (scripts queued in a transaction are sent with their source).
- cli: ``scan``/``zscan`` (``rq job``/``rq requeue`` with the start of an id: SCAN MATCH
  ``rq:job:<start>*``), ``scard``, ``zrevrange``, ``zrangebyscore``, ``zremrangebyscore`` and
  ``xrevrange`` (``rq info``, ``rq failed``, ``rq job``), and the worker's maintenance commands
  for ``rq info --clean``, which fails abandoned jobs as a worker does.
- cron: ``watch``/``unwatch``/``multi``/``exec`` (each run is claimed in a transaction),
  ``hsetnx`` (the time a cron string counts from), ``zremrangebyrank`` (the job history).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The keys every role reads and writes: all of rq's, none else.
KEYS = ('~rq:*',)
#: The workers' command channels (``rq:pubsub:<worker name>``).
WORKER_CHANNELS = ('&rq:pubsub:*',)
#: Every script in rq/_redis/lua (the ``lib_`` files are parts of others).
ALL_SCRIPTS = (
    'cancel', 'claim_expired', 'claim_job', 'compact_queue', 'empty_queue', 'enqueue', 'enqueue_batch',
    'enqueue_ready', 'finish_job', 'forget_empty_group', 'hand_back_claim', 'hset_if_exists',
    'move_back_from_intermediate', 'move_dependents', 'move_due_jobs', 'push_job_id', 'rate_limit_fill',
    'rate_limit_forget', 'rate_limit_settle', 'release_dependents', 'requeue', 'scheduler_lock', 'scheduler_unlock',
)  # fmt: skip


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class Role:
    """One ACL user: its name, the commands it may run, its key and channel patterns."""

    name: str
    user: str
    commands: tuple[str, ...]
    channels: tuple[str, ...] = ()
    keys: tuple[str, ...] = KEYS
    scripts: tuple[str, ...] = ()

    def rules(self) -> list[str]:
        """The ACL rules after ``reset on >password``: commands, key patterns, channel patterns
        (``resetchannels`` first: ``reset`` allows every channel where ``acl-pubsub-default`` says
        ``allchannels``)."""
        return [*(f'+{command}' for command in self.commands), *self.keys, 'resetchannels', *self.channels]

    def setuser_arguments(self, password: str) -> list[str]:
        return ['reset', 'on', f'>{password}', *self.rules()]

    def setuser_line(self, password: str) -> str:
        """The ``ACL SETUSER`` line for redis-cli, as the README shows it."""
        return ' '.join(['ACL', 'SETUSER', self.user, *self.setuser_arguments(password)])


PRODUCER = Role(
    name='producer',
    user='rq-producer',
    commands=words(
        """
        evalsha exec exists expire get hget hgetall hmget hset llen lpos lpush lrem multi rpush sadd
        script|exists script|load set smembers srem xread xrevrange zadd zcard zcount zpopmin zrange zrem
        """
    ),
    scripts=('cancel', 'enqueue', 'enqueue_batch', 'move_dependents', 'rate_limit_settle'),
)

WORKER = Role(
    name='worker',
    user='rq-worker',
    commands=words(
        """
        blmove client|info client|setname del eval evalsha exec exists expire get hdel hexists hget hgetall
        hincrby hincrbyfloat hmget hset hsetnx llen lpop lpush lrange lrem lset multi persist ping
        pttl rpush sadd script|exists script|load set smembers srem sscan subscribe ttl unsubscribe watch xadd
        xrange zadd zcard zcount zpopmin zrange zrangebyscore zrem zremrangebyscore zscore
        """
    ),
    channels=WORKER_CHANNELS,
    scripts=ALL_SCRIPTS,
)

CLI = Role(
    name='cli',
    user='rq-cli',
    commands=words(
        """
        del eval evalsha exec exists expire get hdel hget hgetall hincrby hincrbyfloat hmget hset hsetnx llen
        lpop lpush lrange lrem lset multi persist ping pttl rpush sadd scan scard script|exists script|load set
        smembers srem sscan ttl xadd xrange xrevrange zadd zcard zcount zpopmin zrange zrangebyscore zrem
        zremrangebyscore zrevrange zscan zscore
        """
    ),
    scripts=ALL_SCRIPTS,
)

CRON = Role(
    name='cron',
    user='rq-cron',
    commands=words(
        """
        evalsha exec exists expire get hget hgetall hmget hset hsetnx lpush multi ping rpush sadd
        script|exists script|load set unwatch watch zadd zcard zcount zpopmin zrem zremrangebyrank
        """
    ),
    scripts=('enqueue',),
)

ROLES = (PRODUCER, WORKER, CLI, CRON)

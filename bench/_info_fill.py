"""Fill a Redis with job ids for ``info_speed.py``: N ids spread evenly over each queue's list and
its six registries, plus a few worker records, written with pipelined RPUSH/ZADD.

Only ids are written (no job hashes): counting never reads a job, and neither ``rq info`` fetches
one unless a started entry has expired, which never happens here. The keys come from rq's own
names (``Queue.key``, each registry's ``.key``).

``expired=True`` scores the finished and failed entries in the past, as they are in a busy system
between two maintenance passes (results outlive their ``result_ttl`` until someone cleans up).
"""

from __future__ import annotations

import redis

from rq import Queue
from rq.utils import current_timestamp
from rq.worker import SimpleWorker

CHUNK = 10_000
#: registry attribute -> score offset in seconds from now (in the future: not expired).
REGISTRIES = {
    'started_job_registry': 3600,
    'finished_job_registry': 86400,
    'failed_job_registry': 31536000,
    'deferred_job_registry': 0,
    'scheduled_job_registry': 7 * 86400,
    'canceled_job_registry': 0,
}
EXPIRABLE = ('finished_job_registry', 'failed_job_registry')


def per_structure(jobs: int, queues: int) -> int:
    return jobs // (queues * (1 + len(REGISTRIES)))


def fill(connection: redis.Redis, jobs: int, queues: int, workers: int) -> None:
    """Write about ``jobs`` ids over ``queues`` queues (list + six registries each) and ``workers``
    worker records."""
    size = per_structure(jobs, queues)
    for number in range(queues):
        queue = Queue(f'bench-{number}', connection=connection)
        ids = [f'q{number}-{i}' for i in range(size)]
        with connection.pipeline(transaction=False) as pipe:
            for start in range(0, size, CHUNK):
                pipe.rpush(queue.key, *ids[start : start + CHUNK])
            pipe.sadd(Queue.redis_queues_keys, queue.key)
            pipe.execute()
        for attribute in REGISTRIES:
            fill_registry(connection, queue, attribute, size, expired=False)
    for number in range(workers):
        worker = SimpleWorker([f'bench-{number % queues}'], connection=connection, name=f'bench-worker-{number}')
        worker.register_birth()
        worker.set_state('idle')


def fill_registry(connection: redis.Redis, queue: Queue, attribute: str, size: int, expired: bool) -> None:
    """(Re)write ``size`` entries of one registry of ``queue``, expired ones or live ones."""
    now = current_timestamp()
    score = now - 60 if expired else now + REGISTRIES[attribute]
    suffix = ':execution' if attribute == 'started_job_registry' else ''
    key = getattr(queue, attribute).key
    members = [f'{queue.name}-{attribute[:3]}-{i}{suffix}' for i in range(size)]
    with connection.pipeline(transaction=False) as pipe:
        for start in range(0, size, CHUNK):
            pipe.zadd(key, dict.fromkeys(members[start : start + CHUNK], score))
        pipe.execute()


def set_expired(connection: redis.Redis, jobs: int, queues: int, expired: bool) -> None:
    """Make the finished and failed entries of every queue expired (or live again)."""
    size = per_structure(jobs, queues)
    for number in range(queues):
        queue = Queue(f'bench-{number}', connection=connection)
        for attribute in EXPIRABLE:
            fill_registry(connection, queue, attribute, size, expired)

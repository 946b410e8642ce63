"""claim_job.lua returns the claim in one string (queue index, lengths, then the job id and the job
hash's fields and values): what the worker decodes from it, and how a damaged reply fails."""

from __future__ import annotations

import time

import pytest
import redis

from rq import Queue
from rq._redis import worker_ops


def claim(connection: redis.Redis, queues: list[str]) -> object:
    moment = time.time()
    return worker_ops.claim_job(
        connection, queues, 'w', 'e1', '2026-01-01T00:00:00.000000Z', repr(moment), int(moment), 60.0
    )


def test_the_reply_gives_the_queue_the_id_and_the_hash_byte_for_byte(connection: redis.Redis) -> None:
    Queue('first', connection=connection)
    job = Queue('second', connection=connection).enqueue('rqtest_jobs.add', 1, 2, meta={'odd': 'a;b,c:d\r\n'})
    reply = claim(connection, ['first', 'second'])

    assert isinstance(reply, bytes)
    queue_name, job_id, raw = worker_ops.decode_claim(['first', 'second'], reply)  # type: ignore[misc]
    assert (queue_name, job_id) == ('second', job.id)
    assert raw == connection.hgetall(job.key)  # (status started, worker_name ... as the claim wrote them)
    assert worker_ops.claimed_job(reply) == (2, job.id)


def test_other_replies(connection: redis.Redis) -> None:
    assert worker_ops.decode_claim(['default'], claim(connection, ['default'])) is None  # (nothing queued)
    assert worker_ops.claimed_job(None) is None
    assert worker_ops.claimed_job(-1) is None
    assert worker_ops.claimed_job([0, 5]) is None
    assert worker_ops.decode_claim(['default'], -1) == worker_ops.SUSPENDED


@pytest.mark.parametrize(
    ('reply', 'message'),
    [
        (b'1,3,4,1', 'truncated'),  # (no semicolon)
        (b'1,3,4,1;abcdata', 'malformed'),  # (the body is shorter than the lengths say)
        (b'1,3,4,1;abcdataXY', 'malformed'),  # (longer)
        (b'1,3,4;abcdata', 'malformed'),  # (a field without its value)
    ],
)
def test_a_damaged_reply_is_refused(reply: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        worker_ops.decode_claim(['default'], reply)

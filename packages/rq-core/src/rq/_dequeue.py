"""Taking job ids off queues (``Queue.lpop``, ``Queue.lmove``, ``Queue.dequeue_any``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._redis import codec, keys
from .exceptions import DequeueTimeout, NoSuchJobError
from .intermediate_queue import IntermediateQueue

if TYPE_CHECKING:
    from redis import Redis

    from .job import Job
    from .queue import Queue


def _check_timeout(timeout: int | None) -> None:
    if timeout is not None and timeout <= 0:
        raise ValueError('RQ does not support indefinite timeouts. Please pick a timeout value > 0')


def pop_any(queue_keys: list[str], timeout: int | None, connection: Redis | None) -> tuple[str, str] | None:
    if connection is None:
        raise TypeError('lpop requires a Redis connection')
    _check_timeout(timeout)
    if timeout is not None:
        reply: Any = connection.blpop(queue_keys, timeout)
        if reply is None:
            raise DequeueTimeout(timeout, queue_keys)
        return codec.text(reply[0]), codec.text(reply[1])
    for queue_key in queue_keys:
        job_id: Any = connection.lpop(queue_key)
        if job_id is not None:
            return queue_key, codec.text(job_id)
    return None


def move_to_intermediate(connection: Redis, queue_key: str, timeout: int | None) -> tuple[str, str] | None:
    _check_timeout(timeout)
    intermediate = keys.intermediate_queue_key(keys.queue_name_from_key(queue_key))
    reply: Any
    if timeout is not None:
        reply = connection.blmove(queue_key, intermediate, timeout, 'LEFT', 'RIGHT')
        if reply is None:
            raise DequeueTimeout(timeout, queue_key)
    else:
        reply = connection.lmove(queue_key, intermediate, 'LEFT', 'RIGHT')
    return (queue_key, codec.text(reply)) if reply is not None else None


def dequeue_any(
    queues: list[Queue], timeout: int | None, connection: Redis | None, job_class: type[Job] | None, serializer: Any
) -> tuple[Job, Queue] | None:
    connection = connection or queues[0].connection
    by_key = {queue.key: queue for queue in queues}
    _check_timeout(timeout)
    while True:
        if len(queues) == 1:
            reply = move_to_intermediate(connection, queues[0].key, timeout)
        else:
            reply = pop_any(list(by_key), timeout, connection)
        if reply is None:
            return None
        queue_key, job_id = reply
        queue = by_key[queue_key]
        try:
            job = (job_class or queue.job_class).fetch(
                job_id, connection=connection, serializer=serializer or queue.serializer
            )
        except NoSuchJobError:  # e.g. its ttl expired while it waited: skip the id
            if len(queues) == 1:
                IntermediateQueue(queue.key, connection=connection).remove(job_id)
            continue
        except Exception as exc:
            exc.job_id = job_id  # type: ignore[attr-defined]
            exc.queue = queue  # type: ignore[attr-defined]
            raise
        return job, queue

"""RQ for asyncio code: enqueue, fetch and wait for jobs over ``redis.asyncio`` without blocking the
event loop, with the names of the synchronous API (``from rq import Queue`` becomes
``from rq.asyncio import Queue``, and each call that talks to Redis is awaited)::

    from redis.asyncio import Redis
    from rq.asyncio import Queue

    queue = Queue('default', connection=Redis())
    job = await queue.enqueue(count_words, 'https://python-rq.org')
    words = await job.result(timeout=30)

The jobs are the same in Redis as the synchronous API's: any worker runs them, and both APIs see
each other's jobs.
"""

from __future__ import annotations

from ..exceptions import JobFailedError
from ..results import Result
from .job import Job
from .queue import Queue

#: The same classes under names that cannot be confused with the synchronous ones in one module.
AsyncJob = Job
AsyncQueue = Queue

__all__ = ['AsyncJob', 'AsyncQueue', 'Job', 'JobFailedError', 'Queue', 'Result']

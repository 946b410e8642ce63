"""Running a job in the enqueueing process (``Queue(is_async=False)``).

The job goes through the same Redis states as with a worker (started, then finished or failed,
results stream, registries, dependents, webhooks). As in RQ 2.x, the job hash records the worker name
``'sync'`` while its result entries carry an empty worker name. Callbacks run without a timeout.
Retries and repeats do not apply: there is no worker to run them.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

from ._outcome import record_failure, record_success
from ._utils import now

if TYPE_CHECKING:
    from .job import Job
    from .queue import Queue

SYNC_WORKER_NAME = 'sync'
#: The worker name written in result entries of in-process runs (RQ 2.x writes '').
SYNC_RESULT_WORKER_NAME = ''


def run_sync(queue: Queue, job: Job) -> Job:
    with queue.connection.pipeline(transaction=True) as pipe:
        job.prepare_for_execution(SYNC_WORKER_NAME, pipe)
        pipe.execute()
    try:
        return_value = job.perform()
        job.ended_at = now()
        if job._success_callback_name:
            job.success_callback(job, queue.connection, return_value)
    except Exception:
        job.ended_at = job.ended_at or now()
        exc_info = sys.exc_info()
        try:
            if job._failure_callback_name:
                job.failure_callback(job, queue.connection, *exc_info)
        except Exception:
            exc_info = sys.exc_info()  # a raising failure callback replaces the job's exception
        exc_string = ''.join(traceback.format_exception(*exc_info))
        record_failure(job, queue, exc_string, worker_name=SYNC_RESULT_WORKER_NAME, allow_retry=False)
    else:
        record_success(job, queue, return_value, worker_name=SYNC_RESULT_WORKER_NAME, allow_repeat=False)
    return job

"""The site's own rq classes and exception handler, named in the settings and on command lines
(``--job-class``, ``--queue-class``, ``--worker-class``)."""

from types import TracebackType

import redis
from django.conf import settings
from django_rq.queues import DjangoRQ

from rq.job import Job
from rq.worker import SimpleWorker


class SiteJob(Job):
    pass


class SiteQueue(DjangoRQ):
    job_class = SiteJob


class SiteWorker(SimpleWorker):
    pass


def record_failure(job: Job, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType) -> bool:
    """RQ_EXCEPTION_HANDLERS: note the failure in Redis, then let rq's own handling go on."""
    redis.Redis(host='127.0.0.1', port=settings.REDIS_PORT).set(
        f'handled:{job.id}', f'{exc_type.__name__}: {exc_value}'
    )
    return True

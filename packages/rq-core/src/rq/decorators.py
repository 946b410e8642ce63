"""The ``@job`` decorator: ``f.delay(...)`` / ``f.enqueue(...)`` enqueue a call of ``f``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from .queue import Queue

if TYPE_CHECKING:
    from redis import Redis

    from .job import Job

__all__ = ['job']


class job:
    """Decorate a function so that ``f.delay(*args, **kwargs)`` enqueues it on ``queue``.

    At call time, ``depends_on`` (when truthy), ``job_id`` and ``at_front`` (when not None, so
    ``at_front=False`` overrides the decorator's ``True``) may be overridden; every other keyword goes to
    the function. ``result_ttl`` defaults to None, as in RQ 3.0: no ``result_ttl`` is written and the
    worker's default (500 s for RQ 2.x and 3.0 workers alike) applies.
    """

    queue_class: type[Queue] = Queue

    def __init__(
        self,
        queue: Queue | str,
        connection: Redis | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        queue_class: type[Queue] | None = None,
        depends_on: Any = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        description: str | None = None,
        failure_ttl: int | str | None = None,
        retry: Any = None,
        on_failure: Any = None,
        on_success: Any = None,
        on_stopped: Any = None,
        webhooks: Any = None,
    ) -> None:
        if not isinstance(queue, (str, Queue)):
            raise TypeError(f'@job needs a queue name or a Queue, not {queue!r}')
        if isinstance(queue, str) and connection is None:
            raise TypeError('@job with a queue name requires connection=Redis(...)')
        self.queue = queue
        self.queue_class = queue_class or self.queue_class
        self.connection = connection
        self.timeout = timeout
        self.result_ttl = result_ttl
        self.ttl = ttl
        self.meta = meta
        self.depends_on = depends_on
        self.at_front = at_front
        self.description = description
        self.failure_ttl = failure_ttl
        self.retry = retry
        self.on_success = on_success
        self.on_failure = on_failure
        self.on_stopped = on_stopped
        self.webhooks = webhooks

    def _queue(self) -> Queue:
        if isinstance(self.queue, Queue):
            return self.queue
        return self.queue_class(name=self.queue, connection=self.connection)

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(f)
        def delay(*args: Any, **kwargs: Any) -> Job:
            depends_on = kwargs.pop('depends_on', None) or self.depends_on
            job_id = kwargs.pop('job_id', None)
            at_front = kwargs.pop('at_front', None)
            if at_front is None:
                at_front = self.at_front
            return self._queue().enqueue_call(
                f,
                args=args,
                kwargs=kwargs,
                timeout=self.timeout,
                result_ttl=self.result_ttl,
                ttl=self.ttl,
                failure_ttl=self.failure_ttl,
                description=self.description,
                depends_on=depends_on,
                job_id=job_id,
                at_front=at_front,
                meta=self.meta,
                retry=self.retry,
                on_success=self.on_success,
                on_failure=self.on_failure,
                on_stopped=self.on_stopped,
                webhooks=self.webhooks,
            )

        f.delay = delay  # type: ignore[attr-defined]
        f.enqueue = delay  # type: ignore[attr-defined]
        return f

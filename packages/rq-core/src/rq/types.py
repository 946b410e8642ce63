"""Type aliases of RQ's public signatures (upstream's ``rq.types``), for annotations."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing import TypeAlias

    from redis import Redis

    from .job import Dependency, Job

__all__ = ['FailureCallbackType', 'FunctionReferenceType', 'JobDependencyType', 'SuccessCallbackType']

#: A job function: a callable, or the dotted path of one (``'app.tasks.send_mail'``).
FunctionReferenceType = TypeVar('FunctionReferenceType', str, Callable[..., Any])

#: What ``depends_on`` takes: a job, a job id, a Dependency, or a list of them.
JobDependencyType: TypeAlias = 'Dependency | Job | str | list[Dependency | Job | str]'

#: ``on_success(job, connection, result)``.
SuccessCallbackType = Callable[['Job', 'Redis', Any], Any]

#: ``on_failure(job, connection, exc_type, exc_value, traceback)``.
FailureCallbackType = Callable[
    ['Job', 'Redis', type[BaseException] | None, BaseException | None, TracebackType | None], Any
]

"""The stack of jobs being performed in this thread or task (for ``get_current_job``)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..job import Job

_stack: ContextVar[tuple[Job, ...]] = ContextVar('rq_current_jobs', default=())


def push(job: Job) -> None:
    _stack.set((*_stack.get(), job))


def pop() -> None:
    stack = _stack.get()
    _stack.set(stack[:-1])


def top() -> Job | None:
    stack = _stack.get()
    return stack[-1] if stack else None

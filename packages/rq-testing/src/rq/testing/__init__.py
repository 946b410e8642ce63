"""rq-testing: fakes, eager helpers, time control, assertions and pytest fixtures for code that uses rq.

The names below are loaded on first use, so importing ``rq.testing`` (which pytest does for the
plugin in :mod:`rq.testing.pytest_plugin`) costs nothing until they are needed. Needs rq-core
only; :func:`make_worker` and the ``rq_worker`` fixture need rq-worker and say so when it is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assertions import assert_enqueued as assert_enqueued
    from .assertions import assert_job_failed as assert_job_failed
    from .assertions import assert_job_result as assert_job_result
    from .assertions import assert_job_status as assert_job_status
    from .assertions import assert_not_enqueued as assert_not_enqueued
    from .assertions import queue_jobs as queue_jobs
    from .clock import Clock as Clock
    from .connections import RealRedisUnavailableError as RealRedisUnavailableError
    from .connections import RedisTarget as RedisTarget
    from .connections import real_connection as real_connection
    from .eager import EagerRun as EagerRun
    from .eager import EagerRunLimitError as EagerRunLimitError
    from .eager import EagerRunner as EagerRunner
    from .eager import JobFailedError as JobFailedError
    from .eager import JobRun as JobRun
    from .eager import run_until_empty as run_until_empty
    from .fake import FakeRedisConnection as FakeRedisConnection
    from .fake import FakeRedisUnsupportedError as FakeRedisUnsupportedError
    from .fake import fake_connection as fake_connection
    from .fake import is_fake as is_fake
    from .scheduling import move_due_jobs as move_due_jobs
    from .scheduling import scheduled_jobs as scheduled_jobs
    from .server import RedisServerNotFoundError as RedisServerNotFoundError
    from .server import RedisServerProcess as RedisServerProcess
    from .workers import make_worker as make_worker

#: public name -> the submodule that defines it
_EXPORTS = {
    'assert_enqueued': 'assertions',
    'assert_job_failed': 'assertions',
    'assert_job_result': 'assertions',
    'assert_job_status': 'assertions',
    'assert_not_enqueued': 'assertions',
    'queue_jobs': 'assertions',
    'Clock': 'clock',
    'RealRedisUnavailableError': 'connections',
    'RedisTarget': 'connections',
    'real_connection': 'connections',
    'EagerRun': 'eager',
    'EagerRunLimitError': 'eager',
    'EagerRunner': 'eager',
    'JobFailedError': 'eager',
    'JobRun': 'eager',
    'run_until_empty': 'eager',
    'FakeRedisConnection': 'fake',
    'FakeRedisUnsupportedError': 'fake',
    'fake_connection': 'fake',
    'is_fake': 'fake',
    'move_due_jobs': 'scheduling',
    'scheduled_jobs': 'scheduling',
    'RedisServerNotFoundError': 'server',
    'RedisServerProcess': 'server',
    'make_worker': 'workers',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'{__name__}.{module_name}'), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

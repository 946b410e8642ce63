"""rq: background jobs for Python, backed by Redis, compatible with RQ 2.x code and Redis data.

This file belongs to the ``rq-core`` distribution. The other distributions (``rq-worker``,
``rq-cron``, ``rq-cli``, ``rq-testing``) add subpackages to ``rq`` and never ship this file.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

from typing import TYPE_CHECKING, Any

from .exceptions import MissingDistributionError
from .job import Callback, Retry, cancel_job, get_current_job, requeue_job
from .queue import Queue
from .rate_limit import RateLimit
from .repeat import Repeat
from .version import VERSION
from .webhook import Webhook

__version__ = VERSION

__all__ = [
    'VERSION',
    'Callback',
    'Queue',
    'RateLimit',
    'Repeat',
    'Retry',
    'SimpleWorker',
    'SpawnWorker',
    'Webhook',
    'Worker',
    'cancel_job',
    'get_current_job',
    'requeue_job',
]

#: Names resolved on first use from the distribution that provides them.
_OPTIONAL_NAMES = {
    'Worker': ('rq.worker', 'rq-worker'),
    'SimpleWorker': ('rq.worker', 'rq-worker'),
    'SpawnWorker': ('rq.worker', 'rq-worker'),
}

if TYPE_CHECKING:  # the names resolved lazily, for type checkers
    from rq.worker import SimpleWorker as SimpleWorker
    from rq.worker import SpawnWorker as SpawnWorker
    from rq.worker import Worker as Worker


def __getattr__(name: str) -> Any:
    if name not in _OPTIONAL_NAMES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module_name, distribution = _OPTIONAL_NAMES[name]
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise MissingDistributionError(name, distribution) from None
        raise
    try:
        value = getattr(module, name)
    except AttributeError:
        raise MissingDistributionError(name, distribution, installed=True) from None
    globals()[name] = value
    return value

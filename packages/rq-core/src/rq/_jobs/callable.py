"""How a callable becomes ``(func_name, instance)`` and back, and the job's call string.

Every function RQ 2.12 accepts is accepted, including those a worker cannot import (a lambda, a
nested function, a bare name that is no builtin, a function of ``__main__``): they run in-process
(``Queue(is_async=False)``), and a worker fails them with an error that says why.
"""

from __future__ import annotations

import builtins
import inspect
import logging
import sys
from typing import Any

from .. import trust
from .._importing import ImportAttributeError, import_attribute
from .._utils import truncate_long_string

logger = logging.getLogger('rq.job')

_CALL_STRING_REPR_LIMIT = 75


def describe_callable(func: Any) -> tuple[str, Any]:
    """Return ``(func_name, instance)`` as stored in a job's payload (RQ's strings).

    A bound method stores its instance and the method name; a callable instance stores itself and
    ``'__call__'``; a function or builtin stores ``'module.qualname'`` (``'mod.<lambda>'``,
    ``'mod.outer.<locals>.inner'``); a string is stored as given.

    Raises:
        TypeError: ``func`` is neither callable nor a string.
    """
    if isinstance(func, str):
        return func, None
    if inspect.ismethod(func):
        return func.__name__, func.__self__
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        return function_path(func), None
    if callable(func):
        return '__call__', func
    raise TypeError(f'Expected a callable or a string, but got: {func!r}')


def function_path(func: Any) -> str:
    """``'module.qualname'`` of a function or builtin, as RQ stores it."""
    module = getattr(func, '__module__', None) or 'builtins'
    qualname = getattr(func, '__qualname__', func.__name__)
    return f'{module}.{qualname}'


def unimportable_reason(func_name: str) -> str | None:
    """Why no worker can import ``func_name`` (and what to do instead), or None when it may."""
    if '<lambda>' in func_name:
        return (
            f'{func_name!r} is a lambda, which no worker can import: define it with def at module level '
            'and enqueue that function (or its dotted path "package.module.function")'
        )
    if '<locals>' in func_name:
        outer = func_name.split('.<locals>', 1)[0]
        return (
            f'{func_name!r} is a nested function (defined inside {outer!r}), which no worker can import: '
            'move it to module level and enqueue that function (or its dotted path "package.module.function")'
        )
    if func_name.startswith('__main__.'):
        return (
            f'{func_name!r} was defined in the script that enqueued it (__main__), which a worker cannot '
            'import: move it to a module the workers can import and enqueue it from there'
        )
    if '.' not in func_name and not callable(getattr(builtins, func_name, None)):
        return (
            f'{func_name!r} is a bare name, not a dotted path, and no builtin has that name, so no worker '
            f'can import it: enqueue its dotted path "package.module.{func_name}" (or the function itself, '
            'defined at module level)'
        )
    return None


#: Names found here, in a module this process has imported (no warning is due for them again).
_found_here: set[str] = set()
#: How many names :data:`_found_here` keeps at most (a process enqueues a few functions, not more).
_FOUND_HERE_LIMIT = 4096


def warn_if_unimportable(func_name: str, instance: Any, job_id: str, what: str = 'function') -> None:
    """Log (never raise) when a worker will not be able to import the job's ``what``."""
    if instance is not None or func_name in _found_here:
        return
    reason = unimportable_reason(func_name) or missing_here(func_name)
    if reason is not None:
        logger.warning('Job %s: its %s %s; a worker will fail it', job_id, what, reason)
    elif len(_found_here) < _FOUND_HERE_LIMIT and _lookup_here(func_name) is True:
        _found_here.add(func_name)


def missing_here(path: str) -> str | None:
    """A dotted path whose module this process has already imported but which lacks the final
    attribute (checked without importing anything: enqueueing must not run user code; an inner
    name that is missing may be a submodule not imported yet, so only the last one counts)."""
    found = _lookup_here(path)
    if isinstance(found, str):
        return found
    return None


def _lookup_here(path: str) -> bool | str | None:
    """True: ``path`` names an attribute of a module this process has imported; a reason: that
    module lacks its final attribute; None: nothing can be told without importing."""
    parts = path.split('.')
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get('.'.join(parts[:split]))
        if module is None:
            continue
        value: Any = module
        for attribute in parts[split:-1]:
            if not hasattr(value, attribute):
                return None
            value = getattr(value, attribute)
        if hasattr(value, parts[-1]):
            return True
        return f'{path!r} names nothing here ({value!r} has no attribute {parts[-1]!r})'
    return None


def import_function(func_name: str) -> Any:
    """Import a stored dotted path; a name no worker can import fails with the reason and the fix.

    Raises:
        ImportAttributeError: (an ``AttributeError`` and a ``ValueError``) ``func_name`` is a lambda,
            a nested function, a bare name or a ``__main__`` function, and is not found.
        ValueError, ImportError, AttributeError: as :func:`rq.utils.import_attribute` for other names.
    """
    trust.current_policy().check_name(func_name)
    try:
        return import_attribute(func_name)
    except (ValueError, ImportError, AttributeError) as exc:
        reason = unimportable_reason(func_name)
        if reason is None:
            raise
        raise ImportAttributeError(f'Cannot import the job function: {reason}') from exc


def resolve_callable(func_name: str, instance: Any) -> Any:
    """The callable a worker runs for a stored ``(func_name, instance)``."""
    if instance is not None:
        return getattr(instance, func_name)
    return import_function(func_name)


def get_call_string(func_name: str | None, args: Any, kwargs: Any, max_length: int | None = None) -> str | None:
    """``func_name(arg_reprs..., key=value_repr...)``; each repr is cut to ``max_length`` characters
    plus ``...``. The ``key=value`` strings are sorted as strings (so ``a1=`` comes before ``a=``),
    exactly as RQ sorts them: the result is stored as the job's description."""
    if func_name is None:
        return None
    parts = [truncate_long_string(repr(arg), max_length) for arg in args or ()]
    if kwargs:
        parts += sorted(f'{key}={truncate_long_string(repr(value), max_length)}' for key, value in kwargs.items())
    return f'{func_name}({", ".join(parts)})'


def default_description(func_name: str, args: Any, kwargs: Any) -> str | None:
    return get_call_string(func_name, args, kwargs, max_length=_CALL_STRING_REPR_LIMIT)

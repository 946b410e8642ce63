"""How a callable becomes ``(func_name, instance)`` and back, and the job's call string."""

from __future__ import annotations

import importlib.util
import inspect
import logging
from typing import Any

from ..utils import import_attribute, truncate_long_string

logger = logging.getLogger('rq.job')

_CALL_STRING_REPR_LIMIT = 75


def describe_callable(func: Any) -> tuple[str, Any]:
    """Return ``(func_name, instance)`` as stored in a job's payload.

    A bound method stores its instance and the method name; a callable instance stores itself and
    ``'__call__'``; a function or builtin stores ``'module.qualname'``; a string is a dotted path.

    Raises:
        ValueError: the function cannot be imported by a worker (``__main__``, lambda, nested function)
            or a dotted path names something that does not exist.
        TypeError: ``func`` is neither callable nor a string.
    """
    if isinstance(func, str):
        check_dotted_path(func)
        return func, None
    if inspect.ismethod(func):
        owner = func.__self__
        owner_module = owner.__module__ if inspect.isclass(owner) else type(owner).__module__
        if owner_module == '__main__':
            raise ValueError(f'Functions from the __main__ module cannot be processed by workers: {func!r}')
        return func.__name__, owner
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        return _function_path(func), None
    if callable(func):
        if type(func).__module__ == '__main__':
            raise ValueError(f'Callable instances of classes from __main__ cannot be processed by workers: {func!r}')
        return '__call__', func
    raise TypeError(f'Expected a callable or a string, but got: {func!r}')


def _function_path(func: Any) -> str:
    module = getattr(func, '__module__', None) or 'builtins'
    qualname = getattr(func, '__qualname__', func.__name__)
    if module == '__main__':
        raise ValueError(f'Functions from the __main__ module cannot be processed by workers: {qualname}')
    if '<lambda>' in qualname:
        raise ValueError(
            f'Lambdas cannot be processed by workers (define a module-level function): {module}.{qualname}'
        )
    if '<locals>' in qualname:
        raise ValueError(
            f'Nested functions cannot be imported by workers (move it to module level): {module}.{qualname}'
        )
    return f'{module}.{qualname}'


def check_dotted_path(path: str) -> None:
    """Validate a dotted function path as far as this process can.

    The path's module is imported when it can be found here; a missing attribute is then an error.
    A module that cannot be found here is accepted: it may exist only where workers run.
    """
    if not path or path.startswith('.') or path.endswith('.') or '..' in path or any(c.isspace() for c in path):
        raise ValueError(f'Invalid function path {path!r}: expected "package.module.function"')
    if '.' not in path:
        import builtins

        if not callable(getattr(builtins, path, None)):
            raise ValueError(f'Invalid function path {path!r}: expected "package.module.function"')
        return
    top_module = path.split('.', 1)[0]
    if top_module == '__main__':
        raise ValueError(f'Functions from the __main__ module cannot be processed by workers: {path!r}')
    try:
        if importlib.util.find_spec(top_module) is None:
            return
    except (ImportError, ValueError):
        return
    try:
        target = import_attribute(path)
    except AttributeError as exc:
        raise ValueError(f'Cannot enqueue {path!r}: {exc}') from exc
    except ModuleNotFoundError:
        return  # a submodule that only exists on worker hosts
    except Exception as exc:  # importing user code may fail in the enqueueing process only
        logger.warning('Could not import %r to check it (%s); a worker will try at run time', path, exc)
        return
    if not callable(target):
        raise ValueError(f'Cannot enqueue {path!r}: it is not callable ({type(target).__name__})')


def check_callback(func: Any) -> None:
    """Apply the function checks of :func:`describe_callable` to a callback (function or dotted path).

    Raises:
        ValueError: as for a job function (``__main__``, lambda, nested, missing attribute).
    """
    if isinstance(func, str):
        check_dotted_path(func)
    elif inspect.isfunction(func):
        _function_path(func)


def resolve_callable(func_name: str, instance: Any) -> Any:
    """The callable a worker runs for a stored ``(func_name, instance)``."""
    if instance is not None:
        return getattr(instance, func_name)
    return import_attribute(func_name)


def get_call_string(func_name: str | None, args: Any, kwargs: Any, max_length: int | None = None) -> str | None:
    """``func_name(arg_reprs..., key=value_repr...)``; each repr is cut to ``max_length`` characters
    plus ``...``. The ``key=value`` strings are sorted as strings (so ``a1=`` comes before ``a=``),
    exactly as RQ sorts them: the result is stored as the job's description."""
    if func_name is None:
        return None
    parts = [truncate_long_string(repr(arg), max_length) for arg in args or ()]
    parts += sorted(f'{key}={truncate_long_string(repr(value), max_length)}' for key, value in (kwargs or {}).items())
    return f'{func_name}({", ".join(parts)})'


def default_description(func_name: str, args: Any, kwargs: Any) -> str | None:
    return get_call_string(func_name, args, kwargs, max_length=_CALL_STRING_REPR_LIMIT)

"""Importing what a dotted path names (job functions, callbacks, serializers, classes), with RQ's errors."""

from __future__ import annotations

import builtins
import importlib
from typing import Any

__all__ = ['ImportAttributeError', 'ImportAttributeModuleError', 'import_attribute']


class ImportAttributeModuleError(ModuleNotFoundError, ValueError):
    """No module prefix of a dotted path can be imported (a ValueError too, as RQ raises)."""


class ImportAttributeError(AttributeError, ValueError):
    """A dotted path's module exists but lacks the attribute (a ValueError too, as RQ raises)."""


def import_attribute(name: str) -> Any:
    """Import ``'package.module.attr'`` (or ``'module.Class.method'``; a bare name means a builtin).

    Every failure about the name itself is a ``ValueError`` (what RQ raises); the two lookup
    failures are also a ``ModuleNotFoundError`` and an ``AttributeError``. An ImportError raised
    *inside* an existing module being imported propagates unchanged.

    Raises:
        ValueError: the name is empty or malformed, or names no builtin.
        ImportAttributeModuleError: no module prefix of the name can be imported.
        ImportAttributeError: the module exists but does not have the attribute.
    """
    if not name or not isinstance(name, str) or name.startswith('.') or name.endswith('.') or '..' in name:
        raise ValueError(f'Invalid dotted path: {name!r}')
    parts = name.split('.')
    if len(parts) == 1:
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise ValueError(f'Invalid attribute name: {name!r} (expected "module.attribute")')

    module = None
    attribute_parts: list[str] = []
    for split in range(len(parts) - 1, 0, -1):
        module_name = '.'.join(parts[:split])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only "this very module is missing" means try a shorter prefix; anything else is a real error.
            if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + '.')):
                raise
            continue
        attribute_parts = parts[split:]
        break
    if module is None:
        raise ImportAttributeModuleError(f'No module named {parts[0]!r} (importing {name!r})', name=parts[0])

    value: Any = module
    for attribute in attribute_parts:
        try:
            value = getattr(value, attribute)
        except AttributeError as exc:
            raise ImportAttributeError(f'{name!r}: {value!r} has no attribute {attribute!r}') from exc
    return value

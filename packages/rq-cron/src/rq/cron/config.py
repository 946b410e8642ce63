"""Cron config files: ``rq.cron.register(...)`` calls in a module that ``rq cron CONFIG`` imports.

``register`` only records its arguments (and where it was called), so that a config with one bad
entry still imports; each entry is checked when a :class:`CronScheduler` takes it, and a bad one is
reported with its file and line and skipped.

Each recorded entry is a dict of exactly upstream's keys (the arguments of ``CronScheduler.register``
in RQ 2.x), so a scheduler subclass with upstream's ``register`` signature takes every entry with
``self.register(**entry)``. What we record beyond that (the entry's ``timezone``, the file and line
of the call, a problem found while recording) is kept beside it, in :class:`EntryNotes`; an entry
without notes (one a program added itself) means the scheduler's ``timezone``, or local time.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rq.defaults import DEFAULT_RESULT_TTL
from rq.webhook import Webhook

__all__ = ['CronConfigError', 'EntryNotes', 'load_config', 'register']

logger = logging.getLogger('rq.cron')

#: Entries recorded by :func:`register` since the last :func:`take_registered` (RQ 2.x's name).
_job_data_registry: list[dict[str, Any]] = []


@dataclass(frozen=True)
class EntryNotes:
    """What :func:`register` knows of an entry beyond upstream's keys."""

    #: The IANA time zone the entry's cron string is read in (None: the scheduler's, or local time).
    timezone: str | None = None
    #: ``file.py:line`` of the ``register`` call.
    where: str = ''
    #: A problem found while recording (the entry is then reported and skipped).
    error: str = ''


#: id(entry) -> (entry, its notes), for the entries in :data:`_job_data_registry`.
_entry_notes: dict[int, tuple[dict[str, Any], EntryNotes]] = {}


def notes_of(entry: dict[str, Any]) -> EntryNotes:
    """The notes :func:`register` kept for ``entry`` (empty ones for an entry it did not record)."""
    kept = _entry_notes.get(id(entry))
    return kept[1] if kept is not None and kept[0] is entry else EntryNotes()


class CronConfigError(ImportError):
    """Raised when a cron config cannot be found or imported (the message says which and why)."""


def register(
    func: Callable[..., Any] | str,
    queue_name: str,
    args: Sequence[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    interval: float | None = None,
    cron: str | None = None,
    job_timeout: int | str | None = None,
    result_ttl: int | str | None = DEFAULT_RESULT_TTL,
    ttl: int | str | None = None,
    failure_ttl: int | str | None = None,
    meta: dict[str, Any] | None = None,
    webhooks: Sequence[Webhook] | None = None,
    name: str = '',
    timezone: str | None = None,
    cron_string: str | None = None,
) -> dict[str, Any]:
    """Add a cron job to the config being loaded: ``func`` (a function or its dotted path) enqueued on
    ``queue_name`` every ``interval`` seconds, or at the times of the ``cron`` string (read in
    ``timezone``, an IANA name; the process's local time by default). ``cron_string`` is accepted as another name for
    ``cron``. Never raises: a bad entry is reported (with this call's file and line) and skipped when
    the config is loaded. Returns the recorded entry."""
    entry: dict[str, Any] = {
        'func': func,
        'queue_name': queue_name,
        'args': args,
        'kwargs': kwargs,
        'interval': interval,
        'cron': cron,
        'job_timeout': job_timeout,
        'result_ttl': result_ttl,
        'ttl': ttl,
        'failure_ttl': failure_ttl,
        'meta': meta,
        'webhooks': webhooks,
        'name': name,
    }
    error = ''
    if cron_string is not None:
        if cron is not None:
            error = 'give cron= or cron_string= (two names for the same thing), not both'
        entry['cron'] = cron_string
    caller = sys._getframe(1)
    where = f'{os.path.basename(caller.f_code.co_filename)}:{caller.f_lineno}'
    _entry_notes[id(entry)] = (entry, EntryNotes(timezone=timezone, where=where, error=error))
    _job_data_registry.append(entry)
    return entry


def take_registered() -> list[tuple[dict[str, Any], EntryNotes]]:
    """The entries recorded so far with their notes, forgetting them (so a second scheduler does not
    take them again)."""
    taken = [(entry, notes_of(entry)) for entry in _job_data_registry]
    _job_data_registry.clear()
    _entry_notes.clear()
    return taken


def describe_entry(entry: dict[str, Any], notes: EntryNotes, problem: object) -> str:
    """``cron_config.py:12: cron job 'app.cleanup': <problem>``: where an entry was registered, and
    what is wrong with it (the problem names the cron job)."""
    return f'{notes.where}: {problem}' if notes.where else str(problem)


def load_config(config_path: str) -> list[tuple[dict[str, Any], EntryNotes]]:
    """Import a cron config and return the entries it registered, with their notes.

    ``config_path`` is a file path (absolute, or relative to the current directory: ``app/cron.py``)
    or a dotted module path (``app.cron``); an already imported module is reloaded.

    Raises:
        CronConfigError: the file does not exist, or the module cannot be imported or raised.
    """
    _job_data_registry.clear()
    _entry_notes.clear()
    if not isinstance(config_path, str) or not config_path.strip():
        raise CronConfigError(f'cron config must be a file or module path, not {config_path!r}')
    if os.path.isabs(config_path):
        _load_file(config_path)
    else:
        _load_module(config_path)
    return take_registered()


def _load_file(path: str) -> None:
    if not os.path.isfile(path):
        raise CronConfigError(f'cron config {path!r} does not exist')
    module_name = 'rq_cron_config_' + os.path.basename(path).replace('.', '_')
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CronConfigError(f'cron config {path!r} is not a Python file')
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        if not isinstance(exc, Exception):
            raise
        raise CronConfigError(f'cron config {path!r} failed to import: {_reason(exc)}') from exc


def _module_name(config_path: str) -> str:
    name = config_path[:-3] if config_path.endswith('.py') else config_path
    name = name.replace(os.sep, '.').replace('/', '.')
    while name.startswith('.'):
        name = name[1:]
    return name


def _load_module(config_path: str) -> None:
    if config_path.endswith('.py') and not os.path.isfile(config_path):
        raise CronConfigError(f'cron config {config_path!r} does not exist (in {os.getcwd()})')
    module_name = _module_name(config_path)
    if os.getcwd() not in sys.path and '' not in sys.path:
        sys.path.insert(0, os.getcwd())  # a relative path is relative to the current directory
    try:
        if module_name in sys.modules:
            importlib.reload(sys.modules[module_name])
        else:
            importlib.import_module(module_name)
    except Exception as exc:
        shown = config_path if module_name == config_path else f'{config_path!r} (module {module_name})'
        raise CronConfigError(f'cron config {shown} failed to import: {_reason(exc)}') from exc


def _reason(exc: BaseException) -> str:
    """``ModuleNotFoundError: No module named 'x' (cron.py, line 3)``, on one line."""
    text = f'{type(exc).__name__}: {exc}'.splitlines()[0]
    frame = exc.__traceback__
    location = ''
    while frame is not None:
        code = frame.tb_frame.f_code
        if not code.co_filename.startswith('<frozen'):
            location = f' ({os.path.basename(code.co_filename)}, line {frame.tb_lineno})'
        frame = frame.tb_next
    return text + location

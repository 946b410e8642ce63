"""``worker.log``: the ``rq.worker`` logger, with the worker's name at the start of every message.

Every line a worker logs says which worker logged it (``Worker <name>: ...``), whoever calls
``worker.log`` (the worker's own code, rq-core's command handlers, a subclass), so the lines of the
workers of a ``WorkerPool``, which share one terminal, can be told apart. The name is part of the
message itself, so it is there with any handler and any format (a file, ``DICT_CONFIG``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rq.logutils import styled

LOGGER_NAME = 'rq.worker'
PREFIX = 'Worker '


class WorkerLogger(logging.Logger):
    """A logger named ``rq.worker`` that hands its records to the real ``rq.worker`` logger's
    handlers (its level, its ancestors: ``logging.getLogger('rq.worker')`` configures both), with
    ``Worker <name>: `` before each message. A message that starts with ``Worker `` already (as
    upstream RQ's own messages do) is left as it is."""

    def __init__(self, worker_name: str, base: logging.Logger | None = None) -> None:
        base = base if base is not None else logging.getLogger(LOGGER_NAME)
        super().__init__(base.name)
        self.parent = base
        self.manager = base.manager
        self.worker_name = worker_name

    def isEnabledFor(self, level: int) -> bool:
        # (this logger is not registered, so logging never clears a cache of its own: with no level
        # of its own, the answer is the registered 'rq.worker' logger's, which logging caches and
        # clears on every setLevel; that one's own ``disabled`` does not silence this one)
        parent = self.parent
        if not self.level and not self.disabled and parent is not None and not parent.disabled:
            return parent.isEnabledFor(level)
        if self.disabled or self.manager.disable >= level:
            return False
        return level >= self.getEffectiveLevel()

    def makeRecord(
        self,
        name: str,
        level: int,
        fn: str,
        lno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        extra: Mapping[str, object] | None = None,
        sinfo: str | None = None,
    ) -> logging.LogRecord:
        msg, args = with_worker_name(self.worker_name, msg, args)
        return super().makeRecord(name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)

    def __reduce__(self) -> Any:
        return WorkerLogger, (self.worker_name,)


def with_worker_name(worker_name: str, msg: object, args: Any) -> tuple[object, Any]:
    """``msg`` and ``args`` with ``Worker <name>: `` in front of the message (kept as they are
    when the message names a worker already)."""
    text = str(msg)
    if text.startswith(PREFIX):
        return msg, args
    if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
        return PREFIX + worker_name.replace('%', '%%') + ': ' + text, args  # %(key)s formatting
    if not args:
        text = text.replace('%', '%%')  # (formatted from now on: a literal % stays one)
        args = ()
    return PREFIX + '%s: ' + text, (styled(worker_name, 'worker'), *args)

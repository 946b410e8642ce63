"""Keeping one worker process alive: ``rq worker --concurrency N`` (and ``python -m rq.worker
--concurrency N``) runs its worker in a child process, and starts a new one each time the child
exits to be replaced (:data:`~rq.worker.concurrent.REPLACE_EXIT_CODE`: one of its jobs' threads
could not be stopped). The operator sees one command that keeps N slots alive.

SIGINT and SIGTERM are passed on to the child; once one came, a child that exits is not replaced.
The child starts with them blocked, and its worker unblocks them once its own handlers are in
place (as a pool's workers do).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from .concurrent import REPLACE_EXIT_CODE
from .run import exit_horse
from .signals import ShutdownHandling

logger = logging.getLogger('rq.worker')

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def supervise(run: Callable[[], int], log: logging.Logger = logger) -> int:
    """Run ``run`` in a child process, again each time it returns :data:`REPLACE_EXIT_CODE`;
    the exit code of the last child (128 + the signal's number when a signal killed it)."""
    state = {'child': 0, 'stopping': False}

    def forward(signum: int, frame: FrameType | None) -> None:
        state['stopping'] = True
        if state['child']:
            try:
                os.kill(int(state['child']), signum)
            except ProcessLookupError:
                pass

    previous = {signum: signal.signal(signum, forward) for signum in _STOP_SIGNALS}
    try:
        while True:
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            child = os.fork()
            if child == 0:
                _run_child(run, previous)
            state['child'] = child
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            code = _wait(child)
            if code != REPLACE_EXIT_CODE or state['stopping']:
                return code
            log.warning('Worker process %d stopped to be replaced; starting a new one', child)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_child(run: Callable[[], int], handlers: dict[signal.Signals, Any]) -> None:
    """In the child: the stop signals get their usual handlers (still blocked: the worker unblocks
    them once its own are installed), then ``run``; the process ends with its code."""
    code = 1
    try:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        ShutdownHandling.unblock_stop_signals = True
        code = run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        exit_horse(code)  # (flushes what was printed, then leaves at once)


def _wait(child: int) -> int:
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code

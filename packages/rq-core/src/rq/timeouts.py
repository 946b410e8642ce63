"""Death penalties: context managers that interrupt code running longer than a timeout."""

from __future__ import annotations

import ctypes
import importlib
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

# The C functions behind ``signal``, without its enum wrapping of handlers: called twice per job, in
# freshly forked work horses, where every object touched costs a copied page.
_c_signal: Any = importlib.import_module('_signal')

__all__ = [
    'BaseDeathPenalty',
    'BaseTimeoutException',
    'HorseMonitorTimeoutException',
    'JobTimeoutException',
    'TimerDeathPenalty',
    'UnixSignalDeathPenalty',
    'get_default_death_penalty_class',
    'timeout_message',
]


class BaseTimeoutException(Exception):
    """Base class for the exceptions a death penalty raises."""


class JobTimeoutException(BaseTimeoutException):
    """Raised inside a job (or callback) that ran past its timeout."""


class HorseMonitorTimeoutException(BaseTimeoutException):
    """Raised in a worker while it waits on a work horse, to wake it up for a heartbeat."""


def timeout_message(timeout: float) -> str:
    """What a job that ran out of time is failed with (upstream's words)."""
    return f'Task exceeded maximum timeout value ({timeout} seconds)'


class BaseDeathPenalty:
    """Interrupts the ``with`` block after ``timeout`` seconds by raising ``exception`` in it.

    A timeout of 0 or less (``-1`` means unlimited) never fires.
    """

    def __init__(
        self, timeout: float | None, exception: type[BaseException] = JobTimeoutException, **kwargs: Any
    ) -> None:
        self._timeout = timeout if timeout is not None else -1
        self._exception = exception
        self.job_id = kwargs.get('job_id')

    def __enter__(self) -> BaseDeathPenalty:
        self.setup_death_penalty()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Cancel first so a late alarm cannot fire while the block is unwinding.
        try:
            self.cancel_death_penalty()
        except BaseTimeoutException:
            pass

    def setup_death_penalty(self) -> None:
        raise NotImplementedError

    def cancel_death_penalty(self) -> None:
        raise NotImplementedError


class UnixSignalDeathPenalty(BaseDeathPenalty):
    """Uses ``SIGALRM``; main thread of a Unix process only. Whole seconds, rounded up."""

    def handle_death_penalty(self, signum: int, frame: FrameType | None) -> None:
        raise self._exception(timeout_message(self._timeout))

    def setup_death_penalty(self) -> None:
        if self._timeout <= 0:
            return
        _c_signal.signal(_c_signal.SIGALRM, self.handle_death_penalty)
        _c_signal.alarm(max(1, int(-(-self._timeout // 1))))

    def cancel_death_penalty(self) -> None:
        if self._timeout <= 0:
            return
        _c_signal.alarm(0)
        _c_signal.signal(_c_signal.SIGALRM, _c_signal.SIG_DFL)


class TimerDeathPenalty(BaseDeathPenalty):
    """Uses a timer thread that raises asynchronously in the calling thread; works off the main thread."""

    def __init__(
        self, timeout: float | None, exception: type[BaseException] = JobTimeoutException, **kwargs: Any
    ) -> None:
        super().__init__(timeout, exception, **kwargs)
        self._target_thread_id = threading.get_ident()
        self._timer: threading.Timer | None = None
        # Guards against the timer raising once the block has been left (a Timer that already
        # started running cannot be stopped by ``cancel()``).
        self._lock = threading.Lock()
        self._cancelled = False

        # A fresh subclass per penalty carries the message, since async exceptions are raised by type.
        message = timeout_message(self._timeout)

        def init_with_message(inner: BaseException, *args: Any) -> None:
            exception.__init__(inner, message)

        self._exception = type(exception.__name__, (exception,), {'__init__': init_with_message})

    def new_timer(self) -> threading.Timer:
        """A timer (not started) that calls :meth:`handle_death_penalty` after the timeout; a timer
        runs once, so each :meth:`setup_death_penalty` takes a new one."""
        timer = threading.Timer(self._timeout, self.handle_death_penalty)
        timer.daemon = True
        return timer

    def handle_death_penalty(self) -> None:
        """Raise the timeout exception asynchronously in the thread that created this penalty
        (nothing once the penalty was cancelled).

        Raises:
            ValueError: that thread no longer exists.
            SystemError: more than one thread was affected (the exception was withdrawn).
        """
        with self._lock:
            if self._cancelled:
                return
            thread_id = ctypes.c_ulong(self._target_thread_id)
            ret = ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, ctypes.py_object(self._exception))
            if ret == 0:
                raise ValueError(f'Invalid thread ID {self._target_thread_id}')
            if ret > 1:  # more than one thread affected: undo
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread_id, None)
                raise SystemError('PyThreadState_SetAsyncExc failed')

    def setup_death_penalty(self) -> None:
        if self._timeout <= 0:
            return
        self._cancelled = False
        self._timer = self.new_timer()
        self._timer.start()

    def cancel_death_penalty(self) -> None:
        with self._lock:
            self._cancelled = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def get_default_death_penalty_class() -> type[BaseDeathPenalty]:
    """``UnixSignalDeathPenalty`` where SIGALRM exists, else ``TimerDeathPenalty``."""
    return UnixSignalDeathPenalty if hasattr(signal, 'SIGALRM') else TimerDeathPenalty

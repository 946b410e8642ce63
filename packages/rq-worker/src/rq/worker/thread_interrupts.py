"""Raising an exception in another thread of this process (at its next bytecode), and withdrawing
one that may still be pending for the current thread. A blocking call in C (``time.sleep``, a
socket read) is not cut short: the exception is raised once it returns."""

from __future__ import annotations

import ctypes
import threading


def raise_in_thread(thread_id: int, exception: type[BaseException]) -> bool:
    """Have ``exception`` raised in thread ``thread_id`` at its next bytecode; False when there
    is no such thread."""
    affected = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exception))
    return bool(affected)


class _Withdrawn(Exception):
    """Replaces an exception still pending for the current thread, and is caught at once."""


def withdraw_pending_exception() -> None:
    """Drop an asynchronous exception that may still be pending for the current thread.

    Not by clearing it (``PyThreadState_SetAsyncExc`` with NULL): that leaves the interpreter's
    "pending asynchronous exception" flag set for good, so every later instruction takes the slow
    path, and under a profiler or tracer the thread spins forever. Replacing it with one that is
    raised and caught right here clears the flag."""
    try:
        raise_in_thread(threading.get_ident(), _Withdrawn)
        for _ in range(100):  # the interpreter looks for pending exceptions on backward jumps
            pass
    except _Withdrawn:
        pass

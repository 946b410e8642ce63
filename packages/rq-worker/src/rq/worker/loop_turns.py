"""Work done on an event loop in turns of at most :data:`TURN_SECONDS`: the loop's other callbacks
(the first steps of tasks just created among them) run between two turns.

Without turns, the jobs whose timers fire together are all recorded, and their successors all
started, in one pass of the loop; every successor's code then starts after the last one was
started, so they all wait for the whole pass, and they end together again: the convoy never breaks
up. In turns, successors start a few at a time, and end a few at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

#: The longest a turn goes on, in seconds (a few jobs' worth of recording and starting).
TURN_SECONDS = 0.001


class Turns:
    def __init__(self) -> None:
        self._waiting: deque[Callable[[], None]] = deque()

    def add(self, work: Callable[[], None]) -> None:
        """Do ``work`` in a turn (call on the loop's thread; ``work`` handles its own errors)."""
        self._waiting.append(work)
        if len(self._waiting) == 1:
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        waiting = self._waiting
        deadline = time.perf_counter() + TURN_SECONDS
        while waiting:
            waiting[0]()
            waiting.popleft()
            if time.perf_counter() >= deadline:
                break
        if waiting:
            asyncio.get_running_loop().call_soon(self._turn)

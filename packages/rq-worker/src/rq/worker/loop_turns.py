"""Work done on an event loop one piece per turn: the loop's other callbacks (the first steps of tasks
just created, replies that came in, timers that fired) run between two pieces.

Without turns, the jobs whose timers fire together are all recorded, and their successors all
started, in one pass of the loop; every successor's code then starts after the last one was
started, so they all wait for the whole pass, and they end together again: the convoy never breaks
up. One piece (a job's recording, or its successor's start) per turn lets each successor start as
soon as its own predecessor is recorded (measured with 50 jobs of ``asyncio.sleep(0.05)``: 947 to
949 jobs/s, against 923 to 941 with turns of up to a millisecond of work).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


class Turns:
    def __init__(self) -> None:
        self._waiting: deque[Callable[[], None]] = deque()

    def add(self, work: Callable[[], None]) -> None:
        """Do ``work`` in a turn of its own (call on the loop's thread; ``work`` handles its own errors)."""
        self._waiting.append(work)
        if len(self._waiting) == 1:
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        waiting = self._waiting
        waiting[0]()
        waiting.popleft()
        if waiting:
            asyncio.get_running_loop().call_soon(self._turn)

"""Functions the demo enqueues (jobs must live in an importable module, not in __main__)."""

from __future__ import annotations

import os
import time


def count_words(text: str) -> int:
    return len(text.split())


def shout(text: str) -> str:
    return text.upper() + '!'


def slow_square(n: int) -> dict[str, int]:
    time.sleep(0.2)
    return {'n': n, 'square': n * n, 'pid': os.getpid()}


def explode() -> None:
    raise RuntimeError('this job fails on purpose')

"""Job functions for the benchmarks (importable by both implementations)."""

from __future__ import annotations

import time


def noop() -> int:
    return 1


def started_at() -> float:
    """The wall-clock time the job started (for enqueue-to-start latency)."""
    return time.time()

"""Job functions for the Sentinel failover tests (tests/worker/test_sentinel_failover.py). A run is
recorded in a file, not in Redis: what a failover drops from Redis must not take the record along."""

from __future__ import annotations

import os
import time


def note_run(path: str, pause: float = 0.0, release: str = '') -> str:
    """Append the current job's id to the file ``path`` (one line per run), then sleep ``pause``
    seconds, and with ``release`` wait until that file exists (two minutes at most). Returns the id."""
    from rq import get_current_job

    job = get_current_job()
    job_id = job.id if job is not None else '?'
    with open(path, 'a', encoding='utf-8') as stream:
        stream.write(job_id + '\n')
        stream.flush()
        os.fsync(stream.fileno())
    if pause:
        time.sleep(pause)
    deadline = time.monotonic() + 120
    while release and not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    return job_id


def runs(path: str) -> list[str]:
    """The job ids :func:`note_run` recorded in ``path``, in order (a job run twice is there twice)."""
    try:
        with open(path, encoding='utf-8') as stream:
            return [line.strip() for line in stream if line.strip()]
    except FileNotFoundError:
        return []

"""Is the worker of an expired started entry really gone?

A started entry (``rq:wip:<queue>`` member ``<job_id>:<execution_id>``) expires when its worker
stopped renewing it. That usually means the worker died, but a live worker cut off from Redis for
a while, or one that holds a job it has not started yet (claimed ahead), misses renewals too. Before
such a job is failed as abandoned, the worker the execution names is looked up; it counts as alive
when all of these hold:

- the execution hash (``rq:execution:<job_id>:<execution_id>``) names it (``worker_name``);
- its hash ``rq:worker:<name>`` exists and has no ``death`` field (a worker that stopped cleanly
  marks it);
- it was not born after the execution was created (the same name used again by a new worker: the
  old run is gone with the old process);
- its ``last_heartbeat`` is later than the execution's own last heartbeat: the worker was heard
  from after it last renewed this run. A dead worker's last word is that renewal itself (or the
  claim), so a SIGKILLed worker never passes, however recently it died;
- and that ``last_heartbeat`` is recent: less than one entry lifetime (the caller's) ago.

Every field read here is one upstream RQ workers write too; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .._redis import codec, keys

if TYPE_CHECKING:
    from redis import Redis

#: A worker heard from within this many seconds of the execution's last heartbeat spoke in the
#: same breath (one heartbeat writes both, in two formats that may round differently).
SAME_BEAT_SECONDS = 0.001


@dataclass(frozen=True)
class RunHolder:
    """What Redis says about the worker that holds one execution (epoch seconds; None: unknown)."""

    worker_name: str
    execution_created: float | None
    execution_beat: float | None
    worker_found: bool
    worker_stopped: bool
    worker_born: float | None
    worker_beat: float | None


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def read_holder(connection: Redis, job_id: str, execution_id: str) -> RunHolder:
    """The execution's worker as Redis knows it (two reads: the worker's name is in the first)."""
    name_raw, created_raw, beat_raw = connection.hmget(
        keys.execution_key(job_id, execution_id), ['worker_name', 'created_at', 'last_heartbeat']
    )
    name = codec.text(name_raw) if name_raw else ''
    found, stopped, born, worker_beat = False, False, None, None
    if name:
        with connection.pipeline(transaction=False) as pipe:
            pipe.exists(keys.worker_key(name))
            pipe.hmget(keys.worker_key(name), ['death', 'birth', 'last_heartbeat'])
            exists, (death, birth, last_heartbeat) = pipe.execute()
        found, stopped = bool(exists), bool(death)
        born = _epoch(codec.parse_timestamp(birth))
        worker_beat = _epoch(codec.parse_timestamp(last_heartbeat))
    return RunHolder(
        worker_name=name,
        execution_created=_epoch(codec.parse_epoch(created_raw)),
        execution_beat=_epoch(codec.parse_epoch(beat_raw)),
        worker_found=found,
        worker_stopped=stopped,
        worker_born=born,
        worker_beat=worker_beat,
    )


def kept_until(holder: RunHolder, now: float, lifetime: float) -> float | None:
    """The moment until which the expired entry should be kept because its worker is alive (one
    ``lifetime`` after that worker was last heard from); None when the worker is gone."""
    if not holder.worker_name or not holder.worker_found or holder.worker_stopped:
        return None
    if holder.worker_beat is None:
        return None
    born, created = holder.worker_born, holder.execution_created
    if born is not None and created is not None and born > created:
        return None  # a new worker with the old one's name
    last_run_beat = holder.execution_beat if holder.execution_beat is not None else holder.execution_created
    if last_run_beat is not None and holder.worker_beat <= last_run_beat + SAME_BEAT_SECONDS:
        return None
    if now - holder.worker_beat >= lifetime:
        return None
    return holder.worker_beat + lifetime

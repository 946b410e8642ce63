"""``rq info --json``, and what the tables and JSON share: no rich needed, so scripts that call it
often do not pay for importing it (upstream's text lines are in ``_info_plain``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ._info_snapshot import Snapshot, WorkerRow

COUNT_COLUMNS = ('queued', 'started', 'finished', 'failed', 'deferred', 'scheduled')


def format_duration(seconds: float) -> str:
    """``'45s'``, ``'12m 05s'``, ``'3h 04m'``, ``'2d 05h'``."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f'{days}d {hours:02d}h'
    if hours:
        return f'{hours}h {minutes:02d}m'
    if minutes:
        return f'{minutes}m {secs:02d}s'
    return f'{secs}s'


def uptime(worker: WorkerRow, moment: datetime) -> float | None:
    return (moment - worker.birth).total_seconds() if worker.birth is not None else None


def worker_queue_names(snapshot: Snapshot) -> list[str]:
    return sorted({name for worker in snapshot.workers for name in worker.queues})


# -- JSON ---------------------------------------------------------------------------------------


def as_json(snapshot: Snapshot) -> str:
    document: dict[str, Any] = {'updated_at': snapshot.taken_at.isoformat()}
    if snapshot.show_queues:
        document['queues'] = [
            {'name': q.name, **{c: getattr(q, c) for c in (*COUNT_COLUMNS, 'canceled', 'ready')}}
            for q in snapshot.queues
        ]
        document['rate_limits'] = [
            {'key': r.key, 'concurrency': r.concurrency, 'holding': r.holding, 'waiting': r.waiting}
            for r in snapshot.rate_limits
        ]
    if snapshot.show_workers:
        document['workers'] = [_worker_json(w, snapshot.taken_at) for w in snapshot.workers]
    return json.dumps(document, sort_keys=True)


def _worker_json(worker: WorkerRow, moment: datetime) -> dict[str, Any]:
    return {
        'name': worker.name,
        'hostname': worker.hostname,
        'ip_address': worker.ip_address,
        'pid': worker.pid,
        'state': worker.state,
        'current_job': worker.current_job,
        'queues': worker.queues,
        'successful_job_count': worker.successful_job_count,
        'failed_job_count': worker.failed_job_count,
        'total_working_time': worker.total_working_time,
        'birth': worker.birth.isoformat() if worker.birth else None,
        'last_heartbeat': worker.last_heartbeat.isoformat() if worker.last_heartbeat else None,
        'uptime_seconds': uptime(worker, moment),
        **({'concurrency': worker.concurrency, 'running': worker.running} if worker.concurrency else {}),
        **({'unsigned_job_count': worker.unsigned_job_count} if worker.unsigned_job_count else {}),
    }

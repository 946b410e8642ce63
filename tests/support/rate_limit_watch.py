"""Watching rate-limited jobs run, for the rate-limit interop tests: a sampler thread that reads how many
jobs hold a slot (``ZCARD rq:rl:<key>:allowed``) and how many are running (what the jobs of
``rqtest_jobs_ratelimit`` record) per key, the records those jobs leave, and what is left of the
``rq:rl*`` keys after a run."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis

from rqtest_jobs_ratelimit import BY, ENDS, PEAK, RUNNING, RUNS, STARTS

#: Every key a rate limit writes (RQ 3.0: ``rq:rl-keys``, ``rq:rl:<key>``, ``:allowed``, ``:rate_limited``).
RATE_LIMIT_PATTERN = 'rq:rl*'


@dataclass
class Sampler:
    """A thread that samples, every ``interval`` seconds, the slots held and the jobs running per
    rate-limit key, and keeps the largest of each and every sample that went over the limit."""

    connection: redis.Redis
    limits: dict[str, int]
    interval: float = 0.003
    samples: int = 0
    max_allowed: dict[str, int] = field(default_factory=dict)
    max_running: dict[str, int] = field(default_factory=dict)
    over: list[tuple[str, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __enter__(self) -> Sampler:
        self.max_allowed = dict.fromkeys(self.limits, 0)
        self.max_running = dict.fromkeys(self.limits, 0)
        self._thread = threading.Thread(target=self._run, name='rate-limit-sampler', daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)
        if self._error is not None:
            raise AssertionError(f'the sampler failed: {self._error!r}')

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self.connection.pipeline(transaction=True) as pipe:
                    for key in self.limits:
                        pipe.zcard(f'rq:rl:{key}:allowed')
                        pipe.scard(RUNNING + key)
                    replies = pipe.execute()
                for i, key in enumerate(self.limits):
                    allowed, running = int(replies[2 * i]), int(replies[2 * i + 1])
                    self.max_allowed[key] = max(self.max_allowed[key], allowed)
                    self.max_running[key] = max(self.max_running[key], running)
                    if allowed > self.limits[key] or running > self.limits[key]:
                        self.over.append((key, allowed, running))
                self.samples += 1
                self._stop.wait(self.interval)
        except BaseException as exc:  # reported by __exit__
            self._error = exc


def run_counts(connection: redis.Redis) -> dict[str, int]:
    """How many times each job ran (``rqtest_jobs_ratelimit.record``)."""
    return {k.decode(): int(v) for k, v in connection.hgetall(RUNS).items()}


def ran_by(connection: redis.Redis) -> dict[str, str]:
    """The worker that ran each job (its last run)."""
    return {k.decode(): v.decode() for k, v in connection.hgetall(BY).items()}


def sequence_marks(connection: redis.Redis) -> tuple[dict[str, int], dict[str, int]]:
    """(start, end) sequence numbers by ``<job id>:<run>``: one global order of every start and end."""
    starts = {k.decode(): int(v) for k, v in connection.hgetall(STARTS).items()}
    ends = {k.decode(): int(v) for k, v in connection.hgetall(ENDS).items()}
    return starts, ends


def recorded_peak(connection: redis.Redis, key: str) -> int:
    """The largest number of jobs of ``key`` that ran at once, as the jobs counted it (0: none ran)."""
    return max((int(value) for value in connection.lrange(PEAK + key, 0, -1)), default=0)


def rate_limit_data(connection: redis.Redis) -> dict[str, object]:
    """Every ``rq:rl*`` key with its content (sets and zsets as sorted member lists)."""
    found: dict[str, object] = {}
    for raw in sorted(connection.scan_iter(match=RATE_LIMIT_PATTERN)):
        key, kind = raw.decode(), connection.type(raw).decode()
        if kind == 'zset':
            found[key] = sorted(m.decode() for m in connection.zrange(raw, 0, -1))
        elif kind == 'set':
            found[key] = sorted(m.decode() for m in connection.smembers(raw))
        elif kind == 'hash':
            found[key] = {k.decode(): v.decode() for k, v in connection.hgetall(raw).items()}
        else:
            found[key] = kind
    return found


def held_slots(connection: redis.Redis) -> dict[str, list[str]]:
    """The non-empty ``allowed`` and ``rate_limited`` sets: slots held and jobs still waiting."""
    return {
        key: members
        for key, members in rate_limit_data(connection).items()
        if key.endswith((':allowed', ':rate_limited')) and members
    }


def statuses(connection: redis.Redis, job_ids: list[str]) -> dict[str, str | None]:
    """The raw ``status`` field of each job (None: no hash)."""
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hget(f'rq:job:{job_id}', 'status')
        replies = pipe.execute()
    return {job_id: raw.decode() if raw else None for job_id, raw in zip(job_ids, replies, strict=True)}

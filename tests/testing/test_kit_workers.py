"""Workers for tests: SimpleWorker by default; workers that run jobs elsewhere are refused on the fake."""

from __future__ import annotations

import kit_jobs
import pytest
import redis

from rq import Queue
from rq.testing import FakeRedisUnsupportedError, fake_connection, make_worker
from rq.worker import SimpleWorker, SpawnWorker, Worker


def test_the_default_worker_runs_jobs_in_this_process(kit_queue: Queue) -> None:
    job = kit_queue.enqueue(kit_jobs.add, 20, 22)
    worker = make_worker(kit_queue)

    assert type(worker) is SimpleWorker
    assert worker.work(burst=True)
    assert job.get_status() == 'finished' and job.return_value() == 42


def test_a_worker_by_dotted_name_and_queue_names(kit_connection: redis.Redis) -> None:
    worker = make_worker(['high', 'low'], kit_connection, 'rq.worker.SimpleWorker', name='named')
    assert worker.queue_names() == ['high', 'low'] and worker.name == 'named'


@pytest.mark.parametrize('worker_class', [Worker, SpawnWorker])
def test_workers_that_run_jobs_elsewhere_are_refused_on_the_fake(worker_class: type) -> None:
    queue = Queue(connection=fake_connection())
    with pytest.raises(FakeRedisUnsupportedError) as info:
        make_worker(queue, worker_class=worker_class)
    message = str(info.value)
    assert worker_class.__name__ in message and 'SimpleWorker' in message and '--rq-real-redis' in message


def test_they_are_fine_on_a_real_redis(real_redis: redis.Redis) -> None:
    worker = make_worker(Queue(connection=real_redis), worker_class=Worker)
    assert type(worker) is Worker

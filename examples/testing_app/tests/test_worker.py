"""The same jobs run by a real rq worker (SimpleWorker, in the test process): needs rq-worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rq import Queue
from rq.testing import Clock, assert_job_result, assert_job_status
from shop.orders import place_order

pytestmark = pytest.mark.needs('rq-worker')


def test_a_worker_runs_the_order(
    rq_queue: Queue, rq_worker: Any, rq_clock: Clock, outbox: Callable[[], list[str]]
) -> None:
    order = place_order(rq_queue, 'o-9', 12, 'sku-5', remind=False)

    rq_worker.work(burst=True)

    assert_job_result(order.charge, 'receipt-o-9')
    assert outbox() == ['receipt for o-9']
    assert_job_status(order.inventory, 'scheduled')  # a worker leaves retries to the scheduler

    for _ in range(2):  # move each retry when due, as the scheduler would
        assert rq_clock.advance_to_next() == [order.inventory]
        rq_worker.work(burst=True)
    assert_job_result(order.inventory, 'sku-5 synced after 3 attempts')

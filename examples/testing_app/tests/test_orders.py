"""Placing orders: what gets enqueued, and what happens when the jobs run (eagerly, in the test)."""

from __future__ import annotations

from collections.abc import Callable
from unittest.mock import ANY

import pytest

from rq import Queue
from rq.testing import (
    EagerRunner,
    assert_enqueued,
    assert_job_failed,
    assert_job_result,
    assert_job_status,
    assert_not_enqueued,
)
from shop import jobs
from shop.orders import place_order


def test_placing_an_order_enqueues_its_jobs(rq_queue: Queue) -> None:
    order = place_order(rq_queue, 'o-1', 42, 'sku-7')

    assert_enqueued(rq_queue, jobs.charge_card, 'o-1', 42)
    assert_enqueued(rq_queue, jobs.sync_inventory, ANY)
    assert_job_status(order.charge, 'queued')
    assert_job_status(order.receipt, 'deferred')  # waits for the charge
    assert order.reminder is not None
    assert_job_status(order.reminder, 'scheduled')


def test_an_order_without_reminder_schedules_none(rq_queue: Queue) -> None:
    place_order(rq_queue, 'o-2', 10, 'sku-1', remind=False)

    assert_not_enqueued(rq_queue, jobs.send_reminder)
    assert_not_enqueued(rq_queue, jobs.charge_card, 'o-1', 42)


def test_the_jobs_run_with_dependents_and_retries(
    rq_queue: Queue, rq_runner: EagerRunner, outbox: Callable[[], list[str]]
) -> None:
    order = place_order(rq_queue, 'o-3', 42, 'sku-7')

    run = rq_runner.run()

    assert_job_result(order.charge, 'receipt-o-3')
    assert_job_status(order.receipt, 'finished')
    assert_job_result(order.inventory, 'sku-7 synced after 3 attempts')  # two retries, intervals skipped
    assert [r.outcome for r in run.runs if r.job == order.inventory] == ['retried', 'retried', 'finished']
    assert outbox() == ['receipt for o-3']
    assert run.failures == []
    assert order.reminder is not None
    assert_job_status(order.reminder, 'scheduled')  # due tomorrow: not run yet


def test_a_declined_card_is_collected_and_blocks_the_receipt(rq_queue: Queue, rq_runner: EagerRunner) -> None:
    order = place_order(rq_queue, 'o-4', 0, 'sku-7')

    run = rq_runner.run()

    assert run.failed_jobs == [order.charge]
    assert_job_failed(order.charge, jobs.PaymentDeclinedError, match='cannot charge 0')
    assert_job_status(order.receipt, 'deferred')


def test_fail_fast_raises_the_job_exception(rq_queue: Queue, rq_runner: EagerRunner) -> None:
    place_order(rq_queue, 'o-5', -3, 'sku-7')

    with pytest.raises(jobs.PaymentDeclinedError, match='cannot charge -3'):
        rq_runner.run(rq_queue, fail_fast=True)

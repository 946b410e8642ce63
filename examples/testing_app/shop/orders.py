"""The code that enqueues the shop's jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rq import Queue, Repeat, Retry
from rq.job import Job

from . import jobs

REMINDER_DELAY = timedelta(days=1)
INVENTORY_RETRY = Retry(max=3, interval=[10, 30, 60])


@dataclass
class OrderJobs:
    charge: Job
    receipt: Job
    inventory: Job
    reminder: Job | None


def place_order(queue: Queue, order_id: str, amount: int, sku: str, remind: bool = True) -> OrderJobs:
    """Charge the card, then send the receipt; sync the inventory (retried); remind the customer a day later."""
    charge = queue.enqueue(jobs.charge_card, order_id, amount, description=f'charge {order_id}')
    receipt = queue.enqueue(jobs.send_receipt, order_id, depends_on=charge)
    inventory = queue.enqueue(jobs.sync_inventory, sku, retry=INVENTORY_RETRY)
    reminder = queue.enqueue_in(REMINDER_DELAY, jobs.send_reminder, order_id) if remind else None
    return OrderJobs(charge, receipt, inventory, reminder)


def schedule_dashboard_refresh(queue: Queue, times: int = 2) -> Job:
    """Refresh the dashboard now and ``times`` more times, a minute apart."""
    return queue.enqueue(jobs.refresh_dashboard, repeat=Repeat(times=times, interval=60))

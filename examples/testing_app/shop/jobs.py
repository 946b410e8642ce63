"""The shop's jobs. They keep their records in Redis, through the connection of the job running them."""

from __future__ import annotations

from redis import Redis

from rq import get_current_job

OUTBOX = 'shop:outbox'
CHARGES = 'shop:charges'
INVENTORY_ATTEMPTS = 'shop:inventory-attempts:'
DASHBOARD_REFRESHES = 'shop:dashboard-refreshes'


class PaymentDeclinedError(Exception):
    """The card was declined: retrying will not help."""


class InventoryUnavailableError(Exception):
    """The inventory service did not answer (it often does not at first)."""


def _redis() -> Redis:
    job = get_current_job()
    assert job is not None, 'shop jobs run inside rq jobs'
    return job.connection


def charge_card(order_id: str, amount: int) -> str:
    if amount <= 0:
        raise PaymentDeclinedError(f'order {order_id}: cannot charge {amount}')
    _redis().hset(CHARGES, order_id, amount)
    return f'receipt-{order_id}'


def send_receipt(order_id: str) -> None:
    _redis().rpush(OUTBOX, f'receipt for {order_id}')


def send_reminder(order_id: str) -> None:
    _redis().rpush(OUTBOX, f'how was order {order_id}?')


def sync_inventory(sku: str, fail_times: int = 2) -> str:
    """Fails ``fail_times`` times before it gets through (the inventory service is slow to wake)."""
    attempt = int(_redis().incr(INVENTORY_ATTEMPTS + sku))
    if attempt <= fail_times:
        raise InventoryUnavailableError(f'attempt {attempt} for {sku}')
    return f'{sku} synced after {attempt} attempts'


def refresh_dashboard() -> int:
    return int(_redis().incr(DASHBOARD_REFRESHES))

"""Loading and running a job's success, failure and stopped callbacks, and sending its webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import callbacks, webhook
from ..defaults import CALLBACK_TIMEOUT
from .options import load_callback
from .status import JobStatus

if TYPE_CHECKING:
    from redis import Redis

    from ..timeouts import BaseDeathPenalty


class JobCallbacksMixin:
    id: str
    connection: Redis
    _success_callback_name: str | None
    _failure_callback_name: str | None
    _stopped_callback_name: str | None
    _success_callback_timeout: int | None
    _failure_callback_timeout: int | None
    _stopped_callback_timeout: int | None

    @property
    def success_callback(self) -> Any:
        return load_callback(self._success_callback_name) if self._success_callback_name else None

    @property
    def failure_callback(self) -> Any:
        return load_callback(self._failure_callback_name) if self._failure_callback_name else None

    @property
    def stopped_callback(self) -> Any:
        return load_callback(self._stopped_callback_name) if self._stopped_callback_name else None

    @property
    def success_callback_timeout(self) -> int:
        return self._success_callback_timeout or CALLBACK_TIMEOUT

    @property
    def failure_callback_timeout(self) -> int:
        return self._failure_callback_timeout or CALLBACK_TIMEOUT

    @property
    def stopped_callback_timeout(self) -> int:
        return self._stopped_callback_timeout or CALLBACK_TIMEOUT

    # rq 2.x's methods; rq 3.0 moved them to :mod:`rq.callbacks`, which these delegate to.
    def execute_success_callback(self, death_penalty_class: type[BaseDeathPenalty], result: Any) -> None:
        callbacks.execute_success_callback(self, death_penalty_class, result)  # type: ignore[arg-type]

    def execute_failure_callback(self, death_penalty_class: type[BaseDeathPenalty], *exc_info: Any) -> None:
        callbacks.execute_failure_callback(self, death_penalty_class, *exc_info)  # type: ignore[arg-type]

    def execute_stopped_callback(self, death_penalty_class: type[BaseDeathPenalty]) -> None:
        callbacks.execute_stopped_callback(self, death_penalty_class)  # type: ignore[arg-type]

    def send_webhooks(self, status: str | JobStatus, *, exc_string: str | None = None) -> None:
        webhook.send_webhooks(self, str(status), exc_string=exc_string)  # type: ignore[arg-type]

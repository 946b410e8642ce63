"""Reading a job's results stream: ``results()``, ``latest_result()``, ``return_value()``."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from .._redis import keys as keys
from ..results import Result
from .job_hash import decode_legacy_result

if TYPE_CHECKING:
    from redis import Redis

    from ..serializers import Serializer


class JobResultsMixin:
    id: str
    connection: Redis
    serializer: Serializer
    _cached_result: Result | None
    _result: Any
    _exc_info: str | None

    def results(self) -> list[Result]:
        """Every stored result of this job, newest first."""
        return Result.all(self, serializer=self.serializer)  # type: ignore[arg-type]

    def latest_result(self, timeout: int = 0) -> Result | None:
        """The newest result; with ``timeout > 0``, wait up to that many seconds for one."""
        return Result.fetch_latest(self, serializer=self.serializer, timeout=timeout)  # type: ignore[arg-type]

    def return_value(self, refresh: bool = False) -> Any:
        """The value returned by the latest run if it succeeded, else None."""
        if refresh or self._cached_result is None:
            self._cached_result = self.latest_result()
        if self._cached_result is not None and self._cached_result.type == Result.Type.SUCCESSFUL:
            return self._cached_result.return_value
        return None

    @property
    def result(self) -> Any:
        """Deprecated: use :meth:`return_value`. Falls back to the legacy ``result`` hash field."""
        warnings.warn('job.result is deprecated, use job.return_value()', DeprecationWarning, stacklevel=2)
        value = self.return_value(refresh=True)
        if value is not None:
            return value
        if self._result is None:
            # another process may have written the legacy field since this job was loaded
            raw = self.connection.hget(keys.job_key(self.id), 'result')
            if raw:
                self._result = decode_legacy_result(self, raw)  # type: ignore[arg-type]
        return self._result

    @property
    def exc_info(self) -> str | None:
        """Deprecated: use :meth:`latest_result`. The traceback text of the latest run if it failed
        (else the legacy ``exc_info`` field)."""
        warnings.warn('job.exc_info is deprecated, use job.latest_result()', DeprecationWarning, stacklevel=2)

        latest = self.latest_result()
        if latest is not None and latest.type == Result.Type.FAILED:
            return latest.exc_string
        return self._exc_info

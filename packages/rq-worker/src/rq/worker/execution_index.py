"""A worker's running executions as rq 3.0 exposes them: ``Worker.executions`` and
``Worker.execution`` in the worker's process, its execution index in Redis
(``rq:worker:<name>:executions``, members ``<job_id>:<execution_id>``), read by any process, and the
stop of one execution (the ``stop-execution`` command)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rq._redis import keys, worker_ops
from rq.executions import Execution

if TYPE_CHECKING:
    from redis import Redis


class ExecutionIndex:
    """rq 3.0's ``Worker.executions`` and ``Worker.execution`` (what this worker object runs), and
    ``Worker.executions_key``, ``get_current_executions()``, ``current_execution_count`` and
    ``request_stop_execution()``. These last read Redis, so they work as well on a worker found with
    ``Worker.all()`` as on the running worker itself."""

    if TYPE_CHECKING:
        name: str
        connection: Redis
        log: Any
        _stopped_job_id: str | None

        def kill_horse(self, sig: Any = ...) -> None: ...
        def get_current_job_id(self) -> str | None: ...

    _current_executions: list[Execution] | None = None
    _executions_by_id: dict[str, Execution] | None = None

    @property
    def executions(self) -> dict[str, Execution]:
        """The executions this worker object is running, by execution id (rq 3.0's dict): one at most,
        as a worker runs one job at a time. Empty on a worker read back from Redis (see
        :meth:`get_current_executions`)."""
        if self._executions_by_id is None:
            self._executions_by_id = {}
        return self._executions_by_id

    @executions.setter
    def executions(self, executions: dict[str, Execution]) -> None:
        self._executions_by_id = executions

    @property
    def execution(self) -> Execution | None:
        """The execution this worker is running (the one in :attr:`executions`), None when idle."""
        return next(iter(self.executions.values()), None) if self._executions_by_id else None

    @execution.setter
    def execution(self, execution: Execution | None) -> None:
        """Set the running execution, replacing the one before (a worker runs one at a time); None
        clears it.

        Raises:
            ValueError: None while :attr:`executions` holds more than one (as rq 3.0: remove the one
                that ended from :attr:`executions` instead).
        """
        executions = self.executions
        if execution is None and len(executions) > 1:
            raise ValueError(
                'cannot clear worker.execution while several executions are active; '
                'remove the one that ended from worker.executions instead'
            )
        executions.clear()
        if execution is not None:
            executions[execution.id] = execution

    @property
    def executions_key(self) -> str:
        """The Redis key of the set of this worker's running executions (``<job_id>:<execution_id>``)."""
        return keys.worker_executions_key(self.name)

    @property
    def current_execution_count(self) -> int:
        """How many executions this worker is running, as its execution index says."""
        return worker_ops.execution_count(self.connection, self.name)

    def get_current_executions(self, refresh: bool = False) -> list[Execution]:
        """The executions this worker is running, read from its execution index; members whose
        execution has expired are dropped from the index. The answer is kept on this object while it
        is not empty (as rq 3.0 does): ``refresh=True`` reads Redis again."""
        if not refresh and self._current_executions:
            return self._current_executions
        executions = []
        for job_id, execution_id, raw in worker_ops.read_executions(self.connection, self.name):
            execution = Execution(execution_id, job_id, self.connection)
            execution.restore(raw)
            executions.append(execution)
        self._current_executions = executions
        return executions

    def request_stop_execution(self, execution_id: str) -> None:
        """Stop execution ``execution_id`` if this worker runs it (the ``stop-execution`` command):
        its job ends ``stopped``, as with a stop-job command. Otherwise the command is ignored."""
        execution = self.execution
        running = execution is not None and execution.job_id == self.get_current_job_id()
        if execution is None or not running or not execution_id or execution.id != execution_id:
            self.log.warning('Not running execution %s, command ignored.', execution_id)
            return
        self.log.info('Received command to stop execution %s of job %s: stopping it.', execution_id, execution.job_id)
        self._stopped_job_id = execution.job_id
        self.kill_horse()

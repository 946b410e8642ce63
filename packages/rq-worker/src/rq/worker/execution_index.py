"""A worker's running executions as rq 3.0 exposes them: its execution index in Redis
(``rq:worker:<name>:executions``, members ``<job_id>:<execution_id>``), read by any process, and the
stop of one execution (the ``stop-execution`` command)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rq._redis import keys, worker_ops
from rq.executions import Execution

if TYPE_CHECKING:
    from redis import Redis


class ExecutionIndex:
    """rq 3.0's ``Worker.executions_key``, ``get_current_executions()``, ``current_execution_count``
    and ``request_stop_execution()``. They read Redis, so they work as well on a worker found with
    ``Worker.all()`` as on the running worker itself."""

    if TYPE_CHECKING:
        name: str
        connection: Redis
        log: Any
        execution: Execution | None
        _stopped_job_id: str | None

        def kill_horse(self, sig: Any = ...) -> None: ...
        def get_current_job_id(self) -> str | None: ...

    _current_executions: list[Execution] | None = None

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

"""A small FastAPI app that enqueues jobs from async endpoints with ``rq.asyncio`` and waits for
their results without blocking the event loop.

Endpoints:

* ``POST /jobs`` with ``{"task": "count_words", "args": ["a few words"]}`` enqueues a job (the
  tasks are the functions of ``examples/demo_jobs.py``) and answers ``{"id": ...}``;
* ``GET /jobs/{id}`` gives the job's status;
* ``GET /jobs/{id}/result?timeout=10`` waits up to ``timeout`` seconds for the job's final outcome:
  200 with its return value, 504 if it has none yet, 500 with the traceback if it failed.

Run it from the repository root (FastAPI is not a dependency of rq: install it where you run this)::

    pip install fastapi uvicorn
    pip install -e packages/rq-core          # or: pip install rq
    uvicorn examples.fastapi_app:app         # REDIS_URL=redis://host:6379/0 for another Redis

and a worker, also from the repository root (so that it can import ``examples.demo_jobs``)::

    rq worker                                # or: python -m rq.worker --url $REDIS_URL

Then::

    curl -X POST localhost:8000/jobs -H 'content-type: application/json' \\
         -d '{"task": "count_words", "args": ["three short words"]}'
    curl 'localhost:8000/jobs/<id>/result?timeout=30'
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.asyncio import Redis

from examples import demo_jobs
from rq.asyncio import Job, JobFailedError, Queue
from rq.exceptions import NoSuchJobError

REDIS_URL = os.environ.get('REDIS_URL', 'redis://localhost:6379/0')
QUEUE_NAME = os.environ.get('RQ_QUEUE', 'default')

#: What a client may ask to run (never a function named by the request itself).
TASKS = {
    'count_words': demo_jobs.count_words,
    'shout': demo_jobs.shout,
    'slow_square': demo_jobs.slow_square,
    'explode': demo_jobs.explode,
}

connection = Redis.from_url(REDIS_URL)
queue = Queue(QUEUE_NAME, connection=connection)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await connection.aclose()


app = FastAPI(title='rq.asyncio example', lifespan=lifespan)


class JobRequest(BaseModel):
    task: str
    args: list[Any] = []


async def fetch(job_id: str) -> Job:
    try:
        return await Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        raise HTTPException(status_code=404, detail=f'no job {job_id}') from None


@app.post('/jobs', status_code=201)
async def create_job(request: JobRequest) -> dict[str, str]:
    func = TASKS.get(request.task)
    if func is None:
        raise HTTPException(status_code=422, detail=f'unknown task {request.task!r}; one of {sorted(TASKS)}')
    job = await queue.enqueue(func, *request.args, job_timeout=60, result_ttl=600, failure_ttl=3600)
    return {'id': job.id}


@app.get('/jobs/{job_id}')
async def job_status(job_id: str) -> dict[str, Any]:
    job = await fetch(job_id)
    return {
        'id': job.id,
        'status': (await job.get_status()).value,
        'description': job.description,
        'enqueued_at': job.enqueued_at,
        'ended_at': job.ended_at,
    }


@app.get('/jobs/{job_id}/result', response_model=None)
async def job_result(job_id: str, timeout: float = Query(10.0, ge=0, le=60)) -> dict[str, Any] | JSONResponse:
    job = await fetch(job_id)
    try:
        value = await job.result(timeout=timeout)
    except TimeoutError:
        status = (await job.get_status()).value
        return JSONResponse({'id': job_id, 'status': status, 'detail': 'no result yet'}, status_code=504)
    except JobFailedError as error:  # failed or stopped: the message holds the traceback
        status = (await job.get_status()).value
        return JSONResponse({'id': job_id, 'status': status, 'error': str(error)}, status_code=500)
    return {'id': job_id, 'status': 'finished', 'result': value}

"""``Webhook``: an HTTP request sent when a job ends ``finished`` or ``failed``."""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._redis.codec import to_utc

if TYPE_CHECKING:
    from .job import Job

__all__ = ['Webhook']

logger = logging.getLogger('rq.webhook')

_STATUSES = ('finished', 'failed')
_METHODS = ('GET', 'POST')


@dataclass(init=False)
class Webhook:
    """Describe a request to make when a job reaches ``job_status`` (``'finished'`` or ``'failed'``).

    GET sends no body. POST sends JSON ``{job_id, func_name, status, enqueued_at, ended_at}`` (plus
    ``exc_info`` for failures). Delivery errors are logged, never raised: a dead endpoint cannot fail
    a job. Stored in the job hash as JSON, so no importable code is needed.

    A dataclass, as in RQ: its repr lists the fields, and webhooks with equal fields are equal.
    """

    url: str
    job_status: str
    method: str
    headers: dict[str, str] | None
    timeout: int

    def __init__(
        self,
        url: str,
        job_status: str,
        *,
        method: str = 'GET',
        headers: dict[str, str] | None = None,
        timeout: int = 10,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ('http', 'https') or not parts.netloc:
            raise ValueError(f'Webhook url must be an http:// or https:// URL, not {url!r}')
        if job_status not in _STATUSES:
            raise ValueError(f"Webhook job_status must be 'finished' or 'failed', not {job_status!r}")
        if method not in _METHODS:
            raise ValueError(f"Webhook method must be 'GET' or 'POST', not {method!r}")
        if headers and not isinstance(headers, dict):
            raise TypeError(f'Webhook headers must be a dict, not {type(headers).__name__}')
        if not isinstance(timeout, int) or timeout <= 0:
            raise ValueError(f'Webhook timeout must be a positive integer, not {timeout!r}')
        self.url = url
        self.job_status = job_status
        self.method = method
        self.headers = headers
        self.timeout = timeout

    def to_dict(self) -> dict[str, Any]:
        return {
            'url': self.url,
            'job_status': self.job_status,
            'method': self.method,
            'headers': self.headers,
            'timeout': self.timeout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Webhook:
        return cls(
            data['url'],
            data['job_status'],
            method=data.get('method', 'GET'),
            headers=data.get('headers'),
            timeout=data.get('timeout', 10),
        )

    def get_payload(self, job: Job, *, exc_string: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            'job_id': job.id,
            'func_name': job.func_name,
            'status': self.job_status,
            'enqueued_at': to_utc(job.enqueued_at).isoformat() if job.enqueued_at else None,
            'ended_at': to_utc(job.ended_at).isoformat() if job.ended_at else None,
        }
        if self.job_status == 'failed':
            payload['exc_info'] = exc_string
        return payload

    def send(self, job: Job, *, exc_string: str | None = None) -> None:
        """Make the request (blocking, up to ``timeout`` seconds). Never raises."""
        try:
            headers = dict(self.headers or {})
            body = None
            if self.method == 'POST':
                body = json.dumps(self.get_payload(job, exc_string=exc_string)).encode('utf-8')
                headers = {'Content-Type': 'application/json', **headers}
            request = urllib.request.Request(self.url, data=body, headers=headers, method=self.method)
            with urllib.request.urlopen(request, timeout=self.timeout):
                pass
        except Exception:
            logger.warning('Webhook %s %s for job %s failed', self.method, self.url, job.id, exc_info=True)


def send_webhooks(job: Job, status: str, *, exc_string: str | None = None) -> None:
    """Send the job's webhooks registered for ``status``."""
    for webhook in job.webhooks or ():
        if webhook.job_status == status:
            webhook.send(job, exc_string=exc_string)

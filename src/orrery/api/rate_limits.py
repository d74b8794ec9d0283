"""Per-project limits, with API keys configured: requests a minute, and responses at once.

Each server process counts on its own (with ``--workers N`` or several processes, a project gets
up to N times the limits). Requests are a token bucket refilled evenly over the minute; a response
counts from its create request's start to its answer's (or its stream's) end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from orrery.errors import APIError


@dataclass
class _Bucket:
    tokens: float
    at: float
    responses: int = 0


@dataclass
class RateLimiter:
    requests_per_minute: int
    """0: no limit."""
    concurrent_responses: int
    """0: no limit."""
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, project: str, creates_response: bool) -> None:
        """Count one request of ``project``; a 429 (OpenAI's shape, with ``Retry-After``) past a limit."""
        now = time.monotonic()
        bucket = self._buckets.get(project)
        if bucket is None:
            bucket = self._buckets[project] = _Bucket(float(self.requests_per_minute), now)
        if creates_response and self.concurrent_responses and bucket.responses >= self.concurrent_responses:
            raise _limited(f"Too many responses at once for project '{project}': at most "
                           f"{self.concurrent_responses}. Please try again when one has finished.", 1)
        if self.requests_per_minute:
            rate = self.requests_per_minute / 60
            bucket.tokens = min(float(self.requests_per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens < 1:
                wait = math.ceil((1 - bucket.tokens) / rate)
                raise _limited(f"Rate limit reached for requests: {self.requests_per_minute} a minute for project "
                               f"'{project}'. Please try again in {wait}s.", wait)
            bucket.tokens -= 1
        if creates_response:
            bucket.responses += 1

    def finished(self, project: str) -> None:
        """A response admitted by ``admit`` has ended."""
        bucket = self._buckets.get(project)
        if bucket is not None and bucket.responses:
            bucket.responses -= 1


def _limited(message: str, retry_after: int) -> APIError:
    return APIError(message, status_code=429, error_type="requests", code="rate_limit_exceeded",
                    headers={"retry-after": str(retry_after)})

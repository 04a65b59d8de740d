"""The rate-limit area's own failures, raised by its adapters in place of redis-py's errors."""

from __future__ import annotations


class LimiterUnavailable(Exception):
    """Redis could not decide: unreachable, timed out, or answered with an outage reply (OOM,
    READONLY, LOADING, BUSY, ...). `timeout` says whether a request already waited out the whole
    read timeout (the breaker opens at once on those)."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


class LimiterReplyError(Exception):
    """Redis answered the check with an error reply that is not an outage (a script error: ours)."""

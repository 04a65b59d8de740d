"""The resilience area's failures, as callers see them. Standard library only.

Every message is safe to log and to show an operator: a URL's path and query (which can carry
tokens) never appear, only its host and port (docs/resilience.md#the-outbound-client).
"""

from __future__ import annotations


class BreakerOpenError(Exception):
    """The breaker refused the call without touching the downstream. `retry_after_seconds` is when
    it may admit again (whole seconds, at least 1)."""

    def __init__(self, name: str, state: str, retry_after_seconds: int = 1) -> None:
        super().__init__(f"breaker {name} is {state}")
        self.name = name
        self.state = state
        self.retry_after_seconds = max(1, retry_after_seconds)


class OutboundError(Exception):
    """An outbound request that did not get an answer. `reason` is a short, public-safe phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DestinationRefused(OutboundError):
    """The URL (or a redirect) is not one Gatehouse may call: a scheme other than http(s), credentials
    in it, or a host that is or resolves to a private, loopback, link-local, metadata or otherwise
    non-public address not allowed by configuration. Never retried, never counted by a breaker."""


class TransportError(OutboundError):
    """No answer: the connection failed, timed out, or broke. `sent` says whether the request may
    have reached the destination (a read timeout), which decides whether non-idempotent work may
    be retried."""

    def __init__(self, reason: str, *, timeout: bool = False, sent: bool = True) -> None:
        super().__init__(reason)
        self.timeout = timeout
        self.sent = sent


class ResponseTooLarge(OutboundError):
    """The answer's body was larger than the client accepts; `status` is the answer's status."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status

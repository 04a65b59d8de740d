"""The one internal failure of credential verification, carrying a reason for logs only."""

from __future__ import annotations


class InvalidToken(Exception):
    """A credential was refused. `reason` and `log_fields` go to logs, never to the client.

    Every refusal (malformed, unknown, expired, revoked, bad signature...) is this one type,
    so the authorizer answers them all alike and cannot leak which check failed.
    `log_fields` must only ever hold non-secret identifiers (key prefix, kid, iss).
    """

    def __init__(self, reason: str, **log_fields: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_fields = log_fields


class AuthConfigError(ValueError):
    """The authorizer's configuration (environment) is unusable."""

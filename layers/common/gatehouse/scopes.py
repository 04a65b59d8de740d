"""Scope names (docs/reference.md#scopes) and the admin-implies-all rule. Standard library only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

ADMIN: Final = "admin"
KEYS_READ: Final = "keys:read"
KEYS_WRITE: Final = "keys:write"
RATELIMIT_CHECK: Final = "ratelimit:check"
RATELIMIT_ADMIN: Final = "ratelimit:admin"
WEBHOOKS_READ: Final = "webhooks:read"
WEBHOOKS_ADMIN: Final = "webhooks:admin"
CAMPAIGNS_READ: Final = "campaigns:read"
CAMPAIGNS_WRITE: Final = "campaigns:write"
TIMERS_WRITE: Final = "timers:write"
METRICS_READ: Final = "metrics:read"

ALL_SCOPES: Final[frozenset[str]] = frozenset(
    {
        ADMIN,
        KEYS_READ,
        KEYS_WRITE,
        RATELIMIT_CHECK,
        RATELIMIT_ADMIN,
        WEBHOOKS_READ,
        WEBHOOKS_ADMIN,
        CAMPAIGNS_READ,
        CAMPAIGNS_WRITE,
        TIMERS_WRITE,
        METRICS_READ,
    }
)


def has_scope(granted: Iterable[str], required: str | None) -> bool:
    """Whether `granted` satisfies `required` (None: any principal; admin satisfies everything)."""
    if required is None:
        return True
    granted = granted if isinstance(granted, set | frozenset) else frozenset(granted)
    return ADMIN in granted or required in granted

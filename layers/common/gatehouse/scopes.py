"""Scope names (docs/reference.md#scopes) and the admin-implies-all rule. Standard library only."""

from __future__ import annotations

import re
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


# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII except the space,
# the double quote and the backslash. No whitespace of any kind (tab, newline, no-break or em space)
# fits inside one, so scopes joined by single spaces split back into exactly those scopes, whoever
# splits them (README.md, Configuration: scopes).
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def is_scope_token(value: object) -> bool:
    """Whether `value` is one RFC 6749 scope token (a non-empty string of the allowed characters)."""
    return isinstance(value, str) and _SCOPE_TOKEN.fullmatch(value) is not None


def parse_scopes(text: str) -> frozenset[str]:
    """Scopes from a space-separated string, split on ASCII spaces only (a run of them is one separator).

    ValueError when anything between the spaces is not a scope token: split on every kind of
    whitespace, "keys:read<TAB>admin" would become two scopes, one of them admin.
    """
    scopes = frozenset(part for part in text.split(" ") if part)
    if not all(is_scope_token(scope) for scope in scopes):
        raise ValueError("a scope is not an RFC 6749 scope token")
    return scopes


def format_scopes(scopes: Iterable[str]) -> str:
    """`scopes` sorted and joined by single spaces; ValueError unless every one is a scope token."""
    scopes = list(scopes)
    if not all(is_scope_token(scope) for scope in scopes):
        raise ValueError("a scope is not an RFC 6749 scope token")
    return " ".join(sorted(scopes))

"""Scope names (SPEC §6), the admin-implies-all rule, and the scope each protected route needs."""

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

# routeKey (as API Gateway spells it: "METHOD /path/{param}") -> the scope it needs.
# None means any authenticated principal; the handler may refine (e.g. "only your own").
# The path-parameter names must match template.yaml exactly, or the route falls back to
# the fail-closed default below.
ROUTE_SCOPES: Final[dict[str, str | None]] = {
    # Identity (§6)
    "GET /v1/me": None,
    # API keys (§7)
    "POST /v1/keys": KEYS_WRITE,
    "GET /v1/keys": KEYS_READ,
    "GET /v1/keys/{keyId}": KEYS_READ,
    "DELETE /v1/keys/{keyId}": KEYS_WRITE,
    "POST /v1/keys/{keyId}/rotate": KEYS_WRITE,
    # Rate limiting (§8). Policies are the published limits every caller is subject to, so
    # any principal may read them. Usage: a principal may read its own subject; the
    # handler requires ratelimit:admin for anyone else's, so the route itself asks nothing.
    "GET /v1/ratelimit/policies": None,
    "GET /v1/ratelimit/usage/{subject}": None,
    "PUT /v1/ratelimit/overrides/{subject}": RATELIMIT_ADMIN,
    "GET /v1/ratelimit/overrides/{subject}": RATELIMIT_ADMIN,
    "DELETE /v1/ratelimit/overrides/{subject}": RATELIMIT_ADMIN,
    "POST /v1/ratelimit/check": RATELIMIT_CHECK,
    # Webhooks (§9): placeholders until the routes exist. Reading a source never shows
    # its secrets, so webhooks:read suffices; changing one is webhooks:admin.
    "PUT /v1/webhook-sources/{source}": WEBHOOKS_ADMIN,
    "GET /v1/webhook-sources": WEBHOOKS_READ,
    "GET /v1/webhook-sources/{source}": WEBHOOKS_READ,
    "DELETE /v1/webhook-sources/{source}": WEBHOOKS_ADMIN,
    "POST /v1/webhook-sources/{source}/rotate-secret": WEBHOOKS_ADMIN,
    "GET /v1/webhook-events": WEBHOOKS_READ,
    "GET /v1/webhook-events/{id}": WEBHOOKS_READ,
    "POST /v1/webhook-events/{id}/replay": WEBHOOKS_ADMIN,
    # Campaigns and timers (§10): placeholders.
    "POST /v1/campaigns": CAMPAIGNS_WRITE,
    "GET /v1/campaigns": CAMPAIGNS_READ,
    "GET /v1/campaigns/{id}": CAMPAIGNS_READ,
    "PATCH /v1/campaigns/{id}": CAMPAIGNS_WRITE,
    "POST /v1/campaigns/{id}/cancel": CAMPAIGNS_WRITE,
    "POST /v1/campaigns/{id}/engagements": CAMPAIGNS_WRITE,
    "GET /v1/campaigns/{id}/lifecycle": CAMPAIGNS_READ,
    "GET /v1/campaigns/{id}/timers": CAMPAIGNS_READ,
    "POST /v1/campaigns/{id}/timers/{timerId}/execute": TIMERS_WRITE,
    "DELETE /v1/campaigns/{id}/timers/{timerId}": TIMERS_WRITE,
    "GET /v1/timers/pending": ADMIN,
    "GET /v1/timers/overdue": ADMIN,
    "POST /v1/timers/process": ADMIN,
    "POST /v1/recovery/trigger": ADMIN,
    # Resilience (§11) and metrics (§13): placeholders.
    "GET /v1/breakers": ADMIN,
    "POST /v1/breakers/{name}/reset": ADMIN,
    "GET /v1/metrics": METRICS_READ,
    "GET /v1/metrics/prometheus": METRICS_READ,
}


def has_scope(granted: Iterable[str], required: str | None) -> bool:
    """Whether `granted` satisfies `required` (None: any principal; admin satisfies everything)."""
    if required is None:
        return True
    granted = granted if isinstance(granted, set | frozenset) else frozenset(granted)
    return ADMIN in granted or required in granted


def required_scope(route_key: str) -> str | None:
    """The scope a route needs; a route nobody listed needs admin (fail closed)."""
    try:
        return ROUTE_SCOPES[route_key]
    except KeyError:
        return ADMIN

"""Every protected route, declared once: the scope it needs and the rate-limit group it is charged to.

The routers register their handlers through `gatehouse.routes.declare.route(router, route_key)`,
which refuses a route key missing here; the authorizer (with its cache off) and the handler guard
read the scope from here; the rate-limit policies read the groups from here. `template.yaml`
is kept in agreement by tests/unit/test_route_catalogue.py. Standard library only: the
authorizer imports it. An area adds its routes here when it lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gatehouse.scopes import (
    ADMIN,
    CAMPAIGNS_READ,
    CAMPAIGNS_WRITE,
    KEYS_READ,
    KEYS_WRITE,
    METRICS_READ,
    RATELIMIT_ADMIN,
    RATELIMIT_CHECK,
    TIMERS_WRITE,
    WEBHOOKS_ADMIN,
    WEBHOOKS_READ,
)

CREDENTIALS: Final = "credentials"


@dataclass(frozen=True, slots=True)
class RouteRule:
    # None: any authenticated principal; the handler may refine (e.g. "only your own").
    scope: str | None
    # A rate-limit route group whose policy is checked on top of the caller's tier.
    group: str | None = None


# Route keys as API Gateway spells them ("METHOD /path/{param}"), path parameters named exactly
# as in template.yaml: a key nobody listed falls back to the fail-closed rule below.
ROUTES: Final[dict[str, RouteRule]] = {
    # Identity
    "GET /v1/me": RouteRule(None),
    # API keys. Creating and rotating mint credentials: charged to the owner's credential budget.
    "POST /v1/keys": RouteRule(KEYS_WRITE, CREDENTIALS),
    "GET /v1/keys": RouteRule(KEYS_READ),
    "GET /v1/keys/{keyId}": RouteRule(KEYS_READ),
    "DELETE /v1/keys/{keyId}": RouteRule(KEYS_WRITE),
    "POST /v1/keys/{keyId}/rotate": RouteRule(KEYS_WRITE, CREDENTIALS),
    # Rate limiting. Policies are the published limits every caller is held to, so any principal
    # may read them; usage of one's own subject likewise (the handler asks ratelimit:admin for
    # anyone else's).
    "GET /v1/ratelimit/policies": RouteRule(None),
    "GET /v1/ratelimit/usage/{subject}": RouteRule(None),
    "PUT /v1/ratelimit/overrides/{subject}": RouteRule(RATELIMIT_ADMIN),
    "GET /v1/ratelimit/overrides/{subject}": RouteRule(RATELIMIT_ADMIN),
    "DELETE /v1/ratelimit/overrides/{subject}": RouteRule(RATELIMIT_ADMIN),
    "POST /v1/ratelimit/check": RouteRule(RATELIMIT_CHECK),
    # Webhooks. Sources hold secrets: admin only. POST /webhooks/{source} is public (the signature
    # is its credential) and so is not listed here.
    "PUT /v1/webhook-sources/{source}": RouteRule(WEBHOOKS_ADMIN),
    "GET /v1/webhook-sources/{source}": RouteRule(WEBHOOKS_ADMIN),
    "DELETE /v1/webhook-sources/{source}": RouteRule(WEBHOOKS_ADMIN),
    "GET /v1/webhook-sources": RouteRule(WEBHOOKS_ADMIN),
    "POST /v1/webhook-sources/{source}/rotate-secret": RouteRule(WEBHOOKS_ADMIN),
    "GET /v1/webhook-events": RouteRule(WEBHOOKS_READ),
    "GET /v1/webhook-events/{eventId}": RouteRule(WEBHOOKS_READ),
    "POST /v1/webhook-events/{eventId}/replay": RouteRule(WEBHOOKS_ADMIN),
    # Campaigns and their timers.
    "POST /v1/campaigns": RouteRule(CAMPAIGNS_WRITE),
    "GET /v1/campaigns": RouteRule(CAMPAIGNS_READ),
    "GET /v1/campaigns/{campaignId}": RouteRule(CAMPAIGNS_READ),
    "PATCH /v1/campaigns/{campaignId}": RouteRule(CAMPAIGNS_WRITE),
    "POST /v1/campaigns/{campaignId}/cancel": RouteRule(CAMPAIGNS_WRITE),
    "POST /v1/campaigns/{campaignId}/engagements": RouteRule(CAMPAIGNS_WRITE),
    "GET /v1/campaigns/{campaignId}/lifecycle": RouteRule(CAMPAIGNS_READ),
    "GET /v1/campaigns/{campaignId}/timers": RouteRule(CAMPAIGNS_READ),
    "POST /v1/campaigns/{campaignId}/timers/{timerId}/execute": RouteRule(TIMERS_WRITE),
    "DELETE /v1/campaigns/{campaignId}/timers/{timerId}": RouteRule(TIMERS_WRITE),
    # Timers of every owner: operators only.
    "GET /v1/timers/pending": RouteRule(ADMIN),
    "GET /v1/timers/overdue": RouteRule(ADMIN),
    "POST /v1/timers/process": RouteRule(ADMIN),
    "POST /v1/recovery/trigger": RouteRule(ADMIN),
    # Fleet breakers: operators only (isolating a downstream cuts a whole fleet off it).
    "GET /v1/breakers": RouteRule(ADMIN),
    "POST /v1/breakers/{name}/reset": RouteRule(ADMIN),
    "POST /v1/breakers/{name}/isolate": RouteRule(ADMIN),
    # Metrics: the operators' dashboards and scrapers.
    "GET /v1/metrics": RouteRule(METRICS_READ),
    "GET /v1/metrics/prometheus": RouteRule(METRICS_READ),
}

# What a route nobody declared needs: admin (fail closed).
UNDECLARED: Final = RouteRule(ADMIN)


def rule_for(route_key: str) -> RouteRule:
    return ROUTES.get(route_key, UNDECLARED)


def required_scope(route_key: str) -> str | None:
    """The scope a route needs; a route nobody declared needs admin (fail closed)."""
    return rule_for(route_key).scope


def route_groups() -> dict[str, str]:
    """Route key -> rate-limit group, for the routes that have one."""
    return {key: rule.group for key, rule in ROUTES.items() if rule.group is not None}

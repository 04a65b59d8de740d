"""Every area's router, so one OpenAPI document can describe the whole API."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router


def all_routers() -> list[Router]:
    """Imported lazily: only the docs function needs every area loaded at once."""
    from gatehouse.routes import (
        breakers,
        campaigns,
        health,
        identity,
        keys,
        metrics,
        ratelimit,
        timers,
        webhook_events,
        webhook_intake,
        webhook_sources,
    )

    return [
        health.router,
        identity.router,
        keys.router,
        ratelimit.router,
        campaigns.router,
        timers.router,
        webhook_sources.router,
        webhook_events.router,
        webhook_intake.router,
        breakers.router,
        metrics.router,
    ]

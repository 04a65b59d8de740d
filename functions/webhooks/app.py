"""Webhooks function: /v1/webhook-sources (register, rotate secrets) and /v1/webhook-events (history, replay)."""

from gatehouse.api import create_app, make_handler
from gatehouse.guards import protected_route_guards
from gatehouse.routes import webhook_events, webhook_sources

app = create_app()
app.include_router(webhook_sources.router)
app.include_router(webhook_events.router)
lambda_handler = make_handler(app, protected_route_guards())

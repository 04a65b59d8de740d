"""Campaigns function: /v1/campaigns (lifecycle, engagements, timers) and the operators' /v1/timers, /v1/recovery."""

from gatehouse.api import create_app, make_handler
from gatehouse.guards import protected_route_guards
from gatehouse.routes import campaigns, timers

app = create_app()
app.include_router(campaigns.router)
app.include_router(timers.router)
lambda_handler = make_handler(app, protected_route_guards())

"""Metrics function: GET /v1/metrics and GET /v1/metrics/prometheus (metrics:read)."""

from gatehouse.api import create_app, make_handler
from gatehouse.guards import protected_route_guards
from gatehouse.routes import metrics

app = create_app()
app.include_router(metrics.router)
lambda_handler = make_handler(app, protected_route_guards())

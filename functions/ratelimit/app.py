"""Rate-limit function: policies, overrides, usage and POST /v1/ratelimit/check."""

from gatehouse.api import create_app, make_handler
from gatehouse.guards import protected_route_guards
from gatehouse.routes.ratelimit import router

app = create_app()
app.include_router(router)
lambda_handler = make_handler(app, protected_route_guards())

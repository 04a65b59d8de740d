"""Breakers function: GET /v1/breakers, POST /v1/breakers/{name}/reset and /isolate (admin)."""

from gatehouse.api import create_app, make_handler
from gatehouse.guards import protected_route_guards
from gatehouse.routes.breakers import router

app = create_app()
app.include_router(router)
lambda_handler = make_handler(app, protected_route_guards())

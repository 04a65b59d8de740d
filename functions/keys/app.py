"""Keys function: /v1/keys (create, list, get, rotate, revoke) and GET /v1/me."""

from gatehouse.api import create_app, make_handler
from gatehouse.guards import protected_route_guards
from gatehouse.routes import identity, keys

app = create_app()
app.include_router(identity.router)
app.include_router(keys.router)
lambda_handler = make_handler(app, protected_route_guards())

"""template.yaml, the route-scope table and the OpenAPI routers describe the same routes."""

from __future__ import annotations

import re
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from gatehouse.route_rules import ROUTES
from gatehouse.routes.catalog import all_routers
from local.template import load_template

ROUTE_SCOPES = {key: rule.scope for key, rule in ROUTES.items()}
ROOT = Path(__file__).resolve().parents[2]
DOCS_ROUTES = {"GET /openapi.json", "GET /docs"}
# Served outside the OpenAPI document, like the docs: the console's page and static assets.
CONSOLE_ROUTES = {"GET /console", "GET /console/{asset}"}


def template_routes() -> dict[str, bool]:
    template = load_template(ROOT / "template.yaml")
    return {f"{r.method} {r.path}": r.protected for r in template.routes}


def router_routes() -> set[str]:
    app = APIGatewayHttpResolver()
    for router in all_routers():
        app.include_router(router)
    routes = set()
    for route in app._static_routes + app._dynamic_routes:  # Powertools keeps no public list
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        routes.add(f"{route.method} {path}")
    return routes


def test_every_protected_route_has_a_scope_entry():
    # A route missing from ROUTE_SCOPES would silently require admin (fail closed): catch the typo here.
    protected = {route for route, is_protected in template_routes().items() if is_protected}
    assert protected - ROUTE_SCOPES.keys() == set()


def test_public_routes_are_exactly_health_docs_console_and_webhook_intake():
    # Webhook intake is public: the signature of the source's scheme is its credential.
    public = {route for route, is_protected in template_routes().items() if not is_protected}
    assert public == {"GET /health", "GET /health/ready", "POST /webhooks/{source}"} | DOCS_ROUTES | CONSOLE_ROUTES


def test_the_routers_serve_exactly_the_template_routes():
    # What the template sends to the functions is what the routers (and so the OpenAPI document) describe.
    assert router_routes() == set(template_routes()) - DOCS_ROUTES - CONSOLE_ROUTES

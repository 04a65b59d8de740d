"""`route(router, "POST /v1/keys", ...)`: registers a handler under a route key declared in route_rules.

The route key is the one string a route is known by (template.yaml, the scope and rate-limit
group in gatehouse.route_rules, the router); this helper turns it into Powertools' method and
path and states the scope in the OpenAPI description, so the three cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from gatehouse.route_rules import ROUTES

_PARAMETER = re.compile(r"\{(\w+)\}")


def route(router: Router, route_key: str, *, description: str | None = None, **openapi: Any) -> Callable:
    """The decorator of `router` for `route_key` ("METHOD /path/{param}"), which must be declared."""
    rule = ROUTES.get(route_key)
    if rule is None:
        raise KeyError(f"{route_key!r} is not declared in gatehouse.route_rules")
    method, path = route_key.split(" ", 1)
    needs = f"Requires scope `{rule.scope}` (or `admin`)." if rule.scope else "Any authenticated caller."
    text = f"{description}\n\n{needs}" if description else needs
    return router.route(_PARAMETER.sub(r"<\1>", path), method, description=text, **openapi)

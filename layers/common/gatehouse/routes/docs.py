"""GET /openapi.json and GET /docs (Swagger UI), generated from the routers and their models.

Powertools writes the paths and models; `_complete()` then states what Powertools cannot
know: validation answers 400 with the error envelope (not 422), protected routes can answer
401/403/429/503 and carry the rate-limit headers, and the health routes need no credentials.
Swagger UI is served from the same document, with its assets bundled (no CDN).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import aws_lambda_powertools.event_handler as event_handler_package
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

import gatehouse

TITLE = "Gatehouse"
DESCRIPTION = (
    "A serverless API edge: gateway authorizer (JWT or API key), API keys, rate limits, "
    "webhook intake, timers and campaigns, circuit breakers, health and metrics. "
    "Protected routes take `Authorization: Bearer <JWT or gk_ API key>`. "
    "`X-RateLimit-Reset` is in epoch seconds."
)
SECURITY_SCHEMES = {"bearer": HTTPBearer(description="A JWT from a trusted issuer, or a Gatehouse API key (gk_…)")}
PUBLIC_PATHS = {"/health", "/health/ready"}

_ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error", "requestId"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
        "requestId": {"type": "string"},
    },
}
_GATEWAY_MESSAGE = {"type": "object", "properties": {"message": {"type": "string"}}}
_RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": "Every window that applied (draft-ietf-httpapi-ratelimit-headers-11).",
    "RateLimit": "The window closest to its limit: remaining `r` and seconds to reset `t`.",
    "X-RateLimit-Limit": "Quota of that window.",
    "X-RateLimit-Remaining": "What is left of it.",
    "X-RateLimit-Reset": "When it resets, in epoch seconds.",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = _ERROR_ENVELOPE
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    request_id = {"X-Request-Id": _header("The caller's X-Request-Id when well-formed, else a new one.")}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["400"] = _error("VALIDATION_ERROR: the request is not valid (field details).")
            if path in PUBLIC_PATHS:
                operation["security"] = []
            else:
                responses["401"] = {
                    "description": "No or invalid credentials (API Gateway's own answer).",
                    "content": {"application/json": {"schema": _GATEWAY_MESSAGE}},
                }
                responses["403"] = _error("AUTHORIZATION_ERROR: the credentials lack the route's scope.")
                responses["429"] = _error("RATE_LIMIT_EXCEEDED, with Retry-After in seconds.")
                responses["503"] = _error("SERVICE_UNAVAILABLE: a closed rate-limit policy and Redis down.")
                if "{" in path:
                    responses.setdefault("404", _error("NOT_FOUND: no such object, or not the caller's."))
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.update(request_id)
                if path not in PUBLIC_PATHS:
                    headers.update({name: _header(text) for name, text in _RATE_LIMIT_HEADERS.items()})
                if status == "429":
                    headers["Retry-After"] = _header("Seconds until the request would be admitted.")
    return document


@lru_cache(maxsize=1)
def described_api() -> APIGatewayHttpResolver:
    """Every area's routes on a resolver of their own, built on the first document asked for:
    loading them all costs the docs function's cold start more than the rest of it (docs/metrics.md)."""
    from gatehouse.routes.catalog import all_routers

    described = APIGatewayHttpResolver(enable_validation=True)
    for router in all_routers():
        described.include_router(router)
    return described


def openapi_document(app: APIGatewayHttpResolver | None = None) -> str:
    raw = (app or described_api()).get_openapi_json_schema(
        title=TITLE,
        version=gatehouse.__version__,
        description=DESCRIPTION,
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        security=[{"bearer": []}],
    )
    return json.dumps(_complete(json.loads(raw)))


@lru_cache(maxsize=1)
def _swagger_assets() -> tuple[str, str]:
    folder = Path(event_handler_package.__file__).parent / "openapi" / "swagger_ui"
    js = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    return js, css


def mount_docs(app: APIGatewayHttpResolver) -> None:
    """Serve the document of every router, and Swagger UI on it."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=openapi_document())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> Response[str]:
        js, css = _swagger_assets()
        # Escaping "</" keeps the inlined JSON from closing the page's <script> element.
        html = generate_swagger_html(openapi_document().replace("</", "<\\/"), js, css, "", None)
        return Response(status_code=200, content_type="text/html", body=html)

"""GET /openapi.json and GET /docs (Swagger UI), generated from the routers and their models.

Powertools writes the paths and models; `_complete()` then states what Powertools cannot
know: validation answers 400 with the error envelope (not 422); each protected route's security
requirement names its scope (`bearer: [scope]`, from gatehouse/route_rules.py); protected routes
can answer 401/403/429/503 (and 409, 413, 415 where they take a body) and carry the rate-limit
headers; the public routes (health, webhook intake) need no credentials. Swagger UI is served
from the same document, with its assets bundled (no CDN). The fuzz test
(tests/e2e/test_fuzz_openapi.py) holds every answer to this document.

The docs function serves `openapi.json` beside this module, written by
`scripts/generate_openapi.py` from `openapi_document()`: generating it means importing every
area's routes and models, which cost the docs function more than the rest of its cold start
(docs/metrics.md#cold-start). tests/unit/test_openapi_file.py fails when the file is not what a
fresh generation gives, so it never drifts from the routers.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_lambda_powertools.event_handler as event_handler_package
from aws_lambda_powertools.event_handler import Response

import gatehouse
from gatehouse.route_rules import ROUTES

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

# The generated document, shipped in the layer (scripts/generate_openapi.py writes it).
OPENAPI_FILE = Path(__file__).with_name("openapi.json")

TITLE = "Gatehouse"
DESCRIPTION = (
    "A serverless API edge: gateway authorizer (JWT or API key), API keys, rate limits, "
    "webhook intake, timers and campaigns, circuit breakers, health and metrics. "
    "Protected routes take `Authorization: Bearer <JWT or gk_ API key>`. "
    "`X-RateLimit-Reset` is in epoch seconds."
)
BEARER_DESCRIPTION = (
    "A JWT from a trusted issuer, or a Gatehouse API key (gk_…). An operation's scopes list the one it "
    "requires (`admin` holds every scope); an empty list means any authenticated caller."
)
_BODY_METHODS = {"post", "put", "patch", "delete"}

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
_GATEWAY_MESSAGE = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}
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


def _gateway_or_error(description: str) -> dict[str, Any]:
    either = {"anyOf": [{"$ref": "#/components/schemas/Error"}, _GATEWAY_MESSAGE]}
    return {"description": description, "content": {"application/json": {"schema": either}}}


def _protected_errors(responses: dict[str, Any], path: str, method: str, operation: dict[str, Any]) -> None:
    # The authorizer's refusals are API Gateway's own bodies; a handler's are the error envelope.
    responses["401"] = _gateway_or_error(
        "No credentials (API Gateway's `Unauthorized`), or AUTHENTICATION_ERROR: a credential no longer usable."
    )
    responses["403"] = _gateway_or_error(
        "Refused by the authorizer (API Gateway's `Forbidden`), or AUTHORIZATION_ERROR: the route's scope is missing."
    )
    responses["429"] = _error("RATE_LIMIT_EXCEEDED, with Retry-After in seconds.")
    responses["503"] = _error("SERVICE_UNAVAILABLE: a closed rate-limit policy and Redis down.")
    if "{" in path:
        responses.setdefault("404", _error("NOT_FOUND: no such object, or not the caller's."))
    if method in _BODY_METHODS:
        responses.setdefault("409", _error("CONFLICT: the object's state (or the owner's key count) refuses it."))
        if "requestBody" in operation or method != "delete":
            responses["413"] = _error("PAYLOAD_TOO_LARGE: the body is over 1 MiB.")
            responses["415"] = _error("UNSUPPORTED_MEDIA_TYPE: the body is not application/json.")


def _public_errors(responses: dict[str, Any], path: str) -> None:
    if path.startswith("/webhooks/"):
        # The signature is the credential (docs/webhooks.md).
        responses["401"] = _error("AUTHENTICATION_ERROR: a missing, forged or stale signature.")
        responses["404"] = _error("NOT_FOUND: no such source, or it is disabled.")
        responses["413"] = _error("PAYLOAD_TOO_LARGE: over the source's maxBodyBytes.")
        responses["429"] = _error("RATE_LIMIT_EXCEEDED: too many failed verifications from this client.")


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = _ERROR_ENVELOPE
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    request_id = {"X-Request-Id": _header("The caller's X-Request-Id when well-formed, else a new one.")}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["400"] = _error("VALIDATION_ERROR: the request is not valid (field details).")
            rule = ROUTES.get(f"{method.upper()} {path}")
            if rule is None:
                operation["security"] = []
                _public_errors(responses, path)
            else:
                operation["security"] = [{"bearer": [rule.scope] if rule.scope else []}]
                _protected_errors(responses, path, method, operation)
            for status, response in responses.items():
                if status == "204":
                    response.pop("content", None)  # Powertools describes the empty body as a string
                headers = response.setdefault("headers", {})
                headers.update(request_id)
                if rule is not None:
                    headers.update({name: _header(text) for name, text in _RATE_LIMIT_HEADERS.items()})
                if status == "429":
                    headers["Retry-After"] = _header("Seconds until the request would be admitted.")
    return document


def described_api() -> APIGatewayHttpResolver:
    """Every area's routes on a resolver of their own (what the document is generated from)."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from gatehouse.routes.catalog import all_routers
    from gatehouse.routes.declare import document_answers

    described = APIGatewayHttpResolver(enable_validation=True)
    for router in all_routers():
        described.include_router(router)
    document_answers(described._static_routes + described._dynamic_routes)
    return described


def openapi_document(app: APIGatewayHttpResolver | None = None) -> str:
    """Generate the document from `app`'s routers (default: every area's); slow, see the module's doc."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    raw = (app or described_api()).get_openapi_json_schema(
        title=TITLE,
        version=gatehouse.__version__,
        description=DESCRIPTION,
        security_schemes={"bearer": HTTPBearer(description=BEARER_DESCRIPTION)},
        security=[{"bearer": []}],
    )
    return json.dumps(_complete(json.loads(raw)))


def openapi_file_text(document: str) -> str:
    """What OPENAPI_FILE holds for `document`: indented, so a change to the API reads as a diff."""
    return json.dumps(json.loads(document), indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def shipped_openapi_document() -> str:
    """The shipped document, in the compact form `openapi_document()` gives."""
    return json.dumps(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _swagger_assets() -> tuple[str, str]:
    folder = Path(event_handler_package.__file__).parent / "openapi" / "swagger_ui"
    js = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    return js, css


def mount_docs(app: APIGatewayHttpResolver) -> None:
    """Serve the shipped document of every router, and Swagger UI on it."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=shipped_openapi_document())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> Response[str]:
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        js, css = _swagger_assets()
        # Escaping "</" keeps the inlined JSON from closing the page's <script> element.
        html = generate_swagger_html(shipped_openapi_document().replace("</", "<\\/"), js, css, "", None)
        return Response(status_code=200, content_type="text/html", body=html)

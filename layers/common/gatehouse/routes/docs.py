"""GET /openapi.json and GET /docs (Swagger UI), generated from the routers and their models."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

import gatehouse
from gatehouse.routes.catalog import all_routers

TITLE = "Gatehouse"
DESCRIPTION = (
    "A serverless API edge: gateway authorizer (JWT or API key), API keys, rate limits, "
    "webhook intake, timers and campaigns, circuit breakers, health and metrics. "
    "Protected routes take `Authorization: Bearer <JWT or gk_ API key>`."
)
SECURITY_SCHEMES = {"bearer": HTTPBearer(description="A JWT from a trusted issuer, or a Gatehouse API key (gk_…)")}


def openapi_document(app: APIGatewayHttpResolver) -> str:
    return app.get_openapi_json_schema(
        title=TITLE,
        version=gatehouse.__version__,
        description=DESCRIPTION,
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        security=[{"bearer": []}],
    )


def mount_docs(app: APIGatewayHttpResolver) -> None:
    """Include every router, serve the OpenAPI JSON and Swagger UI (assets bundled, no CDN)."""
    for router in all_routers():
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=openapi_document(app))

    app.enable_swagger(
        path="/docs",
        title=TITLE,
        version=gatehouse.__version__,
        description=DESCRIPTION,
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        security=[{"bearer": []}],
    )

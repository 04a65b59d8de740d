"""The OpenAPI document the docs function serves is exactly what the routers generate today.

The docs function reads gatehouse/routes/openapi.json instead of importing every area (cold
start, docs/metrics.md#cold-start); this keeps that file from drifting from the code.
"""

from __future__ import annotations

import json

from gatehouse.routes.docs import OPENAPI_FILE, openapi_document, openapi_file_text, shipped_openapi_document


def test_the_shipped_document_is_a_fresh_generation():
    # Given the routers and models as they are, when the document is generated again,
    # then the shipped file holds it byte for byte (else: python -m scripts.generate_openapi).
    fresh = openapi_document()
    assert OPENAPI_FILE.read_text(encoding="utf-8") == openapi_file_text(fresh), (
        "gatehouse/routes/openapi.json is stale: run `python -m scripts.generate_openapi` and commit it"
    )
    # What the docs function answers is the generated document itself.
    assert shipped_openapi_document() == fresh


def test_the_shipped_document_describes_every_area():
    paths = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))["paths"]
    assert {"/health", "/v1/keys", "/v1/campaigns", "/v1/breakers", "/webhooks/{source}"} <= paths.keys()


def test_an_answer_naming_its_view_is_documented_with_it_and_served_without_it():
    # Given a route whose answer names its view instead of importing it (routes/declare.py)
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.api_gateway import Router

    from gatehouse.routes.declare import JsonAnswer, document_answers, route

    router = Router()

    page = JsonAnswer("a page", "gatehouse.campaigns.views:CampaignPageView")

    @route(router, "GET /v1/campaigns", responses={200: page})
    def list_campaigns() -> dict[str, object]:
        return {}

    # When one app serves it and another is built to be documented
    served, described = APIGatewayHttpResolver(enable_validation=True), APIGatewayHttpResolver(enable_validation=True)
    served.include_router(router)
    described.include_router(router)
    document_answers(described._static_routes)

    # Then the serving route has no model to analyse on its first request, the documented one has the class
    (serving,) = served._static_routes
    assert serving.responses == {200: {"description": "a page"}}
    assert serving.dependant.response_extra_models == []
    from gatehouse.campaigns.views import CampaignPageView

    (documented,) = described._static_routes
    assert documented.responses[200]["content"]["application/json"]["model"] is CampaignPageView
    assert "CampaignPageView" in json.loads(described.get_openapi_json_schema())["components"]["schemas"]

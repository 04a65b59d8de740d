"""HTTP conventions (docs/reference.md) over HTTP: envelopes, API Gateway's own answers, OpenAPI and Swagger UI."""

from __future__ import annotations

import requests


def test_unknown_route_is_api_gateway_not_found(local_stack):
    response = requests.get(f"{local_stack.api_url}/no/such/route", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_protected_route_without_credentials_is_401_from_the_gateway(local_stack):
    response = requests.get(f"{local_stack.api_url}/v1/me", timeout=5)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_openapi_document_lists_the_routes(local_stack):
    response = requests.get(f"{local_stack.api_url}/openapi.json", timeout=5)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/health" in document["paths"]
    assert "/health/ready" in document["paths"]
    assert "bearer" in document["components"]["securitySchemes"]


def test_swagger_ui_is_served(local_stack):
    response = requests.get(f"{local_stack.api_url}/docs", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "swagger" in response.text.lower()


def test_caller_request_id_is_echoed(local_stack):
    response = requests.get(f"{local_stack.api_url}/health", headers={"X-Request-Id": "trace-42"}, timeout=5)
    assert response.headers["X-Request-Id"] == "trace-42"


def test_openapi_document_is_valid_openapi_3_1_and_matches_the_api(local_stack):
    from openapi_spec_validator import validate

    document = requests.get(f"{local_stack.api_url}/openapi.json", timeout=5).json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    create_key = document["paths"]["/v1/keys"]["post"]
    assert "422" not in create_key["responses"]
    assert create_key["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert {"401", "403", "429"} <= create_key["responses"].keys()
    assert "RateLimit-Policy" in create_key["responses"]["201"]["headers"]
    assert document["paths"]["/health"]["get"]["security"] == []


def test_swagger_ui_embeds_the_same_document(local_stack):
    page = requests.get(f"{local_stack.api_url}/docs", timeout=5).text
    assert "#/components/schemas/Error" in page

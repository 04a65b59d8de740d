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

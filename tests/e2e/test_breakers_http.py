"""Breakers over real HTTP through the local stack: template route, authorizer, BreakersFunction, Redis."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from tests.e2e.tokens import assert_envelope, call, mint


def test_an_operator_isolates_lists_and_resets_a_breaker(local_stack):
    info = local_stack.bootstrap_info
    admin = info["adminKey"]
    name = f"e2e-{uuid.uuid4().hex[:8]}.example.com:443"
    path = f"/v1/breakers/{quote(name, safe='')}"
    try:
        isolated = call(local_stack, "POST", f"{path}/isolate", admin)
        assert isolated.status_code == 200, isolated.text
        assert isolated.json()["state"] == "isolated" and isolated.headers["X-Request-Id"]
        listed = call(local_stack, "GET", "/v1/breakers?limit=100", admin)
        assert listed.status_code == 200
        page = listed.json()
        names = [b["name"] for b in page["items"]]
        while page["nextCursor"] and name not in names:
            page = call(local_stack, "GET", f"/v1/breakers?limit=100&cursor={page['nextCursor']}", admin).json()
            names += [b["name"] for b in page["items"]]
        assert name in names
    finally:
        reset = call(local_stack, "POST", f"{path}/reset", admin)
    assert reset.status_code == 200 and reset.json()["state"] == "closed"


def test_a_caller_without_admin_is_refused(local_stack):
    token = mint(local_stack.bootstrap_info, scope="keys:read keys:write ratelimit:admin")
    assert_envelope(call(local_stack, "GET", "/v1/breakers", token), 403, "AUTHORIZATION_ERROR")
    assert_envelope(
        call(local_stack, "POST", "/v1/breakers/x.example.com%3A443/reset", token), 403, "AUTHORIZATION_ERROR"
    )

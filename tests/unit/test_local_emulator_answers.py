"""The emulator's own answers (401, 403, 404, 4xx/5xx of its own) carry `apigw-requestid` like API Gateway's.

A stub invoker stands in for the functions, so these run without the local stack's services.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.emulator import HttpApiEmulator
from local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "template.yaml"
# API Gateway's ids look like "JKJaXmPLvHcESHA=": base64 of 10 random bytes.
GATEWAY_ID = re.compile(r"[A-Za-z0-9+/]{14}==")


class StubInvoker:
    """The authorizer allows "Bearer allow", refuses anything else and fails on "Bearer explode"."""

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        if function == "FixtureAuthorizerFunction":
            if event["identitySource"] == ["Bearer explode"]:
                raise RuntimeError("authorizer crashed")
            return {"isAuthorized": event["identitySource"] == ["Bearer allow"], "context": {"principalId": "p1"}}
        return {"statusCode": 200, "body": json.dumps({"requestId": event["requestContext"]["requestId"]})}


@pytest.fixture(scope="module")
def emulator() -> Iterator[HttpApiEmulator]:
    server = HttpApiEmulator(load_template(TEMPLATE, {"AuthorizerCacheTtl": 0}), StubInvoker()).start()
    try:
        yield server
    finally:
        server.stop()


def request(emulator: HttpApiEmulator, method: str, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("apigw-requestid"), response.read()
    finally:
        conn.close()


def raw_exchange(emulator: HttpApiEmulator, data: bytes) -> tuple[http.client.HTTPResponse, bytes]:
    """Bytes no HTTP client would send, and the answer."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response, response.read()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "message"),
    [
        ("GET", "/echo/1", {}, 401, "Unauthorized"),  # no identity source: the authorizer is not asked
        ("GET", "/echo/1", {"Authorization": "Bearer no"}, 403, "Forbidden"),
        ("GET", "/echo/1", {"Authorization": "Bearer explode"}, 500, "Internal Server Error"),
        ("GET", "/no/such/route", {}, 404, "Not Found"),
        ("POST", "/items/7", {"Authorization": "Bearer allow"}, 404, "Not Found"),  # path known, method not
    ],
)
def test_the_gateways_own_answers_carry_a_fresh_gateway_style_request_id(emulator, method, path, headers, status,
                                                                         message):  # fmt: skip
    ids = set()
    for _ in range(3):
        got_status, request_id, body = request(emulator, method, path, headers)
        assert (got_status, json.loads(body)) == (status, {"message": message})
        assert request_id is not None and GATEWAY_ID.fullmatch(request_id), request_id
        ids.add(request_id)
    assert len(ids) == 3  # one per request


def test_a_routed_request_has_the_same_id_in_its_header_and_its_event(emulator):
    status, request_id, body = request(emulator, "GET", "/public")
    assert status == 200
    assert request_id is not None and json.loads(body)["requestId"] == request_id


@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "PURGE"])
def test_any_method_reaches_the_router_and_one_without_a_route_is_the_gateways_404(emulator, method):
    # http.server answered these itself: a 501 HTML page with no apigw-requestid.
    status, request_id, body = request(emulator, method, "/boom")  # a GET-only route
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    assert request_id is not None and GATEWAY_ID.fullmatch(request_id)
    status, request_id, body = request(emulator, method, "/public")  # an ANY route
    assert status == 200
    assert request_id is not None and json.loads(body)["requestId"] == request_id


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /public HTTP/9.9\r\n\r\n", 505),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /public HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    ],
)
def test_requests_the_server_cannot_parse_get_a_json_answer_with_a_request_id(emulator, data, status):
    # http.server answered these with an HTML page and no apigw-requestid.
    response, body = raw_exchange(emulator, data)
    assert response.status == status
    assert GATEWAY_ID.fullmatch(response.getheader("apigw-requestid") or "")
    assert response.getheader("Content-Type") == "application/json"
    assert set(json.loads(body)) == {"message"}

"""The HTTP API emulator against the test-only template: routing, payload 2.0 events, the authorizer."""

from __future__ import annotations

import base64
import http.client
import json

import pytest
import requests

from local.emulator import HttpApiEmulator
from local.template import load_template

pytestmark = pytest.mark.integration

ALLOW = {"Authorization": "Bearer allow"}


def echo(stack, path: str, **kwargs) -> dict:
    response = requests.request(kwargs.pop("method", "GET"), f"{stack.api_url}{path}", timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def authorizer_calls(fixture_module) -> list:
    return fixture_module("FixtureAuthorizerFunction").INVOCATIONS


def test_missing_identity_source_is_401_without_invoking_the_authorizer(fixture_stack, fixture_module):
    before = fixture_stack.emulator.authorizer_invocations
    calls = len(authorizer_calls(fixture_module))
    for headers in ({}, {"Authorization": ""}):
        response = requests.get(f"{fixture_stack.api_url}/echo/1", headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
    assert fixture_stack.emulator.authorizer_invocations == before
    assert len(authorizer_calls(fixture_module)) == calls


def test_refused_is_403_forbidden(fixture_stack):
    response = requests.get(f"{fixture_stack.api_url}/echo/1", headers={"Authorization": "Bearer no"}, timeout=5)
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_allowed_handler_sees_the_authorizer_context(fixture_stack, fixture_module):
    body = echo(fixture_stack, "/echo/42", headers={"Authorization": "Bearer allow"})
    assert body["event"]["requestContext"]["authorizer"] == {"lambda": {"principalId": "p1", "scopes": "a b"}}
    auth_event = authorizer_calls(fixture_module)[-1]
    assert auth_event["version"] == "2.0"
    assert auth_event["type"] == "REQUEST"
    assert auth_event["identitySource"] == ["Bearer allow"]
    assert auth_event["routeKey"] == "ANY /echo/{id}"
    assert auth_event["routeArn"].endswith("/$default/GET/echo/42")
    assert auth_event["pathParameters"] == {"id": "42"}


def test_decision_is_cached_per_identity_source_within_the_ttl(fixture_stack):
    fixture_stack.emulator.clear_authorizer_cache()
    before = fixture_stack.emulator.authorizer_invocations
    echo(fixture_stack, "/echo/1", headers=ALLOW)
    echo(fixture_stack, "/echo/2", headers=ALLOW)
    assert fixture_stack.emulator.authorizer_invocations == before + 1
    # A refusal is cached too; another header value is another cache entry.
    for _ in range(2):
        response = requests.get(f"{fixture_stack.api_url}/echo/1", headers={"Authorization": "Bearer x"}, timeout=5)
        assert response.status_code == 403
    assert fixture_stack.emulator.authorizer_invocations == before + 2


def test_ttl_zero_invokes_the_authorizer_every_time(fixture_stack):
    template = load_template(fixture_stack.template_path, {"AuthorizerCacheTtl": 0})
    assert template.authorizer.ttl == 0
    emulator = HttpApiEmulator(template, fixture_stack.invoker).start()
    try:
        for _ in range(3):
            response = requests.get(f"{emulator.url}/echo/1", headers=ALLOW, timeout=5)
            assert response.status_code == 200
        assert emulator.authorizer_invocations == 3
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [("Bearer explode", 500, "Internal Server Error"), ("Bearer malformed", 500, "Internal Server Error")],
)
def test_authorizer_failure_is_500_without_details(fixture_stack, header, status, message):
    response = requests.get(f"{fixture_stack.api_url}/echo/1", headers={"Authorization": header}, timeout=5)
    assert response.status_code == status
    assert response.json() == {"message": message}
    assert "secret-detail" not in response.text


def test_public_route_skips_the_authorizer(fixture_stack):
    before = fixture_stack.emulator.authorizer_invocations
    body = echo(fixture_stack, "/public")
    assert "authorizer" not in body["event"]["requestContext"]
    assert fixture_stack.emulator.authorizer_invocations == before


def test_payload_v2_event_shape(fixture_stack):
    # http.client, because requests cannot send one header twice.
    conn = http.client.HTTPConnection(*fixture_stack.api_url.removeprefix("http://").split(":"), timeout=5)
    conn.putrequest("GET", "/echo/a%20b?x=1&x=2&y=&z=%C3%A9", skip_accept_encoding=True)
    for name, value in [
        ("Authorization", "Bearer allow"),
        ("X-Multi", "one"),
        ("x-multi", "two"),
        ("Cookie", "a=1; b=2"),
        ("User-Agent", "pytest-agent"),
    ]:
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["X-Echo"] == "1"
    assert response.headers["Set-Cookie"] == "echo=1; Path=/"
    assert response.headers["Apigw-Requestid"]
    body = json.loads(response.read())
    conn.close()
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{id}"
    assert event["rawPath"] == "/echo/a%20b"
    assert event["rawQueryString"] == "x=1&x=2&y=&z=%C3%A9"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "", "z": "é"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["cookies"] == ["a=1", "b=2"]
    headers = event["headers"]
    assert "cookie" not in headers
    assert headers["x-multi"] == "one,two"
    assert headers["authorization"] == "Bearer allow"
    assert all(name == name.lower() for name in headers)
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    ctx = event["requestContext"]
    assert ctx["stage"] == "$default"
    assert ctx["routeKey"] == "ANY /echo/{id}"
    assert ctx["http"] == {
        "method": "GET",
        "path": "/echo/a%20b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest-agent",
    }
    assert ctx["requestId"] == response.headers["Apigw-Requestid"]
    assert {"accountId", "apiId", "domainName", "domainPrefix", "time", "timeEpoch"} <= ctx.keys()
    # The fake context and the function's own environment.
    assert body["greeting"] == "hello"
    assert body["context"]["functionName"] == "gatehouse-local-FixtureEchoFunction"
    assert body["context"]["memory"] == 256
    assert 0 < body["context"]["remainingMs"] <= 5000


def test_request_ids_differ_per_request(fixture_stack):
    ids = {echo(fixture_stack, "/public")["event"]["requestContext"]["requestId"] for _ in range(3)}
    assert len(ids) == 3


def test_text_body_is_text_and_binary_body_is_base64(fixture_stack):
    text = echo(fixture_stack, "/public", method="POST", json={"a": 1})["event"]
    assert text["body"] == '{"a": 1}'
    assert text["isBase64Encoded"] is False
    raw = bytes(range(256))
    binary = echo(
        fixture_stack, "/public", method="POST", data=raw, headers={"Content-Type": "application/octet-stream"}
    )
    assert binary["event"]["isBase64Encoded"] is True
    assert base64.b64decode(binary["event"]["body"]) == raw
    assert binary["bodyBytes"] == raw.hex()


def test_text_type_with_invalid_utf8_is_passed_as_base64_not_mangled(fixture_stack):
    raw = b'{"name": "\xff\xfe"}'
    got = echo(fixture_stack, "/public", method="POST", data=raw, headers={"Content-Type": "application/json"})
    assert got["event"]["isBase64Encoded"] is True
    assert base64.b64decode(got["event"]["body"]) == raw


def test_routes_prefer_exact_then_parameter_then_greedy(fixture_stack):
    assert echo(fixture_stack, "/items/special", headers=ALLOW)["event"]["routeKey"] == "GET /items/special"
    one = echo(fixture_stack, "/items/7", headers=ALLOW)["event"]
    assert one["routeKey"] == "GET /items/{itemId}"
    assert one["pathParameters"] == {"itemId": "7"}
    deep = echo(fixture_stack, "/items/7/parts/9", headers=ALLOW)["event"]
    assert deep["routeKey"] == "GET /items/{proxy+}"
    assert deep["pathParameters"] == {"proxy": "7/parts/9"}


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/items/7"), ("GET", "/public/")])
def test_unknown_route_is_404_not_found(fixture_stack, method, path):
    response = requests.request(method, f"{fixture_stack.api_url}{path}", headers=ALLOW, timeout=5)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_handler_exception_is_500_without_traceback(fixture_stack):
    response = requests.get(f"{fixture_stack.api_url}/boom", timeout=5)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "secret-detail" not in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("answer", "status", "body", "content_type"),
    [
        (
            {"statusCode": 201, "body": "created", "headers": {"Content-Type": "text/plain"}},
            201,
            b"created",
            "text/plain",
        ),
        (
            {
                "statusCode": 200,
                "body": base64.b64encode(b"\x00\x01").decode(),
                "isBase64Encoded": True,
                "headers": {"Content-Type": "application/octet-stream"},
            },
            200,
            b"\x00\x01",
            "application/octet-stream",
        ),
        ({"hello": "world"}, 200, b'{"hello": "world"}', "application/json"),
        ([1, 2], 200, b"[1, 2]", "application/json"),
        ({"statusCode": "abc"}, 500, b'{"message": "Internal Server Error"}', "application/json"),
    ],
)
def test_handler_answers_map_like_payload_2(fixture_stack, answer, status, body, content_type):
    response = requests.post(f"{fixture_stack.api_url}/shape", json=answer, timeout=5)
    assert response.status_code == status
    assert response.content == body
    assert response.headers["Content-Type"] == content_type


def test_multi_value_headers_and_cookies(fixture_stack):
    answer = {"statusCode": 204, "multiValueHeaders": {"X-A": ["1", "2"]}, "cookies": ["c1=1", "c2=2"]}
    response = requests.post(
        f"{fixture_stack.api_url}/shape",
        data=json.dumps(answer),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 204
    assert response.raw.headers.getlist("X-A") == ["1", "2"]
    assert response.raw.headers.getlist("Set-Cookie") == ["c1=1", "c2=2"]


def test_body_over_10_mb_is_413(fixture_stack):
    response = requests.post(
        f"{fixture_stack.api_url}/public",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}

"""The resolver factory and handler wrapper: every failure is the error envelope, never a 500 leak."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from pydantic import BaseModel, Field

from gatehouse.api import create_app, make_handler
from gatehouse.errors import ConflictError
from gatehouse.guards import json_body_guard
from tests.helpers import FakeLambdaContext, http_event, json_body


class Widget(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(ge=1)


class Minted(BaseModel):
    secret: str
    size: int = Field(ge=1)


MINTED_SECRET = "gk_live_notforthelogs0123456789abcdef"


@pytest.fixture(scope="module")
def handler():
    app = create_app()

    @app.post("/widgets")
    def create_widget(widget: Widget) -> dict:
        return {"name": widget.name, "size": widget.size}

    @app.get("/conflict")
    def conflict() -> dict:
        raise ConflictError("already there")

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("secret internal detail /var/task/app.py")

    @app.get("/minted")
    def minted() -> Minted:
        # An answer that breaks its own schema next to a secret (size 0 < 1).
        return {"secret": MINTED_SECRET, "size": 0}  # type: ignore[return-value]

    return make_handler(app, guards=[json_body_guard(max_bytes=64)])


def call(handler, event):
    return handler(event, FakeLambdaContext())


def test_valid_request_passes_and_carries_request_id(handler):
    # Given a valid body, When posted, Then the route answers and X-Request-Id is the API Gateway id
    response = call(handler, http_event("POST", "/widgets", body={"name": "a", "size": 2}))
    assert response["statusCode"] == 200
    assert json_body(response) == {"name": "a", "size": 2}
    assert response["headers"]["X-Request-Id"] == "req-test-0001"


def test_malformed_json_is_400_validation_error(handler):
    event = http_event("POST", "/widgets", raw_body='{"name": "a", ', headers={"content-type": "application/json"})
    response = call(handler, event)
    assert response["statusCode"] == 400
    body = json_body(response)
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"] == [{"field": "body", "message": "The body is not valid JSON."}]
    assert body["requestId"] == response["headers"]["X-Request-Id"]


def test_field_errors_name_the_fields(handler):
    response = call(handler, http_event("POST", "/widgets", body={"name": "", "size": "big"}))
    assert response["statusCode"] == 400
    fields = {d["field"] for d in json_body(response)["error"]["details"]}
    assert fields == {"name", "size"}


def test_wrong_content_type_is_415(handler):
    event = http_event(
        "POST", "/widgets", raw_body="name=a", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    response = call(handler, event)
    assert response["statusCode"] == 415
    assert json_body(response)["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_body_over_limit_is_413(handler):
    response = call(handler, http_event("POST", "/widgets", body={"name": "x" * 100, "size": 1}))
    assert response["statusCode"] == 413
    assert json_body(response)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_unknown_route_is_404_envelope(handler):
    response = call(handler, http_event("GET", "/nowhere"))
    assert response["statusCode"] == 404
    assert json_body(response)["error"]["code"] == "NOT_FOUND"
    assert "X-Request-Id" in response["headers"]


def test_domain_error_maps_to_its_code(handler):
    response = call(handler, http_event("GET", "/conflict"))
    assert response["statusCode"] == 409
    assert json_body(response)["error"] == {"code": "CONFLICT", "message": "already there", "details": []}


def test_unexpected_exception_is_500_without_internals(handler):
    response = call(handler, http_event("GET", "/boom"))
    assert response["statusCode"] == 500
    assert json_body(response)["error"]["code"] == "SERVER_ERROR"
    assert "secret internal detail" not in response["body"]
    assert "Traceback" not in response["body"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("client-id.1:2_3-4", "client-id.1:2_3-4"), ("bad id with spaces", "req-test-0001"), ("x" * 129, "req-test-0001")],
)
def test_request_id_is_callers_only_when_well_formed(handler, given, expected):
    response = call(handler, http_event("GET", "/conflict", headers={"X-Request-Id": given}))
    assert response["headers"]["X-Request-Id"] == expected
    assert json.loads(response["body"])["requestId"] == expected


def test_without_a_caller_id_an_error_body_matches_its_header_with_a_gateway_style_id(handler):
    # Given API Gateway's own base64-like request id and no caller id,
    # When a route raises, Then the body's requestId is the header's X-Request-Id
    response = call(handler, http_event("GET", "/conflict", request_id="JKJaXmPLvHcESHA="))
    assert response["headers"]["X-Request-Id"] == "JKJaXmPLvHcESHA="
    assert json.loads(response["body"])["requestId"] == "JKJaXmPLvHcESHA="


def test_a_caller_id_with_a_trailing_newline_is_not_echoed(handler):
    response = call(handler, http_event("GET", "/conflict", headers={"X-Request-Id": "abc\n"}))
    assert response["headers"]["X-Request-Id"] == "req-test-0001"


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 5000,  # RecursionError in Python's parser
        '{"name": "a", "size": ' + "1" * 5000 + "}",  # ValueError: too many digits
        '{"name": "a", "size": 1',  # plain JSONDecodeError
    ],
    ids=["deep-nesting", "huge-integer", "truncated"],
)
def test_hostile_json_is_400_not_500(raw):
    app = create_app()

    @app.post("/widgets")
    def create_widget(widget: Widget) -> dict:
        return {"name": widget.name}

    hostile = make_handler(app, guards=[json_body_guard(max_bytes=1_000_000)])
    response = call(hostile, http_event("POST", "/widgets", raw_body=raw, headers={"content-type": "application/json"}))
    assert response["statusCode"] == 400
    assert json_body(response)["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "raw_body", ["!!not base64!!", base64.b64encode(b"\xff\xfe{}").decode()], ids=["bad-b64", "not-utf8"]
)
def test_base64_bodies_that_are_not_json_text_are_400(handler, raw_body):
    event = http_event("POST", "/widgets", raw_body=raw_body, headers={"content-type": "application/json"})
    event["isBase64Encoded"] = True
    response = call(handler, event)
    assert response["statusCode"] == 400
    assert json_body(response)["error"]["code"] == "VALIDATION_ERROR"


def test_a_guard_that_breaks_still_answers_the_envelope():
    app = create_app()

    @app.get("/x")
    def x() -> dict:
        return {}

    def broken_guard(event):
        raise KeyError("internal detail")

    response = call(make_handler(app, guards=[broken_guard]), http_event("GET", "/x"))
    assert response["statusCode"] == 500
    assert json_body(response)["error"]["code"] == "SERVER_ERROR"
    assert "internal detail" not in response["body"]
    assert response["headers"]["X-Request-Id"] == json_body(response)["requestId"]


def test_an_answer_that_breaks_its_schema_is_a_500_and_its_values_stay_out_of_the_log(handler):
    records: list[logging.LogRecord] = []
    capture = logging.Handler(level=logging.DEBUG)
    capture.emit = records.append  # type: ignore[method-assign]
    product_logger = logging.getLogger("gatehouse")
    product_logger.addHandler(capture)
    try:
        # Given a route whose answer holds a secret and fails its own schema, When called
        response = call(handler, http_event("GET", "/minted"))
    finally:
        product_logger.removeHandler(capture)
    # Then the caller gets the generic 500 (not a 400 blaming its request) …
    assert response["statusCode"] == 500
    assert json_body(response)["error"]["code"] == "SERVER_ERROR"
    # … and the log says where and why, never the answer's values
    (record,) = [r for r in records if r.getMessage() == "response failed validation"]
    assert [e["loc"] for e in record.errors] == [["response", "size"]]
    everything_logged = " ".join(str(vars(r)) for r in records)
    assert MINTED_SECRET not in everything_logged + json.dumps(response)

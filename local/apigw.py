"""API Gateway HTTP API payload 2.0: the events it sends to handlers and authorizers, and its answer mapping."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from local.template import ACCOUNT_ID, API_ID, REGION

STAGE = "$default"
MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API payload quota

_TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "application/xml", "application/javascript")


@dataclass
class Request:
    """One HTTP request as the emulator received it."""

    method: str
    raw_path: str
    raw_query: str
    header_pairs: list[tuple[str, str]]
    body: bytes | None
    source_ip: str
    protocol: str = "HTTP/1.1"
    request_id: str = ""
    time_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def __post_init__(self) -> None:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in self.header_pairs:
            key = name.lower()
            if key == "cookie":  # payload 2.0 moves cookies out of the headers
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        self.headers = headers
        self.cookies = cookies

    @property
    def query(self) -> dict[str, str] | None:
        if not self.raw_query:
            return None
        params: dict[str, str] = {}
        for key, value in parse_qsl(self.raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        return params


def is_text(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this type as text rather than base64."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith(("+json", "+xml", "/xml", "/json", "javascript"))
    )


def request_context(req: Request, route_key: str, domain: str) -> dict[str, Any]:
    when = datetime.fromtimestamp(req.time_epoch_ms / 1000, UTC)
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": req.method,
            "path": req.raw_path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": req.headers.get("user-agent", ""),
        },
        "requestId": req.request_id,
        "routeKey": route_key,
        "stage": STAGE,
        "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": req.time_epoch_ms,
    }


def handler_event(req: Request, route_key: str, path_parameters: dict[str, str], domain: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": dict(req.headers),
        "requestContext": request_context(req, route_key, domain),
        "isBase64Encoded": False,
    }
    if req.cookies:
        event["cookies"] = list(req.cookies)
    if (query := req.query) is not None:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if req.body:
        text = _utf8(req.body) if is_text(req.headers.get("content-type")) else None
        if text is not None:
            event["body"] = text
        else:
            # Binary types, and "text" that is not UTF-8: base64, never a lossy decode.
            event["body"] = base64.b64encode(req.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def route_arn(req: Request) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{req.method}{req.raw_path}"


def authorizer_event(
    req: Request, route_key: str, path_parameters: dict[str, str], domain: str, identity: list[str]
) -> dict[str, Any]:
    """The payload 2.0 REQUEST authorizer event."""
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn(req),
        "identitySource": list(identity),
        "routeKey": route_key,
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": dict(req.headers),
        "requestContext": request_context(req, route_key, domain),
    }
    if req.cookies:
        event["cookies"] = list(req.cookies)
    if (query := req.query) is not None:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def message(status: int, text: str) -> Response:
    """API Gateway's own answers: {"message": "..."}."""
    return Response(status, [("Content-Type", "application/json")], json.dumps({"message": text}).encode())


class MalformedResponseError(ValueError):
    """The handler answered something API Gateway would refuse (it answers 500)."""


def map_response(result: Any) -> Response:
    """A handler's answer as API Gateway (payload 2.0) turns it into an HTTP response."""
    if isinstance(result, dict) and "statusCode" in result:
        try:
            status = int(result["statusCode"])
        except (TypeError, ValueError) as exc:
            raise MalformedResponseError(f"statusCode {result['statusCode']!r} is not an integer") from exc
        if not 100 <= status <= 599:
            raise MalformedResponseError(f"statusCode {status} is out of range")
        headers: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((str(name), _header_value(value)))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), _header_value(v)) for v in values)
        headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
        body = result.get("body")
        if body is None:
            raw = b""
        elif not isinstance(body, str):
            raw = json.dumps(body).encode()
        elif result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError as exc:
                raise MalformedResponseError("isBase64Encoded body is not base64") from exc
        else:
            raw = body.encode("utf-8")
        return Response(status, headers, raw)
    # Any other answer is the JSON body of a 200.
    raw = result.encode("utf-8") if isinstance(result, str) else json.dumps(result).encode()
    return Response(200, [("Content-Type", "application/json")], raw)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""Shared helpers of the end-to-end suites: JWT minting for the dev issuer, HTTP calls, answer checks."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import requests

from tests.secret_log_guard import remember

TIMEOUT = 5


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(info: dict[str, Any], *, sub: str | None = None, scope: str = "admin", tier: str = "enterprise",
           lifetime: int = 300, **overrides: Any) -> dict[str, Any]:  # fmt: skip
    """Claims the dev issuer accepts; `overrides` replace (or, set to None, drop) any of them."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": info["jwt"]["issuer"],
        "aud": info["jwt"]["audience"],
        "sub": sub or f"e2e-{uuid.uuid4().hex}",
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,  # every token differs, so no authorizer cache entry is ever shared
        "scope": scope,
        "tier": tier,
    }
    for name, value in overrides.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def mint(info: dict[str, Any], **kwargs: Any) -> str:
    """An HS256 token of the local dev issuer (see local/bootstrap.py)."""
    token = jwt.encode(claims(info, **kwargs), info["jwt"]["secret"], algorithm="HS256")
    remember(token, info["jwt"]["secret"])
    return token


def hmac_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes, digest: Any = hashlib.sha256) -> str:
    """A JWT signed by hand (pyjwt refuses some of the keys an attacker would use)."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    remember(secret, f"{signing_input}.{b64url(signature)}")
    return f"{signing_input}.{b64url(signature)}"


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def call(stack: Any, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {**bearer(token), **kwargs.pop("headers", {})}
    return requests.request(method, f"{stack.api_url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def assert_gateway_forbidden(response: requests.Response) -> None:
    """What API Gateway itself answers when the authorizer refuses (kept as is, docs/reference.md#errors)."""
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.json() == {"message": "Forbidden"}


def assert_gateway_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.json() == {"message": "Unauthorized"}


def assert_envelope(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope (docs/reference.md#errors), with X-Request-Id equal to body.requestId."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "requestId"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "details"}, body
    for detail in body["error"].get("details") or []:
        assert set(detail) == {"field", "message"}, detail
    assert response.headers["X-Request-Id"] == body["requestId"]
    return body


def detail_fields(body: dict[str, Any]) -> set[str]:
    return {d["field"] for d in body["error"].get("details") or []}


def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> float:
    """Seconds until `predicate()` holds; fails after `timeout` seconds."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - start


def wait_out_authorizer_cache(stack: Any, since: float) -> None:
    """Until every decision the emulator cached before `since` (time.monotonic()) has expired: one
    authorizer TTL later. A wait for a known moment, not for something to happen: however slow the
    machine, a request sent after it is authorized afresh."""
    time.sleep(max(0.0, since + stack.template.authorizer.ttl - time.monotonic()))


@contextlib.contextmanager
def stack_env(stack: Any, **values: str) -> Iterator[None]:
    """Run with some of the stack's environment changed; a fresh authorizer either side."""
    import os

    from gatehouse.wiring import reset

    before = {name: stack.env.get(name) for name in values}
    stack.env.update(values)
    stack.activate()
    reset()
    stack.emulator.clear_authorizer_cache()
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                stack.env.pop(name, None)
                os.environ.pop(name, None)
            else:
                stack.env[name] = value
        stack.activate()
        reset()
        stack.emulator.clear_authorizer_cache()

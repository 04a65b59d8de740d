"""Helpers for the rate-limit end-to-end tests: JWTs, an HTTP client, Structured Fields parsing."""

from __future__ import annotations

import re
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
import requests

# -- RFC 8941 Structured Fields: just enough to parse a List of Items with parameters ------------------------
# RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-11) are sf-lists whose members are
# sf-strings (the policy / window name) with parameters: q (quota, Integer, required) and w (window, Integer)
# on RateLimit-Policy; r (remaining, Integer, required) and t (seconds to reset, Integer) on RateLimit.

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INTEGER = re.compile(r"-?\d{1,15}")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")


class StructuredFieldError(ValueError):
    """The value is not a valid RFC 8941 List."""


def _parse_string(text: str, i: int) -> tuple[str, int]:
    if text[i] != '"':
        raise StructuredFieldError(f"expected a string at {i} in {text!r}")
    i += 1
    out = []
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in '"\\':
                raise StructuredFieldError(f"bad escape at {i} in {text!r}")
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        if not 0x20 <= ord(c) <= 0x7E:
            raise StructuredFieldError(f"non-printable character in string in {text!r}")
        out.append(c)
        i += 1
    raise StructuredFieldError(f"unterminated string in {text!r}")


def _parse_bare_item(text: str, i: int) -> tuple[Any, int]:
    if i >= len(text):
        raise StructuredFieldError(f"missing item at end of {text!r}")
    if text[i] == '"':
        return _parse_string(text, i)
    if text[i] == "?":
        if text[i + 1 : i + 2] not in ("0", "1"):
            raise StructuredFieldError(f"bad boolean in {text!r}")
        return text[i + 1] == "1", i + 2
    match = _INTEGER.match(text, i)
    if match:
        if text[match.end() : match.end() + 1] == ".":
            raise StructuredFieldError(f"decimals are not expected here: {text!r}")
        return int(match.group()), match.end()
    match = _TOKEN.match(text, i)
    if match:
        return match.group(), match.end()
    raise StructuredFieldError(f"bad item at {i} in {text!r}")


def _parse_parameters(text: str, i: int) -> tuple[dict[str, Any], int]:
    params: dict[str, Any] = {}
    while i < len(text) and text[i] == ";":
        i += 1
        while i < len(text) and text[i] == " ":
            i += 1
        match = _KEY.match(text, i)
        if not match:
            raise StructuredFieldError(f"bad parameter key at {i} in {text!r}")
        key, i = match.group(), match.end()
        value: Any = True
        if i < len(text) and text[i] == "=":
            value, i = _parse_bare_item(text, i + 1)
        params[key] = value
    return params, i


def parse_sf_list(text: str) -> list[tuple[Any, dict[str, Any]]]:
    """An RFC 8941 List of Items (no Inner Lists) as [(bare item, {param: value})]."""
    items: list[tuple[Any, dict[str, Any]]] = []
    i = 0
    text = text.strip(" ")
    while i < len(text):
        value, i = _parse_bare_item(text, i)
        params, i = _parse_parameters(text, i)
        items.append((value, params))
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text):
            return items
        if text[i] != ",":
            raise StructuredFieldError(f"expected ',' at {i} in {text!r}")
        i += 1
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text):
            raise StructuredFieldError(f"trailing comma in {text!r}")
    raise StructuredFieldError("empty list")


@dataclass(frozen=True)
class PolicyItem:
    name: str
    quota: int
    window: int


@dataclass(frozen=True)
class RateLimitHeaders:
    """The rate-limit headers of one answer, parsed and checked for shape."""

    policy: list[PolicyItem]
    current_name: str
    remaining: int
    reset_seconds: int
    x_limit: int
    x_remaining: int
    x_reset: int
    retry_after: int | None

    def quotas(self) -> dict[str, tuple[int, int]]:
        return {p.name: (p.quota, p.window) for p in self.policy}


def rate_limit_headers(response: requests.Response) -> RateLimitHeaders:
    """Parse and validate RateLimit-Policy, RateLimit, X-RateLimit-* and Retry-After of `response`."""
    h = response.headers
    for name in ("RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert name in h, f"{name} missing on {response.status_code} answer; headers: {dict(h)}"

    policy_items = parse_sf_list(h["RateLimit-Policy"])
    policy: list[PolicyItem] = []
    for name, params in policy_items:
        assert isinstance(name, str), f"policy item must be an sf-string: {h['RateLimit-Policy']!r}"
        assert isinstance(params.get("q"), int) and params["q"] >= 1, h["RateLimit-Policy"]
        assert isinstance(params.get("w"), int) and params["w"] >= 1, h["RateLimit-Policy"]
        # Only registered parameters or vendor-prefixed ones (the draft asks for a prefix).
        assert set(params) <= {"q", "w", "qu", "pk"}, h["RateLimit-Policy"]
        policy.append(PolicyItem(name, params["q"], params["w"]))
    names = [p.name for p in policy]
    assert len(set(names)) == len(names), f"policy names must be unambiguous: {names}"

    current = parse_sf_list(h["RateLimit"])
    assert len(current) == 1, f"RateLimit names one window here: {h['RateLimit']!r}"
    current_name, params = current[0]
    assert isinstance(current_name, str), h["RateLimit"]
    assert current_name in names, f"RateLimit names {current_name!r}, not in RateLimit-Policy {names}"
    assert set(params) <= {"r", "t", "pk"}, h["RateLimit"]
    assert isinstance(params.get("r"), int) and params["r"] >= 0, h["RateLimit"]
    assert isinstance(params.get("t"), int) and params["t"] >= 0, h["RateLimit"]

    x_limit = int(h["X-RateLimit-Limit"])
    x_remaining = int(h["X-RateLimit-Remaining"])
    x_reset = int(h["X-RateLimit-Reset"])
    bound = next(p for p in policy if p.name == current_name)
    assert x_limit == bound.quota, f"X-RateLimit-Limit {x_limit} != q of {current_name!r} ({bound.quota})"
    assert x_remaining == params["r"], "X-RateLimit-Remaining must equal RateLimit's r"
    assert 0 <= x_remaining <= x_limit
    # Epoch seconds (not a delta), in the near future: at most two windows away. Bracketed by when
    # the request was sent and now, so a slow answer on a busy machine cannot put it out of bounds.
    now = time.time()
    sent = now - response.elapsed.total_seconds()
    assert sent - 2 <= x_reset <= now + 2 * bound.window + 2, f"X-RateLimit-Reset {x_reset} is not epoch seconds"

    retry_after = None
    if "Retry-After" in h:
        assert re.fullmatch(r"\d+", h["Retry-After"]), f"Retry-After must be delta-seconds: {h['Retry-After']!r}"
        retry_after = int(h["Retry-After"])
    return RateLimitHeaders(
        policy=policy,
        current_name=current_name,
        remaining=params["r"],
        reset_seconds=params["t"],
        x_limit=x_limit,
        x_remaining=x_remaining,
        x_reset=x_reset,
        retry_after=retry_after,
    )


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope (docs/reference.md#errors) with `code`, and a requestId equal to X-Request-Id."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    body = response.json()
    assert set(body) == {"error", "requestId"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert body["requestId"] == response.headers["X-Request-Id"], (body, dict(response.headers))
    return body


def assert_rate_limited(response: requests.Response) -> RateLimitHeaders:
    """A 429 with the envelope, every rate-limit header and a Retry-After of at least one second."""
    assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    headers = rate_limit_headers(response)
    assert headers.retry_after is not None and headers.retry_after >= 1, dict(response.headers)
    return headers


def parse_rfc3339_z(value: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", value), f"not RFC 3339 UTC: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


# -- identities and HTTP --------------------------------------------------------------------------------------


def new_subject(prefix: str = "e2e-rl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def mint_jwt(jwt_info: dict[str, Any], sub: str, *, scope: str = "", tier: str = "free", ttl: int = 900) -> str:
    now = int(time.time())
    claims = {
        "iss": jwt_info["issuer"],
        "aud": jwt_info["audience"],
        "sub": sub,
        "iat": now,
        "exp": now + ttl,
        "tier": tier,
    }
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, jwt_info["secret"], algorithm=jwt_info.get("algorithm", "HS256"))


@dataclass
class Caller:
    """A principal calling the API over real HTTP through one keep-alive session."""

    base_url: str
    token: str
    principal_id: str = ""
    session: requests.Session = field(default_factory=requests.Session)
    timings: list[float] = field(default_factory=list)

    def request(
        self, method: str, path: str, *, json: Any = None, timeout: float = 10, request_id: bool = True
    ) -> requests.Response:
        """One call; by default with an X-Request-Id of our own, which the answer must echo."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if request_id:
            headers["X-Request-Id"] = f"e2e-{uuid.uuid4().hex}"
        started = time.perf_counter()
        response = self.session.request(method, self.base_url + path, json=json, headers=headers, timeout=timeout)
        self.timings.append(time.perf_counter() - started)
        if request_id:
            assert response.headers.get("X-Request-Id") == headers["X-Request-Id"]
        else:
            assert response.headers.get("X-Request-Id"), "every answer carries X-Request-Id"
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.session.close()


def median(values: list[float]) -> float:
    return statistics.median(values)

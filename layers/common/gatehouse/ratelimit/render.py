"""HTTP renderings of a Decision: draft-ietf-httpapi-ratelimit-headers-11 headers and JSON bodies."""

from __future__ import annotations

from typing import Any

from gatehouse.errors import RateLimitExceededError
from gatehouse.ratelimit.decision import Decision, WindowResult
from gatehouse.times import to_rfc3339


def _labels(decision: Decision) -> dict[int, str]:
    # Window names alone read best ("hour", "second"); prefix the policy only where two
    # applied policies share a window name, so every list member stays unambiguous.
    counts: dict[str, int] = {}
    for w in decision.windows:
        counts[w.name] = counts.get(w.name, 0) + 1
    return {i: (w.name if counts[w.name] == 1 else f"{w.policy}.{w.name}") for i, w in enumerate(decision.windows)}


def _seconds(ms: int) -> int:
    return -(-max(ms, 0) // 1000)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """Headers for every rate-limited answer, 2xx and 4xx (docs/reference.md#rate-limit-headers).

    X-RateLimit-Reset is epoch seconds (not a delta), as our docs say."""
    binding = decision.binding
    headers: dict[str, str] = {}
    if binding is not None:
        labels = _labels(decision)
        headers["RateLimit-Policy"] = ", ".join(
            f'"{labels[i]}";q={w.limit};w={w.period_seconds}' for i, w in enumerate(decision.windows)
        )
        index = decision.windows.index(binding)
        headers["RateLimit"] = f'"{labels[index]}";r={binding.remaining};t={_seconds(binding.reset_after_ms)}'
        headers["X-RateLimit-Limit"] = str(binding.limit)
        headers["X-RateLimit-Remaining"] = str(binding.remaining)
        headers["X-RateLimit-Reset"] = str(decision.reset_at)
    retry_after = decision.retry_after
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers


def rate_limit_error(decision: Decision) -> RateLimitExceededError:
    """The 429 for a denied decision, carrying its headers (Retry-After included)."""
    message = "This subject is blocked." if decision.blocked else "Rate limit exceeded."
    return RateLimitExceededError(message, headers=rate_limit_headers(decision))


def check_body(decision: Decision) -> dict[str, Any]:
    """The `POST /v1/ratelimit/check` answer: {allowed, limit, remaining, resetAt, retryAfter?, policy}."""
    body: dict[str, Any] = {
        "allowed": decision.allowed,
        "limit": decision.limit,
        "remaining": decision.remaining,
        "resetAt": to_rfc3339(decision.reset_at),
        "policy": decision.policy,
    }
    if decision.retry_after is not None:
        body["retryAfter"] = decision.retry_after
    if decision.degraded:
        body["degraded"] = True
    return body


def _window_usage(w: WindowResult, now_ms: int) -> dict[str, Any]:
    return {
        "policy": w.policy,
        "window": w.name,
        "algorithm": w.algorithm,
        "limit": w.limit,
        "windowSeconds": w.period_seconds,
        "used": max(0, w.limit - w.remaining),
        "remaining": w.remaining,
        "resetAt": to_rfc3339(-(-(now_ms + w.reset_after_ms) // 1000)),
    }


def usage_body(subject: str, decision: Decision) -> dict[str, Any]:
    """The `GET /v1/ratelimit/usage/{subject}` answer: the current use of each window."""
    return {
        "subject": subject,
        "blocked": decision.blocked,
        "degraded": decision.degraded,
        "windows": [_window_usage(w, decision.now_ms) for w in decision.windows],
    }

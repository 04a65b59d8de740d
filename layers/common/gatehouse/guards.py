"""Pre-route guards of the edge pipeline: checks that must pass before a body is parsed."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from gatehouse.api import Guard
from gatehouse.errors import PayloadTooLargeError, UnsupportedMediaTypeError

_METHODS_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_MAX_JSON_BYTES = 1_048_576


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def body_size(event: Mapping[str, Any]) -> int:
    """Size in bytes of the body as the client sent it."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(base64.b64decode(body, validate=False))
    return len(body.encode("utf-8"))


def json_body_guard(max_bytes: int = DEFAULT_MAX_JSON_BYTES) -> Guard:
    """Refuse a non-empty body that is not JSON (415) or is larger than `max_bytes` (413)."""

    def guard(event: Mapping[str, Any]) -> None:
        method = (event.get("requestContext") or {}).get("http", {}).get("method", "GET").upper()
        if method not in _METHODS_WITH_BODY or not event.get("body"):
            return
        size = body_size(event)
        if size > max_bytes:
            raise PayloadTooLargeError(f"The request body is {size} bytes; the limit is {max_bytes}.")
        content_type = (event.get("headers") or {}).get("content-type", "")
        if not _is_json(content_type):
            raise UnsupportedMediaTypeError(
                "The request body must be application/json.",
                details=[{"field": "content-type", "message": f"got {content_type or 'nothing'!r}"}],
            )

    return guard

"""X-Request-Id: the caller's when it is well-formed, else API Gateway's own request id."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# API Gateway's own ids are base64-like (`JKJaXmPLvHcESHA=`): trusted, but a different alphabet.
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9+/=._:-]{1,128}$")


def request_id_for(event: Mapping[str, Any]) -> str:
    """The request id of an HTTP API v2 event.

    Deterministic for a given event (the caller's header, else requestContext.requestId),
    so the header and the error body always agree without any per-request state.
    """
    headers = event.get("headers") or {}
    candidate = headers.get("x-request-id")
    if isinstance(candidate, str) and _VALID.fullmatch(candidate):
        return candidate
    context_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(context_id, str) and _GATEWAY_ID.fullmatch(context_id):
        return context_id
    return uuid.uuid4().hex

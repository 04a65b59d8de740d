"""What callers send: the request bodies of the campaign routes (bus_requests.py: the bus events that mirror them).

camelCase on the wire, unknown fields refused, timestamps RFC 3339 with an offset read as UTC
(gatehouse.models.UtcTimestamp). Rules that involve several fields or the clock (end after
start, start in the future) are the use cases' (campaigns/service.py), so the API and the bus
answer them alike.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from gatehouse.models import ApiRequest, UtcTimestamp
from gatehouse.urls import has_unsafe_characters, url_host

MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 8
MAX_REMINDERS = 10


def _bounded_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A small JSON object: at most 4 KiB as JSON, nested at most 8 deep."""
    if value is None:
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"must be nested at most {MAX_METADATA_DEPTH} levels deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
    except ValueError:
        raise ValueError("must be plain JSON (no NaN or Infinity)") from None
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


def _allowed_address(host: str, literal: bool) -> bool:
    """An IP literal inside OUTBOUND_ALLOWED_NETWORKS (the local stack allows loopback): the outbound
    client would deliver there too, so creation accepts it, over http as well."""
    from gatehouse.settings import get_settings

    if not literal:
        return False
    address = ipaddress.ip_address(host)
    for cidr in filter(None, (c.strip() for c in get_settings().outbound_allowed_networks.split(","))):
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def _callback_url(value: str | None) -> str | None:
    """An absolute https URL to a public host (no credentials, no fragment, no private or loopback address),
    or to an address the configuration allows (OUTBOUND_ALLOWED_NETWORKS; http too).

    Only the shape is checked here; the resilient client that will deliver to it resolves the
    name and refuses private destinations again at delivery time (no SSRF through DNS).
    """
    if value is None:
        return None
    # The characters the delivering client refuses too: a URL stored with them could never be called.
    if has_unsafe_characters(value):
        raise ValueError("holds characters a URL may not (whitespace, controls, backslashes)")
    parts = urlsplit(value)
    if not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    try:  # the host the delivering client will call, judged here as it will be there
        host, literal = url_host(parts.hostname)
    except ValueError:
        raise ValueError("must name a valid host") from None
    allowed = parts.scheme in ("http", "https") and _allowed_address(host, literal)
    if parts.scheme != "https" and not allowed:
        raise ValueError("must be an absolute https:// URL")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError("must not carry credentials")
    if parts.fragment:
        raise ValueError("must not have a fragment")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise ValueError("must point at a public host")
    if literal and not ipaddress.ip_address(host).is_global and not allowed:
        raise ValueError("must point at a public address")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if port == 0:
        raise ValueError("has an invalid port")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Metadata = Annotated[dict[str, Any] | None, AfterValidator(_bounded_json)]
CallbackUrl = Annotated[str | None, Field(max_length=2048), AfterValidator(_callback_url)]
Hours = Annotated[float, Field(gt=0, le=87_600, strict=True, allow_inf_nan=False)]
Target = Annotated[int, Field(ge=1, le=1_000_000_000, strict=True)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@|+=-]+$")]
EngagementType = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class CreateCampaignRequest(ApiRequest):
    name: Name
    start_time: UtcTimestamp
    end_time: UtcTimestamp | None = None
    duration_hours: Hours | None = None
    target_engagements: Target | None = None
    auto_close: bool = Field(default=True, strict=True)
    metadata: Metadata = None
    callback_url: CallbackUrl = None
    reminders: list[UtcTimestamp] | None = Field(default=None, max_length=MAX_REMINDERS)


class UpdateCampaignRequest(ApiRequest):
    """Every field optional; `targetEngagements: null` removes the target."""

    name: Name | None = None
    start_time: UtcTimestamp | None = None
    end_time: UtcTimestamp | None = None
    duration_hours: Hours | None = None
    target_engagements: Target | None = None
    auto_close: bool | None = Field(default=None, strict=True)
    metadata: Metadata = None
    callback_url: CallbackUrl = None


class CancelCampaignRequest(ApiRequest):
    reason: Reason | None = None


class EngagementRequest(ApiRequest):
    engagement_type: EngagementType
    user_id: UserId
    occurred_at: UtcTimestamp | None = None
    metadata: Metadata = None


class CancelTimerRequest(ApiRequest):
    reason: Reason | None = None

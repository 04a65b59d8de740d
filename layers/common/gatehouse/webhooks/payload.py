"""Reading a delivery's body: its event type, its payload for the bus, and an engagement it carries.

Bodies need not be JSON (Slack posts forms; anything is stored as received). A body the
processor cannot read (not UTF-8, or a JSON media type that does not parse) is a permanent
failure: the event ends FAILED without retries, never a 401 (docs/webhooks.md#processing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from gatehouse.webhooks.records import clean_event_type

TYPE_PATH: Final = re.compile(r"[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}")
MAX_ENGAGEMENT_FIELD = 256


class UnreadablePayload(Exception):
    """The body cannot be read as what it says it is."""


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json_media(media_type: str) -> bool:
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def parse_json(body: bytes) -> Any:
    """The JSON document in `body`, or UnreadablePayload."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UnreadablePayload("the body is not valid UTF-8 JSON") from None


def read_payload(body: bytes, content_type: str) -> Any:
    """JSON when the media type says so (or none is given and it parses), a form as a dict, else text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadablePayload("the body is not valid UTF-8") from None
    media_type = _media_type(content_type)
    if _is_json_media(media_type):
        return parse_json(body)
    if media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    if not media_type and text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return text
    return text


def value_at(document: Any, path: str) -> Any:
    """The value at a dotted path of nested JSON objects, or None."""
    for part in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


def event_type_of(body: bytes, content_type: str, paths: tuple[str, ...]) -> str | None:
    """The first usable event type found at `paths` in a JSON (or Slack form `payload`) body."""
    if not paths or not body:
        return None
    try:
        document = read_payload(body, content_type)
    except UnreadablePayload:
        return None
    if isinstance(document, dict) and isinstance(document.get("payload"), str):
        try:  # Slack interactivity posts a form whose `payload` field is the JSON document
            document = json.loads(document["payload"])
        except (ValueError, RecursionError):
            return None
    for path in paths:
        found = clean_event_type(value_at(document, path))
        if found is not None:
            return found
    return None


@dataclass(frozen=True, slots=True)
class Engagement:
    campaign_id: str
    engagement_type: str
    user_id: str
    attributes: Mapping[str, Any]


def engagement_of(payload: Any) -> Engagement | None:
    """The engagement a payload `{"campaignId", "engagementType", "userId", …}` carries, or None.

    A payload naming a campaign but lacking a usable engagement type or user is unreadable as
    an engagement: UnreadablePayload (a permanent failure, not something a retry can fix).
    """
    if not isinstance(payload, dict) or "campaignId" not in payload:
        return None
    fields = {}
    for name in ("campaignId", "engagementType", "userId"):
        value = payload.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ENGAGEMENT_FIELD:
            raise UnreadablePayload(f"an engagement event needs {name} as 1 to {MAX_ENGAGEMENT_FIELD} characters")
        fields[name] = value
    attributes = {k: v for k, v in payload.items() if k not in fields}
    return Engagement(fields["campaignId"], fields["engagementType"], fields["userId"], attributes)

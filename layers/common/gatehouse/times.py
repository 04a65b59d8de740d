"""Timestamps on the wire: RFC 3339 UTC with a Z and whole seconds (`2026-11-22T12:00:00Z`).

Standard library only (the authorizer uses it). Rendering is total: an epoch outside the years
1-9999 is clamped to that range rather than raising, so no stored or computed instant can turn
an answer into a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

MIN_EPOCH: Final = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
MAX_EPOCH: Final = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


def within_rfc3339_years(value: datetime) -> datetime:
    """`value` unchanged when its instant, in UTC, falls in the years 1-9999; else ValueError.

    An offset can carry a time that reads as year 9999 past the end of year 9999 in UTC
    (`9999-12-31T23:59:59-23:59`): refused here, at validation, rather than clamped later.
    """
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("must fall within the years 1 to 9999 in UTC") from None
    return value


def epoch_to_datetime(epoch_seconds: float) -> datetime:
    """Epoch seconds -> an aware UTC datetime; ValueError outside the years 1-9999 (NaN and infinities too)."""
    if not MIN_EPOCH <= epoch_seconds < MAX_EPOCH + 1:
        raise ValueError("must fall within the years 1 to 9999 in UTC")
    return datetime.fromtimestamp(epoch_seconds, UTC)


def clamp_epoch(epoch_seconds: float) -> int:
    """Whole seconds within what RFC 3339 (years 1-9999) can write."""
    return int(min(max(epoch_seconds, MIN_EPOCH), MAX_EPOCH))


def to_rfc3339(epoch_seconds: float) -> str:
    """Epoch seconds -> `YYYY-MM-DDTHH:MM:SSZ` (fractions dropped; clamped to years 1-9999)."""
    # isoformat, not strftime: it always writes four-digit years.
    return datetime.fromtimestamp(clamp_epoch(epoch_seconds), UTC).replace(tzinfo=None).isoformat() + "Z"


def rfc3339(value: datetime) -> str:
    """A datetime -> the same form (a naive one is read as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_rfc3339(value.timestamp())


def parse_rfc3339(text: str) -> datetime:
    """RFC 3339 / ISO 8601 text -> an aware datetime (naive means UTC). ValueError when unreadable."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def from_rfc3339(text: str) -> int:
    """RFC 3339 text -> epoch seconds."""
    return int(parse_rfc3339(text).timestamp())


# RFC 3339 date-time: a 'T', whole seconds or a fraction, and a mandatory offset (Z or +hh:mm).
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?$")


def parse_utc_timestamp(text: object) -> datetime:
    """Strict RFC 3339 text with an offset -> the same instant as an aware UTC datetime.

    For request bodies (docs/reference.md#http-conventions): a number, a date alone, a time
    without its offset or an instant outside the years 1-9999 once in UTC is a ValueError whose
    message can be shown to the caller. Fractions of a second are kept (to the microsecond).
    """
    if not isinstance(text, str):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2026-11-22T12:00:00Z")
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2026-11-22T12:00:00Z")
    day, clock, fraction, offset = match.groups()
    if offset is None:
        raise ValueError("must include a timezone offset (Z or +hh:mm)")
    micro = f".{(fraction or '')[:6]:0<6}" if fraction else ""
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{micro}{'+00:00' if offset in 'Zz' else offset}")
    except ValueError:
        raise ValueError("must be a valid date and time") from None
    return utc_instant(parsed)


def utc_instant(value: datetime) -> datetime:
    """An aware datetime as the same instant in UTC; ValueError if naive or outside the years 1-9999 in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone offset (Z or +hh:mm)")
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("must fall within the years 1-9999 in UTC") from None

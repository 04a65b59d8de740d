"""What every signature scheme shares: the request as received, the two ways to refuse, strict decoders.

A scheme module is pure: it takes the exact bytes received, the headers as API Gateway gave
them (lower-case names, repeated headers joined by commas) and the source's secrets, and
answers a Verified or raises. Two refusals, so that a sender can tell a typo from a forgery
(docs/webhooks.md#answers): MalformedSignature (400, a header that cannot be read) and
SignatureRejected (401, missing, stale or not matching any active secret). Neither ever
carries the expected signature or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MAX_HEADER_CHARS: Final = 8192
# A delivery id becomes part of a DynamoDB key and of log lines: visible ASCII, bounded.
_DELIVERY_ID: Final = re.compile(r"[\x21-\x7e]{1,256}")
_DIGITS: Final = re.compile(r"[0-9]{1,12}")
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")


class VerificationFailure(Exception):
    """A delivery that does not verify; `field` names the header at fault."""

    status = 401

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class MalformedSignature(VerificationFailure):
    """A signature header (or the body a scheme needs) that cannot be read: 400."""

    status = 400


class SignatureRejected(VerificationFailure):
    """Missing, stale, or no match with any active secret: 401."""

    status = 401


@dataclass(frozen=True, slots=True)
class Request:
    """A webhook as received: the exact body bytes and the lower-cased headers."""

    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        """The header's value, or None when absent or empty; an oversized one is malformed."""
        value = self.headers.get(name)
        if value is None or value == "":
            return None
        if len(value) > MAX_HEADER_CHARS:
            raise MalformedSignature(name, "is too long")
        return value

    def required(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise SignatureRejected(name, "is missing")
        return value


@dataclass(frozen=True, slots=True)
class Verified:
    """A delivery that verified: its delivery id and, when the scheme names one, its event type."""

    delivery_id: str
    event_type: str | None = None


def timestamp(request: Request, name: str, now: float, tolerance: int) -> str:
    """The header's Unix seconds, exactly as sent (it is signed as text), checked by `fresh_timestamp`."""
    return fresh_timestamp(request.required(name), name, now, tolerance)


def fresh_timestamp(text: str, field: str, now: float, tolerance: int) -> str:
    """`text` when it is Unix seconds (digits only) within `tolerance` of `now`, else a refusal."""
    if not _DIGITS.fullmatch(text):
        raise MalformedSignature(field, "must be Unix seconds (digits only)")
    if abs(now - int(text)) > tolerance:
        raise SignatureRejected(field, "is outside the tolerance")
    return text


def b64decode_strict(text: str, field: str, length: int) -> bytes:
    """Standard base64 with padding, decoding to exactly `length` bytes, else MalformedSignature."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature(field, "is not valid base64") from None
    if len(raw) != length:
        raise MalformedSignature(field, f"must decode to {length} bytes")
    return raw


def hex64(text: str, field: str) -> bytes:
    """64 hex digits (a SHA-256 digest), else MalformedSignature."""
    if not _HEX64.fullmatch(text):
        raise MalformedSignature(field, "must be 64 hex digits")
    return bytes.fromhex(text)


def delivery_id(value: str | None, field: str) -> str | None:
    """A delivery id as a header gives it (None when absent); unreadable ones are malformed."""
    if value is None:
        return None
    if not _DELIVERY_ID.fullmatch(value):
        raise MalformedSignature(field, "must be 1 to 256 visible ASCII characters")
    return value


def derived_delivery_id(signed_content: bytes) -> str:
    """The delivery id of a scheme that sends none: the SHA-256 of what the signature covers."""
    return "sha256:" + hashlib.sha256(signed_content).hexdigest()


@dataclass(frozen=True, slots=True)
class HmacKey:
    """An HMAC-SHA256 key: the secret's bytes as the scheme defines them."""

    key: bytes


@dataclass(frozen=True, slots=True)
class Ed25519Key:
    """A Standard Webhooks `whpk_` public key, loaded once (its `verify(signature, data)` raises on mismatch)."""

    raw: bytes
    verifier: Any


SigningKey = HmacKey | Ed25519Key

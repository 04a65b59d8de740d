"""The Gatehouse API key format `gk_<env>_<random><checksum>`: generate, check offline, hash.

<random> is 28 base62 characters from `secrets` (~166 bits); <checksum> is CRC32 of
everything before it, as 6 zero-padded base62 characters (62**6 > 2**32). A key is always
42 characters, so a malformed or mistyped key is refused here, before any store is read,
and secret scanners can recognise leaked keys by shape and checksum alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from typing import Final

PREFIX: Final = "gk_"
ENVIRONMENTS: Final = ("live", "test")
BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH: Final = 28
CHECKSUM_LENGTH: Final = 6
KEY_LENGTH: Final = len(PREFIX) + 4 + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH  # 42
DISPLAY_PREFIX_LENGTH: Final = 12

_SHAPE = re.compile(r"gk_(live|test)_[0-9A-Za-z]{%d}" % (RANDOM_LENGTH + CHECKSUM_LENGTH))  # noqa: UP031


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """The 6-character base62 CRC32 of `body` (the key without its checksum)."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate(env: str) -> str:
    """A new key for environment `live` or `test`. Show it once; store only `hash_key` of it."""
    if env not in ENVIRONMENTS:
        raise ValueError("env must be 'live' or 'test'")
    body = f"{PREFIX}{env}_" + "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def looks_like_api_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (a JWT never starts with `gk_`)."""
    return token.startswith(PREFIX)


def validate_format(token: str, env: str | None = None) -> bool:
    """Shape, charset, length, environment (when given) and checksum, all without any I/O."""
    if len(token) != KEY_LENGTH or _SHAPE.fullmatch(token) is None:
        return False
    if env is not None and token[3:7] != env:
        return False
    body, check = token[:-CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    # The checksum is not secret, but comparing in constant time costs nothing here.
    return hmac.compare_digest(checksum(body), check)


def key_environment(token: str) -> str:
    """The <env> part of a key that passed `validate_format`."""
    return token[3:7]


def hash_key(key: str, pepper: str = "") -> str:
    """What the store keeps: HMAC-SHA256 keyed with the pepper when one is set, else SHA-256 (hex).

    The pepper lives outside the table, so a leaked table alone cannot be used to test
    guesses. Changing the pepper invalidates every key: it is not rotated casually.
    """
    data = key.encode("ascii")
    if pepper:
        return hmac.new(pepper.encode("utf-8"), data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def prefix(key: str) -> str:
    """The first 12 characters (`gk_live_XXXX`): enough to recognise a key, useless to use it."""
    return key[:DISPLAY_PREFIX_LENGTH]

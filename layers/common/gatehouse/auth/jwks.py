"""A JWKS cache that cannot be turned into a fetch flood (PyJWKClient refetches on every unknown kid).

Keys are cached by kid. An unknown kid (or a cache older than `max_age`) triggers a refetch
at most once per `cooldown` seconds, with a single fetch in flight: concurrent callers wait
for that fetch (bounded by the fetch timeout) and then use its result or fail. A failed
fetch counts toward the cooldown too, so a dead IdP is not hammered either.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from jwt import PyJWK
from jwt.exceptions import PyJWKError

from gatehouse.auth.exceptions import InvalidToken

logger = logging.getLogger("gatehouse.auth")

Fetch = Callable[[str], bytes]
Clock = Callable[[], float]

MAX_JWKS_BYTES: Final = 64 * 1024
MAX_KEYS: Final = 50
MAX_KID_LENGTH: Final = 256

# Which JWK key type (and curve) may verify which algorithm: an RSA key never verifies
# an EC signature and, above all, no JWKS key is ever used as an HMAC secret.
_KEY_TYPES: Final[dict[str, tuple[str, str | None]]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
ASYMMETRIC_ALGORITHMS: Final = frozenset(_KEY_TYPES)


class _Entry(NamedTuple):
    data: dict[str, Any]  # the JWK as published (PyJWK keeps it only privately)
    jwk: PyJWK


class JwksFetchError(ValueError):
    """The JWKS could not be fetched as it must be: https, no redirect, a 200 within the size cap."""


# Plain http is for the local machine only: the local stack's and the tests' IdP (tests/e2e/jwks_server.py).
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def loggable_url(url: str) -> str:
    """The URL without what may hold a credential (user info, query, fragment): for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def is_fetchable_jwks_url(url: str) -> bool:
    """https to any host, or http to a loopback host; nothing else (no file:, ftp:, data:)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


def fetch_url(url: str, timeout: float = 2.0, max_bytes: int = MAX_JWKS_BYTES) -> bytes:
    """GET the JWKS: https only, redirects refused, a short timeout and a size bound.

    A redirect is a failure, not followed: it could lead from https to http, or to an address
    inside the network (an instance metadata endpoint, say) that the configured URL never named.
    The scheme is checked here as well as in the configuration, so no other caller can pass a
    file: or plain-http URL. urllib is imported only when a fetch happens.
    """
    if not is_fetchable_jwks_url(url):
        raise JwksFetchError("JWKS URL must be https (plain http only for a loopback host)")
    import urllib.error
    import urllib.request

    # Only the handlers a JWKS fetch needs: no redirect handler (a 3xx becomes an HTTPError),
    # no file, ftp or data handlers. Environment proxies are honoured, as urlopen did.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked above
    try:
        with opener.open(request, timeout=timeout) as response:
            if response.status != 200:
                raise JwksFetchError(f"JWKS answered {response.status}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise JwksFetchError("JWKS document too large")
            body: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        error.close()
        raise JwksFetchError(f"JWKS answered {error.code} (redirects are not followed)") from None
    if len(body) > max_bytes:
        raise JwksFetchError("JWKS document too large")
    return body


class JwksCache:
    """Public keys of one issuer, by kid."""

    def __init__(
        self,
        url: str,
        *,
        fetch: Fetch | None = None,
        clock: Clock = time.monotonic,
        cooldown: float = 30.0,
        max_age: float = 3600.0,
        timeout: float = 2.0,
    ) -> None:
        self.url = url
        self._fetch = fetch or (lambda u: fetch_url(u, timeout=timeout))
        self._clock = clock
        self._cooldown = cooldown
        self._max_age = max_age
        self._wait = timeout + 1.0
        self._keys: dict[str, _Entry] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch attempt, successful or not
        self._fetch_lock = threading.Lock()

    def get_key(self, kid: str, algorithm: str) -> Any:
        """The verification key for `kid`, checked to be of the right type for `algorithm`."""
        if not kid or len(kid) > MAX_KID_LENGTH:
            raise InvalidToken("missing or oversized kid")
        entry = self._keys.get(kid)
        if entry is None or self._stale():
            self._refresh(kid)
            entry = self._keys.get(kid)
        if entry is None:
            raise InvalidToken("unknown kid", kid=kid[:64])
        return self._key_for_algorithm(entry, algorithm, kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._max_age

    def _cooling_down(self) -> bool:
        return self._attempted_at is not None and self._clock() - self._attempted_at < self._cooldown

    def _refresh(self, kid: str) -> None:
        # Inside the cooldown there is nothing to do, unless a fetch is still in flight: then
        # wait for it (it may bring this kid) rather than fail or start a second one.
        if self._cooling_down() and not self._fetch_lock.locked():
            return
        if not self._fetch_lock.acquire(timeout=self._wait):
            return
        try:
            # Re-check: the fetch we just waited for may have brought the key, or used the slot.
            if (kid in self._keys and not self._stale()) or self._cooling_down():
                return
            self._attempted_at = self._clock()
            try:
                keys = self._parse(self._fetch(self.url))
            except Exception as error:
                # Keep serving the keys we have (a stale JWKS beats refusing everyone);
                # the cooldown stops the next request from retrying at once.
                logger.warning(
                    json.dumps(
                        {
                            "message": "JWKS fetch failed; keeping the keys already known",
                            "jwksUrl": loggable_url(self.url),
                            "errorType": type(error).__name__,
                            "error": str(error)[:200],
                        }
                    )
                )
                return
            self._keys = keys
            self._fetched_at = self._clock()
        finally:
            self._fetch_lock.release()

    @staticmethod
    def _parse(body: bytes) -> dict[str, _Entry]:
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("JWKS document too large")
        document = json.loads(body)
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("JWKS document has no keys list")
        keys: dict[str, _Entry] = {}
        for entry in entries[:MAX_KEYS]:
            if not isinstance(entry, dict):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
                continue
            # Symmetric ("oct") keys and encryption keys have no business in a signing JWKS.
            if entry.get("kty") not in ("RSA", "EC", "OKP") or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = _Entry(entry, PyJWK(entry))
            except (PyJWKError, ValueError, TypeError, KeyError):
                continue  # one unusable key must not take the others down
        return keys

    @staticmethod
    def _key_for_algorithm(entry: _Entry, algorithm: str, kid: str) -> Any:
        expected = _KEY_TYPES.get(algorithm)
        if expected is None:
            raise InvalidToken("algorithm not usable with a JWKS key", kid=kid[:64])
        kty, crv = expected
        data = entry.data
        if data.get("kty") != kty or (crv is not None and data.get("crv") != crv):
            raise InvalidToken("key type does not match algorithm", kid=kid[:64])
        if "alg" in data and data["alg"] != algorithm:
            raise InvalidToken("key is published for another algorithm", kid=kid[:64])
        if algorithm == "EdDSA" and data.get("crv") not in ("Ed25519", "Ed448"):
            raise InvalidToken("EdDSA needs an Ed25519 or Ed448 key", kid=kid[:64])
        return entry.jwk.key

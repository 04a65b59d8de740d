"""The authorizer's use case: a bearer credential (JWT or API key) in, a Principal out, or InvalidToken."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gatehouse.auth.exceptions import AuthConfigError, InvalidToken
from gatehouse.keys import api_key_format
from gatehouse.principal import Principal

if TYPE_CHECKING:
    from gatehouse.auth.api_key_auth import ApiKeyAuthenticator
    from gatehouse.auth.jwt_verifier import JwtVerifier


class Authenticator:
    """Everything one authorizer instance needs, kept warm across invocations.

    Each credential path is built by its factory on first use, with its imports: a JWT never
    pays for boto3 (~150 ms of imports plus the client) and an API key never pays for pyjwt and
    cryptography (~85 ms). An instance serving one kind of credential starts that much faster.
    A JWT factory that raises AuthConfigError (unusable JWT_ISSUERS) fails JWTs closed and
    keeps API keys working. With `jwt_refresh_seconds`, the JWT path is built again once it is
    that old (issuers whose secrets are re-read); a rebuild that fails keeps the previous one.
    """

    def __init__(
        self,
        *,
        cache_ttl: int,
        api_keys: Callable[[], ApiKeyAuthenticator],
        jwt: Callable[[], JwtVerifier],
        on_config_error: Callable[[str], None] = lambda _message: None,
        jwt_refresh_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache_ttl = cache_ttl
        self._api_keys_factory = api_keys
        self._jwt_factory = jwt
        self._on_config_error = on_config_error
        self._api_keys: ApiKeyAuthenticator | None = None
        self._jwt: JwtVerifier | None = None
        self._jwt_error: str | None = None
        self._jwt_built_at = 0.0
        self._jwt_refresh_seconds = jwt_refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal:
        if api_key_format.looks_like_api_key(token):
            return self.api_keys().authenticate(token)
        verifier = self._jwt if self._jwt is not None and not self._jwt_stale() else self._build_jwt()
        if verifier is None:
            raise InvalidToken(f"no usable JWT issuers ({self._jwt_error})")
        return verifier.verify(token)

    def api_keys(self) -> ApiKeyAuthenticator:
        """The API-key path, built on first use."""
        if self._api_keys is None:
            with self._lock:
                if self._api_keys is None:
                    self._api_keys = self._api_keys_factory()
        return self._api_keys

    def _jwt_stale(self) -> bool:
        refresh = self._jwt_refresh_seconds
        return refresh is not None and self._clock() - self._jwt_built_at >= refresh

    def _build_jwt(self) -> JwtVerifier | None:
        with self._lock:
            if self._jwt is not None and self._jwt_stale():
                try:
                    self._jwt = self._jwt_factory()
                except AuthConfigError as exc:
                    self._on_config_error(str(exc))  # the verifier built before keeps answering
                self._jwt_built_at = self._clock()
            elif self._jwt is None and self._jwt_error is None:
                try:
                    self._jwt = self._jwt_factory()
                    self._jwt_built_at = self._clock()
                except AuthConfigError as exc:
                    # Reported once here, and the reason of every JWT refusal after.
                    self._jwt_error = str(exc)
                    self._on_config_error(str(exc))
            return self._jwt

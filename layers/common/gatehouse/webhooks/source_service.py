"""Source use cases behind /v1/webhook-sources: register or replace, read, list, delete, rotate a secret.

Secrets are checked strictly (secret_rules), sealed before they reach the store, and never
returned: an answer shows each secret's kind and lifetime only. A rotation keeps the old
secrets valid for a grace period, then they stop verifying and are pruned at the next write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from gatehouse.errors import ConflictError, NotFoundError, ValidationError
from gatehouse.times import to_rfc3339
from gatehouse.webhooks.catalog import SourceCatalog, open_secrets
from gatehouse.webhooks.payload import TYPE_PATH
from gatehouse.webhooks.records import SOURCE_NAME, SecretMeta, SecretSealer, SourcePage, SourceRecord, SourceStore
from gatehouse.webhooks.schemes import SCHEMES
from gatehouse.webhooks.secret_rules import SecretRefused, generated_secret, secret_kind, signing_key

MAX_SECRETS: Final = 5
DEFAULT_TOLERANCE: Final = 300
MAX_TOLERANCE: Final = 3600
DEFAULT_MAX_BODY_BYTES: Final = 262_144
# The body is stored in the event item (DynamoDB items hold at most 400 KB with their headers).
MAX_BODY_BYTES: Final = 262_144
DEFAULT_GRACE_SECONDS: Final = 86_400
MAX_GRACE_SECONDS: Final = 30 * 86_400
MAX_LIMIT: Final = 100


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", details=[{"field": field, "message": message}])


class WebhookSourcesService:
    def __init__(
        self,
        store: SourceStore,
        sealer: SecretSealer,
        catalog: SourceCatalog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._catalog = catalog
        self._clock = clock

    def put_source(
        self,
        name: str,
        *,
        scheme: str,
        secrets: Sequence[str],
        tolerance_seconds: int = DEFAULT_TOLERANCE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        event_type_path: str | None = None,
        enabled: bool = True,
    ) -> tuple[SourceRecord, bool]:
        """Create or replace the source; True when it is new. The secrets given replace all others."""
        self._check_name(name)
        if scheme not in SCHEMES:
            raise _invalid("scheme", f"must be one of {', '.join(SCHEMES)}")
        if not 1 <= len(secrets) <= MAX_SECRETS:
            raise _invalid("secrets", f"give 1 to {MAX_SECRETS} secrets")
        if len(set(secrets)) != len(secrets):
            raise _invalid("secrets", "the secrets must be distinct")
        for index, secret in enumerate(secrets):
            self._check_secret(scheme, secret, f"secrets.{index}")
        if not 1 <= tolerance_seconds <= MAX_TOLERANCE:
            raise _invalid("toleranceSeconds", f"must be from 1 to {MAX_TOLERANCE}")
        if not 1 <= max_body_bytes <= MAX_BODY_BYTES:
            raise _invalid("maxBodyBytes", f"must be from 1 to {MAX_BODY_BYTES}")
        if event_type_path is not None and not TYPE_PATH.fullmatch(event_type_path):
            raise _invalid("eventTypePath", "must be a dotted path of up to 8 names")
        now = int(self._clock())
        existing = self._store.get(name)
        record = SourceRecord(
            name=name,
            scheme=scheme,
            tolerance_seconds=tolerance_seconds,
            max_body_bytes=max_body_bytes,
            event_type_path=event_type_path,
            enabled=enabled,
            created_at=existing.created_at if existing else to_rfc3339(now),
            updated_at=to_rfc3339(now),
            secrets=tuple(SecretMeta(secret_kind(s), now) for s in secrets),
            sealed_secrets=self._seal(name, list(secrets)),
            version=existing.version + 1 if existing else 1,
        )
        created = self._write(record, existing)
        return record, created

    def get_source(self, name: str) -> SourceRecord:
        record = self._store.get(name) if SOURCE_NAME.fullmatch(name or "") else None
        if record is None:
            raise NotFoundError("No such webhook source.")
        return record

    def list_sources(self, limit: int = 20, cursor: str | None = None) -> SourcePage:
        if not 1 <= limit <= MAX_LIMIT:
            raise _invalid("limit", f"must be from 1 to {MAX_LIMIT}")
        return self._store.list_sources(limit, cursor or None)

    def delete_source(self, name: str) -> None:
        if not SOURCE_NAME.fullmatch(name or "") or not self._store.delete(name):
            raise NotFoundError("No such webhook source.")
        if self._catalog is not None:
            self._catalog.forget(name)

    def rotate_secret(
        self, name: str, secret: str | None = None, grace_period_seconds: int = DEFAULT_GRACE_SECONDS
    ) -> tuple[SourceRecord, str | None]:
        """Add a new secret (given, or generated where the scheme allows); the active ones expire
        after the grace period. Answers the source and the generated secret (shown this once)."""
        if not 0 <= grace_period_seconds <= MAX_GRACE_SECONDS:
            raise _invalid("gracePeriodSeconds", f"must be from 0 to {MAX_GRACE_SECONDS}")
        existing = self.get_source(name)
        generated = None
        if secret is None:
            secret = generated = generated_secret(existing.scheme)
            if secret is None:
                raise _invalid("secret", f"a {existing.scheme} source takes the secret its sender issued")
        self._check_secret(existing.scheme, secret, "secret")
        now = int(self._clock())
        grace_end = now + grace_period_seconds
        kept: list[tuple[SecretMeta, str]] = []
        for meta, value in zip(existing.secrets, open_secrets(existing, self._sealer), strict=True):
            if not meta.active(now):
                continue  # past its grace: pruned
            if value == secret:
                raise ConflictError("This secret is already registered for the source.")
            ends = grace_end if meta.expires_at is None else min(meta.expires_at, grace_end)
            if ends > now:
                kept.append((replace(meta, expires_at=ends), value))
        if len(kept) + 1 > MAX_SECRETS:
            raise ConflictError(f"A source holds at most {MAX_SECRETS} secrets; wait for a grace period to end.")
        kept.append((SecretMeta(secret_kind(secret), now), secret))
        record = replace(
            existing,
            updated_at=to_rfc3339(now),
            secrets=tuple(meta for meta, _ in kept),
            sealed_secrets=self._seal(name, [value for _, value in kept]),
            version=existing.version + 1,
        )
        self._write(record, existing)
        return record, generated

    # --- helpers ---------------------------------------------------------------------------

    def _write(self, record: SourceRecord, existing: SourceRecord | None) -> bool:
        created = self._store.put(record, expected_version=existing.version if existing else 0)
        if self._catalog is not None:
            self._catalog.forget(record.name)
        return created

    def _seal(self, name: str, values: list[str]) -> bytes:
        return self._sealer.seal(name, json.dumps(values).encode())

    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
            raise _invalid("source", "must be 1 to 48 of a-z, 0-9, _ and -, starting with a letter or digit")

    @staticmethod
    def _check_secret(scheme: str, secret: str, field: str) -> None:
        try:
            signing_key(scheme, secret)
        except SecretRefused as error:
            raise _invalid(field, str(error)) from None

"""API keys as answers: the public views of a key (never its secret or hash, but once at creation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import ConfigDict

from gatehouse.keys.records import KeyRecord
from gatehouse.models import ApiModel
from gatehouse.times import from_rfc3339


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(from_rfc3339(value), UTC) if value else None


class _CamelModel(ApiModel):
    model_config = ConfigDict(frozen=True)


class ApiKeyView(_CamelModel):
    """A key as its owner sees it: never the secret, never the hash."""

    id: str
    name: str
    prefix: str
    owner_id: str
    scopes: list[str]
    tier: str
    status: Literal["active", "rotated", "revoked"]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_from: str | None = None
    rotated_to: str | None = None
    grace_until: datetime | None = None

    @classmethod
    def from_record(cls, record: KeyRecord) -> ApiKeyView:
        return cls(
            id=record.id,
            name=record.name,
            prefix=record.prefix,
            owner_id=record.owner_id,
            scopes=sorted(record.scopes),
            tier=record.tier,
            status=record.status,  # type: ignore[arg-type]
            created_at=datetime.fromtimestamp(from_rfc3339(record.created_at), UTC),
            expires_at=_parse_time(record.expires_at),
            revoked_at=_parse_time(record.revoked_at),
            rotated_from=record.rotated_from,
            rotated_to=record.rotated_to,
            grace_until=_parse_time(record.grace_until),
        )

    def to_public(self) -> dict[str, object]:
        """The JSON body: camelCase, RFC 3339 UTC timestamps with Z."""
        return self.model_dump(mode="json", by_alias=True)


class CreatedApiKey(ApiKeyView):
    """The answer to create and rotate: the only time the secret `key` is ever shown."""

    key: str

    @classmethod
    def of(cls, view: ApiKeyView, secret_key: str) -> CreatedApiKey:
        return cls(**view.model_dump(), key=secret_key)


class ApiKeyPage(_CamelModel):
    items: list[ApiKeyView]
    next_cursor: str | None = None

    def to_public(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)

"""Source use cases over in-memory fakes: strict secrets, never returned, rotation with a grace period."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from gatehouse.errors import ConflictError, NotFoundError, ValidationError
from gatehouse.webhooks.catalog import SourceCatalog
from gatehouse.webhooks.records import SourcePage, SourceRecord
from gatehouse.webhooks.schemes.common import HmacKey
from gatehouse.webhooks.source_service import WebhookSourcesService
from gatehouse.webhooks.views import WebhookSourceView

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + base64.b64encode(b"k" * 32).decode()


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, SourceRecord] = {}

    def get(self, name):
        return self.items.get(name)

    def put(self, record, *, expected_version):
        current = self.items.get(record.name)
        if (current.version if current else 0) != expected_version:
            raise ConflictError("changed")
        self.items[record.name] = record
        return expected_version == 0

    def delete(self, name):
        return self.items.pop(name, None) is not None

    def list_sources(self, limit, cursor):
        return SourcePage(sorted(self.items.values(), key=lambda r: r.name)[:limit])


class XorSealer:
    """Reversible and source-bound, like the real envelope (which is tested on moto's KMS)."""

    def seal(self, source, plaintext):
        return bytes(b ^ 0x5A for b in plaintext) + source.encode()

    def open(self, source, sealed):
        assert sealed.endswith(source.encode())
        return bytes(b ^ 0x5A for b in sealed[: -len(source)])


class Clock:
    def __init__(self, now: float = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world():
    store, clock = MemoryStore(), Clock()
    catalog = SourceCatalog(store, XorSealer(), ttl_seconds=0)
    return WebhookSourcesService(store, XorSealer(), catalog, clock=clock), store, catalog, clock


def _hmac_keys(catalog, name, now):
    return [k.key for k in catalog.get(name).keys_at(now) if isinstance(k, HmacKey)]


def test_put_creates_then_replaces_and_never_shows_the_secret(world):
    service, store, _, _ = world
    record, created = service.put_source("shop", scheme="standard", secrets=[SECRET])
    assert created
    again, created_again = service.put_source("shop", scheme="standard", secrets=[SECRET], enabled=False)
    assert not created_again and again.created_at == record.created_at and again.version == 2
    text = WebhookSourceView.from_record(again).model_dump_json()
    assert SECRET not in text and SECRET.encode() not in store.items["shop"].sealed_secrets


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scheme": "nope", "secrets": [SECRET]}, "scheme"),
        ({"scheme": "standard", "secrets": []}, "secrets"),
        ({"scheme": "standard", "secrets": [SECRET, SECRET]}, "secrets"),
        ({"scheme": "standard", "secrets": ["whsec_short"]}, "secrets.0"),
        ({"scheme": "github", "secrets": ["x" * 20], "tolerance_seconds": 0}, "toleranceSeconds"),
        ({"scheme": "github", "secrets": ["x" * 20], "max_body_bytes": 262_145}, "maxBodyBytes"),
        ({"scheme": "github", "secrets": ["x" * 20], "event_type_path": "a..b"}, "eventTypePath"),
    ],
)
def test_put_refuses_what_it_cannot_use(world, kwargs, field):
    service = world[0]
    with pytest.raises(ValidationError) as caught:
        service.put_source("shop", **kwargs)
    assert caught.value.details[0]["field"] == field


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(world):
    service, _, catalog, clock = world
    service.put_source("shop", scheme="standard", secrets=[SECRET])
    record, generated = service.rotate_secret("shop", OTHER, grace_period_seconds=600)
    assert generated is None
    assert [m.expires_at for m in record.secrets] == [clock.now + 600, None]
    old, new = base64.b64decode(SECRET[6:]), base64.b64decode(OTHER[6:])
    assert _hmac_keys(catalog, "shop", clock.now) == [old, new]
    assert _hmac_keys(catalog, "shop", clock.now + 601) == [new]
    # The next write prunes what expired.
    clock.now += 601
    third = "whsec_" + base64.b64encode(b"t" * 32).decode()
    pruned, _ = service.rotate_secret("shop", third, grace_period_seconds=0)
    assert len(pruned.secrets) == 1 and pruned.secrets[0].expires_at is None


def test_rotation_generates_a_secret_where_the_scheme_allows_and_shows_it_once(world):
    service, _, catalog, clock = world
    service.put_source("mine", scheme="hmac-sha256", secrets=["a-long-enough-initial-secret"])
    record, generated = service.rotate_secret("mine")
    assert generated and len(record.secrets) == 2
    assert generated.encode() in _hmac_keys(catalog, "mine", clock.now)
    service.put_source("gh", scheme="github", secrets=["a-long-enough-github-secret"])
    with pytest.raises(ValidationError):
        service.rotate_secret("gh")  # GitHub issues its secrets: Gatehouse cannot choose one


def test_rotation_refuses_a_known_secret_too_many_secrets_and_unknown_sources(world):
    service = world[0]
    service.put_source("shop", scheme="standard", secrets=[SECRET])
    with pytest.raises(ConflictError):
        service.rotate_secret("shop", SECRET)
    for n in range(4):
        service.rotate_secret("shop", "whsec_" + base64.b64encode(bytes([n]) * 32).decode())
    with pytest.raises(ConflictError):
        service.rotate_secret("shop", "whsec_" + base64.b64encode(b"z" * 32).decode())
    with pytest.raises(NotFoundError):
        service.rotate_secret("nobody", SECRET)


def test_concurrent_writers_cannot_both_win(world):
    service, store, _, _ = world
    record, _ = service.put_source("shop", scheme="standard", secrets=[SECRET])
    store.items["shop"] = replace(record, version=record.version + 1)  # someone else wrote meanwhile
    with pytest.raises(ConflictError):
        store.put(replace(record, version=record.version + 1), expected_version=record.version)

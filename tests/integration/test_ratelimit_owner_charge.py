"""A principal's request on real Redis: the owner's credential window shared, one round trip, one slot."""

from __future__ import annotations

import uuid

import pytest
import redis
from redis.crc import key_slot

from gatehouse.principal import Principal
from gatehouse.ratelimit.overrides import CachedOverrideSource, InMemoryOverrides
from gatehouse.ratelimit.policies import PolicyRegistry
from gatehouse.ratelimit.redis_engine import RedisEngine
from gatehouse.ratelimit.service import RateLimiter, RateLimitService

pytestmark = pytest.mark.integration


class CountingConnection(redis.Connection):
    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url, connection_class=CountingConnection, socket_timeout=5)
    yield c
    c.close()


@pytest.fixture
def service(client):
    overrides = InMemoryOverrides()
    limiter = RateLimiter(lambda: RedisEngine(client), overrides)
    return RateLimitService(limiter, PolicyRegistry(), overrides, CachedOverrideSource(overrides, 0))


def test_an_owners_keys_share_credentials_in_one_round_trip_and_one_slot(service, client):
    owner = f"org-{uuid.uuid4().hex}"
    minting = frozenset({"keys:write"})
    keys = [Principal(f"key_{uuid.uuid4().hex[:20]}", owner, "apiKey", "starter", minting) for _ in range(3)]
    service.charge_request(keys[0], "GET /v1/me")  # connection and script cache warm
    CountingConnection.sent = 0
    answers = [service.charge_request(keys[i % 3], "POST /v1/keys") for i in range(6)]
    assert CountingConnection.sent == 6  # one round trip per request, tier and owner windows together
    assert [a.allowed for a in answers] == [True] * 5 + [False]
    assert [a.windows[2].remaining for a in answers] == [4, 3, 2, 1, 0, 0]
    # Every counter the owner's principals touched is in the owner's one cluster slot.
    touched = [k.decode() for k in client.scan_iter(match=f"*{owner}*", count=1000)]
    assert len(touched) == 1 + 3  # the owner's credentials key, each API key's tier key (a key per policy)
    assert len({key_slot(k.encode()) for k in touched}) == 1

"""The per-owner cap on active keys against DynamoDB Local's real transactions: racing creates never pass it."""

from __future__ import annotations

import threading
import uuid

import pytest

from gatehouse.errors import ConflictError
from gatehouse.keys.dynamo import DynamoKeyStore
from gatehouse.keys.records import KeyCapReached, KeyRecord
from gatehouse.times import to_rfc3339
from local.resources import client

pytestmark = pytest.mark.integration

CAP = 3


def new_key(owner: str) -> KeyRecord:
    key_id = f"key_{uuid.uuid4().hex[:20]}"
    return KeyRecord(
        id=key_id,
        name="race",
        prefix="gk_test_race",
        hash=f"hash-{uuid.uuid4().hex}",
        owner_id=owner,
        scopes=("keys:read",),
        tier="free",
        status="active",
        created_at=to_rfc3339(1_800_000_000),
    )


@pytest.fixture
def store(local_stack):
    (table,) = local_stack.template.tables.values()
    return DynamoKeyStore(client("dynamodb", local_stack.dynamodb_endpoint_url), table.name)


def test_racing_creates_never_pass_the_cap(store):
    # Given one owner and more concurrent creators than it has room for,
    owner = f"race-{uuid.uuid4().hex}"
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        try:
            store.create(new_key(owner), max_active=CAP)
            outcomes.append("created")
        except KeyCapReached:
            outcomes.append("full")
        except ConflictError:  # collided more often than it retries: told to try again
            outcomes.append("retry")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then no more than the cap were created, and the count says exactly how many,
    created = outcomes.count("created")
    assert len(outcomes) == 8 and 1 <= created <= CAP, outcomes
    assert len(store.list_by_owner(owner, 100, None).items) == created
    # and the room left is exactly the cap minus those.
    for _ in range(CAP - created):
        store.create(new_key(owner), max_active=CAP)
    with pytest.raises(KeyCapReached):
        store.create(new_key(owner), max_active=CAP)
    # Revoking one makes room for exactly one.
    store.revoke(store.list_by_owner(owner, 1, None).items[0], to_rfc3339(1_800_000_100))
    store.create(new_key(owner), max_active=CAP)
    with pytest.raises(KeyCapReached):
        store.create(new_key(owner), max_active=CAP)

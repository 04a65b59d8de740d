"""DynamoKeyStore against moto's in-process DynamoDB: both items per key, conditional rotate/revoke."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from gatehouse.errors import ConflictError, NotFoundError, ValidationError
from gatehouse.keys.dynamo import DynamoKeyStore, hash_record_item, key_record_item
from gatehouse.keys.records import KeyRecord
from gatehouse.times import from_rfc3339, to_rfc3339

TABLE = "gatehouse-test"


def create_table(client, name=TABLE):
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attr, "AttributeType": "S"}
            for attr in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": f"{prefix}pk", "KeyType": "HASH"},
                    {"AttributeName": f"{prefix}sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, prefix in (("GSI1", "gsi1"), ("GSI2", "gsi2"))
        ],
    )


@pytest.fixture
def client():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield client


@pytest.fixture
def store(client):
    return DynamoKeyStore(client, TABLE)


def record(key_id="key_a", owner="org_1", created=1_800_000_000, **fields):
    values = dict(
        id=key_id,
        name=f"name {key_id}",
        prefix="gk_test_abcd",
        hash=f"hash-{key_id}",
        owner_id=owner,
        scopes=("keys:read",),
        tier="free",
        status="active",
        created_at=to_rfc3339(created),
    )
    return KeyRecord(**(values | fields))


def raw_item(client, pk, sk):
    return client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")


def test_create_writes_the_key_and_the_hash_record(store, client):
    rec = record(expires_at=to_rfc3339(1_900_000_000))
    store.create(rec)
    assert store.get("key_a") == rec
    key_item = raw_item(client, "KEY#key_a", "KEY")
    assert key_item["gsi1pk"] == {"S": "OWNER#org_1"}
    assert key_item["gsi1sk"] == {"S": f"KEY#{rec.created_at}#key_a"}
    assert key_item["gsi2pk"] == {"S": "KEYS"}
    assert "lastUsedAt" not in key_item
    hashed = store.get_hash_record("hash-key_a")
    assert hashed.key_id == "key_a"
    assert hashed.owner_id == "org_1"
    assert hashed.scopes == {"keys:read"}
    assert hashed.status == "active"
    assert hashed.expires_at == 1_900_000_000
    assert raw_item(client, "KEYHASH#hash-key_a", "KEYHASH")["ttl"] == {"N": str(1_900_000_000 + 86400)}


def test_a_key_without_expiry_has_no_ttl(store, client):
    store.create(record())
    assert "ttl" not in raw_item(client, "KEYHASH#hash-key_a", "KEYHASH")
    assert store.get_hash_record("nope") is None
    assert store.get("nope") is None


def test_create_refuses_a_duplicate(store):
    store.create(record())
    with pytest.raises(ConflictError):
        store.create(record())


def test_list_by_owner_pages_newest_first_and_stays_in_the_owner(store):
    for i in range(5):
        store.create(record(f"key_{i}", created=1_800_000_000 + i))
    store.create(record("key_other", owner="org_2"))
    page = store.list_by_owner("org_1", 2, None)
    assert [r.id for r in page.items] == ["key_4", "key_3"]
    page2 = store.list_by_owner("org_1", 2, page.next_cursor)
    assert [r.id for r in page2.items] == ["key_2", "key_1"]
    page3 = store.list_by_owner("org_1", 2, page2.next_cursor)
    assert [r.id for r in page3.items] == ["key_0"]
    assert page3.next_cursor is None
    exact = store.list_by_owner("org_1", 5, None)
    assert len(exact.items) == 5
    assert exact.next_cursor is None  # no cursor to an empty page
    # A cursor never continues into another owner's partition.
    with pytest.raises(ValidationError):
        store.list_by_owner("org_2", 2, page.next_cursor)


def test_list_all_sees_every_owner(store):
    for i, owner in enumerate(["org_1", "org_2", "org_3"]):
        store.create(record(f"key_{i}", owner=owner, created=1_800_000_000 + i))
    page = store.list_all(2, None)
    assert [r.id for r in page.items] == ["key_2", "key_1"]
    rest = store.list_all(2, page.next_cursor)
    assert [r.id for r in rest.items] == ["key_0"]
    assert rest.next_cursor is None


@pytest.mark.parametrize("cursor", ["!!", "e30", "bm90IGpzb24", "W10"])
def test_garbage_cursors_are_a_validation_error(store, cursor):
    with pytest.raises(ValidationError):
        store.list_by_owner("org_1", 2, cursor)
    with pytest.raises(ValidationError):
        store.list_all(2, cursor)


def cursor_of(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).rstrip(b"=").decode()


OWNER_CURSOR = {"pk": "KEY#k1", "sk": "KEY", "gsi1pk": "OWNER#org_1", "gsi1sk": "KEY#2027-01-15T08:00:00Z#k1"}
ALL_CURSOR = {"pk": "KEY#k1", "sk": "KEY", "gsi2pk": "KEYS", "gsi2sk": "2027-01-15T08:00:00Z#k1"}


@pytest.mark.parametrize(
    "change",
    [
        {"gsi1sk": "AAA"},  # outside begins_with(gsi1sk, "KEY#"): DynamoDB's ValidationException
        {"gsi1sk": "KEY#2027-01-15T08:00:00Z#other"},  # not the id of pk
        {"gsi1sk": "KEY#k1"},  # no createdAt
        {"gsi1sk": "KEY##k1"},
        {"gsi1sk": "KEY#a#b#k1"},
        {"pk": "KEY#", "gsi1sk": "KEY#2027-01-15T08:00:00Z#"},
        {"pk": "KEYHASH#k1"},
        {"sk": "KEYHASH"},
        {"gsi1pk": "OWNER#org_2"},
        {"gsi1sk": 5},
        {"extra": "x"},
        {"gsi2pk": "KEYS"},
    ],
)
def test_forged_owner_cursors_are_a_validation_error_on_the_cursor(store, change):
    with pytest.raises(ValidationError) as refused:
        store.list_by_owner("org_1", 2, cursor_of(OWNER_CURSOR | change))
    assert refused.value.details == [{"field": "cursor", "message": "invalid"}]


@pytest.mark.parametrize(
    "change",
    [
        {"gsi2sk": "AAA"},
        {"gsi2sk": "2027-01-15T08:00:00Z#other"},
        {"gsi2sk": "#k1"},
        {"gsi2pk": "OWNER#org_1"},
        {"pk": "KEY#a#k1", "gsi2sk": "2027-01-15T08:00:00Z#a#k1"},
    ],
)
def test_forged_admin_cursors_are_a_validation_error_on_the_cursor(store, change):
    with pytest.raises(ValidationError) as refused:
        store.list_all(2, cursor_of(ALL_CURSOR | change))
    assert refused.value.details == [{"field": "cursor", "message": "invalid"}]


def test_well_shaped_cursors_are_accepted(store):
    assert store.list_by_owner("org_1", 2, cursor_of(OWNER_CURSOR)).items == []
    assert store.list_all(2, cursor_of(ALL_CURSOR)).items == []


class RefusingClient:
    """A DynamoDB client whose every query fails with the given error code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def query(self, **_):
        raise ClientError({"Error": {"Code": self.code, "Message": "refused"}}, "Query")


def test_a_validation_exception_on_a_cursor_query_is_a_400_on_the_cursor():
    store = DynamoKeyStore(RefusingClient("ValidationException"), TABLE)
    with pytest.raises(ValidationError) as refused:
        store.list_by_owner("org_1", 2, cursor_of(OWNER_CURSOR))
    assert refused.value.details == [{"field": "cursor", "message": "invalid"}]
    with pytest.raises(ValidationError):
        store.list_all(2, cursor_of(ALL_CURSOR))
    # Without a cursor it is the server's own fault, and other errors are never masked.
    with pytest.raises(ClientError):
        store.list_by_owner("org_1", 2, None)
    with pytest.raises(ClientError):
        DynamoKeyStore(RefusingClient("ProvisionedThroughputExceededException"), TABLE).list_all(
            2, cursor_of(ALL_CURSOR)
        )


def test_rotate_marks_the_old_key_and_writes_the_new_one(store, client):
    old = record(expires_at=to_rfc3339(1_900_000_000))
    store.create(old)
    new = record("key_b", hash="hash-key_b", rotated_from="key_a", expires_at=old.expires_at)
    grace = to_rfc3339(1_800_086_400)
    store.rotate(old, new, grace)
    old_now = store.get("key_a")
    assert (old_now.status, old_now.rotated_to, old_now.grace_until) == ("rotated", "key_b", grace)
    old_hash = store.get_hash_record("hash-key_a")
    assert (old_hash.status, old_hash.grace_until) == ("rotated", 1_800_086_400)
    assert raw_item(client, "KEYHASH#hash-key_a", "KEYHASH")["ttl"] == {"N": str(1_800_086_400 + 86400)}
    assert store.get("key_b").rotated_from == "key_a"
    assert store.get_hash_record("hash-key_b").status == "active"


def test_rotating_twice_or_a_revoked_key_conflicts(store):
    old = record()
    store.create(old)
    store.rotate(old, record("key_b", hash="hash-key_b"), to_rfc3339(1_800_000_100))
    # A second rotation from the same stale read (a concurrent caller) loses.
    with pytest.raises(ConflictError):
        store.rotate(old, record("key_c", hash="hash-key_c"), to_rfc3339(1_800_000_100))
    assert store.get("key_c") is None
    assert store.get_hash_record("hash-key_c") is None
    revoked = record("key_r", hash="hash-key_r")
    store.create(revoked)
    store.revoke(revoked, to_rfc3339(1_800_000_050))
    with pytest.raises(ConflictError):
        store.rotate(revoked, record("key_d", hash="hash-key_d"), to_rfc3339(1_800_000_100))


def test_rotating_a_missing_key_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.rotate(record("ghost"), record("key_b", hash="hash-key_b"), to_rfc3339(1_800_000_100))


def test_revoke_updates_both_items_and_is_idempotent(store, client):
    rec = record()
    store.create(rec)
    at = to_rfc3339(1_800_000_500)
    revoked = store.revoke(rec, at)
    assert (revoked.status, revoked.revoked_at) == ("revoked", at)
    assert store.get_hash_record("hash-key_a").status == "revoked"
    assert raw_item(client, "KEYHASH#hash-key_a", "KEYHASH")["ttl"] == {"N": str(from_rfc3339(at) + 86400)}
    again = store.revoke(rec, to_rfc3339(1_800_000_999))
    assert again.revoked_at == at  # unchanged: the first revocation stands


def test_revoking_a_rotated_key_ends_its_grace(store):
    old = record()
    store.create(old)
    store.rotate(old, record("key_b", hash="hash-key_b"), to_rfc3339(1_800_086_400))
    store.revoke(store.get("key_a"), to_rfc3339(1_800_000_100))
    assert store.get("key_a").status == "revoked"
    assert store.get_hash_record("hash-key_a").status == "revoked"
    assert store.get_hash_record("hash-key_b").status == "active"


def test_revoke_when_the_hash_record_is_already_gone(store, client):
    rec = record()
    store.create(rec)
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "KEYHASH#hash-key_a"}, "sk": {"S": "KEYHASH"}})
    assert store.revoke(rec, to_rfc3339(1_800_000_100)).status == "revoked"
    assert raw_item(client, "KEYHASH#hash-key_a", "KEYHASH") is None  # no stub item created


def test_revoking_a_missing_key_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.revoke(record("ghost"), to_rfc3339(1_800_000_100))


# -- the per-owner count of active keys (docs/data-model.md) ----------------------------------------------


def active_count(client, owner="org_1"):
    item = raw_item(client, f"OWNER#{owner}", "KEYCOUNT")
    return int(item["activeKeys"]["N"]) if item else 0


def test_create_counts_the_owners_active_keys_and_refuses_past_the_cap(store, client):
    from gatehouse.keys.records import KeyCapReached

    store.create(record("key_a"), max_active=2)
    store.create(record("key_b", hash="hash-key_b"), max_active=2)
    assert active_count(client) == 2
    with pytest.raises(KeyCapReached):
        store.create(record("key_c", hash="hash-key_c"), max_active=2)
    # Nothing of the refused key was written, and the count is unchanged.
    assert store.get("key_c") is None and store.get_hash_record("hash-key_c") is None
    assert active_count(client) == 2
    # Another owner has its own count.
    store.create(record("key_x", owner="org_2", hash="hash-key_x"), max_active=2)
    assert (active_count(client), active_count(client, "org_2")) == (2, 1)


def test_rotation_keeps_and_revocation_lowers_the_count(store, client):
    old = record()
    store.create(old, max_active=2)
    store.rotate(old, record("key_b", hash="hash-key_b"), to_rfc3339(1_800_086_400))
    assert active_count(client) == 1  # one active key replaced by another
    store.revoke(store.get("key_a"), to_rfc3339(1_800_000_100))
    assert active_count(client) == 1  # the rotated-away key was no longer counted
    store.revoke(store.get("key_b"), to_rfc3339(1_800_000_100))
    assert active_count(client) == 0
    store.revoke(store.get("key_b"), to_rfc3339(1_800_000_200))  # idempotent: counted once
    assert active_count(client) == 0


def test_revoking_from_a_stale_read_counts_what_the_key_is_now(store, client):
    # A revoke that read the key active while a concurrent rotation moved it away.
    old = record()
    store.create(old)
    store.rotate(old, record("key_b", hash="hash-key_b"), to_rfc3339(1_800_086_400))
    assert store.revoke(old, to_rfc3339(1_800_000_100)).status == "revoked"
    assert active_count(client) == 1  # key_b is still active and counted


def test_a_count_from_before_counting_began_never_goes_negative(store, client):
    # Keys written before the count existed are not in it: revoking one leaves the count at zero.
    legacy = record()
    client.put_item(TableName=TABLE, Item=key_record_item(legacy))
    client.put_item(TableName=TABLE, Item=hash_record_item(legacy))
    assert store.revoke(legacy, to_rfc3339(1_800_000_100)).status == "revoked"
    assert active_count(client) == 0
    assert store.get_hash_record("hash-key_a").status == "revoked"


def test_a_create_colliding_on_the_owners_count_is_tried_again(client):
    # Two transactions on one owner's count at once: DynamoDB cancels one with TransactionConflict.
    class Colliding:
        def __init__(self, times):
            self.left = times

        def transact_write_items(self, **kwargs):
            if self.left:
                self.left -= 1
                raise ClientError(
                    {
                        "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                        "CancellationReasons": [{"Code": "None"}, {"Code": "None"}, {"Code": "TransactionConflict"}],
                    },
                    "TransactWriteItems",
                )
            return client.transact_write_items(**kwargs)

        def __getattr__(self, name):
            return getattr(client, name)

    DynamoKeyStore(Colliding(2), TABLE).create(record(), max_active=5)
    assert active_count(client) == 1
    with pytest.raises(ConflictError):
        DynamoKeyStore(Colliding(3), TABLE).create(record("key_b", hash="hash-key_b"), max_active=5)
    assert active_count(client) == 1

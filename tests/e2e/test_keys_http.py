"""API keys over real HTTP: the API-key lifecycle, escalation and object-level access, error envelopes."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gatehouse.times import from_rfc3339
from tests.e2e.tokens import (
    assert_envelope,
    assert_gateway_forbidden,
    b64json,
    call,
    detail_fields,
    mint,
    poll,
    stack_env,
    wait_out_authorizer_cache,
)

FORBIDDEN_FIELDS = {"key", "hash", "keyHash", "secret"}


@pytest.fixture
def info(local_stack) -> dict[str, Any]:
    return local_stack.bootstrap_info


class LogCapture(logging.Handler):
    """Every record of every logger the handlers use, at DEBUG, whatever their propagate setting."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:
            self.lines.append(repr(record.msg))
        self.lines.append(repr(record.__dict__))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def all_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    names = ["", "gatehouse", "gatehouse.auth", "gatehouse.ratelimit", "aws_lambda_powertools"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(capture)
    for lg in loggers[1:]:
        lg.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(capture)
            lg.setLevel(level)


@pytest.fixture
def no_key_cache(local_stack) -> Iterator[None]:
    """API_KEY_CACHE_SECONDS=0, so rotation and revocation show within the 1 s authorizer TTL."""
    with stack_env(local_stack, API_KEY_CACHE_SECONDS="0"):
        yield


def principal(info: dict[str, Any], scope: str = "keys:read keys:write", tier: str = "enterprise") -> tuple[str, str]:
    sub = f"e2e-{uuid.uuid4().hex}"
    return sub, mint(info, sub=sub, scope=scope, tier=tier)


def create(stack, token: str, **body: Any) -> dict[str, Any]:
    body = {"name": "e2e", "scopes": ["keys:read"], **body}
    response = call(stack, "POST", "/v1/keys", token, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_no_secret(response, *secrets: str) -> None:
    text = response.text
    for secret in secrets:
        assert secret not in text, f"a secret appears in {response.request.method} {response.request.url}"

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            assert not (set(value) & FORBIDDEN_FIELDS), sorted(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.json())


def me(stack, token: str):
    return call(stack, "GET", "/v1/me", token)


# -- the lifecycle ----------------------------------------------------------------------------------------


def test_key_lifecycle_create_use_list_rotate_revoke(local_stack, info, no_key_cache, all_logs, capfd):
    from gatehouse.keys import api_key_format

    owner_id, owner = principal(info)

    # create: 201, the secret once, its prefix, an id
    created = call(
        local_stack, "POST", "/v1/keys", owner, json={"name": "ci deploy", "scopes": ["keys:read", "keys:write"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key, key_id = body["key"], body["id"]
    assert api_key_format.validate_format(key, "test")
    assert body["prefix"] == key[:12]
    assert body["ownerId"] == owner_id
    assert body["scopes"] == ["keys:read", "keys:write"]
    assert body["tier"] == "enterprise"  # the caller's own tier
    assert body["status"] == "active"
    assert "hash" not in body and created.text.count(key) == 1
    assert created.headers["X-Request-Id"]
    secrets = [key, api_key_format.hash_key(key)]

    # use it
    response = me(local_stack, key)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "principalId": key_id,
        "ownerId": owner_id,
        "authType": "apiKey",
        "tier": "enterprise",
        "scopes": ["keys:read", "keys:write"],
        "keyId": key_id,
        "expiresAt": None,
    }
    assert_no_secret(response, *secrets)

    # list and get never show the secret nor its hash (with the JWT and with the key itself)
    for token in (owner, key):
        listing = call(local_stack, "GET", "/v1/keys", token)
        assert listing.status_code == 200, listing.text
        assert [item["id"] for item in listing.json()["items"]] == [key_id]
        assert listing.json()["nextCursor"] is None
        assert_no_secret(listing, *secrets)
        one = call(local_stack, "GET", f"/v1/keys/{key_id}", token)
        assert one.status_code == 200, one.text
        assert one.json()["id"] == key_id and one.json()["prefix"] == key[:12]
        assert_no_secret(one, *secrets)

    # rotate with a 3 s grace: both keys work during it, only the new one after
    rotated = call(local_stack, "POST", f"/v1/keys/{key_id}/rotate", owner, json={"gracePeriodSeconds": 3})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    new_key, new_id = new["key"], new["id"]
    assert new_id != key_id and new_key != key
    assert new["prefix"] == new_key[:12]
    assert new["rotatedFrom"] == key_id
    assert new["scopes"] == ["keys:read", "keys:write"]
    assert_no_secret_but(rotated, new_key, key, api_key_format.hash_key(key), api_key_format.hash_key(new_key))
    secrets += [new_key, api_key_format.hash_key(new_key)]

    assert me(local_stack, key).status_code == 200
    assert me(local_stack, new_key).json()["keyId"] == new_id
    old_view = call(local_stack, "GET", f"/v1/keys/{key_id}", owner)
    assert old_view.json()["status"] == "rotated"
    assert old_view.json()["rotatedTo"] == new_id
    assert old_view.json()["graceUntil"]
    assert_no_secret(old_view, *secrets)

    # after the grace (3 s) plus the 1 s authorizer cache TTL, the old key is refused, and not before
    # the grace it was given ended (graceUntil, not the moment this test read the answer)
    grace_until = from_rfc3339(old_view.json()["graceUntil"])
    sent_at: list[float] = []

    def refused() -> bool:
        sent_at.append(time.time())  # when the request left: a refusal decided before graceUntil fails
        return me(local_stack, key).status_code == 403

    poll(refused, timeout=30)
    assert sent_at[-1] >= grace_until, "the old key stopped before its grace period ended"
    assert_gateway_forbidden(me(local_stack, key))
    assert me(local_stack, new_key).status_code == 200

    listing = call(local_stack, "GET", "/v1/keys", owner)
    assert {item["id"] for item in listing.json()["items"]} == {key_id, new_id}
    assert_no_secret(listing, *secrets)

    # revoke: the answer shows the revoked key (no secret); refused from then on, within the TTLs
    revoked = call(local_stack, "DELETE", f"/v1/keys/{new_id}", owner)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["revokedAt"]
    assert_no_secret(revoked, *secrets)
    # refused from the first request after the authorizer cache TTL, however long the requests take
    wait_out_authorizer_cache(local_stack, time.monotonic())
    assert_gateway_forbidden(me(local_stack, new_key))
    assert_gateway_forbidden(call(local_stack, "GET", "/v1/keys", new_key))
    again = call(local_stack, "DELETE", f"/v1/keys/{new_id}", owner)  # idempotent
    assert again.status_code == 200 and again.json()["status"] == "revoked"
    assert_no_secret(again, *secrets)
    # a revoked key cannot be rotated back to life
    conflict = call(local_stack, "POST", f"/v1/keys/{new_id}/rotate", owner, json={"gracePeriodSeconds": 0})
    assert_envelope(conflict, 409, "CONFLICT")
    assert_no_secret(conflict, *secrets)

    # the secrets never reached a log line (handlers and authorizer run in-process)
    out, err = capfd.readouterr()
    logged = "\n".join([all_logs.text, out, err])
    assert all_logs.lines, "the log capture saw nothing: it would prove nothing"
    for secret in (key, new_key):
        assert secret not in logged
    assert owner not in logged  # nor the bearer JWT


def assert_no_secret_but(response, allowed: str, *secrets: str) -> None:
    """The create/rotate answer shows its own new secret once, and nothing else secret."""
    assert response.text.count(allowed) == 1
    for secret in secrets:
        assert secret not in response.text


def test_admin_key_sees_every_owners_keys(local_stack, info):
    _, owner = principal(info)
    created = create(local_stack, owner)
    admin = info["adminKey"]
    one = call(local_stack, "GET", f"/v1/keys/{created['id']}", admin)
    assert one.status_code == 200
    assert_no_secret(one, created["key"])
    listing = call(local_stack, "GET", "/v1/keys?limit=100", admin)
    assert listing.status_code == 200
    assert_no_secret(listing, created["key"], info["adminKey"])


def test_a_forged_cursor_outside_the_query_is_400_not_500(local_stack, info):
    # Well-formed JSON in the caller's own partition, but a start key DynamoDB finds outside
    # the query's boundaries (it answered ValidationException, once a 500).
    sub, owner = principal(info)
    create(local_stack, owner)
    forged = [
        {"pk": "KEY#zz", "sk": "KEY", "gsi1pk": f"OWNER#{sub}", "gsi1sk": "AAA"},
        {"pk": "KEY#zz", "sk": "KEY", "gsi1pk": f"OWNER#{sub}", "gsi1sk": "KEY#2026-01-01T00:00:00Z#other"},
        {"pk": "KEY#zz", "sk": "KEY", "gsi1pk": f"OWNER#{sub}", "gsi1sk": "KEY#2026-01-01T00:00:00Z#zz", "x": "y"},
    ]
    for cursor in forged:
        response = call(local_stack, "GET", "/v1/keys", owner, params={"cursor": b64json(cursor)})
        body = assert_envelope(response, 400, "VALIDATION_ERROR")
        assert detail_fields(body) == {"cursor"}, body
    # The admin list (every key) checks its own index the same way.
    admin_forged = {"pk": "KEY#zz", "sk": "KEY", "gsi2pk": "KEYS", "gsi2sk": "AAA"}
    response = call(local_stack, "GET", "/v1/keys", info["adminKey"], params={"cursor": b64json(admin_forged)})
    assert detail_fields(assert_envelope(response, 400, "VALIDATION_ERROR")) == {"cursor"}
    # A real cursor still pages on.
    create(local_stack, owner)
    first = call(local_stack, "GET", "/v1/keys?limit=1", owner).json()
    assert first["nextCursor"]
    second = call(local_stack, "GET", "/v1/keys", owner, params={"limit": 1, "cursor": first["nextCursor"]})
    assert second.status_code == 200, second.text
    assert second.json()["items"][0]["id"] != first["items"][0]["id"]


# -- privilege escalation ---------------------------------------------------------------------------------


def test_keys_write_without_admin_cannot_grant_a_scope_it_lacks(local_stack, info):
    _, writer = principal(info, scope="keys:write keys:read", tier="starter")
    response = call(local_stack, "POST", "/v1/keys", writer, json={"name": "up", "scopes": ["keys:read", "admin"]})
    body = assert_envelope(response, 403, "AUTHORIZATION_ERROR")
    assert detail_fields(body) == {"scopes"}
    response = call(local_stack, "POST", "/v1/keys", writer, json={"name": "up", "scopes": ["ratelimit:admin"]})
    assert detail_fields(assert_envelope(response, 403, "AUTHORIZATION_ERROR")) == {"scopes"}


def test_keys_write_without_admin_cannot_set_tier_or_owner(local_stack, info):
    writer_id, writer = principal(info, scope="keys:write keys:read", tier="starter")
    response = call(
        local_stack, "POST", "/v1/keys", writer, json={"name": "t", "scopes": ["keys:read"], "tier": "enterprise"}
    )
    assert detail_fields(assert_envelope(response, 403, "AUTHORIZATION_ERROR")) == {"tier"}
    response = call(
        local_stack, "POST", "/v1/keys", writer, json={"name": "o", "scopes": ["keys:read"], "ownerId": "victim"}
    )
    assert detail_fields(assert_envelope(response, 403, "AUTHORIZATION_ERROR")) == {"ownerId"}
    # Nothing was created by the refusals.
    assert call(local_stack, "GET", "/v1/keys", writer).json()["items"] == []
    # Its own tier and owner are no escalation.
    own = create(local_stack, writer, tier="starter", ownerId=writer_id)
    assert own["tier"] == "starter" and own["ownerId"] == writer_id


def test_a_key_cannot_mint_a_key_with_more_scopes_than_itself(local_stack, info):
    _, owner = principal(info, scope="admin", tier="starter")
    writer_key = create(local_stack, owner, scopes=["keys:write"])["key"]
    response = call(local_stack, "POST", "/v1/keys", writer_key, json={"name": "x", "scopes": ["keys:read"]})
    assert detail_fields(assert_envelope(response, 403, "AUTHORIZATION_ERROR")) == {"scopes"}


def test_an_expiring_key_cannot_mint_a_key_that_outlives_it(local_stack, info):
    """A temporary (or leaked) key with keys:write cannot mint itself a permanent key."""
    from datetime import UTC, datetime

    admin_id, admin = principal(info, scope="admin")
    # Another admin makes the owner's permanent key: one owner mints at most 5 credentials per 15 minutes.
    _, other_admin = principal(info, scope="admin")
    in_an_hour = datetime.fromtimestamp(int(time.time()) + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parent = create(local_stack, admin, scopes=["keys:read", "keys:write"], expiresAt=in_an_hour)
    assert parent["expiresAt"] == in_an_hour

    # /v1/me as the parent shows when it stops working; a JWT has no such limit.
    mine = me(local_stack, parent["key"])
    assert mine.status_code == 200, mine.text
    assert mine.json()["expiresAt"] == in_an_hour
    assert me(local_stack, admin).json()["expiresAt"] is None

    # No expiresAt asked, or a later one: 201, capped to the parent's, and the answer says so.
    child = create(local_stack, parent["key"], name="child")
    assert child["expiresAt"] == in_an_hour
    later = create(local_stack, parent["key"], name="later", expiresAt="2099-01-01T00:00:00Z")
    assert later["expiresAt"] == in_an_hour
    assert call(local_stack, "GET", f"/v1/keys/{child['id']}", admin).json()["expiresAt"] == in_an_hour
    assert me(local_stack, child["key"]).json()["expiresAt"] == in_an_hour

    # Rotating a permanent key with the temporary one gives no permanent secret either.
    permanent = create(local_stack, other_admin, name="permanent", scopes=["keys:read"], ownerId=admin_id)
    assert permanent["expiresAt"] is None
    rotated = call(local_stack, "POST", f"/v1/keys/{permanent['id']}/rotate", parent["key"], json={})
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["expiresAt"] == in_an_hour

    # The JWT that made the parent still mints a long-lived key, as intended.
    assert create(local_stack, admin, name="long-lived")["expiresAt"] is None


def test_another_owners_key_is_404_like_a_missing_one(local_stack, info):
    _, alice = principal(info)
    _, mallory = principal(info, scope="keys:read keys:write")
    victim = create(local_stack, alice, scopes=["keys:read"])
    missing_id = "key_" + "0" * 20

    answers = []
    for key_id in (victim["id"], missing_id):
        answers.append(
            [
                call(local_stack, "GET", f"/v1/keys/{key_id}", mallory),
                call(local_stack, "DELETE", f"/v1/keys/{key_id}", mallory),
                call(local_stack, "POST", f"/v1/keys/{key_id}/rotate", mallory, json={"gracePeriodSeconds": 0}),
            ]
        )
    for theirs, missing in zip(*answers, strict=True):
        a = assert_envelope(theirs, 404, "NOT_FOUND")
        b = assert_envelope(missing, 404, "NOT_FOUND")
        assert a["error"] == b["error"]  # indistinguishable
        assert_no_secret(theirs, victim["key"])
    # Mallory's list does not show it; Alice's key is untouched and still works.
    assert call(local_stack, "GET", "/v1/keys", mallory).json()["items"] == []
    assert call(local_stack, "GET", f"/v1/keys/{victim['id']}", alice).json()["status"] == "active"
    assert me(local_stack, victim["key"]).status_code == 200


def test_without_keys_read_listing_is_403_from_the_handler(local_stack, info):
    _, reader = principal(info, scope="ratelimit:check metrics:read")
    rid = f"e2e-{uuid.uuid4().hex}"
    response = call(local_stack, "GET", "/v1/keys", reader, headers={"X-Request-Id": rid})
    body = assert_envelope(response, 403, "AUTHORIZATION_ERROR")
    assert body["requestId"] == rid
    assert detail_fields(body) == {"scope"}
    assert_envelope(call(local_stack, "GET", f"/v1/keys/key_{'0' * 20}", reader), 403, "AUTHORIZATION_ERROR")
    # keys:read alone does not allow writes either
    _, read_only = principal(info, scope="keys:read")
    response = call(local_stack, "POST", "/v1/keys", read_only, json={"name": "x", "scopes": ["keys:read"]})
    assert_envelope(response, 403, "AUTHORIZATION_ERROR")
    assert_envelope(call(local_stack, "DELETE", f"/v1/keys/key_{'0' * 20}", read_only), 403, "AUTHORIZATION_ERROR")


def test_a_cached_allow_on_me_does_not_open_the_keys_routes(local_stack, info):
    _, token = principal(info, scope="ratelimit:check")
    local_stack.emulator.clear_authorizer_cache()
    before = local_stack.emulator.authorizer_invocations
    started = time.monotonic()
    assert me(local_stack, token).status_code == 200
    listing = call(local_stack, "GET", "/v1/keys", token)
    elapsed = time.monotonic() - started
    assert_envelope(listing, 403, "AUTHORIZATION_ERROR")
    if elapsed < 0.9:  # inside the 1 s TTL the second call used the cached allow
        assert local_stack.emulator.authorizer_invocations == before + 1
    # Same with an API key lacking keys:read.
    _, owner = principal(info, scope="admin")
    key = create(local_stack, owner, scopes=["ratelimit:check"])["key"]
    assert me(local_stack, key).status_code == 200
    assert_envelope(call(local_stack, "GET", "/v1/keys", key), 403, "AUTHORIZATION_ERROR")
    assert_envelope(call(local_stack, "POST", "/v1/keys", key, json={"name": "x", "scopes": ["ratelimit:check"]}),
                    403, "AUTHORIZATION_ERROR")  # fmt: skip


# -- error envelopes --------------------------------------------------------------------------------------


def test_malformed_json_body_is_400(local_stack, info):
    _, token = principal(info)
    response = call(
        local_stack,
        "POST",
        "/v1/keys",
        token,
        data=b'{"name": "x", "scopes": [',
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "VALIDATION_ERROR")


def test_wrong_content_type_is_415(local_stack, info):
    _, token = principal(info)
    body = json.dumps({"name": "x", "scopes": ["keys:read"]})
    response = call(local_stack, "POST", "/v1/keys", token, data=body, headers={"Content-Type": "text/plain"})
    assert detail_fields(assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")) == {"content-type"}
    response = call(
        local_stack, "POST", "/v1/keys", token, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unknown_fields_are_400(local_stack, info):
    _, token = principal(info)
    response = call(
        local_stack, "POST", "/v1/keys", token, json={"name": "x", "scopes": ["keys:read"], "isAdmin": True}
    )
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert any("isAdmin" in field for field in detail_fields(body)), body


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/v1/keys", {"name": "x"}),
        ("POST", "/v1/keys", {"name": "", "scopes": ["keys:read"]}),
        ("POST", "/v1/keys", {"name": "x", "scopes": []}),
        ("POST", "/v1/keys", {"name": "x", "scopes": ["no:such:scope"]}),
        ("POST", "/v1/keys", {"name": "x", "scopes": "keys:read"}),
        ("POST", "/v1/keys", [1, 2]),
        ("POST", "/v1/keys", {"name": "x", "scopes": ["keys:read"], "expiresAt": "2001-01-01T00:00:00Z"}),
        ("POST", "/v1/keys", {"name": "x", "scopes": ["keys:read"], "expiresAt": "tomorrow"}),
        ("POST", "/v1/keys", {"name": "x", "scopes": ["keys:read"], "tier": "platinum"}),
        ("GET", "/v1/keys?limit=1000", None),
        ("GET", "/v1/keys?limit=zero", None),
        ("GET", "/v1/keys/bad!id", None),
        ("POST", "/v1/keys/key_00000000000000000000/rotate", {"gracePeriodSeconds": -1}),
        ("POST", "/v1/keys/key_00000000000000000000/rotate", {"gracePeriodSeconds": "soon"}),
        # Strict integers: none of these is read as a number of seconds (the key does not exist,
        # so a lax reading would answer 404 instead of 400).
        ("POST", "/v1/keys/key_00000000000000000000/rotate", {"gracePeriodSeconds": True}),
        ("POST", "/v1/keys/key_00000000000000000000/rotate", {"gracePeriodSeconds": "60"}),
        ("POST", "/v1/keys/key_00000000000000000000/rotate", {"gracePeriodSeconds": 60.0}),
    ],
)
def test_invalid_requests_are_400_envelopes(local_stack, info, method, path, payload):
    _, token = principal(info, scope="admin")
    kwargs = {"json": payload} if payload is not None else {}
    response = call(local_stack, method, path, token, **kwargs)
    assert_envelope(response, 400, "VALIDATION_ERROR")


def test_an_empty_post_body_is_400_not_500(local_stack, info):
    _, token = principal(info)
    response = call(local_stack, "POST", "/v1/keys", token, headers={"Content-Type": "application/json"})
    assert_envelope(response, 400, "VALIDATION_ERROR")


def test_a_malformed_request_id_is_replaced_and_echoed_consistently(local_stack, info):
    _, token = principal(info, scope="ratelimit:check")
    response = call(local_stack, "GET", "/v1/keys", token, headers={"X-Request-Id": "bad id with spaces"})
    body = assert_envelope(response, 403, "AUTHORIZATION_ERROR")
    assert body["requestId"] != "bad id with spaces"


def test_without_a_caller_request_id_every_error_body_matches_its_header(local_stack, info):
    """With no (or a malformed) caller X-Request-Id, the id is new but one and the same in both places.

    Covers the errors raised inside the resolver (validation, domain 403/404/409), not only the guards'.
    """
    _, token = principal(info, scope="keys:read keys:write", tier="starter")
    answers = [
        call(local_stack, "GET", f"/v1/keys/key_{'0' * 20}", token),  # NOT_FOUND from the domain
        call(local_stack, "POST", "/v1/keys", token, json={"name": "x", "scopes": ["admin"]}),  # 403 from the domain
        call(local_stack, "POST", "/v1/keys", token, json={"name": "x"}),  # 400 from request validation
        call(local_stack, "GET", "/v1/keys?limit=0", token),  # 400 from query validation
        call(local_stack, "GET", "/v1/keys/bad!id", token, headers={"X-Request-Id": "not valid!"}),
    ]
    mismatched = [
        (r.request.method, r.request.path_url, r.headers.get("X-Request-Id"), r.json().get("requestId"))
        for r in answers
        if r.headers.get("X-Request-Id") != r.json().get("requestId")
    ]
    assert not mismatched, mismatched
    assert len({r.headers["X-Request-Id"] for r in answers}) == len(answers)  # a new id per request


# -- hardening (issue 8): shared credential budget, stale allows, tiers on rotation, the key cap ------------


def test_one_owners_keys_and_tokens_share_the_credential_budget(local_stack, info):
    # Given an owner's JWT and keys it minted, each able to mint the next (a key's principal is its own id),
    sub, owner = principal(info, tier="starter")
    first = create(local_stack, owner, scopes=["keys:read", "keys:write"])  # 1
    second = create(local_stack, first["key"], scopes=["keys:read", "keys:write"])  # 2
    third = create(local_stack, second["key"], scopes=["keys:read"])  # 3
    rotated = call(local_stack, "POST", f"/v1/keys/{third['id']}/rotate", owner, json={})  # 4
    assert rotated.status_code == 201, rotated.text
    fifth = call(local_stack, "POST", "/v1/keys", first["key"], json={"name": "5", "scopes": ["keys:read"]})
    assert fifth.status_code == 201, fifth.text
    assert fifth.headers["RateLimit"].startswith('"credentials";r=0;')
    # When any of them asks for a sixth credential within the 15 minutes, then it is 429,
    for token in (second["key"], first["key"], owner):
        refused = call(local_stack, "POST", "/v1/keys", token, json={"name": "6", "scopes": ["keys:read"]})
        body = assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")
        assert refused.headers["RateLimit"].startswith('"credentials";r=0;'), body
        assert int(refused.headers["Retry-After"]) >= 1
    refused = call(local_stack, "POST", f"/v1/keys/{first['id']}/rotate", second["key"], json={})
    assert_envelope(refused, 429, "RATE_LIMIT_EXCEEDED")
    # and nothing was minted by the refusals; the owner's other routes still answer,
    listing = call(local_stack, "GET", "/v1/keys", owner)
    assert len(listing.json()["items"]) == 5  # first, second, third (rotated), its successor, fifth
    assert me(local_stack, second["key"]).json()["ownerId"] == sub
    # while another owner's budget is its own.
    _, stranger = principal(info, tier="starter")
    create(local_stack, stranger)


def test_a_revoked_key_is_refused_on_create_while_its_allow_is_cached(local_stack, info):
    # The authorizer's own key cache is made to outlast the test, so every call below reaches the
    # handlers on a cached allow, exactly as within API Gateway's cache TTL after a revocation.
    _, owner = principal(info)
    with stack_env(local_stack, API_KEY_CACHE_SECONDS="3600"):
        doomed = create(local_stack, owner, scopes=["keys:read", "keys:write"])
        target = create(local_stack, owner, scopes=["keys:read"])
        assert me(local_stack, doomed["key"]).status_code == 200  # its allow is cached now
        assert call(local_stack, "DELETE", f"/v1/keys/{doomed['id']}", owner).status_code == 200

        assert me(local_stack, doomed["key"]).status_code == 200  # still allowed at the edge
        refused = call(local_stack, "POST", "/v1/keys", doomed["key"], json={"name": "x", "scopes": ["keys:read"]})
        assert_envelope(refused, 401, "AUTHENTICATION_ERROR")
        refused = call(local_stack, "POST", f"/v1/keys/{target['id']}/rotate", doomed["key"], json={})
        assert_envelope(refused, 401, "AUTHENTICATION_ERROR")

        listing = call(local_stack, "GET", "/v1/keys", owner).json()["items"]
        assert {item["id"] for item in listing} == {doomed["id"], target["id"]}
        assert call(local_stack, "GET", f"/v1/keys/{target['id']}", owner).json()["status"] == "active"


def test_a_non_admin_cannot_rotate_a_key_into_a_tier_it_could_not_set(local_stack, info):
    # Given an admin gave a starter owner an enterprise key,
    sub, starter = principal(info, tier="starter")
    _, admin = principal(info, scope="admin")
    gift = create(local_stack, admin, tier="enterprise", ownerId=sub)
    # When the owner rotates it, then it is refused and the key is unchanged.
    refused = call(local_stack, "POST", f"/v1/keys/{gift['id']}/rotate", starter, json={})
    assert detail_fields(assert_envelope(refused, 403, "AUTHORIZATION_ERROR")) == {"tier"}
    assert call(local_stack, "GET", f"/v1/keys/{gift['id']}", starter).json()["status"] == "active"
    # A key of its own tier rotates as before.
    own = create(local_stack, starter)
    assert call(local_stack, "POST", f"/v1/keys/{own['id']}/rotate", starter, json={}).status_code == 201


def test_an_owners_active_keys_are_capped_with_a_409(local_stack, info):
    # Two keys at most for this test (MAX_KEYS_PER_OWNER), created by an admin for a fresh owner.
    _, admin = principal(info, scope="admin")
    owner_id = f"e2e-owner-{uuid.uuid4().hex}"
    with stack_env(local_stack, MAX_KEYS_PER_OWNER="2"):
        first = create(local_stack, admin, ownerId=owner_id)
        create(local_stack, admin, ownerId=owner_id)
        refused = call(
            local_stack, "POST", "/v1/keys", admin, json={"name": "3", "scopes": ["keys:read"], "ownerId": owner_id}
        )
        body = assert_envelope(refused, 409, "CONFLICT")
        assert detail_fields(body) == {"ownerId"}
        assert "2 active keys" in body["error"]["details"][0]["message"]
        # Rotation replaces an active key: allowed at the cap. Revoking one makes room for one.
        rotated = call(local_stack, "POST", f"/v1/keys/{first['id']}/rotate", admin, json={"gracePeriodSeconds": 0})
        assert rotated.status_code == 201, rotated.text
        assert call(local_stack, "DELETE", f"/v1/keys/{rotated.json()['id']}", admin).status_code == 200
        create(local_stack, admin, ownerId=owner_id)

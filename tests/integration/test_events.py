"""Every sample event in events/ is invoked against its own handler, in-process on the local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import json_body

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_BY_PREFIX = {
    "webhooks-intake": "WebhookIntakeFunction",
    "webhooks-process": "WebhookProcessorFunction",
    "webhooks": "WebhooksFunction",
    "authorizer": "AuthorizerFunction",
    "health": "HealthFunction",
    "docs": "DocsFunction",
    "keys": "KeysFunction",
    "ratelimit": "RateLimitFunction",
    "campaigns": "CampaignsFunction",
    "timer-fire": "TimerFireFunction",
    "timer-sweep": "TimerSweepFunction",
    "campaign-events": "CampaignEventsFunction",
}
# What each event must produce: an HTTP status, the authorizer's isAuthorized, or a job's answer status.
EXPECTED: dict[str, int | bool | str] = {
    "authorizer-jwt-ok": True,
    "authorizer-apikey-ok": True,
    "authorizer-jwt-expired": False,
    "authorizer-missing-header": False,
    "authorizer-wrong-scope": False,
    "health-live": 200,
    "health-ready": 200,
    "docs-openapi": 200,
    "docs-swagger-ui": 200,
    "keys-me": 200,
    "keys-create": 201,
    "keys-list": 200,
    "keys-get-missing": 404,
    "keys-create-malformed-json": 400,
    "ratelimit-policies": 200,
    "ratelimit-check": 200,
    "ratelimit-check-wrong-scope": 403,
    "webhooks-intake-github": 202,
    "webhooks-intake-forged": 401,
    "webhooks-intake-stale-standard": 401,
    "webhooks-intake-unknown-source": 404,
    "webhooks-sources-list": 200,
    "webhooks-sources-put-weak-secret": 400,
    "webhooks-events-list-failed": 200,
    "webhooks-events-list-wrong-scope": 403,
    "campaigns-create": 201,
    "campaigns-create-end-before-start": 400,
    "campaigns-list": 200,
    "campaigns-get-missing": 404,
    "campaigns-lifecycle-missing": 404,
    "campaigns-timers-pending-admin": 200,
    "campaigns-timers-pending-forbidden": 403,
    "timer-fire-unknown-timer": "ignored",  # a delivery for a timer that does not exist changes nothing
    "timer-fire-malformed": "dropped",  # never retried: it can never succeed
    "timer-sweep-scheduled": "swept",
    "campaign-events-created": "applied",  # the first run creates it, a replay finds it (idempotent)
    "campaign-events-cancelled-unknown": "dropped",
}
JOB_FUNCTIONS = {"TimerFireFunction", "TimerSweepFunction", "CampaignEventsFunction"}
# Queue events: what the batch handler must answer.
EXPECTED_BATCH: dict[str, dict[str, list[object]]] = {
    "webhooks-process-expired-event": {"batchItemFailures": []},
}
EVENT_FILES = sorted(EVENTS.glob("*.json"))


def test_every_event_file_has_an_expectation():
    assert {p.stem for p in EVENT_FILES} == set(EXPECTED) | set(EXPECTED_BATCH)


def function_for(stem: str) -> str:
    # The longest matching prefix wins ("webhooks-intake" before "webhooks").
    return next(
        fn
        for prefix, fn in sorted(FUNCTION_BY_PREFIX.items(), key=lambda kv: -len(kv[0]))
        if stem.startswith(prefix + "-")
    )


@pytest.fixture
def sample_webhook_sources(local_stack):
    """The sources the sample intake events post to, with the published vectors' secrets, and the
    GitHub sample's delivery forgotten so that it is new (202) at every run."""
    from gatehouse.clients.dynamo import dynamodb_client, table_name
    from gatehouse.webhooks.records import event_id_for
    from gatehouse.webhooks.runtime import webhook_sources_service

    service = webhook_sources_service()
    service.put_source("sample-github", scheme="github", secrets=["It's a Secret to Everybody"])
    service.put_source("sample-standard", scheme="standard", secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    event_id = event_id_for("sample-github", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    dynamodb_client().delete_item(TableName=table_name(), Key={"pk": {"S": f"WHEVT#{event_id}"}, "sk": {"S": "WHEVT"}})


@pytest.fixture
def sample_authorizer_env(local_stack):
    """The issuer and cache TTL the sample authorizer events were made for (events/env-vars/authorizer.json)."""
    from gatehouse.wiring import reset

    sample_env = json.loads((EVENTS / "env-vars" / "authorizer.json").read_text())["AuthorizerFunction"]
    saved = {name: local_stack.env.get(name) for name in sample_env}
    local_stack.env.update(sample_env)
    local_stack.activate()
    reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                local_stack.env.pop(name, None)
            else:
                local_stack.env[name] = value
        local_stack.activate()
        reset()


@pytest.fixture
def sample_api_key(local_stack, sample_authorizer_env):
    """Store the key that events/authorizer-apikey-ok.json presents, as the keys service would."""
    from gatehouse.clients.dynamo import dynamodb_client, table_name
    from gatehouse.keys import api_key_format
    from gatehouse.keys.dynamo import DynamoKeyStore
    from gatehouse.keys.records import KeyRecord
    from gatehouse.times import to_rfc3339

    event = json.loads((EVENTS / "authorizer-apikey-ok.json").read_text())
    key = event["headers"]["authorization"].split(" ", 1)[1]
    store = DynamoKeyStore(dynamodb_client(), table_name())
    if store.get_hash_record(api_key_format.hash_key(key)) is None:
        store.create(
            KeyRecord(
                id="key_sample_event",
                name="sample event key",
                prefix=api_key_format.prefix(key),
                hash=api_key_format.hash_key(key),
                owner_id="org-sample",
                scopes=("keys:read",),
                tier="professional",
                status="active",
                created_at=to_rfc3339(1_767_225_600),
            )
        )


@pytest.mark.parametrize("path", [p for p in EVENT_FILES if p.stem.startswith("authorizer-")], ids=lambda p: p.stem)
def test_authorizer_event(local_stack, sample_api_key, path):
    answer = local_stack.invoke("AuthorizerFunction", json.loads(path.read_text()))
    assert answer["isAuthorized"] is EXPECTED[path.stem]
    if answer["isAuthorized"]:
        assert answer["context"]["principalId"]


@pytest.mark.parametrize("path", [p for p in EVENT_FILES if p.stem in EXPECTED_BATCH], ids=lambda p: p.stem)
def test_queue_event(local_stack, path):
    answer = local_stack.invoke(function_for(path.stem), json.loads(path.read_text()))
    assert answer == EXPECTED_BATCH[path.stem]


JOB_EVENTS = [p for p in EVENT_FILES if p.stem in EXPECTED and function_for(p.stem) in JOB_FUNCTIONS]
HTTP_EVENTS = [
    p
    for p in EVENT_FILES
    if p.stem in EXPECTED and not p.stem.startswith("authorizer-") and function_for(p.stem) not in JOB_FUNCTIONS
]


@pytest.mark.parametrize("path", JOB_EVENTS, ids=lambda p: p.stem)
def test_job_event(local_stack, path):
    answer = local_stack.invoke(function_for(path.stem), json.loads(path.read_text()))
    if EXPECTED[path.stem] == "swept":
        assert {"fired", "ignored", "verified", "recreated", "dead_letters"} <= set(answer), answer
    else:
        assert answer["status"] == EXPECTED[path.stem], answer


@pytest.mark.parametrize("path", HTTP_EVENTS, ids=lambda p: p.stem)
def test_http_event(local_stack, sample_webhook_sources, path):
    function = function_for(path.stem)
    answer = local_stack.invoke(function, json.loads(path.read_text()))
    assert answer["statusCode"] == EXPECTED[path.stem], answer.get("body")
    assert answer["headers"]["X-Request-Id"]
    if answer["headers"].get("Content-Type") == "application/json" and answer["statusCode"] >= 400:
        assert json_body(answer)["error"]["code"]

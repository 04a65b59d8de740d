"""Each function's IAM policy in template.yaml allows every table call its code makes.

The local stack runs without IAM, so a key the code starts writing (say, a new item family) would
only fail once deployed, as AccessDenied: a 500 on every such request. These tests run each
function's use cases on moto's DynamoDB, record every call with the action IAM checks (each item of
a transaction counts as its own action) and the leading key it touches, and hold them against the
function's `dynamodb:LeadingKeys` conditions.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gatehouse.errors import AuthenticationError
from gatehouse.keys.dynamo import DynamoKeyStore
from gatehouse.keys.service import KeysService
from gatehouse.principal import Principal
from gatehouse.ratelimit.dynamo import DynamoOverrideStore
from gatehouse.ratelimit.overrides import Override
from gatehouse.times import to_rfc3339
from local.template import read_yaml
from tests.unit.test_auth_key_store import TABLE, create_table

ROOT = Path(__file__).resolve().parents[2]
TABLE_ARN = {"Fn::GetAtt": ["GatehouseTable", "Arn"]}
INDEX_ARN = {"Fn::Sub": "${GatehouseTable.Arn}/index/*"}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}

Access = tuple[str, str, str]  # (IAM action, "table" or "index", leading key)


def _leading_key(params: dict[str, Any]) -> str:
    key = params.get("Key") or params.get("Item")
    if key is not None:
        return key["pk"]["S"]
    return params["ExpressionAttributeValues"][":p"]["S"]  # a Query's partition value


def _accesses(operation: str, params: dict[str, Any]) -> list[Access]:
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", "table", _leading_key(item[kind]))
            for item in params["TransactItems"]
            for kind in item
        ]
    if operation == "TransactGetItems":  # IAM checks GetItem for each item of a read transaction
        return [("dynamodb:GetItem", "table", _leading_key(item["Get"])) for item in params["TransactItems"]]
    if operation == "BatchWriteItem":  # one action, checked against the leading key of every request
        return [
            (f"dynamodb:{operation}", "table", _leading_key(request[kind]))
            for requests in params["RequestItems"].values()
            for request in requests
            for kind in request  # PutRequest (its Item) or DeleteRequest (its Key)
        ]
    if operation == "BatchGetItem":
        return [
            (f"dynamodb:{operation}", "table", key["pk"]["S"])
            for table in params["RequestItems"].values()
            for key in table["Keys"]
        ]
    return [(f"dynamodb:{operation}", "index" if "IndexName" in params else "table", _leading_key(params))]


@pytest.fixture
def recorded():
    """A moto DynamoDB client whose every call is recorded as the accesses IAM checks."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        accesses: list[Access] = []

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            accesses.extend(_accesses(model.name, params))

        client.meta.events.register("provide-client-params.dynamodb.*", record)
        yield client, accesses


@cache
def _statements(function: str) -> list[dict[str, Any]]:
    """The statements of a function's `Policies`: inline ones, and those of the template's managed
    policies it attaches by `!Ref` (read as `{"Ref": name}`). SAM policy templates, `Fn::If` and
    policies from outside the template grant no table access here, so they are not read."""
    resources = read_yaml(ROOT / "template.yaml")["Resources"]
    statements: list[dict[str, Any]] = []
    for policy in resources[function]["Properties"].get("Policies", []):
        if not isinstance(policy, dict):
            continue
        managed = resources.get(policy.get("Ref"), {}) if set(policy) == {"Ref"} else {}
        if managed.get("Type") == "AWS::IAM::ManagedPolicy":
            statements.extend(managed["Properties"]["PolicyDocument"]["Statement"])
        else:
            statements.extend(policy.get("Statement", []))
    return statements


def _allowed(function: str, access: Access) -> bool:
    action, resource, leading_key = access
    for statement in _statements(function):
        if statement.get("Effect") != "Allow" or action not in statement["Action"]:
            continue
        if statement["Resource"] != (TABLE_ARN if resource == "table" else INDEX_ARN):
            continue
        for operator, keys in statement.get("Condition", {}).items():
            patterns = keys["dynamodb:LeadingKeys"]
            if operator.endswith("StringLike") and any(fnmatchcase(leading_key, p) for p in patterns):
                return True
            if operator.endswith("StringEquals") and leading_key in patterns:
                return True
    return False


def _denied(function: str, accesses: list[Access]) -> list[Access]:
    return sorted({a for a in accesses if not _allowed(function, a)})


def test_the_keys_function_may_make_every_table_call_of_its_routes(recorded):
    client, accesses = recorded
    service = KeysService(DynamoKeyStore(client, TABLE), environment="test", max_keys_per_owner=5)
    admin = Principal("root", "ops", "jwt", "enterprise", frozenset({"admin"}))
    user = Principal("user-1", "org-1", "jwt", "free", frozenset({"keys:read", "keys:write"}))
    # Every route of the function: create (counted against the owner's cap), list, get, rotate, revoke,
    view, _ = service.create_key(user, "one", ["keys:read", "keys:write"])
    service.create_key(admin, "for org-1", ["keys:read"], owner_id="org-1")
    service.list_keys(user)
    service.list_keys(admin)
    service.get_key(user, view.id)
    rotated, _ = service.rotate_key(user, view.id, 60)
    service.revoke_key(user, rotated.id)
    # an API key minting (its own record is read again first),
    as_key = Principal(rotated.id, "org-1", "apiKey", "free", frozenset({"keys:write"}), key_id=rotated.id)
    with pytest.raises(AuthenticationError):  # revoked: refused, after the read this test is about
        service.create_key(as_key, "two", ["keys:write"])
    # and the rate-limit guard's override lookup on every request.
    DynamoOverrideStore(client, TABLE).get("user-1")
    assert {a[2].split("#")[0] for a in accesses} >= {"KEY", "KEYHASH", "OWNER", "RLO", "KEYS"}
    assert _denied("KeysFunction", accesses) == []


def test_the_ratelimit_function_may_make_every_table_call_of_its_routes(recorded):
    client, accesses = recorded
    store = DynamoOverrideStore(client, TABLE)
    store.put(Override(subject="partner-42", blocked=True))
    store.get("partner-42")
    store.delete("partner-42")
    assert _denied("RateLimitFunction", accesses) == []


def test_the_authorizer_may_read_a_key_hash_and_nothing_else(recorded):
    client, accesses = recorded
    DynamoKeyStore(client, TABLE).get_hash_record("0" * 64)
    assert accesses and _denied("AuthorizerFunction", accesses) == []
    assert not _allowed("AuthorizerFunction", ("dynamodb:GetItem", "table", "KEY#key_a"))


def test_the_callbacks_function_may_read_a_campaign_and_its_event_and_record_each_outcome_once(recorded):
    from gatehouse.campaigns.dynamo import DynamoCampaignStore
    from gatehouse.campaigns.records import CALLBACK_DELIVERED, CallbackLogEntry

    client, accesses = recorded
    store = DynamoCampaignStore(client, TABLE)
    store.get("cmp_ABCDEFGH12345678")
    entry = CallbackLogEntry("evt-1", CALLBACK_DELIVERED, 1, http_status=204, deliveries=2)
    assert store.record_callback("cmp_ABCDEFGH12345678", entry) is True
    # A redelivered message records nothing: the conditional write keyed by the event id refuses it.
    assert store.record_callback("cmp_ABCDEFGH12345678", entry) is False
    # The event a message names is read back from the outbox, never taken from the bus.
    from gatehouse.events.dynamo import DynamoOutbox

    assert DynamoOutbox(client, TABLE).recorded("evt-1") is None
    assert _denied("CallbacksFunction", accesses) == []
    accesses.clear()
    assert store.callback_log("cmp_ABCDEFGH12345678") == [entry]


def _campaigns_area(client: Any, clock: list[float]) -> tuple[Any, Any]:
    """CampaignsService and TimersService as gatehouse/campaigns/runtime.py wires them, on moto's
    table, Scheduler and bus (in the fixture's mock_aws), with one clock the test moves."""
    from gatehouse.campaigns.dynamo import DynamoCampaignStore
    from gatehouse.campaigns.service import CampaignsService
    from gatehouse.clients.dynamo_transaction import DynamoTransaction
    from gatehouse.events.bridge import EventBridgePublisher
    from gatehouse.events.dynamo import DynamoOutbox
    from gatehouse.events.service import EventRelay
    from gatehouse.timers.dynamo import DynamoTimerStore
    from gatehouse.timers.scheduler import EventBridgeSchedules
    from gatehouse.timers.service import TimersService

    def now() -> float:
        return clock[0]

    boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="timers")
    boto3.client("events", region_name="us-east-1").create_event_bus(Name="bus")
    relay = EventRelay(
        DynamoOutbox(client, TABLE, clock=now),
        EventBridgePublisher(boto3.client("events", region_name="us-east-1"), "bus"),
        clock=now,
    )
    schedules = EventBridgeSchedules(
        boto3.client("scheduler", region_name="us-east-1"),
        group="timers",
        target_arn="arn:aws:lambda:us-east-1:123456789012:function:timer-fire",
        role_arn="arn:aws:iam::123456789012:role/scheduler",
    )

    def new_transaction() -> DynamoTransaction:
        return DynamoTransaction(client)

    timers = TimersService(
        DynamoTimerStore(client, TABLE), schedules, relay, new_transaction=new_transaction, clock=now
    )
    campaigns = CampaignsService(
        DynamoCampaignStore(client, TABLE), timers, relay, new_transaction=new_transaction, clock=now
    )
    return campaigns, timers


def test_the_campaign_and_timer_functions_may_make_every_table_call_of_their_routes_and_firings(recorded):
    from gatehouse.campaigns.requests import CreateCampaignRequest, EngagementRequest, UpdateCampaignRequest
    from gatehouse.timers.records import TimerDelivery

    client, accesses = recorded
    clock = [1_900_000_000.0]
    campaigns, timers = _campaigns_area(client, clock)
    actions = {"campaign": campaigns.run_timer}
    user = Principal("user-1", "org-1", "jwt", "free", frozenset({"campaigns:read", "campaigns:write"}))
    admin = Principal("root", "ops", "jwt", "enterprise", frozenset({"admin"}))
    t0 = clock[0]

    # The CampaignsFunction's routes: create (START, END and a REMINDER timer), read, list, lifecycle,
    # timers, update (moves START and END: new generations), cancel a timer, the operators' timer routes,
    created = campaigns.create(
        user,
        CreateCampaignRequest.model_validate(
            {
                "name": "one",
                "startTime": to_rfc3339(t0 + 3600),
                "endTime": to_rfc3339(t0 + 7200),
                "reminders": [to_rfc3339(t0 + 5400)],
            }
        ),
    )
    campaign_id = created.id
    campaigns.get(user, campaign_id)
    campaigns.list_campaigns(user)
    campaigns.list_campaigns(admin)
    campaigns.lifecycle(user, campaign_id)
    campaigns.timers(user, campaign_id)
    campaigns.update(
        user,
        campaign_id,
        UpdateCampaignRequest.model_validate({"startTime": to_rfc3339(t0 + 1800), "endTime": to_rfc3339(t0 + 9000)}),
    )
    by_type = {t.timer_type: t for t in timers.list_for_owner("campaign", campaign_id)}
    assert by_type["START"].generation > 1  # moved
    campaigns.cancel_timer(user, campaign_id, by_type["REMINDER"].timer_id, "not needed")
    timers.pending(10, None)
    timers.overdue(10, None)
    timers.process_due(actions, 10, "root")
    timers.recover(actions, 10, None, "root")
    DynamoOverrideStore(client, TABLE).get("user-1")  # the rate-limit guard's override lookup
    api_calls = list(accesses)

    # the timer function: Scheduler delivers the START (the campaign starts, its events are relayed
    # through the outbox: BatchWriteItem), then the same delivery again (a duplicate, ignored),
    accesses.clear()
    clock[0] = t0 + 1801
    start = TimerDelivery.for_timer(timers.get("campaign", campaign_id, by_type["START"].timer_id))
    assert timers.fire_delivery(start, actions, "scheduler").status == "fired"
    assert timers.fire_delivery(start, actions, "scheduler").status == "ignored"
    fire_calls = list(accesses)

    # the CampaignsFunction again on a RUNNING campaign: engage, execute its END early, and cancel another.
    accesses.clear()
    campaigns.engage(user, campaign_id, EngagementRequest.model_validate({"engagementType": "click", "userId": "u-9"}))
    campaigns.execute_timer(user, campaign_id, by_type["END"].timer_id)
    other = campaigns.create(
        user,
        CreateCampaignRequest.model_validate({"name": "two", "startTime": to_rfc3339(t0 + 7200), "durationHours": 1}),
    )
    campaigns.cancel(user, other.id, "changed our minds")
    api_calls += accesses

    families = {a[2].split("#")[0] for a in api_calls}
    assert families >= {"CAMPAIGN", "CAMPAIGNENG", "OUTBOX", "OWNER", "CAMPAIGNS", "TIMER", "RLO"}, families
    assert ("dynamodb:BatchWriteItem", "table") in {a[:2] for a in api_calls}
    assert _denied("CampaignsFunction", api_calls) == []
    assert {a[2].split("#")[0] for a in fire_calls} >= {"CAMPAIGN", "OUTBOX"}
    assert ("dynamodb:BatchWriteItem", "table") in {a[:2] for a in fire_calls}
    assert _denied("TimerFireFunction", fire_calls) == []
    # The managed policy grants its families only: another area's item stays out of reach.
    assert not _allowed("TimerFireFunction", ("dynamodb:BatchWriteItem", "table", "KEY#key_a"))
    assert not _allowed("CampaignsFunction", ("dynamodb:GetItem", "table", "KEY#key_a"))

"""template.yaml as an operator needs it: the network, no secret in plain sight, logs, alarms, outputs.

cfn-lint and checkov (make lint) check the template's form; this checks Gatehouse's own rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.template import read_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = read_yaml(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
# Every function that talks to Redis: the protected routes' rate limiter, intake's failure limiter, readiness,
# the metrics store and the fleet breakers.
REDIS_FUNCTIONS = {
    "MetricsFunction",
    "BreakersFunction",
    "CallbacksFunction",
    "KeysFunction",
    "RateLimitFunction",
    "CampaignsFunction",
    "WebhooksFunction",
    "WebhookIntakeFunction",
    "HealthFunction",
}


def by_type(kind: str) -> dict[str, dict]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


def test_exactly_the_redis_functions_run_in_the_vpc():
    in_vpc = {name for name, fn in FUNCTIONS.items() if "VpcConfig" in fn["Properties"]}
    assert in_vpc == REDIS_FUNCTIONS
    assert "AuthorizerFunction" not in in_vpc  # it needs nothing inside (docs/operations.md)
    for name in REDIS_FUNCTIONS:
        variables = FUNCTIONS[name]["Properties"]["Environment"]["Variables"]
        assert {"REDIS_URL", "REDIS_CLUSTER", "REDIS_AUTH_SECRET_ID"} <= variables.keys(), name


def test_the_cache_is_valkey_serverless_with_a_password_user_unless_an_endpoint_is_given():
    cache = RESOURCES["Cache"]
    assert cache["Condition"] == "CreateCache"
    assert cache["Properties"]["Engine"] == "valkey"
    assert TEMPLATE["Conditions"]["CreateCache"] == {"Fn::Equals": [{"Ref": "RedisEndpoint"}, ""]}
    users = by_type("AWS::ElastiCache::User")
    default = next(u for u in users.values() if u["Properties"]["UserName"] == "default")
    assert default["Properties"]["AccessString"].startswith("off")
    app = next(u for u in users.values() if u["Properties"]["UserName"] != "default")
    assert "resolve:secretsmanager" in str(app["Properties"]["Passwords"])


def test_no_secret_in_a_variable_a_parameter_default_or_an_output():
    text = str(TEMPLATE.get("Globals")) + str({k: v["Properties"].get("Environment") for k, v in FUNCTIONS.items()})
    assert not re.search(r"PEPPER['\"]?:|PASSWORD|\bSECRET['\"]?:", text)
    for name, parameter in TEMPLATE["Parameters"].items():
        assert "secret" not in str(parameter.get("Default", "")).lower(), name
    assert re.fullmatch(parameter_pattern("JwtIssuers"), '[{"issuer": "x", "secretId": "s"}]')
    assert not re.fullmatch(parameter_pattern("JwtIssuers"), '[{"issuer": "x", "secret": "s"}]')
    for name in TEMPLATE["Outputs"]:
        assert ("Password" not in name and "Pepper" not in name) or name.endswith("Arn"), name


def parameter_pattern(name: str) -> str:
    return TEMPLATE["Parameters"][name]["AllowedPattern"]


def test_every_function_logs_to_a_group_with_retention():
    groups = by_type("AWS::Logs::LogGroup")
    for name, fn in FUNCTIONS.items():
        group = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "authorization" not in api["AccessLogSettings"]["Format"].lower()  # a credential, never logged
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= api["DefaultRouteSettings"].keys()


def test_every_dead_letter_queue_has_an_alarm_and_every_alarm_notifies_the_topic():
    alarms = by_type("AWS::CloudWatch::Alarm")
    watched = {
        str(a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
        for a in alarms.values()
        if a["Properties"].get("Namespace") == "AWS/SQS"
    }
    dead_letter_queues = {name for name in by_type("AWS::SQS::Queue") if "DeadLetter" in name}
    assert dead_letter_queues and watched == dead_letter_queues
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
    assert {"RateLimitDegraded", "BreakerOpen", "Errors"} <= metrics
    assert {"Api5xxAlarm", "ApiFunctionThrottlesAlarm", "JobFunctionThrottlesAlarm", "AuthorizerErrorsAlarm"} <= set(
        alarms
    )


@pytest.mark.parametrize("output", ["ApiUrl", "AlarmTopicArn", "TableName", "ApiKeyPepperSecretArn"])
def test_the_outputs_an_operator_needs(output):
    assert output in TEMPLATE["Outputs"]


def test_every_checkov_skip_says_why():
    for name, resource in RESOURCES.items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            assert len(str(skip.get("comment", ""))) > 30, f"{name}: {skip.get('id')} has no reason"

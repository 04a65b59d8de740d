"""Template loading and routing for the local stack: intrinsics, parameters, events (no services needed)."""

from __future__ import annotations

import textwrap

import pytest

from local.routing import Router
from local.runners import at_time, rate_seconds
from local.template import TemplateError, load_template

TEMPLATE = """
Parameters:
  Ttl: {Type: Number, Default: 60}
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        TABLE: !Ref Table
        QUEUE_URL: !Ref Queue
        QUEUE_ARN: !GetAtt Queue.Arn
        WHERE: !Sub "${AWS::StackName}/${AWS::Region}/${AWS::AccountId}/${AWS::URLSuffix}/${Env}/${Table}"
        MODE: !If [IsProd, strict, relaxed]
        JOINED: !Join ["-", [a, !Ref Env]]
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Auth
        Authorizers:
          Auth:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], ReauthorizeEvery: !Ref Ttl}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-main"
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Queue: {Type: AWS::SQS::Queue}
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn/auth/, Handler: app.lambda_handler}
  WorkFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/work/
      Handler: main.handle
      MemorySize: 1024
      Environment: {Variables: {MODE: other}}
      Events:
        Get: {Type: HttpApi, Properties: {Path: "/things/{id}", Method: get}}
        Open: {Type: HttpApi, Properties: {Path: /open, Method: ANY, Auth: {Authorizer: NONE}}}
        Work: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 5,
                                       FunctionResponseTypes: [ReportBatchItemFailures]}}
        Tick: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(5 minutes), Input: '{"a": 1}'}}
        Old: {Type: Schedule, Properties: {Schedule: rate(1 hour), Enabled: false}}
"""


@pytest.fixture
def template_path(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(TEMPLATE))
    return path


def test_intrinsics_resolve_to_local_physical_ids(template_path):
    t = load_template(template_path, {"Ttl": 0}, queue_url_base="http://127.0.0.1:9")
    env = t.functions["AuthFn"].env
    assert env["TABLE"] == "gatehouse-local-main"
    assert env["QUEUE_URL"] == "http://127.0.0.1:9/123456789012/gatehouse-local-Queue"
    assert env["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:gatehouse-local-Queue"
    assert env["WHERE"] == "gatehouse-local/us-east-1/123456789012/amazonaws.com/dev/gatehouse-local-main"
    assert env["MODE"] == "relaxed"
    assert env["JOINED"] == "a-dev"
    assert t.functions["AuthFn"].timeout == 7
    assert t.authorizer.ttl == 0
    assert t.authorizer.function == "AuthFn"
    assert t.authorizer.identity_headers == ["Authorization"]
    assert any("MODE" in c for c in t.env_conflicts)


def test_functions_routes_and_event_sources(template_path):
    t = load_template(template_path, {"Env": "prod"})
    work = t.functions["WorkFn"]
    assert (work.handler_module, work.handler_attr, work.memory) == ("main", "handle", 1024)
    assert work.handler_file == template_path.parent / "fn" / "work" / "main.py"
    assert work.env["MODE"] == "other"
    routes = {r.route_key: r for r in t.routes}
    assert routes["GET /things/{id}"].protected
    assert not routes["ANY /open"].protected
    (source,) = t.sqs_sources
    assert (source.queue, source.batch_size, source.report_batch_item_failures) == ("Queue", 5, True)
    rates = {e.name: e for e in t.rate_events}
    assert rates["Tick"].input == '{"a": 1}'
    assert not rates["Old"].enabled


def test_unknown_parameter_override_is_an_error(template_path):
    with pytest.raises(TemplateError, match="Nope"):
        load_template(template_path, {"Nope": 1})


def test_router_prefers_exact_then_params_then_greedy_then_any():
    from local.template import Route

    router = Router(
        [
            Route("ANY", "/a/{proxy+}", "greedy", None),
            Route("GET", "/a/{id}", "param", None),
            Route("GET", "/a/b", "exact", None),
            Route("ANY", "/a/b", "any", None),
            Route("GET", "/", "root", None),
        ]
    )
    assert router.match("GET", "/a/b").route.function == "exact"
    assert router.match("POST", "/a/b").route.function == "any"
    assert router.match("GET", "/a/c").path_parameters == {"id": "c"}
    assert router.match("GET", "/a/c/d").path_parameters == {"proxy": "c/d"}
    assert router.match("GET", "/").route.function == "root"
    assert router.match("GET", "/a") is None
    # "/a/b/" has an empty last segment: only the greedy route can take it, and it needs a non-empty rest.
    assert router.match("GET", "/a/b/").route.function == "greedy"


def test_schedule_expressions():
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 day)") == 86400
    assert rate_seconds("cron(0 * * * ? *)") is None
    when = at_time("at(2026-11-22T12:00:00)", "Europe/Paris")
    assert when.utcoffset().total_seconds() == 3600
    assert at_time("rate(1 minute)", None) is None

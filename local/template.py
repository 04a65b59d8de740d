"""Loads template.yaml and resolves it into the local stack's view of the product."""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "gatehouse-local"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
URL_SUFFIX = "amazonaws.com"
API_ID = "gatehouse0"  # API Gateway ids are 10 lowercase alphanumerics

_SHORT_TAGS = {
    "Ref": "Ref",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Condition": "Condition",
    "Base64": "Fn::Base64",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "ToJsonString": "Fn::ToJsonString",
    "Cidr": "Fn::Cidr",
}


class TemplateLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form intrinsics (!Ref, !GetAtt, ...) as dicts."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = _SHORT_TAGS.get(tag_suffix, f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if key == "Fn::GetAtt":  # !GetAtt X.Arn is the scalar form of ["X", "Arn"]
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


TemplateLoader.add_multi_constructor("!", _construct_tag)


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve."""


@dataclass
class EventSource:
    """One `Events` entry of a function."""

    name: str
    type: str
    properties: dict[str, Any]


@dataclass
class Function:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler_module: str
    handler_attr: str
    env: dict[str, str]
    timeout: int
    memory: int
    events: list[EventSource] = field(default_factory=list)

    @property
    def handler_file(self) -> Path:
        return self.code_dir / (self.handler_module.replace(".", "/") + ".py")


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # "/v1/keys/{keyId}", or "$default"
    function: str  # logical id
    authorizer: str | None  # authorizer name, None for public routes

    @property
    def protected(self) -> bool:
        return self.authorizer is not None

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class AuthorizerSpec:
    name: str
    function: str  # logical id
    identity_headers: list[str]
    identity_query_strings: list[str]
    ttl: int
    payload_version: str
    simple_responses: bool


@dataclass
class Table:
    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass
class Queue:
    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass
class Bus:
    logical_id: str
    name: str


@dataclass
class ScheduleGroup:
    logical_id: str
    name: str


@dataclass
class Schedule:
    """An AWS::Scheduler::Schedule resource (created on moto so the scheduler runner fires it)."""

    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass
class Pipe:
    """An AWS::Pipes::Pipe from a table's stream to a queue (the local pipe runner forwards it)."""

    logical_id: str
    table: str  # logical id of the source table
    queue: str  # logical id of the target queue
    patterns: list[dict[str, Any]]  # FilterCriteria patterns (any one matches)
    input_template: str | None
    batch_size: int


@dataclass
class KmsKey:
    """An AWS::KMS::Key known locally by its alias (moto chooses key ids, an alias is stable)."""

    logical_id: str
    alias: str


@dataclass
class Secret:
    """An AWS::SecretsManager::Secret, created on moto with a value made the way its properties say."""

    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass
class SqsSource:
    function: str
    queue: str  # logical id of the queue
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass
class RateEvent:
    function: str
    name: str
    type: str  # Schedule (EventBridge rule) or ScheduleV2 (Scheduler)
    expression: str
    input: str | None
    enabled: bool


@dataclass
class BusRule:
    """A function's `EventBridgeRule` event: events on `bus` matching `pattern` invoke the function."""

    function: str  # logical id
    name: str  # the event's name in the template
    bus: str  # the bus's physical name
    pattern: dict[str, Any]
    enabled: bool
    dead_letter_arn: str | None = None  # the function's DeadLetterQueue (SQS), for events it keeps failing

    @property
    def rule_name(self) -> str:
        return f"{STACK_NAME}-{self.function}-{self.name}"[:64]

    @property
    def queue_name(self) -> str:
        """The local stand-in for the rule's target: moto matches the pattern and delivers here."""
        return f"{STACK_NAME}-rule-{self.function}-{self.name}"[:80]


@dataclass
class QueueRule:
    """An `AWS::Events::Rule` whose targets are queues of the template: moto matches the pattern and
    sends each event to them, as EventBridge does (the callback queue, docs/resilience.md)."""

    logical_id: str
    bus: str  # the bus's physical name
    pattern: dict[str, Any]
    queues: list[str]  # physical names of the target queues
    enabled: bool

    @property
    def rule_name(self) -> str:
        return f"{STACK_NAME}-{self.logical_id}"[:64]


@dataclass
class Template:
    path: Path
    root: Path
    parameters: dict[str, str]
    functions: dict[str, Function]
    routes: list[Route]
    authorizers: dict[str, AuthorizerSpec]
    tables: dict[str, Table]
    queues: dict[str, Queue]
    buses: dict[str, Bus]
    schedule_groups: dict[str, ScheduleGroup]
    schedules: dict[str, Schedule]
    sqs_sources: list[SqsSource]
    rate_events: list[RateEvent]
    pipes: list[Pipe] = field(default_factory=list)
    kms_keys: list[KmsKey] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    bus_rules: list[BusRule] = field(default_factory=list)
    queue_rules: list[QueueRule] = field(default_factory=list)
    env_conflicts: list[str] = field(default_factory=list)

    @property
    def authorizer(self) -> AuthorizerSpec | None:
        """The first (in practice the only) authorizer."""
        return next(iter(self.authorizers.values()), None)

    def function_by_arn(self, arn: str) -> Function | None:
        """The function an ARN (possibly with :alias/:version) or a bare name/logical id designates."""
        for fn in self.functions.values():
            if arn in (fn.arn, fn.name, fn.logical_id) or arn.startswith(fn.arn + ":"):
                return fn
        return None


def arn_for(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


class Resolver:
    """Evaluates intrinsic functions against parameters and local physical ids."""

    def __init__(self, doc: dict[str, Any], parameters: dict[str, str], queue_url_base: str | None) -> None:
        self.resources: dict[str, Any] = doc.get("Resources") or {}
        self.parameters = parameters
        self.conditions_src: dict[str, Any] = doc.get("Conditions") or {}
        self.mappings: dict[str, Any] = doc.get("Mappings") or {}
        self.queue_url_base = (queue_url_base or "http://127.0.0.1:5000").rstrip("/")
        self._conditions: dict[str, bool] = {}
        self._names: dict[str, str] = {}

    # -- physical ids -------------------------------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        if logical_id not in self._names:
            res = self.resources[logical_id]
            props = res.get("Properties") or {}
            key = {
                "AWS::DynamoDB::Table": "TableName",
                "AWS::SQS::Queue": "QueueName",
                "AWS::Serverless::Function": "FunctionName",
                "AWS::Lambda::Function": "FunctionName",
                "AWS::Serverless::LayerVersion": "LayerName",
                "AWS::KMS::Alias": "AliasName",
            }.get(res.get("Type", ""), "Name")
            given = props.get(key)
            name = str(self.resolve(given)) if given is not None else f"{STACK_NAME}-{logical_id}"
            if res.get("Type") == "AWS::SQS::Queue" and props.get("FifoQueue") and given is None:
                name += ".fifo"
            self._names[logical_id] = name
        return self._names[logical_id]

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": STACK_NAME,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::Partition": "aws",
            "AWS::StackId": arn_for("cloudformation", f"stack/{STACK_NAME}/local"),
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        rtype = self.resources[name].get("Type", "")
        if rtype == "AWS::SQS::Queue":
            return f"{self.queue_url_base}/{ACCOUNT_ID}/{self.physical_name(name)}"
        if rtype in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
            return API_ID
        if rtype in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            return arn_for("lambda", f"layer:{self.physical_name(name)}:1")
        return self.physical_name(name)

    def get_att(self, logical_id: str, attr: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt {logical_id}.{attr}: no such resource")
        rtype = self.resources[logical_id].get("Type", "")
        name = self.physical_name(logical_id)
        arns = {
            "AWS::DynamoDB::Table": arn_for("dynamodb", f"table/{name}"),
            "AWS::SQS::Queue": arn_for("sqs", name),
            "AWS::Events::EventBus": arn_for("events", f"event-bus/{name}"),
            "AWS::Scheduler::ScheduleGroup": arn_for("scheduler", f"schedule-group/{name}"),
            "AWS::Serverless::Function": arn_for("lambda", f"function:{name}"),
            "AWS::Lambda::Function": arn_for("lambda", f"function:{name}"),
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "AWS::SNS::Topic": arn_for("sns", name),
        }
        if attr == "Arn":
            return arns.get(rtype, arn_for("local", f"{rtype}/{name}"))
        if attr == "StreamArn":
            return arn_for("dynamodb", f"table/{name}/stream/local")
        if attr in ("QueueName", "Name", "TableName"):
            return name
        if attr == "QueueUrl":
            return self.ref(logical_id)
        if attr == "ApiEndpoint":
            return f"https://{API_ID}.execute-api.{REGION}.{URL_SUFFIX}"
        return f"{name}.{attr}"

    # -- intrinsics ---------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.conditions_src:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(self.conditions_src[name]))
        return self._conditions[name]

    def _sub(self, template: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):  # ${!Literal} is an escaped ${Literal}
                return "${" + expr[1:] + "}"
            if expr in variables:
                return str(self.resolve(variables[expr]))
            if "." in expr and not expr.startswith("AWS::"):
                logical_id, attr = expr.split(".", 1)
                return str(self.get_att(logical_id, attr))
            return str(self.ref(expr))

        return re.sub(r"\$\{([^}]+)\}", replace, template)

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated (AWS::NoValue entries dropped)."""
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            intrinsic = _INTRINSICS.get(key)
            if intrinsic is not None and not (key == "Condition" and not isinstance(arg, str)):
                return intrinsic(self, arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def _fn_ref(self, arg: str) -> Any:
        return _NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)

    def _fn_get_att(self, arg: Any) -> Any:
        parts = arg.split(".", 1) if isinstance(arg, str) else arg
        return self.get_att(parts[0], str(self.resolve(parts[1])))

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            return self._sub(arg[0], arg[1] if len(arg) > 1 else {})
        return self._sub(arg, {})

    def _fn_if(self, arg: list[Any]) -> Any:
        cond, yes, no = arg
        return self.resolve(yes if self.condition(cond) else no)

    def _fn_equals(self, arg: list[Any]) -> bool:
        a, b = (self.resolve(x) for x in arg)
        return str(a) == str(b)

    def _fn_join(self, arg: list[Any]) -> str:
        sep, items = arg
        return str(sep).join(str(x) for x in self.resolve(items))

    def _fn_select(self, arg: list[Any]) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _fn_split(self, arg: list[Any]) -> list[str]:
        sep, text = arg
        return str(self.resolve(text)).split(sep)

    def _fn_find_in_map(self, arg: list[Any]) -> Any:
        m, k1, k2 = (self.resolve(x) for x in arg)
        return self.mappings[m][k1][k2]


_INTRINSICS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": Resolver._fn_ref,
    "Fn::GetAtt": Resolver._fn_get_att,
    "Fn::Sub": Resolver._fn_sub,
    "Fn::If": Resolver._fn_if,
    "Fn::Equals": Resolver._fn_equals,
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(x) for x in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(x) for x in arg),
    "Condition": lambda r, arg: r.condition(arg),
    "Fn::Join": Resolver._fn_join,
    "Fn::Select": Resolver._fn_select,
    "Fn::Split": Resolver._fn_split,
    "Fn::FindInMap": Resolver._fn_find_in_map,
    "Fn::ToJsonString": lambda r, arg: json.dumps(r.resolve(arg), separators=(",", ":")),
    "Fn::Base64": lambda r, arg: base64.b64encode(str(r.resolve(arg)).encode()).decode(),
    "Fn::GetAZs": lambda r, arg: [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
}


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE: Any = _NoValue()


def env_string(value: Any) -> str:
    """How CloudFormation renders a scalar into a Lambda environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(doc, dict):
        raise TemplateError(f"{path}: not a CloudFormation template")
    return doc


# Values the local stack supplies for parameters whose deployed value cannot exist here: the Redis is
# the stack's own redis-server (a plain, non-cluster endpoint, so no cache is "created"). An explicit
# override still wins.
LOCAL_PARAMETER_VALUES: dict[str, str] = {"RedisEndpoint": "redis://127.0.0.1:6379/0", "RedisCluster": "false"}


def _parameters(
    doc: dict[str, Any], overrides: dict[str, Any] | None, local_values: dict[str, str] | None = None
) -> dict[str, str]:
    params: dict[str, str] = {}
    overrides = dict(overrides or {})
    local_values = {**LOCAL_PARAMETER_VALUES, **(local_values or {})}
    for name, spec in (doc.get("Parameters") or {}).items():
        if name in overrides:
            params[name] = env_string(overrides.pop(name))
        elif name in local_values:
            params[name] = local_values[name]
        elif isinstance(spec, dict) and "Default" in spec:
            params[name] = env_string(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no Default: pass it as an override")
    if overrides:
        raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(overrides))}")
    return params


def load_template(
    path: str | Path,
    parameter_overrides: dict[str, Any] | None = None,
    queue_url_base: str | None = None,
    local_values: dict[str, str] | None = None,
) -> Template:
    """Reads and resolves `path`; `queue_url_base` is the SQS endpoint that `!Ref Queue` URLs live on;
    `local_values` fill parameters whose deployed value cannot exist locally (RedisEndpoint: the local Redis)."""
    path = Path(path).resolve()
    doc = read_yaml(path)
    params = _parameters(doc, parameter_overrides, local_values)
    r = Resolver(doc, params, queue_url_base)
    resources: dict[str, Any] = doc.get("Resources") or {}
    globals_fn: dict[str, Any] = (doc.get("Globals") or {}).get("Function") or {}
    global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}

    t = Template(
        path=path,
        root=path.parent,
        parameters=params,
        functions={},
        routes=[],
        authorizers={},
        tables={},
        queues={},
        buses={},
        schedule_groups={},
        schedules={},
        sqs_sources=[],
        rate_events=[],
    )
    default_authorizers: dict[str, str | None] = {}
    for logical_id, res in resources.items():
        if not isinstance(res, dict):
            continue
        if "Condition" in res and not r.condition(res["Condition"]):
            continue
        rtype = res.get("Type", "")
        props = res.get("Properties") or {}
        if rtype == "AWS::DynamoDB::Table":
            t.tables[logical_id] = Table(logical_id, r.physical_name(logical_id), r.resolve(props))
        elif rtype == "AWS::SQS::Queue":
            t.queues[logical_id] = Queue(logical_id, r.physical_name(logical_id), r.resolve(props))
        elif rtype == "AWS::Events::EventBus":
            t.buses[logical_id] = Bus(logical_id, r.physical_name(logical_id))
        elif rtype == "AWS::Scheduler::ScheduleGroup":
            t.schedule_groups[logical_id] = ScheduleGroup(logical_id, r.physical_name(logical_id))
        elif rtype == "AWS::KMS::Alias":
            target = props.get("TargetKeyId")
            if isinstance(target, dict) and "Ref" in target:
                t.kms_keys.append(KmsKey(target["Ref"], r.physical_name(logical_id)))
        elif rtype == "AWS::SecretsManager::Secret":
            t.secrets.append(Secret(logical_id, r.physical_name(logical_id), r.resolve(props)))
        elif rtype == "AWS::Scheduler::Schedule":
            t.schedules[logical_id] = Schedule(logical_id, r.physical_name(logical_id), r.resolve(props))
        elif rtype == "AWS::Serverless::HttpApi":
            auth = props.get("Auth") or {}
            default_authorizers[logical_id] = auth.get("DefaultAuthorizer")
            for name, spec in (auth.get("Authorizers") or {}).items():
                t.authorizers[name] = _authorizer(name, spec, r)

    for logical_id, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        if "Condition" in res and not r.condition(res["Condition"]):
            continue
        fn = _function(logical_id, res.get("Properties") or {}, globals_fn, global_env, r=r, root=t.root)
        t.functions[logical_id] = fn
        dead_letter = r.resolve((res.get("Properties") or {}).get("DeadLetterQueue") or {})
        for ev in fn.events:
            _attach_event(t, fn, ev, default_authorizers)
            if ev.type in ("EventBridgeRule", "CloudWatchEvent"):
                t.bus_rules.append(_bus_rule(t, fn, ev, dead_letter))

    for logical_id, res in resources.items():
        if isinstance(res, dict) and res.get("Type") == "AWS::Events::Rule":
            rule = _queue_rule(logical_id, r.resolve(res.get("Properties") or {}), t)
            if rule is not None:
                t.queue_rules.append(rule)

    for logical_id, res in resources.items():
        if isinstance(res, dict) and res.get("Type") == "AWS::Pipes::Pipe":
            t.pipes.append(_pipe(logical_id, r.resolve(res.get("Properties") or {}), t))

    # Authorizer function ids were known only as ARNs until the functions were read.
    for spec in t.authorizers.values():
        target = t.function_by_arn(spec.function)
        if target is None:
            raise TemplateError(f"authorizer {spec.name}: FunctionArn {spec.function} is not a function here")
        spec.function = target.logical_id
    t.env_conflicts = _env_conflicts(t)
    return t


def _pipe(logical_id: str, props: dict[str, Any], t: Template) -> Pipe:
    source = str(props.get("Source", ""))
    table = next((tid for tid, tb in t.tables.items() if f":table/{tb.name}/stream/" in source), None)
    queue = _logical_id_of(props.get("Target"), t, t.queues)
    if table is None or queue is None:
        raise TemplateError(f"{logical_id}: only a pipe from a table stream to a queue of this template runs locally")
    source_params = props.get("SourceParameters") or {}
    filters = ((source_params.get("FilterCriteria") or {}).get("Filters")) or []
    stream = source_params.get("DynamoDBStreamParameters") or {}
    return Pipe(
        logical_id=logical_id,
        table=table,
        queue=queue,
        patterns=[json.loads(f["Pattern"]) for f in filters if "Pattern" in f],
        input_template=(props.get("TargetParameters") or {}).get("InputTemplate"),
        batch_size=int(stream.get("BatchSize", 10)),
    )


def _authorizer(name: str, spec: dict[str, Any], r: Resolver) -> AuthorizerSpec:
    identity = spec.get("Identity") or {}
    ttl = identity.get("ReauthorizeEvery")
    return AuthorizerSpec(
        name=name,
        function=str(r.resolve(spec.get("FunctionArn"))),
        identity_headers=[str(h) for h in r.resolve(identity.get("Headers") or [])],
        identity_query_strings=[str(q) for q in r.resolve(identity.get("QueryStrings") or [])],
        ttl=int(r.resolve(ttl)) if ttl is not None else 300,  # API Gateway's default is 300 s
        payload_version=str(r.resolve(spec.get("AuthorizerPayloadFormatVersion", "2.0"))),
        simple_responses=bool(r.resolve(spec.get("EnableSimpleResponses", False))),
    )


def _function(
    logical_id: str,
    props: dict[str, Any],
    globals_fn: dict[str, Any],
    global_env: dict[str, Any],
    *,
    r: Resolver,
    root: Path,
) -> Function:
    def prop(key: str, default: Any) -> Any:
        return r.resolve(props.get(key, globals_fn.get(key, default)))

    handler = str(prop("Handler", "app.lambda_handler"))
    module, _, attr = handler.rpartition(".")
    code_uri = prop("CodeUri", ".")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id}: only a local CodeUri directory can run locally")
    own_env = ((props.get("Environment") or {}).get("Variables")) or {}
    env = {k: env_string(v) for k, v in r.resolve({**global_env, **own_env}).items()}
    events = [
        EventSource(name, str(ev.get("Type")), r.resolve(ev.get("Properties") or {}))
        for name, ev in (props.get("Events") or {}).items()
    ]
    return Function(
        logical_id=logical_id,
        name=r.physical_name(logical_id),
        arn=r.get_att(logical_id, "Arn"),
        code_dir=(root / code_uri).resolve(),
        handler_module=module,
        handler_attr=attr,
        env=env,
        timeout=int(prop("Timeout", 3)),
        memory=int(prop("MemorySize", 128)),
        events=events,
    )


def _logical_id_of(value: Any, t: Template, kind: dict[str, Any]) -> str | None:
    """The logical id a resolved ARN/URL/name designates among `kind`."""
    for logical_id, res in kind.items():
        name = res.name
        if value in (name, logical_id) or str(value).endswith((f":{name}", f"/{name}")):
            return logical_id
    return None


def _attach_event(t: Template, fn: Function, ev: EventSource, default_authorizers: dict[str, Any]) -> None:
    p = ev.properties
    if ev.type == "HttpApi":
        auth = (p.get("Auth") or {}).get("Authorizer")
        if auth is None:
            api = p.get("ApiId")
            default = (
                default_authorizers.get(api)
                if api in default_authorizers
                else next(iter(default_authorizers.values()), None)
            )
            auth = default
        if auth == "NONE":
            auth = None
        path = p.get("Path")
        method = str(p.get("Method", "ANY")).upper()
        t.routes.append(
            Route(
                "ANY" if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" else method, path or "$default", fn.logical_id, auth
            )
        )
    elif ev.type == "SQS":
        queue = _logical_id_of(p.get("Queue"), t, t.queues)
        if queue is None:
            raise TemplateError(f"{fn.logical_id}.{ev.name}: queue {p.get('Queue')} is not in the template")
        t.sqs_sources.append(
            SqsSource(
                function=fn.logical_id,
                queue=queue,
                batch_size=int(p.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
                enabled=bool(p.get("Enabled", True)),
            )
        )
    elif ev.type in ("Schedule", "ScheduleV2"):
        enabled = p.get("Enabled", True) if ev.type == "Schedule" else p.get("State", "ENABLED") == "ENABLED"
        raw_input = p.get("Input")
        t.rate_events.append(
            RateEvent(
                function=fn.logical_id,
                name=ev.name,
                type=ev.type,
                expression=str(p.get("Schedule") or p.get("ScheduleExpression") or ""),
                input=raw_input if raw_input is None or isinstance(raw_input, str) else json.dumps(raw_input),
                enabled=bool(enabled),
            )
        )


def _bus_rule(t: Template, fn: Function, ev: EventSource, dead_letter: dict[str, Any]) -> BusRule:
    p = ev.properties
    bus = str(p.get("EventBusName") or "default")
    known = _logical_id_of(bus, t, t.buses)
    pattern = p.get("Pattern")
    if not isinstance(pattern, dict) or not pattern:
        raise TemplateError(f"{fn.logical_id}.{ev.name}: an EventBridgeRule needs a Pattern")
    return BusRule(
        function=fn.logical_id,
        name=ev.name,
        bus=t.buses[known].name if known else bus,
        pattern=pattern,
        enabled=str(p.get("State", "ENABLED")) == "ENABLED" and bool(p.get("Enabled", True)),
        dead_letter_arn=str(dead_letter["TargetArn"]) if dead_letter.get("Type") == "SQS" else None,
    )


def _queue_rule(logical_id: str, props: dict[str, Any], t: Template) -> QueueRule | None:
    """A bus rule into queues of the template (None when it targets nothing local: a schedule, a Lambda)."""
    pattern = props.get("EventPattern")
    queues = [
        t.queues[known].name
        for target in props.get("Targets") or []
        if (known := _logical_id_of(target.get("Arn"), t, t.queues))
    ]
    if not isinstance(pattern, dict) or not queues:
        return None
    bus = str(props.get("EventBusName") or "default")
    known_bus = _logical_id_of(bus, t, t.buses)
    return QueueRule(
        logical_id=logical_id,
        bus=t.buses[known_bus].name if known_bus else bus,
        pattern=pattern,
        queues=queues,
        enabled=str(props.get("State", "ENABLED")) == "ENABLED",
    )


def _env_conflicts(t: Template) -> list[str]:
    """Variables two functions set differently: one process can hold only one value."""
    seen: dict[str, tuple[str, str]] = {}
    conflicts = []
    for fn in t.functions.values():
        for key, value in fn.env.items():
            if key in seen and seen[key][1] != value:
                conflicts.append(f"{key}: {seen[key][0]}={seen[key][1]!r} but {fn.logical_id}={value!r}")
            seen.setdefault(key, (fn.logical_id, value))
    return conflicts


def merged_env(t: Template) -> dict[str, str]:
    """Every function's environment in one dict (first function wins on a conflict)."""
    env: dict[str, str] = {}
    for fn in t.functions.values():
        for key, value in fn.env.items():
            env.setdefault(key, value)
    return env


if __name__ == "__main__":  # `python -m local.template [template.yaml]`: print the resolved view
    tpl = load_template(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
    for route in tpl.routes:
        print(f"{route.route_key:40} -> {route.function}{'' if route.protected else '  (public)'}")

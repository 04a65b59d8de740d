"""Creates the template's tables, queues, buses, bus rules and schedule groups on the local services, idempotently."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.template import REGION, Queue, Secret, Table, Template

_SQS_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "SqsManagedSseEnabled",
)


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for a local endpoint, with test credentials whatever the environment holds."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - local emulators accept anything
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=30),
    )


def table_request(table: Table) -> dict[str, Any]:
    """CreateTable arguments from the template's own definition (never a second schema)."""
    p = table.properties
    billing = p.get("BillingMode", "PROVISIONED")
    req: dict[str, Any] = {
        "TableName": table.name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        req["ProvisionedThroughput"] = p.get("ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(key):
            indexes = []
            for index in p[key]:
                item = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                if billing == "PROVISIONED" and key == "GlobalSecondaryIndexes":
                    item["ProvisionedThroughput"] = index.get(
                        "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
                    )
                indexes.append(item)
            req[key] = indexes
    stream = p.get("StreamSpecification")
    if stream:
        req["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return req


def create_table(ddb: Any, table: Table) -> None:
    try:
        ddb.create_table(**table_request(table))
        ddb.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    ttl = table.properties.get("TimeToLiveSpecification") or {}
    if ttl.get("Enabled"):
        current = ddb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )


def queue_attributes(queue: Queue) -> dict[str, str]:
    p = queue.properties
    attrs = {k: _attr(p[k]) for k in _SQS_ATTRIBUTES if k in p}
    if "RedrivePolicy" in p:
        policy = p["RedrivePolicy"]
        attrs["RedrivePolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
    return attrs


def _attr(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def secret_value(secret: Secret) -> str:
    """The value Secrets Manager would give the secret: SecretString, else GenerateSecretString's."""
    p = secret.properties
    if "SecretString" in p:
        return str(p["SecretString"])
    spec = p.get("GenerateSecretString") or {}
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?[]^_{|}~"
    alphabet = "".join(c for c in alphabet if c not in str(spec.get("ExcludeCharacters", "")))
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "GenerateStringKey" in spec:
        document = json.loads(spec.get("SecretStringTemplate") or "{}")
        document[spec["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


def create_secret(sm: Any, secret: Secret) -> None:
    """Created once: a restarted stack keeps the value (DynamoDB Local keeps the key hashes it made)."""
    try:
        sm.describe_secret(SecretId=secret.name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        sm.create_secret(Name=secret.name, SecretString=secret_value(secret))


def create_resources(t: Template, aws_endpoint_url: str, dynamodb_endpoint_url: str) -> None:
    """Everything the template declares that the local services can hold; running it twice is harmless."""
    ddb = client("dynamodb", dynamodb_endpoint_url)
    for table in t.tables.values():
        create_table(ddb, table)

    sqs = client("sqs", aws_endpoint_url)
    # Dead-letter queues first: a RedrivePolicy must name a queue that exists.
    for queue in sorted(t.queues.values(), key=lambda q: "RedrivePolicy" in q.properties):
        sqs.create_queue(QueueName=queue.name, Attributes=queue_attributes(queue))

    events = client("events", aws_endpoint_url)
    for bus in t.buses.values():
        try:
            events.create_event_bus(Name=bus.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise

    kms = client("kms", aws_endpoint_url)
    for key in t.kms_keys:
        # Functions name the key by its alias (moto picks key ids): create both once.
        try:
            kms.describe_key(KeyId=key.alias)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NotFoundException":
                raise
            key_id = kms.create_key(Description=f"local {key.logical_id}")["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=key.alias, TargetKeyId=key_id)
    sm = client("secretsmanager", aws_endpoint_url)
    for secret in t.secrets:
        create_secret(sm, secret)
    # A function's EventBridgeRule: the rule on moto (which matches its pattern) targets a local queue,
    # which the stack's BusRuleConsumer reads to invoke the function as EventBridge would.
    for rule in t.bus_rules:
        url = sqs.create_queue(QueueName=rule.queue_name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name=rule.rule_name,
            EventBusName=rule.bus,
            EventPattern=json.dumps(rule.pattern),
            State="ENABLED" if rule.enabled else "DISABLED",
        )
        # The whole event, as EventBridge gives a Lambda target (moto's default input drops `account`).
        whole_event = {"InputPathsMap": {}, "InputTemplate": "<aws.events.event.json>"}
        events.put_targets(
            Rule=rule.rule_name,
            EventBusName=rule.bus,
            Targets=[{"Id": "local-delivery", "Arn": arn, "InputTransformer": whole_event}],
        )

    # A template's own bus rule into its queues: moto delivers the matching events there itself.
    for queue_rule in t.queue_rules:
        events.put_rule(
            Name=queue_rule.rule_name,
            EventBusName=queue_rule.bus,
            EventPattern=json.dumps(queue_rule.pattern),
            State="ENABLED" if queue_rule.enabled else "DISABLED",
        )
        targets = []
        for i, name in enumerate(queue_rule.queues):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            whole_event = {"InputPathsMap": {}, "InputTemplate": "<aws.events.event.json>"}
            targets.append({"Id": f"queue-{i}", "Arn": arn, "InputTransformer": whole_event})
        events.put_targets(Rule=queue_rule.rule_name, EventBusName=queue_rule.bus, Targets=targets)

    scheduler = client("scheduler", aws_endpoint_url)
    for group in t.schedule_groups.values():
        # moto's CreateScheduleGroup silently replaces an existing group (dropping its schedules): look first.
        try:
            scheduler.get_schedule_group(Name=group.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            scheduler.create_schedule_group(Name=group.name)
    for schedule in t.schedules.values():
        p = schedule.properties
        group = p.get("GroupName", "default")
        try:
            scheduler.get_schedule(GroupName=group, Name=schedule.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            keys = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target", "State",
                    "Description", "StartDate", "EndDate")  # fmt: skip
            scheduler.create_schedule(Name=schedule.name, GroupName=group, **{k: p[k] for k in keys if k in p})

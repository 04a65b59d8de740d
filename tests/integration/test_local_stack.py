"""The local stack on the product's real template.yaml: resources from the template, and the HTTP API up."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from local.resources import client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_tables_are_created_from_the_template_definition(local_stack):
    ddb = client("dynamodb", local_stack.dynamodb_endpoint_url)
    for table in local_stack.template.tables.values():
        described = ddb.describe_table(TableName=table.name)["Table"]
        assert described["KeySchema"] == table.properties["KeySchema"]
        want = {i["IndexName"]: i["KeySchema"] for i in table.properties.get("GlobalSecondaryIndexes", [])}
        got = {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}
        assert got == want
        ttl = table.properties.get("TimeToLiveSpecification")
        if ttl:
            desc = ddb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
            assert desc["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
            assert desc["AttributeName"] == ttl["AttributeName"]


def test_queues_buses_and_schedule_groups_exist(local_stack):
    sqs = client("sqs", local_stack.aws_endpoint_url)
    for queue in local_stack.template.queues.values():
        assert sqs.get_queue_url(QueueName=queue.name)["QueueUrl"].endswith(f"/{queue.name}")
    events = client("events", local_stack.aws_endpoint_url)
    for bus in local_stack.template.buses.values():
        assert events.describe_event_bus(Name=bus.name)["Name"] == bus.name
    scheduler = client("scheduler", local_stack.aws_endpoint_url)
    for group in local_stack.template.schedule_groups.values():
        assert scheduler.get_schedule_group(Name=group.name)["State"] == "ACTIVE"


def test_environment_points_handlers_at_the_local_services(local_stack):
    env = local_stack.env
    assert env["AWS_ENDPOINT_URL"] == local_stack.aws_endpoint_url
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == local_stack.dynamodb_endpoint_url
    assert env["REDIS_URL"] == local_stack.redis_url
    assert env["HEALTH_CACHE_SECONDS"] == "1"
    assert env["TABLE_NAME"] == local_stack.template.tables["GatehouseTable"].name
    assert env["GATEHOUSE_KEY_ENV"] == "test"


def test_resource_creation_is_idempotent(local_stack):
    from local.resources import create_resources

    create_resources(local_stack.template, local_stack.aws_endpoint_url, local_stack.dynamodb_endpoint_url)


def test_local_json_describes_the_stack(local_stack):
    info = local_stack.local_json()
    assert info["apiUrl"] == local_stack.api_url
    assert info["awsEndpointUrl"] == local_stack.aws_endpoint_url
    assert info["redisUrl"] == local_stack.redis_url
    assert info["routes"] == len(local_stack.template.routes)


def test_health_answers_through_the_emulator(local_stack):
    if not (ROOT / "functions" / "health" / "app.py").is_file():
        pytest.skip("functions/health/app.py does not exist yet")
    response = requests.get(f"{local_stack.api_url}/health", timeout=10)
    assert response.status_code == 200, response.text

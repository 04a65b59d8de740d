"""The DynamoDB adapter: one low-level client per process, reused across warm invocations.

The low-level client (not the resource API) keeps cold start and per-call overhead small;
`gatehouse.clients.dynamo_items` converts between plain values and DynamoDB's typed JSON.
The endpoint comes from the standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatehouse.clients.aws import aws_client
from gatehouse.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any


def dynamodb_client() -> DynamoDBClient:
    """The process's DynamoDB client: short timeouts, three attempts, kept warm."""
    return aws_client("dynamodb", max_attempts=3)


def table_name() -> str:
    return get_settings().table_name

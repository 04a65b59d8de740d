"""The DynamoDB adapter: one low-level client per process, reused across warm invocations.

The low-level client (not the resource API) keeps cold start and per-call overhead small;
`to_item` / `from_item` convert between plain Python values and DynamoDB's typed JSON.
The endpoint comes from the standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL variables.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gatehouse.settings import get_settings

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any


@lru_cache(maxsize=1)
def codecs() -> tuple[TypeSerializer, TypeDeserializer]:
    # boto3 is imported on first use: a handler that never touches DynamoDB never pays for it.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    """The process's DynamoDB client: short timeouts, standard retries, kept warm."""
    import boto3
    from botocore.config import Config

    timeout = get_settings().aws_timeout_seconds
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 3, "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.client("dynamodb", config=config)


def table_name() -> str:
    return get_settings().table_name


def _to_dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo_value(v) for v in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo_value(v) for v in value]
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB attribute map (None values are left out; floats become Decimals)."""
    serializer = codecs()[0]
    return {k: serializer.serialize(_to_dynamo_value(v)) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute map -> plain dict (whole numbers as int)."""
    deserializer = codecs()[1]
    return {k: _from_dynamo_value(deserializer.deserialize(v)) for k, v in item.items()}

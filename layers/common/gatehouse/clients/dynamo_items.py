"""Plain Python values <-> DynamoDB's typed attribute maps (boto3's codecs, loaded on first use).

Standard library and boto3 only, no settings: the lean authorizer's key store uses it too.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@lru_cache(maxsize=1)
def _codecs() -> tuple[TypeSerializer, TypeDeserializer]:
    # boto3 is imported on first use: a handler that never touches DynamoDB never pays for it.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


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


def to_attribute(value: Any) -> dict[str, Any]:
    """One plain value -> a DynamoDB attribute value (`"x"` -> `{"S": "x"}`)."""
    return _codecs()[0].serialize(_to_dynamo_value(value))


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB attribute map (None values are left out; floats become Decimals)."""
    return {k: to_attribute(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute map -> plain dict (whole numbers as int)."""
    deserializer = _codecs()[1]
    return {k: _from_dynamo_value(deserializer.deserialize(v)) for k, v in item.items()}

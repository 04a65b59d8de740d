"""Wires the keys area for Lambda: the KeysService over the DynamoDB table, built once per process."""

from __future__ import annotations

from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.keys.dynamo import DynamoKeyStore
from gatehouse.keys.service import KeysService
from gatehouse.settings import get_settings
from gatehouse.wiring import provided


@provided
def keys_service() -> KeysService:
    settings = get_settings()
    return KeysService(
        DynamoKeyStore(dynamodb_client(), table_name()),
        environment=settings.key_environment,
        pepper=settings.api_key_pepper.get_secret_value(),
        max_keys_per_owner=settings.max_keys_per_owner,
    )

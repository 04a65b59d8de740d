"""Wires the keys area for Lambda: the KeysService over the DynamoDB table, built once per process."""

from __future__ import annotations

from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.clients.secrets import secret_string
from gatehouse.keys.dynamo import DynamoKeyStore
from gatehouse.keys.service import KeysService
from gatehouse.settings import get_settings
from gatehouse.wiring import provided


@provided
def keys_service() -> KeysService:
    settings = get_settings()
    # Read once per process: the pepper never rotates in place (docs/operations.md#secrets).
    pepper_id = settings.api_key_pepper_secret_id
    pepper = secret_string(pepper_id, timeout=settings.aws_timeout_seconds) if pepper_id else ""
    return KeysService(
        DynamoKeyStore(dynamodb_client(), table_name()),
        environment=settings.key_environment,
        pepper=pepper,
        max_keys_per_owner=settings.max_keys_per_owner,
    )

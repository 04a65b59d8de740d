"""The KMS envelope on moto's KMS: secrets round-trip, never appear stored in clear, and are bound to their source."""

from __future__ import annotations

import pytest

from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.settings import get_settings
from gatehouse.webhooks.kms_sealer import KmsEnvelopeSealer, SealedSecretsUnreadable
from tests.integration.webhooks_support import new_source_name, put_source

pytestmark = pytest.mark.integration


def test_sealed_secrets_round_trip_and_are_bound_to_their_source(local_stack):
    sealer = KmsEnvelopeSealer(aws_client("kms"), get_settings().webhook_secrets_key_id)
    plaintext = b'["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]'
    sealed = sealer.seal("alpha", plaintext)
    assert plaintext not in sealed and b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in sealed
    assert sealer.open("alpha", sealed) == plaintext
    assert sealer.seal("alpha", plaintext) != sealed  # a fresh data key and nonce per write
    with pytest.raises(SealedSecretsUnreadable):
        sealer.open("beta", sealed)  # another source's context: neither KMS nor AES-GCM opens it
    with pytest.raises(SealedSecretsUnreadable):
        sealer.open("alpha", sealed[:-1] + bytes([sealed[-1] ^ 1]))  # tampered


def test_the_stored_source_item_holds_no_secret_in_clear(local_stack):
    name = new_source_name("sealed")
    secret = "a-github-secret-nobody-may-read"
    assert put_source(local_stack, name, "github", [secret]).status_code == 201
    item = dynamodb_client().get_item(TableName=table_name(), Key={"pk": {"S": f"WHSRC#{name}"}, "sk": {"S": "WHSRC"}})
    raw = repr(item["Item"]).encode()
    assert secret.encode() not in raw and secret not in repr(item)

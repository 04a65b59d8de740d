"""Source secrets encrypted at rest with a KMS envelope: one data key per write, AES-256-GCM locally.

Why KMS and not Secrets Manager (docs/webhooks.md#secrets): the sealed secrets live in the
source item itself, so intake needs one GetItem and one Decrypt (cached), writes stay one
PutItem, and nothing is created or deleted per source. The KMS encryption context and the
AES-GCM associated data both name the source, so a sealed blob copied onto another source
does not open. Blob: version byte, key-ciphertext length (2 bytes), key ciphertext, 12-byte
nonce, AES-GCM ciphertext.
"""

from __future__ import annotations

import os
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from gatehouse.errors import ServiceUnavailableError

VERSION: Final = 1
# KMS refusing the blob itself (wrong context, another key, corruption) is not an outage.
_UNREADABLE: Final = {"InvalidCiphertextException", "IncorrectKeyException"}


class SealedSecretsUnreadable(ValueError):
    """The blob does not open with this key and source: a defect or tampering, never retried."""


CONTEXT_KEY: Final = "gatehouse-webhook-source"
# Campaign callback secrets reuse this sealer under their own context key, so a webhook-source blob
# never opens as a campaign's and IAM grants each use by its key (docs/resilience.md#how-callbacks-are-wired).
CALLBACK_CONTEXT_KEY: Final = "gatehouse-campaign-callback"


class KmsEnvelopeSealer:
    def __init__(self, client: Any, key_id: str, *, context_key: str = CONTEXT_KEY) -> None:
        self._client = client
        self._key_id = key_id
        self._context_key = context_key

    def _aad(self, source: str) -> bytes:
        return f"{self._context_key}:{source}".encode()

    def seal(self, source: str, plaintext: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            data_key = self._client.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext={self._context_key: source}
            )
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailableError("Secret encryption is temporarily unavailable.") from error
        nonce = os.urandom(12)
        sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, self._aad(source))
        wrapped: bytes = data_key["CiphertextBlob"]
        return bytes([VERSION]) + len(wrapped).to_bytes(2, "big") + wrapped + nonce + sealed

    def open(self, source: str, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(sealed) < 3 or sealed[0] != VERSION:
            raise SealedSecretsUnreadable("unknown sealed-secret format")
        size = int.from_bytes(sealed[1:3], "big")
        wrapped, nonce, body = sealed[3 : 3 + size], sealed[3 + size : 15 + size], sealed[15 + size :]
        try:
            key = self._client.decrypt(
                CiphertextBlob=wrapped, KeyId=self._key_id, EncryptionContext={self._context_key: source}
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _UNREADABLE:
                raise SealedSecretsUnreadable("the sealed secrets do not open for this source") from None
            raise ServiceUnavailableError("Secret decryption is temporarily unavailable.") from error
        except BotoCoreError as error:
            raise ServiceUnavailableError("Secret decryption is temporarily unavailable.") from error
        try:
            return AESGCM(key["Plaintext"]).decrypt(nonce, body, self._aad(source))
        except InvalidTag:
            raise SealedSecretsUnreadable("the sealed secrets do not open for this source") from None

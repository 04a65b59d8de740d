"""Wires the campaigns area for Lambda: the CampaignsService over the table, on the timers area and the relay."""

from __future__ import annotations

from gatehouse.campaigns.dynamo import DynamoCampaignStore
from gatehouse.campaigns.service import CampaignsService
from gatehouse.clients.aws import aws_client
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.events.runtime import event_relay
from gatehouse.settings import get_settings
from gatehouse.timers.runtime import new_transaction, timers_service
from gatehouse.webhooks.kms_sealer import CALLBACK_CONTEXT_KEY, KmsEnvelopeSealer
from gatehouse.wiring import provided


class _LazySealer:
    """The KMS sealer of callback secrets, built at its first use: most campaign calls never need KMS."""

    def __init__(self) -> None:
        self._sealer: KmsEnvelopeSealer | None = None

    def _get(self) -> KmsEnvelopeSealer:
        if self._sealer is None:
            key = get_settings().webhook_secrets_key_id
            self._sealer = KmsEnvelopeSealer(aws_client("kms"), key, context_key=CALLBACK_CONTEXT_KEY)
        return self._sealer

    def seal(self, source: str, plaintext: bytes) -> bytes:
        return self._get().seal(source, plaintext)

    def open(self, source: str, sealed: bytes) -> bytes:
        return self._get().open(source, sealed)


@provided
def campaigns_service() -> CampaignsService:
    return CampaignsService(
        DynamoCampaignStore(dynamodb_client(), table_name()),
        timers_service(),
        event_relay(),
        new_transaction=new_transaction,
        timer_max_retries=get_settings().timer_max_retries,
        sealer=_LazySealer(),
    )

"""Wires the campaigns area for Lambda: the CampaignsService over the table, on the timers area and the relay."""

from __future__ import annotations

from gatehouse.campaigns.dynamo import DynamoCampaignStore
from gatehouse.campaigns.service import CampaignsService
from gatehouse.clients.dynamo import dynamodb_client, table_name
from gatehouse.events.runtime import event_relay
from gatehouse.settings import get_settings
from gatehouse.timers.runtime import new_transaction, timers_service
from gatehouse.wiring import provided


@provided
def campaigns_service() -> CampaignsService:
    return CampaignsService(
        DynamoCampaignStore(dynamodb_client(), table_name()),
        timers_service(),
        event_relay(),
        new_transaction=new_transaction,
        timer_max_retries=get_settings().timer_max_retries,
    )

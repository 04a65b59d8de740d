"""The EngagementSink over the campaigns area: a webhook's engagement is counted as POST …/engagements
would count it (once per campaign, user and type; the target can complete the campaign).

The sender is a source an operator registered, so it may name any campaign: the engagement is
recorded by a system principal that sees every campaign (`webhook:engagement` in the state log).
A refusal a retry cannot change (no such campaign, not RUNNING, a body the campaigns area finds
invalid) is EngagementRejected; anything else (an outage) propagates, so the queue retries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from gatehouse.campaigns.requests import EngagementRequest
from gatehouse.campaigns.service import CampaignsService
from gatehouse.errors import GatehouseError
from gatehouse.principal import Principal
from gatehouse.scopes import ADMIN
from gatehouse.webhooks.records import EngagementRejected

WEBHOOK_ACTOR = Principal(
    principal_id="webhook:engagement",
    owner_id="webhook:engagement",
    auth_type="jwt",
    scopes=frozenset({ADMIN}),
)


class CampaignEngagements:
    def __init__(self, campaigns: CampaignsService) -> None:
        self._campaigns = campaigns

    def record(self, campaign_id: str, engagement_type: str, user_id: str, attributes: Mapping[str, Any]) -> None:
        body: dict[str, Any] = {"engagementType": engagement_type, "userId": user_id}
        for name in ("occurredAt", "metadata"):
            if attributes.get(name) is not None:
                body[name] = attributes[name]
        try:
            request = EngagementRequest.model_validate(body)
        except PydanticValidationError as error:
            fields = ", ".join(".".join(str(p) for p in e.get("loc", ())) or "body" for e in error.errors())
            raise EngagementRejected(f"the engagement is not valid ({fields})") from None
        try:
            self._campaigns.engage(WEBHOOK_ACTOR, campaign_id, request)
        except GatehouseError as refusal:
            if refusal.status >= 500:
                raise  # an outage: let the queue retry
            raise EngagementRejected(f"{refusal.code.value}: {refusal.message}") from None

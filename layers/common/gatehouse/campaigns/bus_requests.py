"""What other services send on the bus: `campaign.created|updated|cancelled`, the route bodies with an owner.

Apart from requests.py so that the campaigns function's import, which defines the route bodies for
Powertools to read, does not define these (docs/metrics.md#cold-start).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from gatehouse.campaigns.requests import CancelCampaignRequest, CreateCampaignRequest, UpdateCampaignRequest

CampaignIdText = Annotated[str, StringConstraints(pattern=r"^cmp_[0-9A-Za-z]{8,40}$")]
OwnerIdText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class CampaignCreatedEvent(CreateCampaignRequest):
    """`campaign.created` from another service: the create body, its owner, and optionally the id to use."""

    owner_id: OwnerIdText
    campaign_id: CampaignIdText | None = None


class CampaignUpdatedEvent(UpdateCampaignRequest):
    owner_id: OwnerIdText
    campaign_id: CampaignIdText


class CampaignCancelledEvent(CancelCampaignRequest):
    owner_id: OwnerIdText
    campaign_id: CampaignIdText

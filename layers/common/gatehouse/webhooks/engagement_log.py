"""An EngagementSink that logs the engagement and records nothing: for runs without the campaigns area.

docs/webhooks.md#engagements: the integrator replaces it in webhooks/runtime.py with an adapter
over the campaigns use case that records an engagement (idempotent per campaign, user and type).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


class LoggingEngagementSink:
    def record(self, campaign_id: str, engagement_type: str, user_id: str, attributes: Mapping[str, Any]) -> None:
        logger.info(
            "engagement received (no campaigns area wired yet)",
            extra={"campaignId": campaign_id, "engagementType": engagement_type, "attributeCount": len(attributes)},
        )
        del user_id  # a user id is personal data: not logged

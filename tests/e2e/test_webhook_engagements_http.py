"""A webhook's engagement event is counted on its campaign, exactly as POST …/engagements counts it.

The webhooks area records engagements through its EngagementSink port; the wiring plugs the
campaigns area in (gatehouse/webhooks/campaign_engagements.py). Over HTTP through the local stack.
"""

from __future__ import annotations

import json

import pytest

from tests import webhook_signing as signing
from tests.e2e.campaign_support import Caller, timer_of
from tests.integration.webhooks_support import deliver, event, new_source_name, put_source

pytestmark = pytest.mark.integration


def _engagement(local_stack, source: str, campaign_id: str, user_id: str, engagement_type: str = "click"):
    body = json.dumps({"campaignId": campaign_id, "engagementType": engagement_type, "userId": user_id}).encode()
    headers = {**signing.standard_headers(signing.SECRETS["standard"], body), "content-type": "application/json"}
    answer = deliver(local_stack, source, body, headers)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def test_a_webhook_engagement_is_counted_on_its_campaign_once(local_stack, wait_until):
    alice = Caller(local_stack)
    campaign = alice.create(targetEngagements=2)
    start = timer_of(campaign, "START")
    assert alice("POST", f"/v1/campaigns/{campaign['id']}/timers/{start['timerId']}/execute").status_code == 200
    source = new_source_name()
    assert put_source(local_stack, source, "standard", [signing.SECRETS["standard"]]).status_code == 201

    # Two deliveries of one user's click (two delivery ids) count once; a second user reaches the target.
    first = _engagement(local_stack, source, campaign["id"], "u-1")
    repeat = _engagement(local_stack, source, campaign["id"], "u-1")
    for event_id in (first, repeat):
        wait_until(lambda eid=event_id: event(local_stack, eid)["status"] == "PROCESSED", timeout=20)
    assert alice("GET", f"/v1/campaigns/{campaign['id']}/lifecycle").json()["metrics"]["totalEngagements"] == 1
    second = _engagement(local_stack, source, campaign["id"], "u-2")
    wait_until(lambda: event(local_stack, second)["status"] == "PROCESSED", timeout=20)

    view = alice("GET", f"/v1/campaigns/{campaign['id']}/lifecycle").json()
    assert view["metrics"]["totalEngagements"] == 2 and view["metrics"]["participants"] == 2
    assert view["campaign"]["status"] == "COMPLETED" and view["campaign"]["completedBy"] == "target_reached"


def test_an_engagement_for_no_campaign_ends_failed_without_retries(local_stack, wait_until):
    source = new_source_name()
    assert put_source(local_stack, source, "standard", [signing.SECRETS["standard"]]).status_code == 201
    event_id = _engagement(local_stack, source, "cmp_doesnotexist000", "u-1")
    wait_until(lambda: event(local_stack, event_id)["status"] == "FAILED", timeout=20)
    seen = event(local_stack, event_id)
    assert seen["attempts"] == 1 and "NOT_FOUND" in seen["lastError"]

"""What one create, one firing and one cancel cost in AWS calls: counts, not timings, so they are asserted.

docs/timers.md prices a million timers from these numbers; `make bench` prints them too.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.client import BaseClient

from tests.e2e.campaign_support import Caller, at

pytestmark = pytest.mark.integration


@contextmanager
def aws_calls() -> Iterator[Counter[str]]:
    """Every AWS API call this thread makes (the stack's runners poll from threads of their own)."""
    calls: Counter[str] = Counter()
    me = threading.get_ident()
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict) -> object:
        if threading.get_ident() == me:
            calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return original(client, operation, params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def test_a_create_a_firing_and_a_cancel_cost_a_fixed_number_of_calls(local_stack):
    from gatehouse.campaigns.requests import CreateCampaignRequest
    from gatehouse.campaigns.runtime import campaigns_service
    from gatehouse.timer_actions import timer_actions
    from gatehouse.timers.records import TimerDelivery
    from gatehouse.timers.runtime import timers_service

    caller = Caller(local_stack)
    principal = caller.principal()
    service = campaigns_service()
    body = CreateCampaignRequest.model_validate({"name": "costs", "startTime": at(3600), "endTime": at(7200)})
    with aws_calls() as create:
        created = service.create(principal, body)
    # One transaction (campaign, counters, two timers, their log entries) and a schedule per timer
    assert create == Counter({"dynamodb:TransactWriteItems": 1, "scheduler:CreateSchedule": 2})

    start = next(t for t in created.timers if t.type == "START")
    delivery = TimerDelivery(start.timer_id, "campaign", created.id, 1)
    with aws_calls() as fire:
        result = timers_service().fire_delivery(delivery, timer_actions(), "scheduler")
    assert result.status == "fired"
    # Read the timer, claim it; read the campaign, commit the effect with the completion and the outbox;
    # publish, then clear the outbox. Scheduler deletes the fired schedule itself (ActionAfterCompletion).
    assert fire == Counter(
        {"dynamodb:GetItem": 2, "dynamodb:TransactWriteItems": 2, "events:PutEvents": 1, "dynamodb:BatchWriteItem": 1}
    )

    with aws_calls() as duplicate:
        assert timers_service().fire_delivery(delivery, timer_actions(), "scheduler").status == "ignored"
    assert duplicate == Counter({"dynamodb:GetItem": 1})  # a duplicate delivery costs one read

    with aws_calls() as cancel:
        service.cancel(principal, created.id, "costs")
    # Read it, list its timers, one transaction (campaign, log, the END timer, the event); publish, clear;
    # delete the END timer's schedule.
    assert cancel == Counter(
        {
            "dynamodb:GetItem": 1,
            "dynamodb:Query": 1,
            "dynamodb:TransactWriteItems": 1,
            "events:PutEvents": 1,
            "dynamodb:BatchWriteItem": 1,
            "scheduler:DeleteSchedule": 1,
        }
    )

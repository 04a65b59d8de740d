"""Campaigns and their timers over real HTTP through the local stack, with the scheduler runner firing real schedules.

What issue 9 asks to see: a campaign driven by its schedules end to end; exactly-once firing under
duplicate and concurrent deliveries; cancel racing a firing; a lost schedule recovered; a publish
that failed after its transition, published once later; 409s, 400s with details, UTC offsets, and
another owner's campaign as 404 everywhere.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gatehouse.errors import ConflictError
from local.resources import client
from tests.e2e.campaign_support import (
    BusTap,
    Caller,
    all_at_once,
    at,
    deliver_concurrently,
    delivery,
    timer_of,
)
from tests.e2e.tokens import assert_envelope, detail_fields, poll, stack_env

pytestmark = pytest.mark.integration

SWEEP_EVENT = {"version": "0", "id": "e2e", "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}}
GROUP = "gatehouse-local-timers"


@pytest.fixture(scope="module")
def bus(local_stack) -> Iterator[BusTap]:
    tap = BusTap(local_stack)
    try:
        yield tap
    finally:
        tap.close()


@pytest.fixture
def alice(local_stack) -> Caller:
    return Caller(local_stack)


@pytest.fixture
def scheduler(local_stack) -> Any:
    return client("scheduler", local_stack.aws_endpoint_url)


def schedule_exists(scheduler, timer: dict[str, Any]) -> bool:
    try:
        scheduler.get_schedule(GroupName=GROUP, Name=f"{timer['timerId']}-g{timer['generation']}")
        return True
    except scheduler.exceptions.ResourceNotFoundException:
        return False


def lifecycle(caller: Caller, campaign_id: str) -> dict[str, Any]:
    response = caller("GET", f"/v1/campaigns/{campaign_id}/lifecycle")
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_status(caller: Caller, campaign_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = lifecycle(caller, campaign_id)
        if view["campaign"]["status"] == status:
            return view
        assert time.monotonic() < deadline, f"still {view['campaign']['status']} after {timeout}s: {view}"
        time.sleep(0.2)


def transitions(view: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(e["fromStatus"], e["toStatus"], e["trigger"]) for e in view["stateHistory"]]


def wait_until_past(timestamp: str, seconds: float) -> None:
    """Sleep until `seconds` after an RFC 3339 UTC time."""
    from gatehouse.times import from_rfc3339

    time.sleep(max(0.0, from_rfc3339(timestamp) + seconds - time.time()))


def sweep(stack) -> dict[str, Any]:
    return stack.invoke("TimerSweepFunction", dict(SWEEP_EVENT))


# -- end to end on real schedules ------------------------------------------------------------------------


def test_a_campaign_runs_from_scheduled_to_completed_on_its_schedules(local_stack, alice, bus, scheduler):
    # Given a campaign starting three seconds from now and ending three seconds later
    created = alice.create(start_in=3, end_in=6)
    assert created["status"] == "SCHEDULED"
    start, end = timer_of(created, "START"), timer_of(created, "END")
    assert schedule_exists(scheduler, start) and schedule_exists(scheduler, end)
    # When the scheduler runner fires both schedules
    view = wait_for_status(alice, created["id"], "COMPLETED")
    # Then the lifecycle went SCHEDULED -> RUNNING -> COMPLETED, each step by its timer
    assert transitions(view) == [(None, "SCHEDULED", "api.create"), ("SCHEDULED", "RUNNING", "timer.START"),
                                 ("RUNNING", "COMPLETED", "timer.END")]  # fmt: skip
    assert view["stateHistory"][1]["timerId"] == start["timerId"]
    assert view["stateHistory"][2]["timerId"] == end["timerId"]
    timers = {t["type"]: t for t in view["timers"]["details"]}
    for kind in ("START", "END"):
        timer = timers[kind]
        assert timer["status"] == "COMPLETED" and timer["firedBy"] == "scheduler"
        assert timer["executedAt"] and timer["executedAt"] >= timer["scheduledAt"]
        assert 0 <= timer["latenessMs"] < 60_000
        assert [h["toStatus"] for h in timer["history"]] == ["PENDING", "RUNNING", "COMPLETED"]
    assert view["timers"] | {"details": None} == {
        "total": 2,
        "pending": 0,
        "completed": 2,
        "failed": 0,
        "details": None,
    }
    assert view["nextEvents"] == []
    assert view["campaign"]["completedBy"] == "timer.END"
    # ActionAfterCompletion DELETE: fired schedules are gone (once the runner has seen the target answer)
    poll(lambda: not (schedule_exists(scheduler, start) or schedule_exists(scheduler, end)), timeout=10)
    # And each lifecycle event was published once
    assert len(bus.of("campaign.started", campaignId=created["id"])) == 1
    assert len(bus.of("campaign.completed", campaignId=created["id"])) == 1
    assert len(bus.of("timer.fired", timerId=start["timerId"])) == 1
    assert len(bus.of("timer.fired", timerId=end["timerId"])) == 1


# -- exactly once ----------------------------------------------------------------------------------------


def test_the_same_delivery_twenty_times_at_once_fires_once(local_stack, alice, bus):
    campaign = alice.create()
    start = timer_of(campaign, "START")
    answers = deliver_concurrently(local_stack, delivery(campaign["id"], start["timerId"]), 20)
    statuses = sorted(a["status"] for a in answers)
    assert statuses == ["fired"] + ["ignored"] * 19, answers
    view = lifecycle(alice, campaign["id"])
    assert transitions(view) == [(None, "SCHEDULED", "api.create"), ("SCHEDULED", "RUNNING", "timer.START")]
    fired = next(t for t in view["timers"]["details"] if t["type"] == "START")
    assert [h["toStatus"] for h in fired["history"]] == ["PENDING", "RUNNING", "COMPLETED"]
    assert len(bus.of("campaign.started", campaignId=campaign["id"])) == 1
    assert len(bus.of("timer.fired", timerId=start["timerId"])) == 1
    # A late duplicate, after all that, changes nothing either
    (late,) = deliver_concurrently(local_stack, delivery(campaign["id"], start["timerId"]), 1)
    assert late["status"] == "ignored"
    assert alice("POST", f"/v1/campaigns/{campaign['id']}/cancel", json={"reason": "cleanup"}).status_code == 200


def test_execute_from_ten_threads_fires_once_over_http(local_stack, alice, bus):
    campaign = alice.create()
    start = timer_of(campaign, "START")
    path = f"/v1/campaigns/{campaign['id']}/timers/{start['timerId']}/execute"
    answers = all_at_once(10, lambda i: alice("POST", path))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9
    for answer in answers:
        if answer.status_code == 409:
            assert_envelope(answer, 409, "CONFLICT")
        else:
            assert answer.json()["status"] == "COMPLETED" and answer.json()["firedBy"] == "api"
    view = lifecycle(alice, campaign["id"])
    assert [t for _, _, t in transitions(view)] == ["api.create", "timer.START"]
    assert view["stateHistory"][1]["actor"] == alice.sub
    assert len(bus.of("campaign.started", campaignId=campaign["id"])) == 1
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_execute_from_ten_threads_at_once_in_process_fires_once(local_stack, alice, bus):
    # The HTTP emulator runs one instance per function; here the use case itself runs ten times in parallel.
    from gatehouse.campaigns.runtime import campaigns_service

    campaign = alice.create()
    start = timer_of(campaign, "START")
    principal = alice.principal()
    results = all_at_once(10, lambda i: campaigns_service().execute_timer(principal, campaign["id"], start["timerId"]))
    fired = [r for r in results if not isinstance(r, Exception)]
    assert len(fired) == 1 and fired[0].status == "COMPLETED"
    assert all(isinstance(r, ConflictError) for r in results if r not in fired), results
    assert len(bus.of("campaign.started", campaignId=campaign["id"])) == 1
    assert len(bus.of("timer.fired", timerId=start["timerId"])) == 1
    assert [t for _, _, t in transitions(lifecycle(alice, campaign["id"]))] == ["api.create", "timer.START"]
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_cancel_racing_a_firing_ends_in_one_consistent_state(local_stack, alice, bus, scheduler):
    from gatehouse.campaigns.runtime import campaigns_service

    principal = alice.principal()
    outcomes = set()
    for _ in range(6):
        campaign = alice.create()
        start = timer_of(campaign, "START")
        handler = local_stack.function_module("TimerFireFunction").lambda_handler
        from tests.helpers import FakeLambdaContext

        def race(i: int, campaign=campaign, start=start, handler=handler) -> Any:
            if i == 0:
                return handler(delivery(campaign["id"], start["timerId"]), FakeLambdaContext())
            return campaigns_service().cancel(principal, campaign["id"], "racing")

        fired, cancelled = all_at_once(2, race)
        assert not isinstance(cancelled, Exception), cancelled  # cancelling SCHEDULED or RUNNING always works
        view = lifecycle(alice, campaign["id"])
        assert view["campaign"]["status"] == "CANCELLED"
        history = view["stateHistory"]
        for before, after in itertools.pairwise(history):  # a legal chain, no gaps
            assert before["toStatus"] == after["fromStatus"]
        started = [e for e in history if e["toStatus"] == "RUNNING"]
        timers = {t["type"]: t for t in view["timers"]["details"]}
        assert timers["END"]["status"] == "CANCELLED" and not schedule_exists(scheduler, timers["END"])
        assert timers["START"]["status"] in ("COMPLETED", "CANCELLED")
        if timers["START"]["status"] == "CANCELLED":
            assert fired["status"] == "ignored" and not started
            assert not schedule_exists(scheduler, timers["START"])
        elif started:
            assert timers["START"]["outcome"] == "campaign SCHEDULED -> RUNNING"
        else:
            assert timers["START"]["outcome"].startswith("skipped")  # claimed first, completed after the cancel
        outcomes.add((timers["START"]["status"], bool(started)))
        assert len(bus.of("campaign.cancelled", campaignId=campaign["id"])) == 1
        assert len(bus.of("campaign.started", campaignId=campaign["id"])) == len(started)
    assert outcomes  # which interleavings occurred is up to the machine: each one was consistent


def test_an_end_that_fires_before_a_late_start_runs_and_completes_the_campaign(local_stack, alice, bus):
    campaign = alice.create(reminders=[at(5000)])
    start, end, reminder = (timer_of(campaign, kind) for kind in ("START", "END", "REMINDER"))
    (answer,) = deliver_concurrently(local_stack, delivery(campaign["id"], end["timerId"]), 1)
    assert answer["status"] == "fired", answer
    view = lifecycle(alice, campaign["id"])
    assert transitions(view)[1:] == [("SCHEDULED", "RUNNING", "timer.END"), ("RUNNING", "COMPLETED", "timer.END")]
    assert view["stateHistory"][1]["reason"] == "started late"
    timers = {t["timerId"]: t for t in view["timers"]["details"]}
    assert timers[start["timerId"]]["status"] == timers[reminder["timerId"]]["status"] == "CANCELLED"
    assert timers[end["timerId"]]["status"] == "COMPLETED"
    assert view["timers"]["pending"] == 0 and view["nextEvents"] == []
    # The late START's own delivery, when it comes, changes nothing
    (late,) = deliver_concurrently(local_stack, delivery(campaign["id"], start["timerId"]), 1)
    assert late["status"] == "ignored"
    assert len(bus.of("campaign.started", campaignId=campaign["id"])) == 1
    assert len(bus.of("campaign.completed", campaignId=campaign["id"])) == 1


def test_changing_times_moves_pending_timers_to_a_new_generation(local_stack, alice, scheduler):
    campaign = alice.create()
    start, end = timer_of(campaign, "START"), timer_of(campaign, "END")
    patched = alice("PATCH", f"/v1/campaigns/{campaign['id']}", json={"startTime": at(4000), "durationHours": 3})
    assert patched.status_code == 200, patched.text
    moved = {t["type"]: t for t in alice("GET", f"/v1/campaigns/{campaign['id']}/timers").json()["items"]}
    assert moved["START"]["scheduledAt"] == patched.json()["startTime"] and moved["START"]["generation"] == 2
    assert moved["END"]["scheduledAt"] == patched.json()["endTime"] and moved["END"]["generation"] == 2
    assert not schedule_exists(scheduler, start) and not schedule_exists(scheduler, end)  # generation 1: gone
    assert schedule_exists(scheduler, moved["START"]) and schedule_exists(scheduler, moved["END"])
    # A late delivery of the old schedule changes nothing
    (late,) = deliver_concurrently(local_stack, delivery(campaign["id"], start["timerId"], generation=1), 1)
    assert late["status"] == "ignored" and "superseded" in late["reason"]
    assert lifecycle(alice, campaign["id"])["campaign"]["status"] == "SCHEDULED"
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


# -- recovery --------------------------------------------------------------------------------------------


def test_a_schedule_deleted_behind_our_back_is_fired_by_the_sweep(
    local_stack, alice, scheduler, bus, scheduled_runs_held
):
    with local_stack.scheduler_runner.paused():  # gone before it could fire, however long the create took
        campaign = alice.create(start_in=4)
        start = timer_of(campaign, "START")
        scheduler.delete_schedule(GroupName=GROUP, Name=f"{start['timerId']}-g1")  # gone, and nobody told us
    with stack_env(local_stack, TIMER_SWEEP_GRACE_SECONDS="1"):
        wait_until_past(start["scheduledAt"], 1.5)  # due, and overdue by more than the grace period
        overdue = alice("GET", "/v1/timers/overdue")
        assert overdue.status_code == 403  # operators only
        report = sweep(local_stack)
    assert report["fired"] >= 1, report
    view = lifecycle(alice, campaign["id"])
    assert transitions(view)[-1] == ("SCHEDULED", "RUNNING", "timer.START")
    fired = next(t for t in view["timers"]["details"] if t["type"] == "START")
    assert fired["firedBy"] == "sweep" and fired["latenessMs"] >= 1000
    assert len(bus.of("campaign.started", campaignId=campaign["id"])) == 1
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_the_sweep_re_creates_a_missing_schedule_before_it_is_due(local_stack, alice, scheduler, scheduled_runs_held):
    campaign = alice.create(start_in=600, end_in=1200)
    start = timer_of(campaign, "START")
    scheduler.delete_schedule(GroupName=GROUP, Name=f"{start['timerId']}-g1")
    # The sweep checks the timers due in a one-minute band ahead: put this one in it.
    with stack_env(local_stack, TIMER_VERIFY_AHEAD_SECONDS="580"):
        report = sweep(local_stack)
    assert report["recreated"] >= 1, report
    assert schedule_exists(scheduler, start)
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_the_recovery_trigger_re_creates_missing_schedules(local_stack, alice, scheduler):
    admin = Caller(local_stack, scope="admin")
    campaign = alice.create(start_in=3000, end_in=4000)
    end = timer_of(campaign, "END")
    scheduler.delete_schedule(GroupName=GROUP, Name=f"{end['timerId']}-g1")
    response = admin("POST", "/v1/recovery/trigger", json={"limit": 1000})
    assert response.status_code == 200, response.text
    assert response.json()["recreated"] >= 1
    assert schedule_exists(scheduler, end)
    assert alice("POST", "/v1/recovery/trigger", json={}).status_code == 403
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_a_process_killed_between_transition_and_publish_still_publishes_once(
    local_stack, alice, bus, monkeypatch, scheduled_runs_held
):
    from gatehouse.events.runtime import event_relay

    campaign = alice.create()
    start = timer_of(campaign, "START")
    with stack_env(local_stack, OUTBOX_RELAY_MIN_AGE_SECONDS="0"):
        # Given a process whose publish fails right after its transition committed (it "dies" there)
        publisher = event_relay()._publisher

        def dies(events):
            raise ConnectionError("the process died before it could publish")

        monkeypatch.setattr(publisher, "publish", dies)
        response = alice("POST", f"/v1/campaigns/{campaign['id']}/timers/{start['timerId']}/execute")
        assert response.status_code == 200, response.text
        assert lifecycle(alice, campaign["id"])["campaign"]["status"] == "RUNNING"  # the transition is durable
        assert bus.of("campaign.started", campaignId=campaign["id"]) == []  # and its event is not out yet
        monkeypatch.undo()

        # (A sweep's count is every pending event's, another campaign's too: this one's are counted on the bus.)
        def published() -> tuple[int, int]:
            started = bus.of("campaign.started", campaignId=campaign["id"])
            return len(started), len(bus.of("timer.fired", timerId=start["timerId"]))

        # When the sweep runs (recovery), twice
        first = sweep(local_stack)
        after_first = published()
        second = sweep(local_stack)
        after_second = published()
    # Then the event went out exactly once: with the first sweep, not again with the second
    assert first["events_published"] >= 2, first
    assert after_first == after_second == (1, 1), (after_first, after_second, first, second)
    (started,) = bus.of("campaign.started", campaignId=campaign["id"])
    # with its deterministic id, which a consumer dedupes by
    from gatehouse.events.records import event_id_for

    assert started["detail"]["eventId"] == event_id_for("campaign.started", campaign["id"])
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


# -- engagements -----------------------------------------------------------------------------------------


def test_engagements_count_exactly_and_reaching_the_target_completes_the_campaign(local_stack, alice, bus):
    from gatehouse.campaigns.requests import EngagementRequest
    from gatehouse.campaigns.runtime import campaigns_service

    campaign = alice.create(targetEngagements=8)
    path = f"/v1/campaigns/{campaign['id']}/engagements"
    early = alice("POST", path, json={"engagementType": "click", "userId": "u-early"})
    assert_envelope(early, 409, "CONFLICT")  # not RUNNING yet
    start = timer_of(campaign, "START")
    assert alice("POST", f"/v1/campaigns/{campaign['id']}/timers/{start['timerId']}/execute").status_code == 200
    # A returning user with a second type is one more engagement but not one more participant; a repeat is a no-op
    assert alice("POST", path, json={"engagementType": "click", "userId": "u-0"}).status_code == 201
    again = alice("POST", path, json={"engagementType": "click", "userId": "u-0"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    claimed = alice("POST", path, json={"engagementType": "reward_claimed", "userId": "u-0"})
    assert claimed.status_code == 201
    assert claimed.json()["metrics"] | {"lastUpdated": None} == {
        "totalEngagements": 2, "participants": 1, "rewardsClaimed": 1, "lastUpdated": None}  # fmt: skip
    # When twenty distinct users engage at once (six more reach the target of eight)
    principal = alice.principal()
    results = all_at_once(
        20,
        lambda i: campaigns_service().engage(
            principal, campaign["id"], EngagementRequest(engagement_type="click", user_id=f"u-{i + 1}")
        ),
    )
    counted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(counted) == 6 and all(isinstance(r, ConflictError) for r in refused), results
    assert sum(1 for r in counted if r.view.target_reached) == 1
    view = lifecycle(alice, campaign["id"])
    assert view["metrics"]["totalEngagements"] == 8 and view["metrics"]["participants"] == 7
    assert view["campaign"]["status"] == "COMPLETED" and view["campaign"]["completedBy"] == "target_reached"
    assert transitions(view)[-1] == ("RUNNING", "COMPLETED", "target_reached")
    end = next(t for t in view["timers"]["details"] if t["type"] == "END")
    assert end["status"] == "CANCELLED"
    assert len(bus.of("campaign.target_reached", campaignId=campaign["id"])) == 1
    assert len(bus.of("campaign.completed", campaignId=campaign["id"])) == 1


# -- inbound events --------------------------------------------------------------------------------------


def test_campaign_events_from_other_services_have_the_api_effects(local_stack, alice, bus, wait_until):
    import json as jsonlib

    events = client("events", local_stack.aws_endpoint_url)
    owner = alice.create()["ownerId"]
    before = local_stack.invoker.invocations["CampaignEventsFunction"]
    campaign_id = "cmp_FromBus" + time.strftime("%H%M%S") + str(time.time_ns())[-6:]

    def put(detail_type: str, detail: dict[str, Any]) -> None:
        entry = {"EventBusName": "gatehouse-local-events", "Source": "acme.marketing", "DetailType": detail_type}
        assert events.put_events(Entries=[entry | {"Detail": jsonlib.dumps(detail)}])["FailedEntryCount"] == 0

    created = {"ownerId": owner, "campaignId": campaign_id, "name": "from the bus", "startTime": at(3600),
               "durationHours": 2}  # fmt: skip
    put("campaign.created", created)
    put("campaign.created", created)  # delivered twice: one campaign
    wait_until(lambda: alice("GET", f"/v1/campaigns/{campaign_id}").status_code == 200, timeout=10)
    put("campaign.updated", {"ownerId": owner, "campaignId": campaign_id, "name": "renamed on the bus"})
    wait_until(lambda: alice("GET", f"/v1/campaigns/{campaign_id}").json()["name"] == "renamed on the bus", timeout=10)
    put("campaign.cancelled", {"ownerId": owner, "campaignId": campaign_id, "reason": "from the bus"})
    view = wait_for_status(alice, campaign_id, "CANCELLED", timeout=10)
    assert transitions(view) == [(None, "SCHEDULED", "event.created"), ("SCHEDULED", "CANCELLED", "event.cancelled")]
    assert view["stateHistory"][0]["actor"] == "event:acme.marketing"
    assert len(alice("GET", "/v1/campaigns?limit=100").json()["items"]) == 2  # alice's own and this one
    # Gatehouse's own campaign.cancelled went out on the same bus (published by the function, in the bus
    # runner's thread, after the cancel it committed and this test saw) and did not come back in: the
    # function saw the four events this test sent, and nothing else
    wait_until(lambda: bus.of("campaign.cancelled", campaignId=campaign_id), timeout=10)
    assert len(bus.of("campaign.cancelled", campaignId=campaign_id)) == 1
    wait_until(lambda: local_stack.invoker.invocations["CampaignEventsFunction"] >= before + 4, timeout=10)
    time.sleep(1.5)
    assert local_stack.invoker.invocations["CampaignEventsFunction"] == before + 4


# -- refusals: 409, 400, 404, 403 ------------------------------------------------------------------------


def test_illegal_transitions_and_wrong_timer_states_are_409(local_stack, alice):
    campaign = alice.create()
    cid = campaign["id"]
    start, end = timer_of(campaign, "START"), timer_of(campaign, "END")
    assert alice("POST", f"/v1/campaigns/{cid}/timers/{start['timerId']}/execute").status_code == 200
    assert_envelope(alice("POST", f"/v1/campaigns/{cid}/timers/{start['timerId']}/execute"), 409, "CONFLICT")
    assert_envelope(alice("DELETE", f"/v1/campaigns/{cid}/timers/{start['timerId']}"), 409, "CONFLICT")
    body = assert_envelope(alice("PATCH", f"/v1/campaigns/{cid}", json={"startTime": at(7000)}), 409, "CONFLICT")
    assert "RUNNING" in body["error"]["message"]
    cancelled = alice("DELETE", f"/v1/campaigns/{cid}/timers/{end['timerId']}", json={"reason": "no end"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["cancelReason"] == "no end"
    assert_envelope(alice("DELETE", f"/v1/campaigns/{cid}/timers/{end['timerId']}"), 409, "CONFLICT")
    assert_envelope(alice("POST", f"/v1/campaigns/{cid}/timers/{end['timerId']}/execute"), 409, "CONFLICT")
    assert alice("POST", f"/v1/campaigns/{cid}/cancel", json={"reason": "done"}).status_code == 200
    assert_envelope(alice("POST", f"/v1/campaigns/{cid}/cancel"), 409, "CONFLICT")
    assert_envelope(alice("PATCH", f"/v1/campaigns/{cid}", json={"name": "late"}), 409, "CONFLICT")
    engaged = alice("POST", f"/v1/campaigns/{cid}/engagements", json={"engagementType": "click", "userId": "u"})
    assert_envelope(engaged, 409, "CONFLICT")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endTime": "START-1"}, "endTime"),  # end before start
        ({"endTime": "START"}, "endTime"),  # end equal to start
        ({"startTime": "2030-01-01T10:00:00"}, "startTime"),  # naive: no offset
        ({"startTime": "2030-02-30T10:00:00Z"}, "startTime"),  # no such day
        ({"startTime": "next tuesday"}, "startTime"),
        ({"startTime": 1767225600}, "startTime"),  # a number is not a timestamp here
        ({"startTime": "0001-01-01T00:30:00+01:00"}, "startTime"),  # year 0 once in UTC
        ({"startTime": "2020-01-01T00:00:00Z"}, "startTime"),  # in the past
        ({"startTime": "2999-01-01T00:00:00Z", "endTime": "2999-01-02T00:00:00Z"}, "startTime"),  # too far
        ({"durationHours": 2}, "durationHours"),  # both endTime and durationHours
        ({"endTime": None}, "endTime"),  # neither
        ({"durationHours": "2", "endTime": None}, "durationHours"),
        ({"targetEngagements": 0}, "targetEngagements"),
        ({"autoClose": "yes"}, "autoClose"),
        ({"callbackUrl": "http://hooks.example.com/x"}, "callbackUrl"),
        # Loopback is allowed in the local stack (OUTBOUND_ALLOWED_NETWORKS): another private address is not.
        ({"callbackUrl": "https://10.0.0.1/x"}, "callbackUrl"),
        ({"callbackUrl": "https://user:pw@hooks.example.com/x"}, "callbackUrl"),
        ({"metadata": {"blob": "x" * 5000}}, "metadata"),
        ({"reminders": ["END+60"]}, "reminders"),
        ({"name": "   "}, "name"),
        ({"colour": "blue"}, "colour"),  # unknown field
    ],
)
def test_invalid_create_bodies_are_400_with_field_details(local_stack, alice, change, field):
    start, end = at(3600), at(7200)
    placeholders = {"START-1": at(3599), "START": start, "END+60": at(7260)}

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return placeholders.get(value, value) if isinstance(value, str) else value

    body: dict[str, Any] = {"name": "bad", "startTime": start, "endTime": end}
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = resolve(value)
    response = alice("POST", "/v1/campaigns", json=body)
    envelope = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in detail_fields(envelope), envelope


def test_invalid_patch_engagement_and_list_inputs_are_400(local_stack, alice):
    cid = alice.create()["id"]
    for body, field in (
        ({"unknown": 1}, "unknown"),
        ({"name": None}, "name"),
        ({"endTime": at(-60)}, "endTime"),  # before start (and in the past)
        ({"startTime": at(-60)}, "startTime"),  # in the past
        ({"startTime": "2030-01-01T00:00:00"}, "startTime"),
    ):
        envelope = assert_envelope(alice("PATCH", f"/v1/campaigns/{cid}", json=body), 400, "VALIDATION_ERROR")
        assert field in detail_fields(envelope), (body, envelope)
    for body, field in (
        ({"engagementType": "Click!", "userId": "u"}, "engagementType"),
        ({"engagementType": "click", "userId": "a b"}, "userId"),
        ({"engagementType": "click"}, "userId"),
    ):
        response = alice("POST", f"/v1/campaigns/{cid}/engagements", json=body)
        assert field in detail_fields(assert_envelope(response, 400, "VALIDATION_ERROR"))
    assert_envelope(alice("GET", "/v1/campaigns?cursor=not-a-cursor"), 400, "VALIDATION_ERROR")
    assert_envelope(alice("GET", "/v1/campaigns?limit=0"), 400, "VALIDATION_ERROR")
    assert_envelope(alice("GET", f"/v1/campaigns/{cid}/timers?status=LATE"), 400, "VALIDATION_ERROR")
    assert_envelope(alice("GET", f"/v1/campaigns/{cid}/timers?cursor=tmr_nope"), 400, "VALIDATION_ERROR")
    assert_envelope(alice("GET", "/v1/campaigns/not%20an%20id"), 400, "VALIDATION_ERROR")
    alice("POST", f"/v1/campaigns/{cid}/cancel")


def test_times_with_offsets_are_normalised_to_utc(local_stack, alice):
    year = time.gmtime().tm_year + 3  # always ahead, never past the ten-year horizon
    response = alice(
        "POST",
        "/v1/campaigns",
        json={
            "name": "offsets",
            "startTime": f"{year}-03-01T12:00:00.750+02:00",
            "endTime": f"{year}-03-01T09:30:00-05:00",
        },
    )
    assert response.status_code == 201, response.text
    campaign = response.json()
    assert campaign["startTime"] == f"{year}-03-01T10:00:00Z"  # fractions dropped: schedules have whole seconds
    assert campaign["endTime"] == f"{year}-03-01T14:30:00Z"
    assert timer_of(campaign, "START")["scheduledAt"] == f"{year}-03-01T10:00:00Z"
    patched = alice("PATCH", f"/v1/campaigns/{campaign['id']}", json={"endTime": f"{year}-03-02T00:00:00+09:00"})
    assert patched.status_code == 200 and patched.json()["endTime"] == f"{year}-03-01T15:00:00Z"
    alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_another_owners_campaign_is_404_everywhere(local_stack, alice):
    bob = Caller(local_stack)
    campaign = bob.create()
    cid, tid = campaign["id"], timer_of(campaign, "START")["timerId"]
    for method, path, body in (
        ("GET", f"/v1/campaigns/{cid}", None),
        ("PATCH", f"/v1/campaigns/{cid}", {"name": "mine now"}),
        ("POST", f"/v1/campaigns/{cid}/cancel", {"reason": "mine"}),
        ("POST", f"/v1/campaigns/{cid}/engagements", {"engagementType": "click", "userId": "u"}),
        ("GET", f"/v1/campaigns/{cid}/lifecycle", None),
        ("GET", f"/v1/campaigns/{cid}/timers", None),
        ("POST", f"/v1/campaigns/{cid}/timers/{tid}/execute", None),
        ("DELETE", f"/v1/campaigns/{cid}/timers/{tid}", None),
    ):
        response = alice(method, path, json=body) if body else alice(method, path)
        assert_envelope(response, 404, "NOT_FOUND")
        missing = path.replace(cid, "cmp_" + "0" * 20)
        assert (
            response.json()["error"]["message"]
            == (alice(method, missing, json=body) if body else alice(method, missing)).json()["error"]["message"]
        )
    assert cid not in [c["id"] for c in alice("GET", "/v1/campaigns?limit=100").json()["items"]]
    # Untouched, and its owner and operators still see it
    assert bob("GET", f"/v1/campaigns/{cid}").json()["status"] == "SCHEDULED"
    assert Caller(local_stack, scope="admin")("GET", f"/v1/campaigns/{cid}").status_code == 200
    bob("POST", f"/v1/campaigns/{cid}/cancel")


def test_scopes_are_checked_per_route(local_stack, alice):
    reader = Caller(local_stack, scope="campaigns:read")
    writer = Caller(local_stack, scope="campaigns:read campaigns:write")
    body = {"name": "x", "startTime": at(3600), "endTime": at(7200)}
    assert_envelope(reader("POST", "/v1/campaigns", json=body), 403, "AUTHORIZATION_ERROR")
    campaign = writer.create()
    tid = timer_of(campaign, "START")["timerId"]
    refused = writer("POST", f"/v1/campaigns/{campaign['id']}/timers/{tid}/execute")
    assert_envelope(refused, 403, "AUTHORIZATION_ERROR")  # timers:write
    for method, path in (("GET", "/v1/timers/pending"), ("GET", "/v1/timers/overdue"), ("POST", "/v1/timers/process")):
        assert_envelope(alice(method, path), 403, "AUTHORIZATION_ERROR")  # admin
    writer("POST", f"/v1/campaigns/{campaign['id']}/cancel")


# -- operators -------------------------------------------------------------------------------------------


def test_operators_page_pending_timers_in_order_and_process_what_is_due(local_stack, alice, scheduler):
    admin = Caller(local_stack, scope="admin")
    mine = [alice.create(start_in=9000 + i, end_in=9500 + i) for i in range(3)]
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        query = "limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = admin("GET", f"/v1/timers/pending?{query}")
        assert page.status_code == 200, page.text
        seen.extend(page.json()["items"])
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    keys = [(t["scheduledAt"], t["timerId"]) for t in seen if t["retryCount"] == 0]
    assert keys == sorted(keys)  # soonest first across every shard
    ids = {t["timerId"] for t in seen}
    assert all(timer_of(c, kind)["timerId"] in ids for c in mine for kind in ("START", "END"))
    assert_envelope(admin("GET", "/v1/timers/pending?cursor=eyJrIjoib3RoZXIifQ"), 400, "VALIDATION_ERROR")
    # A due timer whose schedule vanished is fired by POST /v1/timers/process
    with local_stack.scheduler_runner.paused():  # gone before it could fire, however long the create took
        due = alice.create(start_in=3)
        start = timer_of(due, "START")
        scheduler.delete_schedule(GroupName=GROUP, Name=f"{start['timerId']}-g1")
    wait_until_past(start["scheduledAt"], 0.5)
    processed = admin("POST", "/v1/timers/process", json={"limit": 1000})
    assert processed.status_code == 200, processed.text
    assert start["timerId"] in processed.json()["firedTimerIds"]
    assert lifecycle(alice, due["id"])["campaign"]["status"] == "RUNNING"
    for campaign in [*mine, due]:
        alice("POST", f"/v1/campaigns/{campaign['id']}/cancel")


def test_a_target_raised_after_it_was_reached_is_reached_again_without_blocking_engagements(local_stack, alice, bus):
    # Given a RUNNING campaign without autoClose whose target of 2 was reached (campaign.target_reached published)
    campaign = alice.create(targetEngagements=2, autoClose=False)
    cid = campaign["id"]
    path = f"/v1/campaigns/{cid}/engagements"
    start = timer_of(campaign, "START")
    assert alice("POST", f"/v1/campaigns/{cid}/timers/{start['timerId']}/execute").status_code == 200
    for user in ("u-1", "u-2"):
        assert alice("POST", path, json={"engagementType": "click", "userId": user}).status_code == 201
    assert len(bus.of("campaign.target_reached", campaignId=cid)) == 1
    # and its target then raised to 4 (a reached target "can only grow")
    raised = alice("PATCH", f"/v1/campaigns/{cid}", json={"targetEngagements": 4})
    assert raised.status_code == 200, raised.text

    # When two more users engage, the second reaching the new target
    assert alice("POST", path, json={"engagementType": "click", "userId": "u-3"}).status_code == 201
    reaching = alice("POST", path, json={"engagementType": "click", "userId": "u-4"})

    # Then the engagement counts (the outbox still holding the first target_reached must not refuse it),
    # and so do the ones after it
    assert reaching.status_code == 201, reaching.text
    assert alice("POST", path, json={"engagementType": "click", "userId": "u-5"}).status_code == 201
    assert lifecycle(alice, cid)["metrics"]["totalEngagements"] == 5
    # and campaign.target_reached stays the one event of its id (docs/reference.md: published once)
    assert len(bus.of("campaign.target_reached", campaignId=cid)) == 1

"""The timers area on its own, against DynamoDB Local, moto's Scheduler and SQS: a made-up owner kind
("probe") whose action writes one effect item, so exactly-once can be counted, and a clock the test moves.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gatehouse.timers.records import (
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    TIMER_SHARDS,
    ActionResult,
    Firing,
    Timer,
    TimerSpec,
)
from gatehouse.timers.service import TimerPolicy, TimersService
from gatehouse.transactions import Transaction
from local.resources import client
from tests.e2e.campaign_support import BusTap

pytestmark = pytest.mark.integration

KIND = "probe"
# The area's schedules go to a group of these tests' own: the stack's scheduler runner fires the
# template's group, and a probe timer due now there would be fired by it, racing the test's own firing.
GROUP = "gatehouse-local-probe-timers"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Killed(BaseException):
    """The process dies: nothing after this line runs, nothing staged is committed."""


class ProbeAction:
    """Writes one effect item per timer in the firing's transaction; can fail or die on chosen calls."""

    def __init__(self, table: str, *, fail: int = 0, die: int = 0) -> None:
        self.table = table
        self.fail = fail  # raise an ordinary error on the first `fail` calls
        self.die = die  # "kill the process" on the first `die` calls (after staging the effect)
        self.calls = 0

    def __call__(self, timer: Timer, tx: Transaction, firing: Firing, now: float) -> ActionResult:
        self.calls += 1
        if self.calls <= self.fail:
            raise RuntimeError(f"downstream said no (call {self.calls})")
        tx.add(
            "probe:effect",
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {"pk": {"S": f"PROBE#{timer.owner_id}"}, "sk": {"S": f"EFFECT#{timer.timer_id}"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        )
        if self.calls <= self.die:
            raise Killed
        return ActionResult(f"effect by call {self.calls}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def area(local_stack, clock) -> Iterator[TimersService]:
    from gatehouse.clients.aws import aws_client
    from gatehouse.clients.dynamo import dynamodb_client, table_name
    from gatehouse.events.runtime import event_relay
    from gatehouse.settings import get_settings
    from gatehouse.timers.dead_letters import SqsDeadLetters
    from gatehouse.timers.dynamo import DynamoTimerStore
    from gatehouse.timers.runtime import new_transaction
    from gatehouse.timers.scheduler import EventBridgeSchedules

    settings = get_settings()
    scheduler = aws_client("scheduler")
    with contextlib.suppress(scheduler.exceptions.ConflictException):  # made by an earlier test of this session
        scheduler.create_schedule_group(Name=GROUP)
    yield TimersService(
        DynamoTimerStore(dynamodb_client(), table_name()),
        EventBridgeSchedules(
            scheduler,
            group=GROUP,
            target_arn=settings.timer_target_arn,
            role_arn=settings.scheduler_role_arn,
            dead_letter_arn=settings.scheduler_dlq_arn,
        ),
        event_relay(),
        new_transaction=new_transaction,
        dead_letters=SqsDeadLetters(aws_client("sqs"), settings.scheduler_dlq_url),
        policy=TimerPolicy(
            retry_base_seconds=4, retry_max_seconds=60, lease_seconds=30, grace_seconds=0, verify_ahead_seconds=0
        ),
        clock=clock,
    )


@pytest.fixture
def table(local_stack) -> str:
    from gatehouse.clients.dynamo import table_name

    return table_name()


@pytest.fixture(scope="module")
def bus(local_stack) -> Iterator[BusTap]:
    tap = BusTap(local_stack)
    try:
        yield tap
    finally:
        tap.close()


def create(area: TimersService, clock: Clock, *, due_in: float = 3600, max_retries: int = 2, owner: str = "") -> Timer:
    from gatehouse.timers.runtime import new_transaction

    timer = area.new_timer(
        TimerSpec(KIND, owner or uuid.uuid4().hex[:12], "PING", int(clock.now + due_in), max_retries), clock.now
    )
    tx = new_transaction()
    area.stage_create(tx, timer, trigger="test", actor="test", now=clock.now)
    tx.commit()
    area.schedule([timer])
    return timer


def effects(local_stack, timer: Timer) -> int:
    ddb = client("dynamodb", local_stack.dynamodb_endpoint_url)
    answer = ddb.get_item(
        TableName="gatehouse-local-GatehouseTable",
        Key={"pk": {"S": f"PROBE#{timer.owner_id}"}, "sk": {"S": f"EFFECT#{timer.timer_id}"}},
        ConsistentRead=True,
    )
    return 1 if answer.get("Item") else 0


def schedule_exists(local_stack, timer: Timer) -> bool:
    scheduler = client("scheduler", local_stack.aws_endpoint_url)
    try:
        scheduler.get_schedule(GroupName=GROUP, Name=timer.schedule_name)
        return True
    except scheduler.exceptions.ResourceNotFoundException:
        return False


def with_real_actions(action: Any) -> dict[str, Any]:
    """The sweep fires every owner's overdue timers: the real actions too, so no other test's timer is hurt."""
    from gatehouse.timer_actions import timer_actions

    return {**timer_actions(), KIND: action}


def fire(area: TimersService, timer: Timer, action: Any, generation: int | None, source: str = "scheduler") -> Any:
    return area.fire(
        KIND, timer.owner_id, timer.timer_id, generation=generation, firing=Firing(source, source), action=action
    )


def test_a_failing_action_is_retried_with_backoff_then_failed_and_visible(local_stack, area, clock, table, bus):
    timer = create(area, clock, due_in=0, max_retries=2)
    action = ProbeAction(table, fail=99)
    delays = []
    for generation in (1, 2):
        result = fire(area, timer, action, generation)
        assert result.status == "retrying", result
        retried = area.get(KIND, timer.owner_id, timer.timer_id)
        assert retried.status == PENDING and retried.generation == generation + 1
        assert retried.retry_count == generation and "downstream said no" in (retried.last_error or "")
        delays.append(retried.due_at - int(clock.now))
        assert schedule_exists(local_stack, retried)  # each retry has its own schedule (a new generation)
        assert fire(area, timer, action, generation).status == "ignored"  # the old generation's late delivery
        clock.now = retried.due_at
    # equal jitter around 4 s then 8 s: half of the ceiling at least, never more than it
    assert 2 <= delays[0] <= 4 and 4 <= delays[1] <= 8, delays
    result = fire(area, timer, action, 3)
    assert result.status == "failed"
    failed = area.get(KIND, timer.owner_id, timer.timer_id)
    assert failed.status == FAILED and failed.retry_count == 2 and failed.last_error
    history = [
        (e.from_status, e.to_status, e.trigger)
        for e in sorted(area.log_for_owner(KIND, timer.owner_id), key=lambda e: e.version)
    ]
    assert history == [
        (None, PENDING, "test"),
        (PENDING, RUNNING, "fire.scheduler"),
        (RUNNING, PENDING, "retry"),
        (PENDING, RUNNING, "fire.scheduler"),
        (RUNNING, PENDING, "retry"),
        (PENDING, RUNNING, "fire.scheduler"),
        (RUNNING, FAILED, "retries-exhausted"),
    ]
    assert effects(local_stack, timer) == 0 and action.calls == 3
    assert len(bus.of("timer.failed", timerId=timer.timer_id)) == 1
    assert bus.of("timer.fired", timerId=timer.timer_id) == []


def test_a_claim_whose_process_died_is_taken_over_after_its_lease_and_the_effect_happens_once(
    local_stack, area, clock, table, bus
):
    timer = create(area, clock, due_in=0)
    action = ProbeAction(table, die=1)
    # The first firing claims, stages its effect, and dies before committing anything else
    with pytest.raises(Killed):
        fire(area, timer, action, 1)
    claimed = area.get(KIND, timer.owner_id, timer.timer_id)
    assert claimed.status == RUNNING and effects(local_stack, timer) == 0
    # A delivery meanwhile sees it firing and stays out; so does the sweep while the lease holds
    assert fire(area, timer, action, 1).reason == "already firing"
    area.sweep(with_real_actions(action))
    assert area.get(KIND, timer.owner_id, timer.timer_id).status == RUNNING and action.calls == 1
    # After the lease the sweep takes it over and the effect happens, once
    clock.now = claimed.lease_until + 1
    report = area.sweep(with_real_actions(action))
    assert report.fired >= 1, report
    done = area.get(KIND, timer.owner_id, timer.timer_id)
    assert done.status == COMPLETED and done.fired_by == "sweep" and done.outcome == "effect by call 2"
    assert effects(local_stack, timer) == 1
    triggers = [e.trigger for e in sorted(area.log_for_owner(KIND, timer.owner_id), key=lambda e: e.version)]
    assert triggers == ["test", "fire.scheduler", "lease-expired", "fire.sweep"]
    # The hung process waking up with its old claim cannot complete it again
    late = area._run(claimed, Firing("scheduler", "scheduler"), action)
    assert late.status == "ignored" and effects(local_stack, timer) == 1
    assert len(bus.of("timer.fired", timerId=timer.timer_id)) == 1


def test_a_moved_timer_fires_only_for_its_new_generation(local_stack, area, clock, table):
    from gatehouse.timers.runtime import new_transaction

    timer = create(area, clock, due_in=600)
    assert schedule_exists(local_stack, timer)
    tx = new_transaction()
    moved = area.stage_move(tx, timer, int(clock.now + 900), trigger="test.move", actor="test", now=clock.now)
    tx.commit()
    area.moved(timer, moved)
    assert moved.generation == 2 and not schedule_exists(local_stack, timer) and schedule_exists(local_stack, moved)
    action = ProbeAction(table)
    assert fire(area, timer, action, 1).status == "ignored"
    assert fire(area, timer, action, 2).status == "fired"
    assert effects(local_stack, timer) == 1 and action.calls == 1


def test_an_owner_kind_without_an_action_fails_visibly(local_stack, area, clock):
    timer = create(area, clock, due_in=0, max_retries=0)
    result = fire(area, timer, None, 1)
    assert result.status == "failed"
    assert "no action for timers of kind 'probe'" in area.get(KIND, timer.owner_id, timer.timer_id).last_error


def test_pending_pages_merge_every_shard_in_order(local_stack, area, clock):
    from gatehouse.timers.runtime import new_transaction

    owner = uuid.uuid4().hex[:12]
    base = clock.now + 30 * 86400
    mine = [create(area, clock, due_in=base - clock.now + 7 * i, owner=owner) for i in range(40)]
    assert len({t.shard for t in mine}) >= TIMER_SHARDS // 2  # the hash spreads them
    seen: list[Timer] = []
    cursor = None
    while True:
        page, cursor = area.pending(5, cursor)
        seen.extend(page)
        if cursor is None:
            break
    keys = [t.index_key for t in seen]
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    assert [t.timer_id for t in seen if t.owner_id == owner] == [t.timer_id for t in mine]
    tx = new_transaction()
    for timer in mine:
        area.stage_cancel(tx, timer, trigger="test", actor="test", reason="cleanup", now=clock.now)
    tx.commit()
    area.cancelled(mine)


def test_dead_lettered_deliveries_are_fired_by_the_sweep(local_stack, area, clock, table, scheduled_runs_held):
    # The stack's own sweep reads the same dead-letter queue: held (scheduled_runs_held), it takes none of these.
    from gatehouse.settings import get_settings
    from gatehouse.timers.records import TimerDelivery

    timer = create(area, clock, due_in=3600)
    sqs = client("sqs", local_stack.aws_endpoint_url)
    body = json.dumps(TimerDelivery.for_timer(timer).schedule_input())
    sqs.send_message(QueueUrl=get_settings().scheduler_dlq_url, MessageBody=body)
    sqs.send_message(QueueUrl=get_settings().scheduler_dlq_url, MessageBody="not a delivery")
    report = area.sweep(with_real_actions(ProbeAction(table)))
    assert report.dead_letters >= 2, report
    done = area.get(KIND, timer.owner_id, timer.timer_id)
    assert done.status == COMPLETED and done.fired_by == "dead-letter"
    assert effects(local_stack, timer) == 1
    assert sqs.receive_message(QueueUrl=get_settings().scheduler_dlq_url, WaitTimeSeconds=0).get("Messages") is None

"""The ScheduleGateway adapter on EventBridge Scheduler: one one-time schedule per timer generation.

Each schedule is `at(…)` in UTC with the flexible window off, deletes itself after it fires
(ActionAfterCompletion DELETE, so fired schedules never count against the quota), retries a
failed invocation and then dead-letters it, and carries the timer id and generation in its input.
Its name is deterministic (`<timerId>-g<generation>`), so creating it twice is harmless: a
ConflictException means it is already there (docs/timers.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gatehouse.timers.records import ScheduleUnavailable, Timer, TimerDelivery, schedule_name


def at_expression(epoch_seconds: int) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)`: Scheduler reads it in ScheduleExpressionTimezone (we always give UTC)."""
    return f"at({datetime.fromtimestamp(epoch_seconds, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


class EventBridgeSchedules:
    """ScheduleGateway over a boto3 `scheduler` client."""

    def __init__(
        self,
        client: Any,
        *,
        group: str,
        target_arn: str,
        role_arn: str,
        dead_letter_arn: str = "",
        max_retry_attempts: int = 10,
        max_event_age_seconds: int = 3600,
    ) -> None:
        self._client = client
        self._group = group
        self._target_arn = target_arn
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn
        self._retry = {"MaximumRetryAttempts": max_retry_attempts, "MaximumEventAgeInSeconds": max_event_age_seconds}

    def create(self, timer: Timer) -> None:
        target: dict[str, Any] = {
            "Arn": self._target_arn,
            "RoleArn": self._role_arn,
            "Input": json.dumps(TimerDelivery.for_timer(timer).schedule_input(), separators=(",", ":")),
            "RetryPolicy": self._retry,
        }
        if self._dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self._dead_letter_arn}
        try:
            self._client.create_schedule(
                Name=timer.schedule_name,
                GroupName=self._group,
                ScheduleExpression=at_expression(timer.due_at),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=target,
                ClientToken=timer.schedule_name,
                Description=f"Gatehouse timer {timer.timer_id}: {timer.owner_kind} {timer.owner_id} {timer.timer_type}"[
                    :512
                ],
            )
        except ClientError as error:
            if _code(error) == "ConflictException":
                return  # this generation's schedule exists already: creation is idempotent by name
            raise ScheduleUnavailable(_code(error)) from error
        except BotoCoreError as error:
            raise ScheduleUnavailable(type(error).__name__) from error

    def delete(self, timer_id: str, generation: int) -> None:
        try:
            self._client.delete_schedule(Name=schedule_name(timer_id, generation), GroupName=self._group)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return  # fired (and deleted itself), or never created
            raise ScheduleUnavailable(_code(error)) from error
        except BotoCoreError as error:
            raise ScheduleUnavailable(type(error).__name__) from error

    def exists(self, timer: Timer) -> bool:
        try:
            self._client.get_schedule(Name=timer.schedule_name, GroupName=self._group)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return False
            raise ScheduleUnavailable(_code(error)) from error
        except BotoCoreError as error:
            raise ScheduleUnavailable(type(error).__name__) from error
        return True


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))

"""Background runners that stand in for AWS's event sources: Scheduler, SQS event sources, rate rules, bus rules."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from local.invoke import Invoker
from local.resources import client
from local.template import ACCOUNT_ID, REGION, BusRule, RateEvent, SqsSource, Template, arn_for

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_AWS_ERRORS = (ClientError, BotoCoreError, OSError)


def rate_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` -> 300; None for anything that is not a rate expression."""
    m = re.fullmatch(r"\s*rate\(\s*(\d+)\s+([a-z]+)\s*\)\s*", expression)
    if not m or m.group(2) not in _UNITS:
        return None
    return int(m.group(1)) * _UNITS[m.group(2)]


def at_time(expression: str, timezone: str | None) -> datetime | None:
    """`at(2026-11-22T12:00:00)` in its timezone, as an aware datetime; None if not an at() expression."""
    m = re.fullmatch(r"\s*at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)\s*", expression)
    if not m:
        return None
    return datetime.fromisoformat(m.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log(text: str) -> None:
    print(f"[gatehouse-local] {text}", file=sys.stderr, flush=True)


def _log_exception(text: str) -> None:
    _log(text)
    traceback.print_exc(file=sys.stderr)


class _Runner:
    """A daemon thread with a stop event; `stop()` returns once the thread has finished."""

    name = "runner"

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: Any, *args: Any, name: str | None = None) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name or self.name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def start(self) -> _Runner:
        raise NotImplementedError

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads.clear()


@dataclass
class Delivery:
    """One attempt to deliver a schedule, for tests and logs."""

    schedule: str
    attempt: int
    ok: bool
    error: str | None = None
    at: float = field(default_factory=time.time)


class SchedulerRunner(_Runner):
    """Fires the schedules of the template's groups on moto the way EventBridge Scheduler would."""

    name = "scheduler-runner"

    def __init__(
        self,
        template: Template,
        invoker: Invoker,
        aws_endpoint_url: str,
        *,
        poll_seconds: float = 0.5,
        retry_base_seconds: float = 1.0,
        retry_max_seconds: float = 30.0,
        rate_seconds_override: float | None = None,
        extra_groups: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.template = template
        self.invoker = invoker
        self.endpoint = aws_endpoint_url
        self.poll_seconds = min(poll_seconds, 1.0)  # the contract: at least every second
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.rate_override = rate_seconds_override
        self.groups = [g.name for g in template.schedule_groups.values()] + list(extra_groups)
        self.deliveries: list[Delivery] = []
        self.polls = 0  # passes over every group completed: what tests wait on to see polls go by
        self._fired: set[tuple[Any, ...]] = set()  # one-time schedules already dispatched
        self._next_rate: dict[str, float] = {}  # schedule arn -> next epoch second to fire
        self._warned: set[str] = set()
        # (arn, last modified) -> the whole schedule: list_schedules' summaries lack the expression,
        # and reading every schedule on every poll made a poll over a few hundred schedules take
        # seconds (timers fired that late). A schedule is read again only once it is modified.
        self._schedules: dict[tuple[Any, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()  # held by a poll, and by paused()
        self.scheduler = client("scheduler", aws_endpoint_url)
        self.sqs = client("sqs", aws_endpoint_url)
        self.events = client("events", aws_endpoint_url)

    def start(self) -> SchedulerRunner:
        self._spawn(self._loop)
        return self

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                with self._poll_lock:
                    self.poll()
            except _AWS_ERRORS:
                _log_exception("scheduler runner: polling moto failed (will retry)")
            self.stop_event.wait(self.poll_seconds)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No poll runs while this is held (one under way finishes first), so nothing new is dispatched:
        for a test that must change a schedule before it can fire. Deliveries already dispatched go on.
        Waits at most 30 s for a poll under way (TimeoutError), so a nested hold fails, not hangs."""
        if not self._poll_lock.acquire(timeout=30):
            raise TimeoutError("scheduler runner: a poll did not finish within 30 s (or this is a nested hold)")
        try:
            yield
        finally:
            self._poll_lock.release()

    def _list(self, group: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"GroupName": group, "State": "ENABLED"}
        while True:
            page = self.scheduler.list_schedules(**kwargs)
            items.extend(page.get("Schedules", []))
            if not page.get("NextToken"):
                return items
            kwargs["NextToken"] = page["NextToken"]

    def poll(self) -> None:
        """One pass over every group: dispatch whatever is due."""
        now = datetime.now(UTC)
        for group in self.groups:
            try:
                summaries = self._list(group)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    continue
                raise
            for summary in summaries:
                try:
                    self._consider(group, summary, now)
                except ClientError as exc:
                    # Deleted since the list (a fired one-time schedule deletes itself): nothing to
                    # do, and the rest of this pass still runs.
                    if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
        self.polls += 1

    def _consider(self, group: str, summary: dict[str, Any], now: datetime) -> None:
        name = summary["Name"]
        # list_schedules' summaries lack the expression on real AWS: read the whole schedule.
        expression = summary.get("ScheduleExpression")
        schedule = None
        if expression is None:
            version = (summary.get("Arn"), str(summary.get("LastModificationDate")))
            schedule = self._schedules.get(version)
            if schedule is None:
                schedule = self.scheduler.get_schedule(GroupName=group, Name=name)
                if len(self._schedules) >= 10_000:
                    self._schedules.clear()
                self._schedules[version] = schedule
            expression = schedule["ScheduleExpression"]
        tz = summary.get("ScheduleExpressionTimezone") or (schedule or {}).get("ScheduleExpressionTimezone")
        due = at_time(expression, tz)
        if due is not None:
            # Keyed on the modification time too, so an updated (rescheduled) schedule fires again.
            key = (summary.get("Arn"), expression, tz, str(summary.get("LastModificationDate")))
            if key in self._fired or now < due:
                return
            self._fired.add(key)
            schedule = schedule or self.scheduler.get_schedule(GroupName=group, Name=name)
            self._spawn(self._deliver, schedule, due, True, name=f"schedule-{name}")
            return
        period = rate_seconds(expression)
        if period is None:
            if expression not in self._warned:
                self._warned.add(expression)
                _log(f"scheduler runner: {group}/{name}: {expression} is not fired locally (only at() and rate())")
            return
        period = self.rate_override or period
        arn = summary["Arn"]
        now_s = now.timestamp()
        if arn not in self._next_rate:
            self._next_rate[arn] = now_s + period
            return
        if now_s >= self._next_rate[arn]:
            self._next_rate[arn] = max(self._next_rate[arn] + period, now_s)
            schedule = schedule or self.scheduler.get_schedule(GroupName=group, Name=name)
            self._spawn(self._deliver, schedule, now, False, name=f"schedule-{name}")

    def _deliver(self, schedule: dict[str, Any], scheduled: datetime, one_time: bool) -> None:
        """Delivers with the schedule's retry policy, then its dead-letter queue, then ActionAfterCompletion."""
        target = schedule["Target"]
        policy = target.get("RetryPolicy") or {}
        attempts = 1 + int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
        started = time.monotonic()
        error = "not attempted"
        for attempt in range(1, attempts + 1):
            payload = self._input(schedule, scheduled, attempt)
            try:
                self._send(target, payload)
                self._record(Delivery(schedule["Name"], attempt, True))
                error = ""
                break
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._record(Delivery(schedule["Name"], attempt, False, error))
                _log(f"scheduler runner: {schedule['Name']} attempt {attempt} failed: {error}")
            delay = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** (attempt - 1))
            if attempt == attempts or time.monotonic() - started + delay > max_age:
                break
            if self.stop_event.wait(delay):
                return  # shutting down: the schedule stays as it is
        if error:
            self._dead_letter(schedule, scheduled, error, attempt)
        if one_time and schedule.get("ActionAfterCompletion") == "DELETE":
            with contextlib.suppress(ClientError):
                self.scheduler.delete_schedule(GroupName=schedule["GroupName"], Name=schedule["Name"])

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    @staticmethod
    def _input(schedule: dict[str, Any], scheduled: datetime, attempt: int) -> str:
        text = schedule["Target"].get("Input") or "{}"
        for placeholder, value in (
            ("<aws.scheduler.schedule-arn>", schedule["Arn"]),
            ("<aws.scheduler.scheduled-time>", iso(scheduled)),
            ("<aws.scheduler.execution-id>", str(uuid.uuid4())),
            ("<aws.scheduler.attempt-number>", str(attempt)),
        ):
            text = text.replace(placeholder, value)
        return text

    def _send(self, target: dict[str, Any], payload: str) -> None:
        arn = target["Arn"]
        fn = self.template.function_by_arn(arn)
        if fn is not None:
            try:
                event: Any = json.loads(payload)
            except ValueError:
                event = payload
            self.invoker.invoke(fn.logical_id, event)
        elif arn.startswith("arn:aws:sqs:"):
            url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=payload)
        elif arn.startswith("arn:aws:events:"):
            params = target.get("EventBridgeParameters") or {}
            self.events.put_events(
                Entries=[
                    {
                        "EventBusName": arn,
                        "Source": params.get("Source", "aws.scheduler"),
                        "DetailType": params.get("DetailType", "Scheduled Event"),
                        "Detail": payload,
                    }
                ]
            )
        else:
            raise LookupError(f"target {arn} is neither a function of this template, a queue nor a bus")

    def _dead_letter(self, schedule: dict[str, Any], scheduled: datetime, error: str, attempts: int) -> None:
        dlq = (schedule["Target"].get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            _log(f"scheduler runner: {schedule['Name']} failed and has no dead-letter queue: dropped")
            return
        try:
            url = self.sqs.get_queue_url(QueueName=dlq.rsplit(":", 1)[1])["QueueUrl"]
            attrs = {
                "ERROR_CODE": "LambdaInvocationFailed",
                "ERROR_MESSAGE": error[:256],
                "EXECUTION_ID": str(uuid.uuid4()),
                "RETRY_ATTEMPTS": str(attempts - 1),
                "SCHEDULE_ARN": schedule["Arn"],
                "TARGET_ARN": schedule["Target"]["Arn"],
                "INVOCATION_TIME": iso(scheduled),
            }
            self.sqs.send_message(
                QueueUrl=url,
                MessageBody=self._input(schedule, scheduled, attempts),
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
            )
        except _AWS_ERRORS:
            _log_exception(f"scheduler runner: could not dead-letter {schedule['Name']} to {dlq}")


class QueueConsumer(_Runner):
    """An SQS event source mapping: long-polls one queue and invokes the function with real-shaped batches."""

    def __init__(self, source: SqsSource, template: Template, invoker: Invoker, aws_endpoint_url: str) -> None:
        super().__init__()
        self.source = source
        self.template = template
        self.invoker = invoker
        self.name = f"sqs-{source.function}"
        self.queue = template.queues[source.queue]
        self.queue_arn = arn_for("sqs", self.queue.name)
        self.sqs = client("sqs", aws_endpoint_url)
        self.batches = 0

    def start(self) -> QueueConsumer:
        self._spawn(self._loop)
        return self

    def _loop(self) -> None:
        url = None
        while not self.stop_event.is_set():
            try:
                url = url or self.sqs.get_queue_url(QueueName=self.queue.name)["QueueUrl"]
                self.poll_once(url)
            except _AWS_ERRORS:
                _log_exception(f"{self.name}: polling {self.queue.name} failed (will retry)")
                self.stop_event.wait(1.0)

    def poll_once(self, url: str) -> None:
        answer = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(self.source.batch_size, 10)),
            WaitTimeSeconds=1,  # short, so stop() is quick
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        if not messages:
            return
        records = [self._record(m) for m in messages]
        self.batches += 1
        try:
            result = self.invoker.invoke(self.source.function, {"Records": records})
        except Exception:
            _log_exception(f"{self.name}: handler failed; the batch returns to the queue")
            return
        failed = self._failed_ids(result, {r["messageId"] for r in records})
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )

    def _failed_ids(self, result: Any, batch: set[str]) -> set[str]:
        if not self.source.report_batch_item_failures:
            return set()
        if not isinstance(result, dict) or not result.get("batchItemFailures"):
            return set()
        failures = result["batchItemFailures"]
        ids = (
            {f.get("itemIdentifier") for f in failures if isinstance(f, dict)} if isinstance(failures, list) else set()
        )
        if len(ids) != len(failures) or not ids <= batch:
            # Lambda treats a malformed partial-batch answer as a failure of the whole batch.
            _log(f"{self.name}: malformed batchItemFailures {failures!r}; the whole batch is retried")
            return batch
        return {i for i in ids if isinstance(i, str)}

    def _record(self, m: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in (m.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
        record = {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": dict(m.get("Attributes") or {}),
            "messageAttributes": attributes,
            "md5OfBody": m.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }
        if m.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = m["MD5OfMessageAttributes"]
        return record


class RateRunner(_Runner):
    """The functions' own `Schedule`/`ScheduleV2` rate events, fired periodically."""

    name = "rate-runner"

    def __init__(self, events: list[RateEvent], invoker: Invoker, seconds_override: float | None = None) -> None:
        super().__init__()
        self.events = [e for e in events if e.enabled]
        self.invoker = invoker
        self.override = seconds_override
        self.fired: dict[str, int] = {}
        # paused(): while held, due runs are skipped (a missed tick, as a disabled rule would miss it).
        self._gate = threading.Condition()
        self._holds = 0
        self._running = 0

    def start(self) -> RateRunner:
        for ev in self.events:
            period = self.override or rate_seconds(ev.expression)
            if period is None:
                _log(f"{ev.function}.{ev.name}: {ev.expression} is not fired locally "
                     "(set GATEHOUSE_LOCAL_RATE_SECONDS to fire it periodically)")  # fmt: skip
                continue
            self._spawn(self._loop, ev, period, name=f"rate-{ev.function}-{ev.name}")
        return self

    @contextlib.contextmanager
    def paused(self, timeout: float = 30.0) -> Iterator[None]:
        """No scheduled run starts while this is held, and none is running once it is entered.

        Every function runs in this one process, so a run of the stack's own (a sweep every minute)
        shares the environment and wiring a test sets, or the one a test drives by hand: a test that
        needs to be the only one running a function holds this around what it does.
        """
        with self._gate:
            self._holds += 1
            if not self._gate.wait_for(lambda: self._running == 0, timeout):
                self._holds -= 1
                raise TimeoutError(f"a scheduled run was still running after {timeout}s")
        try:
            yield
        finally:
            with self._gate:
                self._holds -= 1

    def _loop(self, ev: RateEvent, period: float) -> None:
        key = f"{ev.function}.{ev.name}"
        while not self.stop_event.wait(period):
            with self._gate:
                if self._holds:
                    continue
                self._running += 1
            try:
                self.invoker.invoke(ev.function, self.event(ev))
            except Exception:
                _log_exception(f"{key}: scheduled run failed")
            finally:
                with self._gate:
                    self._running -= 1
                    self._gate.notify_all()
            self.fired[key] = self.fired.get(key, 0) + 1

    @staticmethod
    def event(ev: RateEvent) -> Any:
        if ev.input is not None:
            try:
                return json.loads(ev.input)
            except ValueError:
                return ev.input
        now = datetime.now(UTC)
        scheduler = ev.type == "ScheduleV2"
        resource = (
            arn_for("scheduler", f"schedule/default/{ev.function}-{ev.name}")
            if scheduler
            else arn_for("events", f"rule/{ev.function}-{ev.name}")
        )
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler" if scheduler else "aws.events",
            "account": ACCOUNT_ID,
            "time": iso(now - timedelta(microseconds=now.microsecond)),
            "region": REGION,
            "resources": [resource],
            "detail": {},
        }


class BusRuleConsumer(_Runner):
    """A function's EventBridgeRule: events matching its pattern invoke the function, as EventBridge does.

    moto matches the pattern and puts each matching event on the rule's local queue (created by
    local/resources.py); this runner takes it from there and invokes the function asynchronously,
    as EventBridge does a Lambda target: the event envelope as the payload, and on a function error
    two more attempts with backoff (Lambda's asynchronous retries), then the function's
    dead-letter queue if it has one.
    """

    ASYNC_ATTEMPTS = 3  # Lambda's asynchronous invocation: the first attempt and two retries

    def __init__(
        self, rule: BusRule, invoker: Invoker, aws_endpoint_url: str, *, retry_base_seconds: float = 1.0
    ) -> None:
        super().__init__()
        self.rule = rule
        self.invoker = invoker
        self.name = f"bus-{rule.function}-{rule.name}"
        self.retry_base_seconds = retry_base_seconds
        self.sqs = client("sqs", aws_endpoint_url)
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def start(self) -> BusRuleConsumer:
        self._spawn(self._loop)
        return self

    def _loop(self) -> None:
        url = None
        while not self.stop_event.is_set():
            try:
                url = url or self.sqs.get_queue_url(QueueName=self.rule.queue_name)["QueueUrl"]
                self.poll_once(url)
            except _AWS_ERRORS:
                _log_exception(f"{self.name}: polling {self.rule.queue_name} failed (will retry)")
                self.stop_event.wait(1.0)

    def poll_once(self, url: str) -> None:
        answer = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages") or []:
            # Taken off the queue at once: from here on the event is Lambda's asynchronous queue's.
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            try:
                event = json.loads(message["Body"])
            except ValueError:
                _log(f"{self.name}: dropping a message that is not an event")
                continue
            event.pop("ingestion-time", None)  # moto's bookkeeping, not part of EventBridge's envelope
            self._spawn(self._deliver, event, name=f"{self.name}-{event.get('id', '')}")

    def _deliver(self, event: dict[str, Any]) -> None:
        error = ""
        for attempt in range(1, self.ASYNC_ATTEMPTS + 1):
            try:
                self.invoker.invoke(self.rule.function, event)
                self._record(Delivery(self.name, attempt, True))
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._record(Delivery(self.name, attempt, False, error))
                _log(f"{self.name}: attempt {attempt} failed: {error}")
            if attempt < self.ASYNC_ATTEMPTS and self.stop_event.wait(self.retry_base_seconds * attempt):
                return
        self._dead_letter(event, error)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _dead_letter(self, event: dict[str, Any], error: str) -> None:
        if not self.rule.dead_letter_arn:
            _log(f"{self.name}: event {event.get('id')} failed every attempt and the function has no DLQ: dropped")
            return
        try:
            url = self.sqs.get_queue_url(QueueName=self.rule.dead_letter_arn.rsplit(":", 1)[1])["QueueUrl"]
            self.sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(event),
                MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": error[:256] or "failed"}},
            )
        except _AWS_ERRORS:
            _log_exception(f"{self.name}: could not dead-letter event {event.get('id')}")

"""EventBridge Pipes from a DynamoDB stream to an SQS queue, run locally: filter, transform, send.

DynamoDB Local (and moto's fallback) serve the table's stream; this runner reads its shards,
keeps the records matching any of the pipe's filter patterns (the subset of EventBridge
patterns Gatehouse uses: exact values, `prefix`, `exists`), renders the target's
InputTemplate (`<$.json.path>` placeholders) and sends one message per record, in order.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local.resources import client
from local.template import Pipe, Template

_PLACEHOLDER = re.compile(r"<\$\.([A-Za-z0-9_.#-]+)>")
_AWS_ERRORS = (ClientError, BotoCoreError, OSError)


def _log(text: str) -> None:
    print(f"[gatehouse-local] {text}", file=sys.stderr, flush=True)


def _matches_value(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return bool(rule["exists"]) == present
        if "prefix" in rule:
            return present and isinstance(value, str) and value.startswith(rule["prefix"])
        return False
    return present and rule == value


def matches(pattern: dict[str, Any], record: Any) -> bool:
    """Whether `record` matches an EventBridge pattern (the subset named above)."""
    for key, rule in pattern.items():
        present = isinstance(record, dict) and key in record
        value = record.get(key) if present else None
        if isinstance(rule, dict):
            if not matches(rule, value if isinstance(value, dict) else {}):
                return False
        elif isinstance(rule, list):
            if not any(_matches_value(r, value, present) for r in rule):
                return False
        else:
            return False
    return True


def _at(record: Any, path: str) -> Any:
    for part in path.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def render(template: str | None, record: dict[str, Any]) -> str:
    """The target input: the template with each `<$.path>` replaced by the value there (text as is)."""
    if template is None:
        return json.dumps(record, default=str)
    return _PLACEHOLDER.sub(lambda m: str(_at(record, m.group(1))), template)


class PipeRunner:
    """Polls every shard of the table's stream and forwards matching records to the queue."""

    def __init__(self, pipe: Pipe, template: Template, dynamodb_endpoint_url: str, aws_endpoint_url: str) -> None:
        self.pipe = pipe
        self.table = template.tables[pipe.table].name
        self.queue = template.queues[pipe.queue].name
        self.ddb = client("dynamodb", dynamodb_endpoint_url)
        self.streams = client("dynamodbstreams", dynamodb_endpoint_url)
        self.sqs = client("sqs", aws_endpoint_url)
        self.stop_event = threading.Event()
        self.forwarded = 0
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self._stream_arn = ""
        self._queue_url = ""

    def start(self) -> PipeRunner:
        # Shards open now are read from their end (LATEST): what was written before is not replayed.
        self._stream_arn = self.ddb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        self._queue_url = self.sqs.get_queue_url(QueueName=self.queue)["QueueUrl"]
        for shard in self._shards():
            if "EndingSequenceNumber" not in shard.get("SequenceNumberRange", {}):
                self._iterators[shard["ShardId"]] = self._iterator(shard["ShardId"], "LATEST")
            else:
                self._iterators[shard["ShardId"]] = None
        self._thread = threading.Thread(target=self._loop, name=f"pipe-{self.pipe.logical_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _shards(self) -> list[dict[str, Any]]:
        return list(self.streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"].get("Shards", []))

    def _iterator(self, shard_id: str, kind: str) -> str | None:
        answer = self.streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType=kind)
        return answer.get("ShardIterator")

    def _loop(self) -> None:
        polls = 0
        while not self.stop_event.is_set():
            try:
                if polls % 8 == 0:
                    for shard in self._shards():  # shards that appeared since: from their start
                        if shard["ShardId"] not in self._iterators:
                            self._iterators[shard["ShardId"]] = self._iterator(shard["ShardId"], "TRIM_HORIZON")
                polls += 1
                busy = False
                for shard_id, iterator in list(self._iterators.items()):
                    if iterator is not None:
                        busy = self._drain(shard_id, iterator) or busy
                if not busy:
                    self.stop_event.wait(0.25)  # idle: a light poll, so tests sharing the process stay unhurried
            except _AWS_ERRORS:
                _log(f"pipe {self.pipe.logical_id}: stream read failed (will retry)")
                traceback.print_exc(file=sys.stderr)
                self.stop_event.wait(0.5)

    def _drain(self, shard_id: str, iterator: str) -> bool:
        answer = self.streams.get_records(ShardIterator=iterator, Limit=100)
        records = answer.get("Records") or []
        for record in records:
            if not self.pipe.patterns or any(matches(p, record) for p in self.pipe.patterns):
                # Sent before the iterator advances: a failed send is read and sent again.
                self.sqs.send_message(QueueUrl=self._queue_url, MessageBody=render(self.pipe.input_template, record))
                self.forwarded += 1
        self._iterators[shard_id] = answer.get("NextShardIterator")
        return bool(records)

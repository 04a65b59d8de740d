"""Webhooks section: verification per scheme beside the `standardwebhooks` package, and intake on DynamoDB Local.

- Verification: each scheme's pure verifier on the same payloads (1 KiB and 64 KiB bodies),
  interleaved with the `standardwebhooks` package verifying the same `standard` deliveries
  (the package has no Ed25519 `v1a` and no other scheme: those rows show Gatehouse alone).
- Intake: `WebhookIntake.receive` in-process (verification, the conditional write) against
  DynamoDB Local, p50/p99 for new and duplicate deliveries, with the AWS calls per delivery
  counted: exactly one durable write (the conditional PutItem) on the hot path.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from standardwebhooks.webhooks import Webhook

from bench.measure import QUIET, compare
from bench.table import Table
from gatehouse.webhooks.schemes import SCHEMES
from gatehouse.webhooks.schemes.common import Request
from gatehouse.webhooks.secret_rules import signing_key
from local.bootstrap import bootstrap
from local.stack import LocalStack
from tests import webhook_signing as signing

ROOT = Path(__file__).resolve().parent.parent
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "SendMessage", "PutEvents"}


def _body(size: int) -> bytes:
    return (b'{"type": "bench.event", "data": "' + b"x" * size)[: size - 2] + b'"}'


def _verification(n: int) -> Table:
    rows: list[Sequence[object]] = []
    table = Table(
        "webhooks: signature verification per scheme, same payloads (in-process, µs per delivery)",
        [
            "scheme",
            "body",
            "gatehouse p50",
            "gatehouse p99",
            "standardwebhooks p50",
            "standardwebhooks p99",
            "ratio p50",
        ],
        rows,
    )
    now = time.time()
    for size in (1024, 65536):
        body = _body(size)
        cases: dict[str, Any] = {}
        for scheme in SCHEMES:
            secret = signing.SECRETS[scheme]
            headers = signing.sign(scheme, secret, body)
            keys = [signing_key(scheme, secret)]
            verify = SCHEMES[scheme].verify
            request = Request(body, headers)
            cases[scheme] = lambda verify=verify, request=request, keys=keys: verify(request, keys, now, 300)
        private, public = signing.ed25519_pair()
        v1a = Request(body, signing.standard_v1a_headers(private, body))
        v1a_keys = [signing_key("standard", public)]
        cases["standard v1a (Ed25519)"] = lambda v1a=v1a, v1a_keys=v1a_keys: SCHEMES["standard"].verify(
            v1a, v1a_keys, now, 300
        )
        package = Webhook(signing.SECRETS["standard"])
        standard_headers = signing.sign("standard", signing.SECRETS["standard"], body)
        cases["package"] = lambda package=package, body=body, headers=standard_headers: package.verify(
            body, headers, json_parse=False
        )
        samples = {s.name: s for s in compare(cases, max(200, n // 5), warmup=100)}
        for name, sample in samples.items():
            if name == "package":
                continue
            if name == "standard":
                other = samples["package"]
                rows.append(
                    [
                        "standard v1 (HMAC)",
                        f"{size // 1024} KiB",
                        sample.p50_us,
                        sample.p99_us,
                        other.p50_us,
                        other.p99_us,
                        f"{other.p50_us / sample.p50_us:.2f}x faster",
                    ]
                )
            else:
                rows.append([name, f"{size // 1024} KiB", sample.p50_us, sample.p99_us, "n/a", "n/a", "-"])
    return table


def _intake(redis_url: str, n: int) -> list[Table]:
    stack = LocalStack(
        ROOT / "template.yaml", bootstrap=bootstrap, external_redis_url=redis_url, parameter_overrides=QUIET
    )
    stack.start()
    try:
        from gatehouse.webhooks.intake import Delivery
        from gatehouse.webhooks.runtime import webhook_intake, webhook_sources_service

        # Intake alone: the dispatch pipe and the queue consumer would process every event meanwhile.
        runners: list[Any] = [*stack.pipe_runners, *stack.queue_consumers]
        for runner in runners:
            runner.stop()
        name = f"bench-{uuid.uuid4().hex[:8]}"
        secret = signing.SECRETS["standard"]
        webhook_sources_service().put_source(name, scheme="standard", secrets=[secret])
        intake = webhook_intake()
        body = _body(1024)
        calls: Counter[str] = Counter()
        original = BaseClient._make_api_call

        bench_thread = threading.get_ident()

        def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if threading.get_ident() == bench_thread:  # the stack's runners are not intake's cost
                calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
            return original(self, operation, params)

        count = max(200, n // 10)
        fresh = [
            Delivery(
                name, body, {**signing.standard_headers(secret, body), "content-type": "application/json"}, "192.0.2.1"
            )
            for _ in range(count + 50)
        ]
        duplicate = fresh[-1]
        intake.receive(duplicate)
        pending = iter(fresh)
        BaseClient._make_api_call = counting
        try:
            samples = compare(
                {
                    "new delivery (verify + conditional PutItem)": lambda: intake.receive(next(pending)),
                    "duplicate delivery (verify + refused PutItem)": lambda: intake.receive(duplicate),
                },
                count,
                warmup=20,
            )
        finally:
            BaseClient._make_api_call = original
        per = 2 * (count + 20)
        latency = Table(
            "webhooks: intake in-process against DynamoDB Local (source cached; µs per delivery)",
            ["case", "p50 µs", "p99 µs", "deliveries/s"],
            [[s.name, s.p50_us, s.p99_us, s.ops_per_s] for s in samples],
        )
        writes = sum(v for k, v in calls.items() if k.split(":")[1] in WRITES)
        counts = Table(
            "webhooks: AWS calls per intake (counted, machine independent)",
            ["call", "per delivery"],
            [[k, f"{v / per:g}"] for k, v in sorted(calls.items())]
            + [["durable writes (all services)", f"{writes / per:g}"]],
        )
        return [latency, counts]
    finally:
        stack.stop()


def run(redis_url: str, n: int) -> list[Table]:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    return [_verification(n), *_intake(redis_url, n)]

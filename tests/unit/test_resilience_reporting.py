"""Transitions reported: a log line and one EMF metric by the state entered, an event on the bus (moto),
and a bus that fails never fails the call that made the transition. The runtime wires it all from the
environment."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from moto import mock_aws

from gatehouse import wiring
from gatehouse.resilience.eventbridge import DETAIL_TYPE, SOURCE, EventBridgeSink
from gatehouse.resilience.records import FleetState, Transition
from gatehouse.resilience.reporting import METRIC, LogAndMetricSink

OPENED = Transition("hooks.example.com:443", FleetState.CLOSED, FleetState.OPEN, 7, "failure_rate", 1_795_000_000_000)


def test_a_transition_is_logged_and_emitted_as_one_emf_metric_by_the_state_entered(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="gatehouse.resilience.reporting"):
        LogAndMetricSink("GatehouseTest").report(OPENED)
    record = next(r for r in caplog.records if r.getMessage() == "breaker transition")
    assert record.levelno == logging.WARNING and record.breaker == "hooks.example.com:443"
    emf = next(json.loads(line) for line in capsys.readouterr().out.splitlines() if METRIC in line)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "GatehouseTest"
    assert [m["Name"] for m in directive["Metrics"]] == [METRIC]
    assert directive["Dimensions"] == [["toState"]] and emf["toState"] == "open"
    assert emf["breaker"] == "hooks.example.com:443" and emf["generation"] == 7  # properties, not dimensions


def test_a_transition_is_an_event_on_the_bus():
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="gatehouse-test")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="transitions")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="opened", EventBusName="gatehouse-test", EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="opened", EventBusName="gatehouse-test", Targets=[{"Id": "q", "Arn": arn}])
        EventBridgeSink(lambda: events, "gatehouse-test").report(OPENED)
        (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        event = json.loads(message["Body"])
        assert event["detail-type"] == DETAIL_TYPE
        assert event["detail"] == OPENED.to_json()


def test_a_bus_that_fails_is_logged_and_never_raises(caplog):
    from botocore.exceptions import EndpointConnectionError

    class DeadBus:
        def put_events(self, **_):
            raise EndpointConnectionError(endpoint_url="https://events.example")

    with caplog.at_level(logging.WARNING):
        EventBridgeSink(DeadBus, "gatehouse").report(OPENED)
    assert "breaker transition not published" in caplog.text


def test_the_runtime_wires_the_breaker_and_the_client_from_the_environment(monkeypatch):
    from gatehouse.resilience import runtime

    monkeypatch.setenv("BREAKER_MINIMUM_CALLS", "7")
    monkeypatch.setenv("BREAKER_OPEN_SECONDS", "12")
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    monkeypatch.setenv("OUTBOUND_CONNECT_TIMEOUT_MS", "1000")
    monkeypatch.setenv("OUTBOUND_READ_TIMEOUT_MS", "3000")
    wiring.reset()
    try:
        config = runtime.fleet_breaker().config_for("any:443")
        assert (config.minimum_calls, config.open_ms, config.probe_lease_ms) == (7, 12_000, 5_000)
        client = runtime.outbound_client()
        assert client.breaker is runtime.fleet_breaker()
        assert client.policy.refusal("127.0.0.1") is None and client.policy.refusal("10.0.0.1") is not None
        assert (client.connect_timeout_s, client.read_timeout_s) == (1.0, 3.0)
    finally:
        wiring.reset()


def test_a_network_setting_that_is_not_one_fails_loudly(monkeypatch):
    from gatehouse.resilience import runtime

    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "everything")
    wiring.reset()
    try:
        with pytest.raises(ValueError):
            runtime.outbound_client()
    finally:
        wiring.reset()

"""What a campaign request may hold: strict timestamps read as UTC, bounded fields, a safe callback URL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gatehouse.campaigns.records import CANCELLED, COMPLETED, RUNNING, SCHEDULED, can_transition
from gatehouse.campaigns.requests import CreateCampaignRequest, EngagementRequest, UpdateCampaignRequest
from gatehouse.times import parse_utc_timestamp

BASE = {"name": "launch", "startTime": "2030-01-01T10:00:00Z", "endTime": "2030-01-02T10:00:00Z"}


def fields_of(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-01T12:00:00+02:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
        ("2030-01-01T12:00:00z", datetime(2030, 1, 1, 12, tzinfo=UTC)),
        ("2030-01-01t12:00:00.123456789-01:30", datetime(2030, 1, 1, 13, 30, 0, 123456, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offsets_become_the_same_instant_in_utc(text, expected):
    assert parse_utc_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2030-01-01T12:00:00", "2030-01-01", "2030-01-01 12:00:00Z", "2030-13-01T00:00:00Z", "2030-01-01T24:00:00Z",
     "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "2030-01-01T12:00:00+25:00", " 2030-01-01T12:00:00Z",
     "", 1767225600, None, True],
)  # fmt: skip
def test_everything_else_is_refused_with_a_message_for_the_caller(text):
    with pytest.raises(ValueError) as refusal:
        parse_utc_timestamp(text)
    assert "must" in str(refusal.value)


def test_a_create_body_reads_offsets_as_utc():
    request = CreateCampaignRequest.model_validate(BASE | {"startTime": "2030-01-01T12:00:00+02:00"})
    assert request.start_time == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert request.auto_close is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"startTime": "2030-01-01T10:00:00"}, "startTime"),
        ({"durationHours": "2"}, "durationHours"),
        ({"durationHours": 0}, "durationHours"),
        ({"durationHours": float("inf")}, "durationHours"),
        ({"targetEngagements": 1.5}, "targetEngagements"),
        ({"targetEngagements": True}, "targetEngagements"),
        ({"autoClose": 1}, "autoClose"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"metadata": {"a": "b" * 4100}}, "metadata"),
        ({"metadata": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}}, "metadata"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"callbackUrl": "ftp://example.com"}, "callbackUrl"),
        ({"callbackUrl": "https://localhost/x"}, "callbackUrl"),
        ({"callbackUrl": "https://10.0.0.1/x"}, "callbackUrl"),
        ({"callbackUrl": "https://[::1]/x"}, "callbackUrl"),
        ({"callbackUrl": "https://169.254.169.254/latest"}, "callbackUrl"),
        ({"callbackUrl": "https://a@example.com/"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com/#frag"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com:99999/"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com:0/"}, "callbackUrl"),
        ({"callbackUrl": "https://exa\tmple.com/hook"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com/ho\nok"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com/a b"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com\\@10.0.0.1/"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com/\x7f"}, "callbackUrl"),
        ({"callbackUrl": "https://example.com:00/"}, "callbackUrl"),
        ({"reminders": ["2030-01-01T11:00:00Z"] * 11}, "reminders"),
    ],
)
def test_bad_create_fields_are_named(change, field):
    with pytest.raises(ValidationError) as refusal:
        CreateCampaignRequest.model_validate(BASE | change)
    assert any(f == field or f.startswith(f"{field}.") for f in fields_of(refusal.value)), refusal.value.errors()


def test_a_public_https_callback_is_kept():
    request = CreateCampaignRequest.model_validate(BASE | {"callbackUrl": "https://hooks.example.com:8443/a?b=c"})
    assert request.callback_url == "https://hooks.example.com:8443/a?b=c"


def test_a_patch_knows_which_fields_were_given():
    request = UpdateCampaignRequest.model_validate({"targetEngagements": None, "name": "new"})
    assert request.model_fields_set == {"target_engagements", "name"}


BAD_ENGAGEMENTS = [
    {"engagementType": "Click", "userId": "u"},
    {"engagementType": "click", "userId": "a#b"},
    {"engagementType": "click", "userId": ""},
    {"engagementType": "click"},
]


@pytest.mark.parametrize("body", BAD_ENGAGEMENTS)
def test_bad_engagements_are_refused(body):
    with pytest.raises(ValidationError):
        EngagementRequest.model_validate(body)


def test_the_legal_transitions_and_only_those():
    states = (SCHEDULED, RUNNING, COMPLETED, CANCELLED)
    legal = {(a, b) for a in states for b in states if can_transition(a, b)}
    assert legal == {(SCHEDULED, RUNNING), (SCHEDULED, CANCELLED), (RUNNING, COMPLETED), (RUNNING, CANCELLED)}

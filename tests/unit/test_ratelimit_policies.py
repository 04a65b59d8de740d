"""Policies as data: defaults, RATELIMIT_POLICIES overlays, and per-request resolution."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gatehouse.ratelimit.policies import DEFAULT_POLICIES, Policy, PolicyRegistry, Window


def test_defaults_follow_the_spec():
    per_hour = {
        name: DEFAULT_POLICIES[name].windows[0].limit for name in ("free", "starter", "professional", "enterprise")
    }
    assert per_hour == {"free": 100, "starter": 1000, "professional": 10_000, "enterprise": 100_000}
    for name in per_hour:
        hour, second = DEFAULT_POLICIES[name].windows
        assert (hour.name, hour.period_seconds, second.name, second.period_seconds) == ("hour", 3600, "second", 1)
    credentials = DEFAULT_POLICIES["credentials"]
    assert credentials.kind == "group"
    assert [(w.limit, w.period_seconds) for w in credentials.windows] == [(5, 900)]


@pytest.mark.parametrize("name", sorted(DEFAULT_POLICIES))
def test_each_default_built_without_validation_equals_its_validated_copy(name):
    # The defaults are model_construct()ed (no validator built at import): they must be exactly
    # what validation would have made of them, down to every field set and the hash.
    default = DEFAULT_POLICIES[name]
    validated = Policy.model_validate(default.model_dump())
    assert validated == default and hash(validated) == hash(default)
    assert default.model_dump_json() == validated.model_dump_json()
    for window, twin in zip(default.windows, validated.windows, strict=True):
        assert type(window) is Window and window == twin and window.effective_burst == twin.effective_burst


def test_tier_plus_route_group():
    registry = PolicyRegistry()
    assert [p.name for p in registry.policies_for("starter", "POST /v1/keys")] == ["starter", "credentials"]
    assert [p.name for p in registry.policies_for("starter", "POST /v1/keys/{keyId}/rotate")] == [
        "starter",
        "credentials",
    ]
    assert [p.name for p in registry.policies_for("enterprise", "GET /v1/keys")] == ["enterprise"]


@pytest.mark.parametrize("tier", [None, "", "platinum", "credentials"])
def test_unknown_tiers_get_the_default_tier(tier):
    # A group policy is not a tier: naming it as a tier must not escape the tier limits.
    assert [p.name for p in PolicyRegistry().policies_for(tier)] == ["free"]


def test_json_document_replaces_and_extends():
    document = json.dumps(
        {
            "policies": {
                "free": {"windows": [{"name": "hour", "limit": 50, "periodSeconds": 3600}]},
                "search": {
                    "kind": "group",
                    "failureMode": "closed",
                    "windows": [{"name": "minute", "limit": 30, "periodSeconds": 60, "algorithm": "sliding"}],
                },
            },
            "routeGroups": {"GET /v1/search": "search"},
        }
    )
    registry = PolicyRegistry.from_json(document)
    free, search = registry.policies_for("free", "GET /v1/search")
    assert [w.limit for w in free.windows] == [50]
    assert search.failure_mode == "closed"
    assert registry.route_groups["POST /v1/keys"] == "credentials"  # defaults stay
    assert registry.get("starter") == DEFAULT_POLICIES["starter"]


def test_empty_document_means_defaults():
    assert PolicyRegistry.from_json("  ").policies == DEFAULT_POLICIES


@pytest.mark.parametrize(
    "document",
    [
        {"policies": {"x": {"windows": []}}},
        {"policies": {"x": {"windows": [{"name": "a b", "limit": 1, "periodSeconds": 1}]}}},
        {"policies": {"x": {"windows": [{"name": "a", "limit": 0, "periodSeconds": 1}]}}},
        {"policies": {"x": {"windows": [{"name": "a", "limit": 1, "periodSeconds": 1, "algorithm": "leaky"}]}}},
        {"policies": {"x": {"windows": [{"name": "a", "limit": 1, "periodSeconds": 1}] * 2}}},
        {"routeGroups": {"GET /v1/x": "nope"}},
    ],
)
def test_invalid_documents_are_refused(document):
    with pytest.raises((ValidationError, ValueError)):
        PolicyRegistry.from_json(json.dumps(document))


def test_gcra_burst_defaults_to_limit():
    assert Window(name="s", limit=20, period_seconds=1).effective_burst == 20
    assert Window(name="s", limit=20, period_seconds=1, burst=40).effective_burst == 40


def test_policies_serialise_camel_case():
    dumped = Policy(name="p", windows=(Window(name="w", limit=1, period_seconds=1),)).model_dump(by_alias=True)
    assert dumped["failureMode"] == "open"
    assert dumped["windows"][0]["periodSeconds"] == 1


YEAR = 366 * 86400


@pytest.mark.parametrize(
    "window",
    [
        # A year per unit with a burst of 10,000: a TAT 10,000 years ahead, a key that outlives us all.
        {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra", "burst": 10_000},
        # burst x interval beyond int64: limiter.lua's "%d" wrapped it to a negative TAT.
        {"name": "w", "limit": 1, "periodSeconds": YEAR, "algorithm": "gcra", "burst": 1_000_000_000},
        {"name": "w", "limit": 2, "periodSeconds": YEAR, "burst": 1_000_000},
    ],
)
def test_gcra_windows_whose_state_could_outgrow_exact_integers_are_refused(window):
    with pytest.raises(ValidationError):
        Window.model_validate(window)


def test_gcra_windows_within_the_bound_are_accepted():
    # A year's whole quota at once is a real configuration, as is a day with a burst of one.
    assert Window(name="w", limit=10_000, period_seconds=YEAR, burst=10_000).effective_burst == 10_000
    assert Window(name="w", limit=1, period_seconds=YEAR).effective_burst == 1
    # The burst of a sliding window means nothing, so it bounds nothing.
    Window(name="w", limit=1, period_seconds=YEAR, algorithm="sliding", burst=1_000_000_000)


@pytest.mark.parametrize("field", ["limit", "periodSeconds", "burst"])
@pytest.mark.parametrize("value", [True, "5", 5.0])
def test_window_numbers_are_whole_json_numbers_not_booleans_or_strings(field, value):
    window = {"name": "w", "limit": 5, "periodSeconds": 60, "algorithm": "gcra", field: value}
    with pytest.raises(ValidationError):
        Window.model_validate(window)

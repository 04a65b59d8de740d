"""Rate-limit policies as data: the defaults (docs/reference.md#rate-limits), RATELIMIT_POLICIES, route groups."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from gatehouse.models import ApiRequest
from gatehouse.route_rules import route_groups

logger = logging.getLogger(__name__)

# Names become part of Redis keys and of structured header fields: keep them to a safe alphabet.
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class _FrozenModel(ApiRequest):
    # camelCase on the wire (docs/reference.md), unknown fields refused; frozen so a policy can be shared.
    model_config = ConfigDict(frozen=True)


# Far beyond any real quota, and far below 2^53: the Lua script's arithmetic stays exact.
MAX_LIMIT = 1_000_000_000
MAX_WINDOWS = 8
MAX_PERIOD_SECONDS = 366 * 86400
# GCRA keeps a window's state as a time in microseconds (its TAT), and limiter.lua's numbers are
# doubles, exact only below 2^53. Keeping a window's tolerance (interval x burst) and one
# request's emission (interval x cost) each below 2^51 us (about 71 years) keeps TAT = Redis TIME
# + tolerance + emission below 2^53, exact and far from int64's end, until the year 2112; it also
# bounds how long a key can live. See docs/rate-limits.md#bounds.
MAX_GCRA_SPAN_US = 2**51


def emission_interval_us(limit: int, period_seconds: int) -> int:
    """GCRA's interval between two units, in whole microseconds (rounded up, as limiter.lua does)."""
    return -(-period_seconds * 1_000_000 // limit)


def max_gcra_burst(limit: int, period_seconds: int) -> int:
    """The largest burst (or cost) whose span stays below MAX_GCRA_SPAN_US at this rate."""
    return (MAX_GCRA_SPAN_US - 1) // emission_interval_us(limit, period_seconds)


class Window(_FrozenModel):
    """One limit: `limit` units per `period_seconds`, decided by GCRA or a sliding-window counter."""

    name: str = Field(pattern=NAME_PATTERN)
    limit: int = Field(ge=1, le=MAX_LIMIT, strict=True)
    period_seconds: int = Field(ge=1, le=MAX_PERIOD_SECONDS, strict=True)
    algorithm: Literal["gcra", "sliding"] = "gcra"
    # GCRA only: how many units may arrive at once (the bucket's size); defaults to `limit`.
    burst: int | None = Field(default=None, ge=1, le=MAX_LIMIT, strict=True)

    @model_validator(mode="after")
    def _gcra_state_stays_exact(self) -> Window:
        if self.algorithm == "gcra" and self.effective_burst > max_gcra_burst(self.limit, self.period_seconds):
            raise ValueError(
                f"burst x (periodSeconds / limit) must stay under {MAX_GCRA_SPAN_US // 1_000_000} seconds "
                f"(about 71 years): at this rate, a burst of at most {max_gcra_burst(self.limit, self.period_seconds)}"
            )
        return self

    @property
    def effective_burst(self) -> int:
        return self.burst if self.burst is not None else self.limit


def window_outgrown_by(windows: Iterable[Window], cost: int) -> Window | None:
    """The first GCRA window whose state `cost` units at once would outgrow, if any.

    Such a cost exceeds the window's burst, so it could never be admitted anyway: refusing it at
    validation keeps every number limiter.lua computes within the bound."""
    for window in windows:
        if window.algorithm == "gcra" and cost > max_gcra_burst(window.limit, window.period_seconds):
            return window
    return None


def cost_error(window: Window) -> str:
    limit = max_gcra_burst(window.limit, window.period_seconds)
    return f"must be at most {limit} for window {window.name!r} (a larger cost could never be admitted there)"


def _distinct_names(windows: tuple[Window, ...]) -> tuple[Window, ...]:
    names = [w.name for w in windows]
    if len(set(names)) != len(names):
        raise ValueError("window names must be distinct")
    return windows


# A set of windows as anyone may give it (policy, override, check): distinct names, a few at most.
Windows = Annotated[tuple[Window, ...], AfterValidator(_distinct_names), Field(min_length=1, max_length=MAX_WINDOWS)]


class Policy(_FrozenModel):
    """A named set of windows checked together; `kind` says whether overrides may replace them."""

    name: str = Field(pattern=NAME_PATTERN)
    windows: Windows
    failure_mode: Literal["open", "closed"] = "open"
    # Tier windows are what custom limits and boosts change; group windows (credentials) stay.
    kind: Literal["tier", "group"] = "tier"
    # Whose counter a principal's request draws on: its own, or its owner's, shared by every key
    # and token of that owner (docs/rate-limits.md). Check-API subjects have no owner: their own.
    charged_to: Literal["subject", "owner"] = "subject"


# The defaults are constants built without validation (model_construct): validating them would
# build the Window and Policy validators at import, a cost every protected function's cold start
# paid for models most first requests never validate. A unit test holds each default equal to
# its validated copy (tests/unit/test_ratelimit_policies.py).
def _tier(name: str, per_hour: int, per_second: int) -> Policy:
    # Hour windows are quotas (sliding counter: close to "N in any hour"); second windows
    # smooth bursts (GCRA: N at once, then one every 1/N s).
    return Policy.model_construct(
        name=name,
        windows=(
            Window.model_construct(name="hour", limit=per_hour, period_seconds=3600, algorithm="sliding"),
            Window.model_construct(name="second", limit=per_second, period_seconds=1, algorithm="gcra"),
        ),
    )


DEFAULT_POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        _tier("free", 100, 5),
        _tier("starter", 1_000, 20),
        _tier("professional", 10_000, 100),
        _tier("enterprise", 100_000, 500),
        Policy.model_construct(
            name="credentials",
            kind="group",
            # A key a principal mints must not bring a fresh budget with it.
            charged_to="owner",
            windows=(Window.model_construct(name="credentials", limit=5, period_seconds=900, algorithm="sliding"),),
        ),
    )
}

# Route keys as API Gateway names them (`METHOD /path/{param}`) -> route group policy, as
# gatehouse.route_rules declares them.
DEFAULT_ROUTE_GROUPS: dict[str, str] = route_groups()

DEFAULT_TIER = "free"


class PolicyConfig(_FrozenModel):
    """The RATELIMIT_POLICIES document: policies replace or add by name; route groups likewise."""

    policies: dict[str, Policy] = Field(default_factory=dict)
    route_groups: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _name_from_key(cls, data: object) -> object:
        # Let the document omit each policy's name where it is already the map key.
        if isinstance(data, dict) and isinstance(data.get("policies"), dict):
            data = dict(data)
            data["policies"] = {
                key: ({"name": key, **value} if isinstance(value, dict) and "name" not in value else value)
                for key, value in data["policies"].items()
            }
        return data


class PolicyRegistry:
    """Every named policy and the route-group map, resolved per request by `policies_for`."""

    def __init__(
        self,
        policies: dict[str, Policy] | None = None,
        route_groups: dict[str, str] | None = None,
        default_tier: str = DEFAULT_TIER,
    ) -> None:
        self.policies = dict(DEFAULT_POLICIES if policies is None else policies)
        self.route_groups = dict(DEFAULT_ROUTE_GROUPS if route_groups is None else route_groups)
        self.default_tier = default_tier
        unknown = {g for g in self.route_groups.values() if g not in self.policies}
        if unknown or default_tier not in self.policies:
            raise ValueError(f"route groups or default tier name unknown policies: {sorted(unknown)}")

    @classmethod
    def from_json(cls, document: str) -> PolicyRegistry:
        """Defaults overlaid with a RATELIMIT_POLICIES document (empty means defaults only)."""
        if not document.strip():
            return cls()
        config = PolicyConfig.model_validate(json.loads(document))
        for key, policy in config.policies.items():
            if key != policy.name:
                raise ValueError(f"policy key {key!r} differs from its name {policy.name!r}")
        return cls({**DEFAULT_POLICIES, **config.policies}, {**DEFAULT_ROUTE_GROUPS, **config.route_groups})

    def get(self, name: str) -> Policy | None:
        return self.policies.get(name)

    def policies_for(self, tier: str | None, route_key: str | None = None) -> list[Policy]:
        """The tier's policy (unknown tiers get the default tier's) plus the route's group, if any."""
        policy = self.policies.get(tier or "")
        if policy is None or policy.kind != "tier":
            if tier:
                logger.warning("unknown rate-limit tier, using the default", extra={"tier": tier})
            policy = self.policies[self.default_tier]
        result = [policy]
        group = self.route_groups.get(route_key or "")
        if group is not None:
            result.append(self.policies[group])
        return result

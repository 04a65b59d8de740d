"""The rate-limit use cases, and the limiter they share: overrides, then Redis behind a local breaker,
else each policy's failure mode."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from gatehouse.errors import AuthorizationError, NotFoundError, ServiceUnavailableError, ValidationError
from gatehouse.metrics.records import RATELIMIT_CHECKED, RATELIMIT_LIMITED, count
from gatehouse.principal import Principal
from gatehouse.ratelimit.decision import Decision, ScopedWindow, WindowResult, scoped_windows
from gatehouse.ratelimit.errors import LimiterReplyError, LimiterUnavailable
from gatehouse.ratelimit.fallback import LocalLimiter
from gatehouse.ratelimit.overrides import (
    Blocked,
    CachedOverrideSource,
    NoOverrides,
    Override,
    OverrideSource,
    OverrideStore,
    apply_override,
)
from gatehouse.ratelimit.policies import Policy, PolicyRegistry, Window, cost_error, window_outgrown_by
from gatehouse.resilience.local_breaker import LocalBreaker
from gatehouse.route_rules import required_scope
from gatehouse.scopes import RATELIMIT_ADMIN, has_scope

logger = logging.getLogger(__name__)

# Far above any real request weight; a bigger cost is a caller's mistake, not a request.
MAX_COST = 1_000_000
# Policy sets times owners seen by one instance; a principal's owner is part of the key, so this
# bounds memory, not hits (a miss costs building a few tuples).
_MAX_CACHED_WINDOW_SETS = 1024


class LimiterEngine(Protocol):
    """The port that decides a check on shared state (RedisEngine): raises LimiterUnavailable
    when its store cannot decide now (an outage), LimiterReplyError when the store answered an
    error that is not an outage (a defect of ours)."""

    def evaluate(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool = False) -> Decision: ...


class RateLimiter:
    """`check()` charges a request against its policies; `usage()` reports without charging.

    Redis is reached only through the breaker. When it fails or the breaker is open, a policy
    set containing any `closed` policy raises ServiceUnavailableError (503); otherwise the
    in-process fallback decides and the Decision says `degraded=True`. Whatever goes wrong on
    the way to a decision takes that path: a limiter never answers a 500.

    The subject names the counters; overrides are looked up by `override_subject` when it is
    given (the check API counts `check:S` but an operator's override names `S`)."""

    def __init__(
        self,
        engine_factory: Callable[[], LimiterEngine],
        override_source: OverrideSource | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        breaker: LocalBreaker | None = None,
        fallback: LocalLimiter | None = None,
    ) -> None:
        # Built on first use: a blocked subject or an open breaker never connects.
        self._engine_factory = engine_factory
        self._engine: LimiterEngine | None = None
        self.overrides = override_source or NoOverrides()
        self._wall_clock = wall_clock
        self.breaker = breaker or LocalBreaker(clock=clock)
        self.fallback = fallback or LocalLimiter(clock=wall_clock)
        # (owner, id of each policy) -> (those policies, their scoped windows): every request of a
        # tier builds the same windows from the same (frozen) policy objects, so they are built
        # once. The entry holds the policies, so no other object can take their ids while it
        # lives; a full cache is simply dropped.
        self._windows: dict[tuple[object, ...], tuple[tuple[Policy, ...], list[ScopedWindow]]] = {}

    def check(
        self,
        subject: str,
        policies: list[Policy],
        cost: int = 1,
        *,
        owner: str | None = None,
        override_subject: str | None = None,
    ) -> Decision:
        """Decide and (when every window admits) charge one request of weight `cost` >= 1.

        `owner`: the subject's owner, for a principal's request; policies charged to the owner
        then draw on the owner's counters (docs/rate-limits.md). `override_subject`: whose
        override applies, when not the counted subject (the check API's)."""
        if not isinstance(cost, int) or isinstance(cost, bool) or not 1 <= cost <= MAX_COST:
            raise ValueError(f"cost must be an integer from 1 to {MAX_COST}")
        return self._decide(subject, policies, cost, peek=False, owner=owner, override_subject=override_subject)

    def usage(
        self,
        subject: str,
        policies: list[Policy],
        *,
        owner: str | None = None,
        override_subject: str | None = None,
    ) -> Decision:
        """Each window's current use without charging (`allowed` says whether cost 1 would pass)."""
        return self._decide(subject, policies, 1, peek=True, owner=owner, override_subject=override_subject)

    def _decide(
        self,
        subject: str,
        policies: list[Policy],
        cost: int,
        *,
        peek: bool,
        owner: str | None = None,
        override_subject: str | None = None,
    ) -> Decision:
        if not policies:
            raise ValueError("a check needs at least one policy")
        override = self.overrides.get(subject if override_subject is None else override_subject)
        # The usual request has no override: no clock, no copy of the policies.
        effective = policies if override is None else apply_override(policies, override, self._wall_clock())
        if isinstance(effective, Blocked):
            return self._blocked(policies, effective, cost)
        windows = self._scoped_windows(effective, owner)
        decision = self._on_redis(subject, windows, cost, peek=peek)
        if decision is not None:
            return decision
        if any(p.failure_mode == "closed" for p in [*policies, *effective]):
            raise ServiceUnavailableError("Rate limiting is temporarily unavailable.")
        return self.fallback.evaluate(subject, windows, cost, peek=peek)

    def _scoped_windows(self, policies: list[Policy], owner: str | None) -> list[ScopedWindow]:
        """scoped_windows(policies, owner), built once per policy set and owner (callers never
        change the list)."""
        key = (owner, *map(id, policies))
        cached = self._windows.get(key)
        if cached is not None:
            return cached[1]
        windows = scoped_windows(policies, owner)
        if len(self._windows) >= _MAX_CACHED_WINDOW_SETS:
            self._windows.clear()
        self._windows[key] = (tuple(policies), windows)
        return windows

    def _on_redis(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool) -> Decision | None:
        """The Redis decision, or None when Redis is unavailable (failed now, or breaker open)."""
        if not self.breaker.acquire():
            return None
        try:
            if self._engine is None:
                self._engine = self._engine_factory()
            decision = self._engine.evaluate(subject, windows, cost, peek=peek)
        except LimiterUnavailable as exc:
            # Unreachable, timed out, or an outage reply (OOM, READONLY, ...): the breaker counts it.
            self.breaker.record_failure(timeout=exc.timeout)
            logger.warning("rate-limit Redis call failed: %s", exc.reason)
            return None
        except LimiterReplyError as exc:
            # Redis answered, so it is up: one subject's failing script must not open the breaker
            # and take every other subject off Redis. But it is our defect: say so, loudly.
            self.breaker.record_success()
            logger.error("rate-limit script failed; deciding by the failure mode: %s", exc)
            return None
        except Exception:
            # An unreadable reply or a defect here: never a 500, but never quiet either. Counted as
            # a failure, which also releases a half-open probe permit.
            self.breaker.record_failure()
            logger.exception("rate-limit check failed; deciding by the failure mode")
            return None
        except BaseException:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return decision

    def _blocked(self, policies: list[Policy], blocked: Blocked, cost: int) -> Decision:
        wait_ms = blocked.retry_after * 1000
        windows = [
            WindowResult(
                policy=s.policy,
                name=s.window.name,
                algorithm=s.window.algorithm,
                limit=s.window.limit,
                period_seconds=s.window.period_seconds,
                allowed=False,
                remaining=0,
                reset_after_ms=wait_ms,
                retry_after_ms=wait_ms,
            )
            for s in scoped_windows(policies)
        ]
        return Decision(
            allowed=False,
            windows=windows,
            cost=cost,
            now_ms=int(self._wall_clock() * 1000),
            blocked=True,
            block_retry_after=blocked.retry_after,
            policies=tuple(p.name for p in policies),
        )


# Subjects of the check API live in their own namespace, so a `ratelimit:check` caller can never
# charge (or drain) a principal's own buckets. Usage addresses their counters with the prefix; an
# override names the subject as the caller does, without it (docs/rate-limits.md#subjects-and-overrides).
CHECK_NAMESPACE = "check:"
MAX_USAGE_POLICIES = 8


class RateLimitService:
    """The rate-limit use cases: charge a request, check a subject for another service, report
    usage, and manage overrides. Authorization rules that depend on the subject live here."""

    def __init__(
        self,
        limiter: RateLimiter,
        registry: PolicyRegistry,
        overrides: OverrideStore,
        override_cache: CachedOverrideSource,
    ) -> None:
        self.limiter = limiter
        self.registry = registry
        self._overrides = overrides
        self._override_cache = override_cache

    def charge_request(self, caller: Principal, route_key: str) -> Decision:
        """Charge one API request under its tier's and route's policies: the tier's windows to its
        principal, a group charged to owners (credentials) to the principal's owner.

        A request its route refuses for want of scope (403) still spends the caller's own tier
        windows, but not its owner's shared budget: a key that may not mint (keys:read only, say)
        must not be able to keep every other key and token of its owner from minting."""
        policies = self.registry.policies_for(caller.tier, route_key)
        if not has_scope(caller.scopes, required_scope(route_key)):
            policies = [p for p in policies if p.charged_to != "owner"]
        return _counted(self.limiter.check(caller.principal_id, policies, owner=caller.owner_id))

    def check(
        self,
        caller: Principal,
        subject: str,
        *,
        policy: str | None = None,
        limits: tuple[Window, ...] | None = None,
        cost: int = 1,
    ) -> Decision:
        """The check API: ad-hoc windows, a named policy, or else the caller's own tier policy."""
        if limits is not None:
            # A policy per window, so a key per window: a window counts alike whatever other
            # windows a caller lists with it, and in whatever order (a key per policy would give
            # each list of windows counters of its own).
            policies = [Policy(name="custom", windows=(window,)) for window in limits]
        elif policy is not None:
            named = self.registry.get(policy)
            if named is None:
                raise ValidationError(details=[{"field": "policy", "message": f"unknown policy {policy!r}"}])
            policies = [named]
        else:
            policies = self.registry.policies_for(caller.tier)
        outgrown = window_outgrown_by((w for p in policies for w in p.windows), cost)
        if outgrown is not None:
            raise ValidationError(details=[{"field": "cost", "message": cost_error(outgrown)}])
        # Counted apart from principals' own buckets, but an override names the subject as given.
        return _counted(self.limiter.check(CHECK_NAMESPACE + subject, policies, cost, override_subject=subject))

    def usage(
        self, caller: Principal, subject: str, policy_names: str | None = None, *, owner: str | None = None
    ) -> Decision:
        """Each window's current use. A principal reads its own subject (its tier and every route
        group); anyone else's needs ratelimit:admin and names the policies (default: the default tier),
        and, for a principal that is not its own owner (an API key), the `owner` its counters live with."""
        registry = self.registry
        if subject == caller.principal_id:
            owner = caller.owner_id  # one's own counters live with one's own owner
            if policy_names is None:
                policies = registry.policies_for(caller.tier)
                policies += [registry.policies[g] for g in sorted(set(registry.route_groups.values()))]
                return self.limiter.usage(subject, policies, owner=owner)
        if subject != caller.principal_id and not has_scope(caller.scopes, RATELIMIT_ADMIN):
            raise AuthorizationError(
                "The credentials do not allow this operation.",
                details=[{"field": "scope", "message": f"requires {RATELIMIT_ADMIN}"}],
            )
        names = list(dict.fromkeys(n.strip() for n in (policy_names or registry.default_tier).split(",") if n.strip()))
        if not 0 < len(names) <= MAX_USAGE_POLICIES:
            message = f"name 1 to {MAX_USAGE_POLICIES} policies, separated by commas"
            raise ValidationError(details=[{"field": "policy", "message": message}])
        unknown = [n for n in names if registry.get(n) is None]
        if unknown:
            raise ValidationError(details=[{"field": "policy", "message": f"unknown policies {unknown}"}])
        # A check-API subject's usage shows the override that applies to its checks.
        override_subject = subject.removeprefix(CHECK_NAMESPACE) if subject.startswith(CHECK_NAMESPACE) else None
        return self.limiter.usage(
            subject, [registry.policies[n] for n in names], owner=owner, override_subject=override_subject
        )

    def put_override(self, override: Override) -> bool:
        """Store (replace) an override; True when it is new. This instance sees it at once."""
        created = self._overrides.put(override)
        self._override_cache.invalidate(override.subject)
        return created

    def get_override(self, subject: str) -> Override:
        override = self._overrides.get(subject)
        if override is None:
            raise NotFoundError("No override for this subject.")
        return override

    def delete_override(self, subject: str) -> None:
        if not self._overrides.delete(subject):
            raise NotFoundError("No override for this subject.")
        self._override_cache.invalidate(subject)


def _counted(decision: Decision) -> Decision:
    """Note the check for the metrics, written with the request's own sample (docs/metrics.md)."""
    count(RATELIMIT_CHECKED)
    if not decision.allowed:
        count(RATELIMIT_LIMITED)
    return decision

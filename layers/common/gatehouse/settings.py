"""One settings model, read once per process from the environment that template.yaml sets."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gatehouse.wiring import provided


class Settings(BaseModel):
    """Every knob Gatehouse reads. Field aliases are the environment variable names."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    stage: str = Field("dev", alias="GATEHOUSE_STAGE")
    version: str = Field("0.1.0", alias="GATEHOUSE_VERSION")
    release_id: str = Field("local", alias="GATEHOUSE_RELEASE_ID")
    key_environment: Literal["live", "test"] = Field("test", alias="GATEHOUSE_KEY_ENV")

    table_name: str = Field("gatehouse", alias="TABLE_NAME")
    schedule_group: str = Field("gatehouse-timers", alias="SCHEDULE_GROUP")
    scheduler_dlq_url: str = Field("", alias="SCHEDULER_DLQ_URL")
    event_bus_name: str = Field("gatehouse", alias="EVENT_BUS_NAME")
    scheduler_dlq_arn: str = Field("", alias="SCHEDULER_DLQ_ARN")
    scheduler_role_arn: str = Field("", alias="SCHEDULER_ROLE_ARN")
    timer_target_arn: str = Field("", alias="TIMER_TARGET_ARN")
    aws_timeout_seconds: float = Field(2.0, alias="AWS_CLIENT_TIMEOUT_SECONDS")

    redis_url: SecretStr = Field(SecretStr("redis://127.0.0.1:6379/0"), alias="REDIS_URL")  # may hold a password
    redis_cluster: bool = Field(False, alias="REDIS_CLUSTER")
    # A Secrets Manager secret {"username", "password"} for Redis AUTH; empty: none (docs/operations.md#secrets).
    redis_auth_secret_id: str = Field("", alias="REDIS_AUTH_SECRET_ID")
    redis_connect_timeout_ms: int = Field(50, alias="REDIS_CONNECT_TIMEOUT_MS", ge=1)
    redis_read_timeout_ms: int = Field(100, alias="REDIS_READ_TIMEOUT_MS", ge=1)

    # Authorizer and identity (docs/reference.md#configuration).
    authorizer_cache_ttl: int = Field(60, alias="AUTHORIZER_CACHE_TTL", ge=0)
    jwt_issuers: SecretStr = Field(SecretStr("[]"), alias="JWT_ISSUERS")  # JSON list, parsed by gatehouse.auth
    # Secrets are never in the environment: only the ids to read them by (gatehouse/clients/secrets.py).
    api_key_pepper_secret_id: str = Field("", alias="API_KEY_PEPPER_SECRET_ID")  # empty: plain SHA-256 hashes
    secrets_cache_seconds: float = Field(300.0, alias="SECRETS_CACHE_SECONDS", ge=0)
    api_key_cache_seconds: float = Field(10.0, alias="API_KEY_CACHE_SECONDS", ge=0)
    # Active API keys one owner may hold (docs/data-model.md: the owner's count).
    max_keys_per_owner: int = Field(100, alias="MAX_KEYS_PER_OWNER", ge=1)

    # Rate limiting (docs/reference.md#rate-limits).
    ratelimit_override_cache_seconds: float = Field(5.0, alias="RATELIMIT_OVERRIDE_CACHE_SECONDS", ge=0)
    ratelimit_policies: str = Field("", alias="RATELIMIT_POLICIES")  # optional JSON overriding defaults

    # Health (docs/reference.md#configuration).
    health_cache_seconds: float = Field(5.0, alias="HEALTH_CACHE_SECONDS", ge=0)
    health_check_timeout_seconds: float = Field(1.0, alias="HEALTH_CHECK_TIMEOUT_SECONDS", gt=0)

    # Webhooks (docs/reference.md#configuration, docs/webhooks.md).
    webhook_secrets_key_id: str = Field("alias/gatehouse-webhook-secrets", alias="WEBHOOK_SECRETS_KEY_ID")
    webhook_queue_url: str = Field("", alias="WEBHOOK_QUEUE_URL")
    # Delivery ids are remembered this long: at least 4 days, beyond every sender's retry horizon.
    webhook_retention_days: int = Field(7, alias="WEBHOOK_RETENTION_DAYS", ge=4, le=365)
    webhook_source_cache_seconds: float = Field(5.0, alias="WEBHOOK_SOURCE_CACHE_SECONDS", ge=0)
    webhook_failure_limit: int = Field(100, alias="WEBHOOK_FAILURE_LIMIT", ge=1)
    webhook_failure_window_seconds: int = Field(60, alias="WEBHOOK_FAILURE_WINDOW_SECONDS", ge=1)
    webhook_max_receives: int = Field(5, alias="WEBHOOK_MAX_RECEIVES", ge=1)
    webhook_lease_seconds: int = Field(45, alias="WEBHOOK_LEASE_SECONDS", ge=1)
    webhook_retry_base_seconds: int = Field(10, alias="WEBHOOK_RETRY_BASE_SECONDS", ge=0)
    webhook_retry_max_seconds: int = Field(900, alias="WEBHOOK_RETRY_MAX_SECONDS", ge=0)
    # Timers (docs/timers.md, docs/reference.md#configuration).
    timer_max_retries: int = Field(3, alias="TIMER_MAX_RETRIES", ge=0, le=20)
    timer_retry_base_seconds: float = Field(30.0, alias="TIMER_RETRY_BASE_SECONDS", ge=1)
    timer_retry_max_seconds: float = Field(900.0, alias="TIMER_RETRY_MAX_SECONDS", ge=1)
    timer_lease_seconds: int = Field(120, alias="TIMER_LEASE_SECONDS", ge=10)
    timer_sweep_grace_seconds: int = Field(120, alias="TIMER_SWEEP_GRACE_SECONDS", ge=0)
    timer_verify_ahead_seconds: int = Field(300, alias="TIMER_VERIFY_AHEAD_SECONDS", ge=0)
    timer_verify_per_sweep: int = Field(500, alias="TIMER_VERIFY_PER_SWEEP", ge=0)
    outbox_relay_min_age_seconds: float = Field(30.0, alias="OUTBOX_RELAY_MIN_AGE_SECONDS", ge=0)
    # Fleet breakers and the outbound client (docs/resilience.md). A probe's lease is derived from the
    # outbound timeouts, so it outlives any call a probe can make.
    breaker_window_seconds: int = Field(10, alias="BREAKER_WINDOW_SECONDS", ge=1, le=3600)
    breaker_buckets: int = Field(10, alias="BREAKER_BUCKETS", ge=1, le=60)
    breaker_minimum_calls: int = Field(10, alias="BREAKER_MINIMUM_CALLS", ge=1, le=100_000)
    breaker_failure_rate_percent: int = Field(50, alias="BREAKER_FAILURE_RATE_PERCENT", ge=1, le=100)
    breaker_slow_call_ms: int = Field(5_000, alias="BREAKER_SLOW_CALL_MS", ge=1, le=3_600_000)
    breaker_open_seconds: int = Field(30, alias="BREAKER_OPEN_SECONDS", ge=1, le=86_400)
    breaker_half_open_permits: int = Field(3, alias="BREAKER_HALF_OPEN_PERMITS", ge=1, le=1_000)
    # Comma-separated CIDRs outbound calls may reach beyond the public Internet (the local stack: loopback).
    outbound_allowed_networks: str = Field("", alias="OUTBOUND_ALLOWED_NETWORKS")
    outbound_connect_timeout_ms: int = Field(2_000, alias="OUTBOUND_CONNECT_TIMEOUT_MS", ge=1, le=60_000)
    outbound_read_timeout_ms: int = Field(5_000, alias="OUTBOUND_READ_TIMEOUT_MS", ge=1, le=300_000)
    outbound_max_attempts: int = Field(3, alias="OUTBOUND_MAX_ATTEMPTS", ge=1, le=10)
    # Campaign callbacks (docs/resilience.md#how-callbacks-are-wired): the queue a retry is delayed on,
    # the backoff between deliveries (full jitter), and the deliveries of an event before it is failed
    # (below the queue's maxReceiveCount, 15, so the DLQ only holds what the consumer could not process).
    callback_queue_url: str = Field("", alias="CALLBACK_QUEUE_URL")
    callback_retry_base_seconds: int = Field(30, alias="CALLBACK_RETRY_BASE_SECONDS", ge=0)
    callback_retry_max_seconds: int = Field(900, alias="CALLBACK_RETRY_MAX_SECONDS", ge=0, le=43_200)
    callback_max_deliveries: int = Field(10, alias="CALLBACK_MAX_DELIVERIES", ge=1, le=14)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        return cls.model_validate(dict(os.environ if env is None else env))


@provided
def get_settings() -> Settings:
    """The process's settings, read on first use; `gatehouse.wiring.reset()` reads them again."""
    return Settings.from_env()

"""Base pydantic models for the HTTP edge: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from gatehouse.times import parse_utc_timestamp, rfc3339, within_rfc3339_years

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
# A time a request sets: with an offset, and within the years 1-9999 in UTC, so that every later
# conversion is total; rendered as RFC 3339 UTC like every other timestamp.
RequestTime = Annotated[AwareDatetime, AfterValidator(within_rfc3339_years), PlainSerializer(rfc3339, return_type=str)]

# A request timestamp: RFC 3339 text with its offset, read as the same instant in UTC and bounded
# to the years 1-9999 (docs/reference.md#http-conventions). Numbers and offset-less times are refused.
UtcTimestamp = Annotated[
    datetime,
    BeforeValidator(parse_utc_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-22T12:00:00Z"]}),
]


class ApiModel(BaseModel):
    """An answer's model: fields serialise under their camelCase alias."""

    # defer_build: a model's validator and serializer are built on its first use, not at import,
    # so a function pays only for the models its request touches (docs/metrics.md#cold-start).
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, defer_build=True
    )


class ApiRequest(ApiModel):
    """A request body: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

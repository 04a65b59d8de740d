"""Base pydantic models for the HTTP edge: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from gatehouse.times import rfc3339

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]


class ApiModel(BaseModel):
    """An answer's model: fields serialise under their camelCase alias."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class ApiRequest(ApiModel):
    """A request body: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

"""The outbound client as its users see it: a response and the port (OutboundClient in http_client.py
is its adapter). Standard library only, so use cases can take the client without importing urllib3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gatehouse.resilience.retries import UNBOUNDED, Deadline


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    url: str  # after redirects
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Outbound(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool | None = None,
        deadline: Deadline = UNBOUNDED,
    ) -> OutboundResponse:
        """The last response, whatever its status; raises DestinationRefused, BreakerOpenError,
        TransportError or another OutboundError (gatehouse.resilience.errors) when there is none."""
        ...

"""Lambda authorizer for the HTTP API: every protected route's bearer JWT or API key, checked here.

Kept lean for cold start: no pydantic, no Powertools Logger/Tracer/Metrics on this import path
(Powertools' authorizer event and response classes only: about 70 ms of imports).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from gatehouse.auth.authorizer import authorize

# The runtime's root handler prints the records; this sets how much of ours it sees.
logging.getLogger("gatehouse.auth").setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").upper())


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)

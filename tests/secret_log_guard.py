"""No secret in any log line: every key, token and webhook secret the tests mint or send is kept here,
every log record of the session is captured, and the session fails if one holds the other.

The helpers that mint or sign (`tests/e2e/tokens.py`, `tests/webhook_signing.py`) and the product's own
generators (API keys, generated webhook secrets; wrapped by tests/conftest.py) call `remember()`.
Log records are captured from the `gatehouse` logger (Powertools' and every `gatehouse.*` module's)
and the root logger: the local stack runs its functions in this process (docs/metrics.md#logs).
"""

from __future__ import annotations

import logging
from typing import Any

# Shorter values (a test's "x" or "secret") would match by accident; every real secret is longer.
MIN_CHARS = 16
SECRETS: set[str] = set()
LINES: list[str] = []


def remember(*values: Any) -> None:
    for value in values:
        text = value.decode("utf-8", errors="ignore") if isinstance(value, bytes) else value
        if isinstance(text, str) and len(text) >= MIN_CHARS:
            SECRETS.add(text)


class CapturingHandler(logging.Handler):
    """Keeps every record's message, arguments, extra fields and traceback as text."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.getMessage()} {record.__dict__!r}"
            if record.exc_info and record.exc_info[1] is not None:
                text += " " + logging.Formatter().formatException(record.exc_info)
        except Exception as error:
            text = f"{record.msg!r} {error!r}"
        LINES.append(text)


def leaks() -> list[tuple[str, str]]:
    """(secret, the log line it appeared in), shortened; empty when no line holds a secret."""
    found = []
    text = "\n".join(LINES)
    for secret in SECRETS:
        at = text.find(secret)
        if at >= 0:
            start = text.rfind("\n", 0, at) + 1
            found.append((secret[:6] + "…", text[start : start + 300]))
    return found

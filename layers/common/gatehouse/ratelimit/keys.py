"""Redis key names of a check: every key of one check shares one hash tag, `{<subject>}`, or for a
principal's check `{<owner>}` (docs/rate-limits.md), so the script runs in one cluster slot."""

from __future__ import annotations

import hashlib

from gatehouse.ratelimit.decision import ScopedWindow

KEY_PREFIX = "gh:rl:"
# Long subjects are hashed so keys stay small; "%h" cannot come out of the escaping below.
MAX_SUBJECT_CHARS = 200
_ALGORITHM_SUFFIX = {"gcra": "g", "sliding": "s"}


def subject_tag(subject: str) -> str:
    """An injective encoding of `subject` free of `{` and `}`, so no subject can end the tag early
    (which would split one check over several cluster slots or alias another subject)."""
    if not subject:
        raise ValueError("a rate-limit subject must not be empty")
    escaped = subject.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
    if len(escaped) > MAX_SUBJECT_CHARS:
        return "%h" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
    return escaped


def window_key(tag: str, scoped: ScopedWindow, principal: str | None = None) -> str:
    # The algorithm is part of the name: switching a window's algorithm starts a fresh counter
    # instead of reading a hash as a string (WRONGTYPE).
    suffix = _ALGORITHM_SUFFIX[scoped.window.algorithm]
    # A principal's own counter in its owner's slot names the principal too; no policy name
    # starts with "@", so it can never alias one of the owner's own counters.
    owned_by = f"@{principal}:" if principal is not None else ""
    return f"{KEY_PREFIX}{{{tag}}}:{owned_by}{scoped.policy}:{scoped.window.name}:{suffix}"


def keys_for(subject: str, windows: list[ScopedWindow]) -> list[str]:
    """Exactly the keys the limiter script touches for this check, in window order.

    A window with an owner other than the subject lives in the owner's slot: the owner's own
    counter when shared, else the subject's. A subject that is its own owner (or has none)
    keeps the names it always had."""
    tag = subject_tag(subject)
    keys = []
    for w in windows:
        if w.owner is None or w.owner == subject:
            keys.append(window_key(tag, w))
        else:
            keys.append(window_key(subject_tag(w.owner), w, None if w.shared else tag))
    return keys

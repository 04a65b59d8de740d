"""Redis key names of a check: every key of one subject shares the hash tag `{<subject>}`."""

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


def window_key(tag: str, scoped: ScopedWindow) -> str:
    # The algorithm is part of the name: switching a window's algorithm starts a fresh counter
    # instead of reading a hash as a string (WRONGTYPE).
    suffix = _ALGORITHM_SUFFIX[scoped.window.algorithm]
    return f"{KEY_PREFIX}{{{tag}}}:{scoped.policy}:{scoped.window.name}:{suffix}"


def keys_for(subject: str, windows: list[ScopedWindow]) -> list[str]:
    """Exactly the keys the limiter script touches for this check, in window order."""
    tag = subject_tag(subject)
    return [window_key(tag, w) for w in windows]

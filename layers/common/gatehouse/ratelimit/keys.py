"""Redis key names of a check: every key of one subject shares the hash tag `{<subject>}`, and every
window definition has a key of its own (docs/ratelimit.md#counters)."""

from __future__ import annotations

import hashlib

from gatehouse.ratelimit.decision import ScopedWindow
from gatehouse.ratelimit.policies import Window

KEY_PREFIX = "gh:rl:"
# Long subjects are hashed so keys stay small; "%h" cannot come out of the escaping below.
MAX_SUBJECT_CHARS = 200


def subject_tag(subject: str) -> str:
    """An injective encoding of `subject` free of `{` and `}`, so no subject can end the tag early
    (which would split one check over several cluster slots or alias another subject)."""
    if not subject:
        raise ValueError("a rate-limit subject must not be empty")
    escaped = subject.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
    if len(escaped) > MAX_SUBJECT_CHARS:
        return "%h" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
    return escaped


def definition(window: Window) -> str:
    """What a window's state means, written out: `g<limit>/<period>/<burst>` for GCRA (the burst
    it acts with), `s<limit>/<period>` for the sliding counter (it has none).

    Injective and short (shorter than a hash for any real window): two definitions never share a
    counter, so a state written under one (a TAT decades ahead, a count against another limit)
    is never read under another, and changing a window's limit or algorithm starts a fresh one."""
    if window.algorithm == "gcra":
        return f"g{window.limit}/{window.period_seconds}/{window.effective_burst}"
    return f"s{window.limit}/{window.period_seconds}"


def window_key(tag: str, scoped: ScopedWindow) -> str:
    # Names and policies match [A-Za-z0-9_.-], so ":" separates the parts unambiguously.
    return f"{KEY_PREFIX}{{{tag}}}:{scoped.policy}:{scoped.window.name}:{definition(scoped.window)}"


def keys_for(subject: str, windows: list[ScopedWindow]) -> list[str]:
    """Exactly the keys the limiter script touches for this check, in window order."""
    tag = subject_tag(subject)
    return [window_key(tag, w) for w in windows]

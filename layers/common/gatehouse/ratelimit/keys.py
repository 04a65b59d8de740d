"""Redis key names of a check: every key of one check shares one hash tag, `{<subject>}`, or for a
principal's check `{<owner>}` (docs/rate-limits.md), so the script runs in one cluster slot; and
every window definition has a key of its own (docs/rate-limits.md#counters)."""

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


def window_key(tag: str, scoped: ScopedWindow, principal: str | None = None) -> str:
    # Names and policies match [A-Za-z0-9_.-], so ":" separates the parts unambiguously. A
    # principal's own counter in its owner's slot names the principal too; no policy name starts
    # with "@", so it can never alias one of the owner's own counters.
    owned_by = f"@{principal}:" if principal is not None else ""
    return f"{KEY_PREFIX}{{{tag}}}:{owned_by}{scoped.policy}:{scoped.window.name}:{definition(scoped.window)}"


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

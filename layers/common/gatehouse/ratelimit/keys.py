"""Redis key names of a check: every key of one check shares one hash tag, `{<subject>}`, or for a
principal's check `{<owner>}` (docs/rate-limits.md), so the script runs in one cluster slot; and
every policy's windows share one key, named by their definitions (docs/rate-limits.md#counters)."""

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


def policy_key(tag: str, run: list[ScopedWindow], principal: str | None = None) -> str:
    """The key holding every window of one policy in one check: the windows' names and definitions
    are part of it, so a policy whose windows change starts fresh counters."""
    # Names and policies match [A-Za-z0-9_.-], so ":", "=" and "," separate the parts
    # unambiguously. A principal's own counter in its owner's slot names the principal too; no
    # policy name starts with "@", so it can never alias one of the owner's own counters. Keys of
    # the earlier layout (a key per window, "policy:name:definition") have no "=": never read.
    owned_by = f"@{principal}:" if principal is not None else ""
    windows = ",".join(f"{s.window.name}={definition(s.window)}" for s in run)
    return f"{KEY_PREFIX}{{{tag}}}:{owned_by}{run[0].policy}:{windows}"


def _runs(windows: list[ScopedWindow]) -> list[list[ScopedWindow]]:
    """Consecutive windows of one policy (scoped_windows keeps a policy's windows together): a key each."""
    runs: list[list[ScopedWindow]] = []
    for w in windows:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.group == w.group
            and last.policy == w.policy
            and last.owner == w.owner
            and last.shared == w.shared
        ):
            runs[-1].append(w)
        else:
            runs.append([w])
    return runs


def key_indexes(windows: list[ScopedWindow]) -> list[int]:
    """Each window's key, as a 1-based index into keys_for()."""
    return [k for k, run in enumerate(_runs(windows), 1) for _ in run]


def keys_for(subject: str, windows: list[ScopedWindow]) -> list[str]:
    """Exactly the keys the limiter script touches for this check: one per policy, in window order."""
    return [key for key, _ in _keyed_runs(subject, windows)]


def window_names(subject: str, windows: list[ScopedWindow]) -> list[str]:
    """A name per window (its policy's key and its own name), for state kept per window (the
    in-process fallback)."""
    return [f"{key}/{w.window.name}" for key, run in _keyed_runs(subject, windows) for w in run]


def _keyed_runs(subject: str, windows: list[ScopedWindow]) -> list[tuple[str, list[ScopedWindow]]]:
    """Each policy's run of windows with its key. A policy with an owner other than the subject lives
    in the owner's slot: the owner's own counter when shared, else the subject's. A subject that is
    its own owner (or has none) keeps the names it always had."""
    tag = subject_tag(subject)
    keyed = []
    for run in _runs(windows):
        owner = run[0].owner
        if owner is None or owner == subject:
            keyed.append((policy_key(tag, run), run))
        else:
            keyed.append((policy_key(subject_tag(owner), run, None if run[0].shared else tag), run))
    return keyed

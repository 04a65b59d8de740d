"""What Gatehouse refuses in a URL before any parser reads it: one rule for the API that stores a
callback URL and the outbound client that calls it, so a URL the API accepts is one it can call."""

from __future__ import annotations


def has_unsafe_characters(url: str) -> bool:
    """Whitespace, controls and backslashes: URL parsers read them differently (urlsplit drops a tab
    or newline silently, so checks after it would judge another URL than the one given)."""
    return any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\\" for ch in url)

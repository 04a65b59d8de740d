"""What Gatehouse refuses in a URL, and the host it reads from one: one rule for the API that stores a
callback URL and the outbound client that calls it, so a URL the API accepts is one it can call, at
the host the API judged."""

from __future__ import annotations

from ipaddress import ip_address


def has_unsafe_characters(url: str) -> bool:
    """Whitespace, controls and backslashes: URL parsers read them differently (urlsplit drops a tab
    or newline silently, so checks after it would judge another URL than the one given)."""
    return any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\\" for ch in url)


def url_host(raw: str) -> tuple[str, bool]:
    """The host as connected to, and whether it is an IP literal: a literal in its canonical form, or
    the name as IDNA encodes it (lower case ASCII letters, digits, '-' and '.'). ValueError when it is
    neither (an empty host, a Unicode space or control, a name IDNA refuses)."""
    if not raw:
        raise ValueError("the URL has no host")
    try:
        return str(ip_address(raw)), True
    except ValueError:
        pass
    try:
        host = raw.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise ValueError("the URL's host is not a valid name") from None
    if not host or len(host) > 253 or any(not (ch.isalnum() or ch in "-.") for ch in host):
        raise ValueError("the URL's host is not a valid name")
    try:  # a name IDNA maps onto a literal (fullwidth digits for 127.0.0.1): judged as that literal
        return str(ip_address(host)), True
    except ValueError:
        return host, False

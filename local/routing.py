"""Matches a request to an HTTP API route the way API Gateway does: most specific route wins."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from local.template import Route

_LITERAL, _PARAM, _GREEDY = 0, 1, 2


@dataclass
class Match:
    route: Route
    path_parameters: dict[str, str]


@dataclass
class _Compiled:
    route: Route
    segments: list[tuple[int, str]]  # (kind, literal or parameter name)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for i, (kind, text) in enumerate(self.segments):
            if kind == _GREEDY:
                rest = parts[i:]
                if not rest or rest == [""]:
                    return None
                params[text] = unquote("/".join(rest))
                return params
            if i >= len(parts):
                return None
            if kind == _LITERAL:
                if unquote(parts[i]) != text:
                    return None
            else:
                if parts[i] == "":
                    return None
                params[text] = unquote(parts[i])
        return params if len(parts) == len(self.segments) else None

    def rank(self) -> tuple[tuple[int, ...], int]:
        # Literal segments beat {param}, which beats {proxy+}, left to right; a method beats ANY.
        return tuple(kind for kind, _ in self.segments), int(self.route.method == "ANY")


def _compile(route: Route) -> _Compiled:
    segments: list[tuple[int, str]] = []
    for part in route.path.strip("/").split("/") if route.path != "/" else [""]:
        if part.startswith("{") and part.endswith("+}"):
            segments.append((_GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            segments.append((_PARAM, part[1:-1]))
        else:
            segments.append((_LITERAL, part))
    return _Compiled(route, segments)


class Router:
    """The route table of one HTTP API; `$default` catches what nothing else matches."""

    def __init__(self, routes: list[Route]) -> None:
        self._compiled = [_compile(r) for r in routes if r.path != "$default"]
        self._default = next((r for r in routes if r.path == "$default"), None)

    def match(self, method: str, raw_path: str) -> Match | None:
        parts = raw_path.strip("/").split("/") if raw_path != "/" else [""]
        if raw_path.endswith("/") and raw_path != "/":
            parts.append("")  # "/health/" is not "/health"
        found = [
            (c.rank(), c, params)
            for c in self._compiled
            if c.route.method in (method, "ANY") and (params := c.match(parts)) is not None
        ]
        if found:
            _, best, params = min(found, key=lambda f: f[0])
            return Match(best.route, params)
        if self._default is not None:
            return Match(self._default, {})
        return None

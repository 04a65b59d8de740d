"""`route(router, "POST /v1/keys", ...)`: registers a handler under a route key declared in route_rules.

The route key is the one string a route is known by (template.yaml, the scope and rate-limit
group in gatehouse.route_rules, the router); this helper turns it into Powertools' method and
path and states the scope in the OpenAPI description, so the three cannot drift apart.

An answer may name its model instead of holding it (`JsonAnswer("created", "pkg.views:View")`):
Powertools reads answer models only to document them, so the function carries the description
alone and the view classes are imported when the document is generated (`document_answers`),
not by the function's import (docs/metrics.md#cold-start).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from gatehouse.route_rules import ROUTES

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Route
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

_PARAMETER = re.compile(r"\{(\w+)\}")


class JsonAnswer:
    """A JSON answer documented with the model named "package.module:Class" (see the module's doc)."""

    __slots__ = ("description", "model")

    def __init__(self, description: str, model: str) -> None:
        self.description = description
        self.model = model

    def served(self) -> OpenAPIResponse:
        """What Powertools keeps on a serving route: the description, no model to analyse."""
        return {"description": self.description}

    def documented(self) -> OpenAPIResponse:
        module, _, name = self.model.partition(":")
        model: type = getattr(importlib.import_module(module), name)
        return {"description": self.description, "content": {"application/json": {"model": model}}}


# handler -> its answers as written, JsonAnswer included (filled by route(), read by document_answers).
_DOCUMENTED: dict[Callable[..., Any], dict[int, Any]] = {}


def route(router: Router, route_key: str, *, description: str | None = None, **openapi: Any) -> Callable:
    """The decorator of `router` for `route_key` ("METHOD /path/{param}"), which must be declared."""
    rule = ROUTES.get(route_key)
    if rule is None:
        raise KeyError(f"{route_key!r} is not declared in gatehouse.route_rules")
    method, path = route_key.split(" ", 1)
    needs = f"Requires scope `{rule.scope}` (or `admin`)." if rule.scope else "Any authenticated caller."
    text = f"{description}\n\n{needs}" if description else needs
    answers: dict[int, Any] = openapi.get("responses") or {}
    named = any(isinstance(answer, JsonAnswer) for answer in answers.values())
    if named:
        openapi["responses"] = {code: _served(answer) for code, answer in answers.items()}
    register = router.route(_PARAMETER.sub(r"<\1>", path), method, description=text, **openapi)
    if not named:
        return register

    def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
        _DOCUMENTED[handler] = answers
        return register(handler)

    return declare


def answers_from(module: str) -> Callable[[str, str], JsonAnswer]:
    """JsonAnswer(description, "<module>:<view>") for the views of one module."""

    def answer(description: str, view: str) -> JsonAnswer:
        return JsonAnswer(description, f"{module}:{view}")

    return answer


def _served(answer: JsonAnswer | OpenAPIResponse) -> OpenAPIResponse:
    return answer.served() if isinstance(answer, JsonAnswer) else answer


def _documented(answer: JsonAnswer | OpenAPIResponse) -> OpenAPIResponse:
    return answer.documented() if isinstance(answer, JsonAnswer) else answer


def document_answers(routes: Iterable[Route]) -> None:
    """Give `routes` the models their answers name, before anything reads their dependants (which
    cache the answers): on an app built to generate the OpenAPI document, never on a serving one."""
    for documented in routes:
        answers = _DOCUMENTED.get(documented.func)
        if answers is not None:
            documented.responses = {code: _documented(answer) for code, answer in answers.items()}

"""`route(router, "POST /v1/keys", ...)`: registers a handler under a route key declared in route_rules.

The route key is the one string a route is known by (template.yaml, the scope and rate-limit
group in gatehouse.route_rules, the router); this helper turns it into Powertools' method and
path and states the scope in the OpenAPI description, so the three cannot drift apart.

An answer may name its model instead of holding it (`json_answer("created", "pkg.views:View")`):
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


class NamedModel:
    """An answer model named "package.module:Class", imported by `document_answers` only."""

    __slots__ = ("reference",)

    def __init__(self, reference: str) -> None:
        self.reference = reference

    def load(self) -> type:
        module, _, name = self.reference.partition(":")
        model: type = getattr(importlib.import_module(module), name)
        return model


# handler -> its answers as written, with NamedModel in place of the classes (filled by route()).
_DOCUMENTED: dict[Callable[..., Any], dict[int, OpenAPIResponse]] = {}


def json_answer(description: str, model: str) -> OpenAPIResponse:
    """A JSON answer documented with the model named "package.module:Class" (see the module's doc)."""
    return {"description": description, "content": {"application/json": {"model": NamedModel(model)}}}  # type: ignore[typeddict-item]


def _named(answer: OpenAPIResponse) -> bool:
    return any(isinstance(media.get("model"), NamedModel) for media in answer.get("content", {}).values())


def route(router: Router, route_key: str, *, description: str | None = None, **openapi: Any) -> Callable:
    """The decorator of `router` for `route_key` ("METHOD /path/{param}"), which must be declared."""
    rule = ROUTES.get(route_key)
    if rule is None:
        raise KeyError(f"{route_key!r} is not declared in gatehouse.route_rules")
    method, path = route_key.split(" ", 1)
    needs = f"Requires scope `{rule.scope}` (or `admin`)." if rule.scope else "Any authenticated caller."
    text = f"{description}\n\n{needs}" if description else needs
    answers: dict[int, OpenAPIResponse] | None = openapi.get("responses")
    if not answers or not any(_named(answer) for answer in answers.values()):
        return router.route(_PARAMETER.sub(r"<\1>", path), method, description=text, **openapi)
    # What Powertools keeps at run time: each named answer without its model.
    openapi["responses"] = {
        code: {"description": answer["description"]} if _named(answer) else answer for code, answer in answers.items()
    }
    register = router.route(_PARAMETER.sub(r"<\1>", path), method, description=text, **openapi)

    def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
        _DOCUMENTED[handler] = answers
        return register(handler)

    return declare


def _loaded(answer: OpenAPIResponse) -> OpenAPIResponse:
    content = {
        media_type: {**media, "model": media["model"].load()} if isinstance(media.get("model"), NamedModel) else media
        for media_type, media in answer.get("content", {}).items()
    }
    return {**answer, "content": content}  # type: ignore[typeddict-item]


def document_answers(routes: Iterable[Route]) -> None:
    """Give `routes` their named answer models, before anything reads their dependants (which cache
    the answers): on an app built to generate the OpenAPI document, never on a serving one."""
    for documented in routes:
        answers = _DOCUMENTED.get(documented.func)
        if answers is not None:
            documented.responses = {code: _loaded(a) if _named(a) else a for code, a in answers.items()}

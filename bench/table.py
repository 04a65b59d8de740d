"""A plain-text table printer shared by every benchmark section."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Table:
    """A titled table: a section returns one or more of these."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]] = field(default_factory=list)

    def render(self) -> str:
        cells = [[str(c) for c in self.columns], *[[_fmt(v) for v in row] for row in self.rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]

        def line(row: list[str]) -> str:
            # Text left, numbers right: the way people read a results table.
            padded = (
                v.rjust(w) if i and _numeric(v) else v.ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
            return "  ".join(padded).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([self.title, rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).replace("x", "").lstrip("-").isdigit()

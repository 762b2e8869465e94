"""A figure, its target, and the two ways of showing them: a table and JSON lines."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


class BenchmarkFailure(Exception):
    """The load ran but the outcome is wrong (or the run could not be measured)."""


@dataclass(frozen=True)
class Target:
    comparison: str  # "<=" or ">="
    bound: float

    def met_by(self, value: float) -> bool:
        return _COMPARISONS[self.comparison](value, self.bound)

    def __str__(self) -> str:
        sign = "≤" if self.comparison == "<=" else "≥"
        return f"{sign} {self.bound:g}"


def at_most(bound: float) -> Target:
    return Target("<=", bound)


def at_least(bound: float) -> Target:
    return Target(">=", bound)


@dataclass(frozen=True)
class Figure:
    benchmark: str
    name: str
    value: float | None
    unit: str
    target: Target | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "skipped"
        if self.target is None:
            return ""
        return "ok" if self.target.met_by(self.value) else "MISSED"

    def as_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["target"] = str(self.target) if self.target else None
        record["verdict"] = self.verdict
        return record


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def print_table(figures: Iterable[Figure], out: TextIO) -> None:
    rows = [
        (
            figure.benchmark,
            figure.name,
            f"{_number(figure.value)} {figure.unit}".strip(),
            f"{figure.target} {figure.unit}".strip() if figure.target else "",
            figure.verdict,
            figure.note,
        )
        for figure in figures
    ]
    header = ("benchmark", "figure", "value", "target", "verdict", "note")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")


def write_json_lines(figures: Iterable[Figure], path: Path, context: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        for figure in figures:
            file.write(json.dumps(context | figure.as_json(), ensure_ascii=False) + "\n")

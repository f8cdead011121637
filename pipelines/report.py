"""One output layer for every command that prints rows: table, JSON or CSV, same keys."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.cells import cell_len, set_cell_size

FORMATS = ("table", "json", "csv")
_FLEXIBLE = frozenset({"title", "url", "last_error", "error", "also_in", "health"})


def to_jsonable(value: Any) -> Any:
    """ISO-8601 with offset for datetimes; everything else as JSON has it."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str]) -> str:
    """Rows as text. JSON keeps every key (a list, `[]` when empty); table and CSV show columns."""
    if fmt == "json":
        data = [{k: to_jsonable(v) for k, v in row.items()} for row in rows]
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c), csv_=True) for c in columns])
        return out.getvalue().rstrip("\n")
    return _table(rows, columns)


def _cell(value: Any, csv_: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") if csv_ else value.strftime("%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned table that fits the terminal (80 columns when piped).

    Widths count display cells, so Korean titles (two cells a character) stay aligned; short
    columns keep their width and the free-text ones share what is left, cut with an ellipsis.
    """
    if not rows:
        return "(none)"
    width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    natural = [max([cell_len(c)] + [cell_len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    widths = [n if c not in _FLEXIBLE else 0 for c, n in zip(columns, natural, strict=True)]
    widths = [min(w, 24) for w in widths]
    flexible = [i for i, c in enumerate(columns) if c in _FLEXIBLE]
    room = width - sum(widths) - 2 * (len(columns) - 1)
    # Narrow free-text columns first, so what they leave goes to the wide ones.
    for left, i in enumerate(sorted(flexible, key=lambda i: natural[i])):
        widths[i] = max(min(natural[i], room // (len(flexible) - left)), min(natural[i], 8))
        room -= widths[i]
    lines = ["  ".join(_fit(c, w) for c, w in zip(columns, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(_fit(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"

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

from rich import box
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")


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
        return value.isoformat(timespec="seconds") if csv_ else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    for column in columns:
        table.add_column(column, overflow="ellipsis", no_wrap=True,
                         ratio=3 if column in ("title", "url", "last_error") else None)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    console.print(table)
    return console.file.getvalue().rstrip()

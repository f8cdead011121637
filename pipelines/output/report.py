"""One output layer for every command that prints rows: table, JSON or CSV, same keys."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

from rich.cells import cell_len, set_cell_size

FORMATS = ("table", "json", "csv")

# Columns have roles in a table on a terminal. Fixed ones (ids, scores, dates, statuses, counts)
# are short and keep their width. Point columns are why the row is read, so they wrap within
# their column and are never cut. Secondary columns are cut, then hidden, before a point column
# gets less than POINT_MIN cells. Any other column is a label (a source or topic name): it keeps
# its width while secondary columns can still give way, then wraps down to LABEL_MIN.
_POINT = frozenset({"title", "error", "last_error", "health", "why"})
_FIXED = frozenset({"id", "score", "date", "status", "last_status", "last_run", "published",
                    "first_seen", "fetched", "articles", "new_articles", "skipped", "failures",
                    "requests"})
# Hidden in this order when they do not fit. A URL is shown whole or not at all: a cut URL
# cannot be opened, and its host is already in the source column.
_SECONDARY = ("url", "fetched_url", "kind", "story_id", "language", "also_in")
_WHOLE = frozenset({"url", "fetched_url"})
POINT_MIN = 20
LABEL_MIN = 12
SECONDARY_MIN = 12
# Below POINT_MIN only when every other column but the first is hidden (a very narrow terminal).
_POINT_FLOOR = 8
_GAP = 2

Width = int | Literal["auto"] | None


def to_jsonable(value: Any) -> Any:
    """ISO-8601 with offset for datetimes; everything else as JSON has it."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def terminal_width() -> int | None:
    """The terminal's width in cells ($COLUMNS wins), or None when stdout is not a terminal.

    Piped output has no width: a script or a pager gets every value whole.
    """
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((80, 24)).columns


def wrap_cells(text: str, width: int | None, *, break_words: bool = True) -> list[str]:
    """`text` as lines at most `width` terminal cells wide (Hangul and CJK characters count two).

    Breaks at spaces where it can, else between characters: a word wider than the line
    (unspaced Chinese or Japanese, a long URL) starts a line and runs on over the next ones, or
    with `break_words=False` stays whole on a line of its own. Keeps hard line breaks and the
    spacing within a line; only the spaces at a break are lost, so each line is a piece of the
    text. With `width=None` the text is split at line breaks only.
    """
    if width is None:
        return text.splitlines() or [""]
    width = max(width, 2)
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        start = len(lines)
        line, used, gap = "", 0, ""
        for token in re.findall(r"\S+|\s+", paragraph):
            if token.isspace():
                gap = token
                continue
            size = cell_len(token)
            if used + cell_len(gap) + size <= width:
                line, used = line + gap + token, used + cell_len(gap) + size
            else:
                if line:
                    lines.append(line)
                line, used = token, size
                if size > width and break_words:
                    line, used = "", 0
                    for char in token:
                        if line and used + cell_len(char) > width:
                            lines.append(line)
                            line, used = "", 0
                        line, used = line + char, used + cell_len(char)
            gap = ""
        if line or len(lines) == start:
            lines.append(line)
    return lines


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str], *,
           width: Width = "auto") -> str:
    """Rows as text. JSON keeps every key (a list, `[]` when empty); table and CSV show columns.

    A table fits `width` display cells: "auto" is the terminal's width, or no limit when piped;
    None is no limit. Columns that do not fit are named in a footer line.
    """
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
    return _table(rows, columns, terminal_width() if width == "auto" else width)


def stream(rows: Iterable[dict[str, Any]], fmt: str, columns: Sequence[str]) -> Iterator[str]:
    """JSON or CSV exactly as `render` writes it, in pieces as the rows come: for results too
    large to hold. The pieces joined are `render`'s text, without a final newline."""
    if fmt == "json":
        first = True
        for row in rows:
            data = {k: to_jsonable(v) for k, v in row.items()}
            yield ("[\n" if first else ",\n") + textwrap.indent(
                json.dumps(data, ensure_ascii=False, indent=2), "  ")
            first = False
        yield "[]" if first else "\n]"
        return
    if fmt != "csv":
        raise ValueError(f"cannot stream {fmt!r}: a table needs every row for its widths")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    yield out.getvalue().rstrip("\n")
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([_cell(row.get(c), csv_=True) for c in columns])
        yield "\n" + out.getvalue().rstrip("\n")


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


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int | None) -> str:
    """An aligned table; widths count display cells, so Korean titles stay in their column."""
    if not rows:
        return "(none)"
    texts = [{c: _cell(row.get(c)) for c in columns} for row in rows]
    natural = {c: max(_widest(c), *(_widest(t[c]) for t in texts)) for c in columns}
    if width is None:
        shown, widths, hidden = list(columns), natural, []
    else:
        shown, widths = _layout(columns, natural, width)
        hidden = [c for c in columns if c not in shown]
    lines = _physical_lines({c: c for c in shown}, shown, widths)
    lines.append("  ".join("-" * widths[c] for c in shown))
    for text in texts:
        lines += _physical_lines(text, shown, widths)
    if hidden:
        note = (f"({', '.join(hidden)} hidden at {width} columns; "
                "--format json shows everything)")
        lines += wrap_cells(note, width)
    return "\n".join(lines)


def _widest(text: str) -> int:
    return max(cell_len(line) for line in text.splitlines() or [""])


def _physical_lines(text: dict[str, str], shown: list[str], widths: dict[str, int]) -> list[str]:
    """One row as terminal lines: point and label values wrap onto continuation lines."""
    cells = {c: _cut(text[c], widths[c]) if c in _SECONDARY else wrap_cells(text[c], widths[c])
             for c in shown}
    height = max(len(lines) for lines in cells.values())
    return ["  ".join(set_cell_size(cells[c][i] if i < len(cells[c]) else "", widths[c])
                      for c in shown).rstrip() for i in range(height)]


def _cut(text: str, width: int) -> list[str]:
    """A secondary value whole when it fits, else on one line cut with an ellipsis."""
    lines = text.splitlines() or [""]
    if all(cell_len(line) <= width for line in lines):
        return lines
    return [set_cell_size(" ".join(lines), width - 1) + "…"]


def _layout(columns: Sequence[str], natural: dict[str, int],
            width: int) -> tuple[list[str], dict[str, int]]:
    """Which columns fit `width`, and how wide each is.

    Steps, each taken only when the one before does not fit: point columns wrap down to
    POINT_MIN and secondary ones are cut to SECONDARY_MIN; secondary columns are hidden one by
    one (any that fits again comes back); labels wrap down to LABEL_MIN; the other columns are
    hidden from the right, all but the first; point columns go down to _POINT_FLOOR. What is
    left over goes back to the point columns first, then to labels, then to secondary ones.
    """
    def least(column: str, label: int | None = None, point: int = POINT_MIN) -> int:
        if column in _POINT:
            return min(natural[column], point)
        if column in _SECONDARY and column not in _WHOLE:
            return min(natural[column], SECONDARY_MIN)
        if column in _FIXED or label is None:
            return natural[column]
        return min(natural[column], label)

    def fits(shown: list[str], low: dict[str, int]) -> bool:
        return sum(low[c] for c in shown) + _GAP * (len(shown) - 1) <= width

    shown = list(columns)
    low = {c: least(c) for c in columns}
    hidden: list[str] = []
    for column in (c for c in _SECONDARY if c in columns):
        if fits(shown, low):
            break
        shown.remove(column)
        hidden.append(column)
    for column in reversed(hidden):
        candidate = [c for c in columns if c in shown or c == column]
        if fits(candidate, low):
            shown = candidate
    if not fits(shown, low):
        low = {c: least(c, label=LABEL_MIN) for c in columns}
    for column in [c for c in reversed(shown[1:]) if c not in _POINT]:
        if fits(shown, low):
            break
        shown.remove(column)
    if not fits(shown, low):
        low = {c: least(c, label=LABEL_MIN, point=_POINT_FLOOR) for c in columns}
    widths = dict(low)
    slack = width - sum(low[c] for c in shown) - _GAP * (len(shown) - 1)
    labels = [c for c in shown if c not in _POINT and c not in _SECONDARY]
    for group in ([c for c in shown if c in _POINT], labels, [c for c in shown if c in _SECONDARY]):
        slack = _grow(group, widths, natural, slack)
    return shown, widths


def _grow(group: list[str], widths: dict[str, int], natural: dict[str, int], slack: int) -> int:
    """Share `slack` cells among `group`, evenly, none beyond its natural width; what is left."""
    while slack > 0:
        hungry = sorted((c for c in group if widths[c] < natural[c]),
                        key=lambda c: natural[c] - widths[c])
        if not hungry:
            break
        for left, column in enumerate(hungry):
            give = min(natural[column] - widths[column], max(1, slack // (len(hungry) - left)))
            widths[column] += give
            slack -= give
            if slack == 0:
                break
    return slack

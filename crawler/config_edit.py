"""Edits to newswatch.toml from the command line that keep the user's comments and layout.

tomlkit reads the file into a document that remembers every comment, blank line and quoting
style, so `sources add` appends one `[[sources]]` table and leaves the rest byte for byte. Every
edit is validated as a whole config before the file is replaced (atomically, by rename), so a
command can never leave behind a config that `newswatch` would refuse to load.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Table, Whitespace

from crawler.config import Config, ConfigError, load_config


def read_document(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; write one with `newswatch init`, "
                          "or pass --config FILE") from None
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def edit_config(path: Path, change: Callable[[tomlkit.TOMLDocument], None]) -> Config:
    """Apply `change` to the document, check the result loads, then replace the file.

    The new text is written beside the file and loaded from there (relative paths in it resolve
    as they will), and renamed over the original only when it loads.
    """
    document = read_document(path)
    change(document)
    text = tomlkit.dumps(document)
    folder = path.resolve().parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        config = load_config(temporary)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return config


def _entries(document: tomlkit.TOMLDocument, key: str) -> AoT | None:
    value = document.get(key)
    return value if isinstance(value, AoT) else None


def _table(entry: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in entry.items():
        if value is not None:
            table.add(key, value)
    table.add(tomlkit.nl())  # a blank line before whatever follows, as a person would leave
    return table


def _set_key(table: Table, key: str, value: Any) -> None:
    """Set `key`; a new key goes after the table's last key, not after the comments and blank
    lines that end it (those introduce the next table)."""
    if key in table:
        table[key] = value
        return
    body = table.value.body
    trailing = []
    while body and body[-1][0] is None:
        trailing.insert(0, body.pop())
    table[key] = value
    body.extend(trailing)


def _append(document: tomlkit.TOMLDocument, key: str, entry: dict[str, Any], comment: str | None) -> None:
    table = _table(entry)
    if comment:
        table.comment(comment)
    entries = _entries(document, key)
    if entries is None:
        if key in document:
            raise ConfigError(f"`{key}` in the config is not a list of [[{key}]] tables; fix it by hand")
        document.add(tomlkit.nl())
        document.add(key, tomlkit.aot())
        entries = _entries(document, key)
    if entries is None:  # tomlkit always gives back the array just added
        raise ConfigError(f"could not add [[{key}]] to the config")
    if len(entries) and not _ends_blank(entries[-1]):
        entries[-1].add(tomlkit.nl())  # a blank line between the last entry and the new one
    entries.append(table)


def _ends_blank(table: Table) -> bool:
    body = table.value.body
    return bool(body) and body[-1][0] is None and isinstance(body[-1][1], Whitespace)


def add_source(path: Path, entry: dict[str, Any], comment: str | None = None) -> Config:
    """Append one `[[sources]]` table; a name already used is refused before anything is written."""
    config = load_config(path)
    if any(source.name == entry["name"] for source in config.sources):
        raise ConfigError(f'a source named "{entry["name"]}" is already in {path}; choose another '
                          "name with --name")
    return edit_config(path, lambda document: _append(document, "sources", entry, comment))


def add_topic(path: Path, entry: dict[str, Any], comment: str | None = None) -> Config:
    """Append one `[[topics]]` table; a name already used is refused before anything is written."""
    document = read_document(path)
    if any(topic.get("name") == entry["name"] for topic in _entries(document, "topics") or []):
        raise ConfigError(f'a topic named "{entry["name"]}" is already in {path}; choose another '
                          "name, or edit that entry")
    return edit_config(path, lambda document: _append(document, "topics", entry, comment))


def _find(document: tomlkit.TOMLDocument, key: str, name: str, path: Path) -> tuple[AoT, int]:
    entries = _entries(document, key)
    names = [str(entry.get("name")) for entry in entries or []]
    if entries is None or name not in names:
        known = ", ".join(names) or "none configured"
        raise ConfigError(f"no {key[:-1]} named {name!r} in {path} ({key}: {known})")
    return entries, names.index(name)


def remove_source(path: Path, name: str) -> Config:
    """Delete the source's `[[sources]]` table (its stored articles stay in the database)."""
    def change(document: tomlkit.TOMLDocument) -> None:
        entries, index = _find(document, "sources", name, path)
        if index:  # comment lines right above the table are its own: they go with it
            body = entries[index - 1].value.body
            while body and body[-1][0] is None and isinstance(body[-1][1], Comment):
                body.pop()
        del entries[index]
        if not len(entries):
            del document["sources"]

    return edit_config(path, change)


def set_source_enabled(path: Path, name: str, enabled: bool) -> Config:
    """`enabled = false` (or true) in the source's table, added after its other keys if absent."""
    def change(document: tomlkit.TOMLDocument) -> None:
        entries, index = _find(document, "sources", name, path)
        _set_key(entries[index], "enabled", enabled)

    return edit_config(path, change)

"""Text from the web made safe to print: no control characters (an ANSI escape in a feed title
could recolour or rewrite the user's terminal), one line, and a bounded length."""

from __future__ import annotations

import unicodedata


def printable(value: object, limit: int = 300) -> str:
    """`value` as one line of visible characters: controls shown as \\xNN, at most `limit` long."""
    text = "" if value is None else str(value)
    out = []
    for char in " ".join(text.split()):
        if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") and char != "\u200d":
            out.append(f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"

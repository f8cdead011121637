"""The evidence that moved a score, marked where it was found in the title, lead and body.

The scorer records each piece of evidence as the surface text it matched and where (title,
lead, body). The page marks every occurrence of the positive evidence, case-insensitively,
in the part it was found in. Every character of the article is escaped first: only the
<mark> tags put around escaped text are markup.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

_TEXT_PARTS = {"title": "title", "lead": "text", "body": "text"}


def evidence_terms(matches: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Positive evidence of every topic's reasons, by the part it is in ("title" or "text")."""
    found: dict[str, set[str]] = {"title": set(), "text": set()}
    for match in matches:
        for reason in match.get("reasons") or []:
            if not isinstance(reason, dict):
                continue
            weight, evidence = reason.get("weight"), reason.get("evidence")
            part = _TEXT_PARTS.get(str(reason.get("where")))
            if (part and isinstance(evidence, str) and evidence.strip()
                    and isinstance(weight, int | float) and weight > 0):
                found[part].add(evidence.strip())
    return found


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """`text` escaped, with every occurrence of `terms` in <mark>; longest terms win overlaps."""
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    # The scorer matched NFKC text; fold the same way so "ＡＩ" in a page still lights up.
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):
        folded = text
    pieces: list[str] = []
    last = 0
    for found in pattern.finditer(folded):
        pieces.append(escape(text[last : found.start()]))
        pieces.append(Markup("<mark>%s</mark>") % text[found.start() : found.end()])
        last = found.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


def paragraphs(text: str, terms: Iterable[str]) -> list[Markup]:
    """The article's paragraphs (its line breaks), each highlighted."""
    terms = list(terms)
    return [highlight(line.strip(), terms) for line in text.split("\n") if line.strip()]


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({unicodedata.normalize("NFKC", t) for t in terms if t}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(_bounded(w) for w in words), re.IGNORECASE)


def _bounded(word: str) -> str:
    """A Latin term matches whole words ("AI" not in "said"); Hangul takes particles, so a
    Korean term matches inside a longer word, as the scorer matches it."""
    edge = "A-Za-z0-9"
    head = f"(?<![{edge}])" if word[0].isascii() and word[0].isalnum() else ""
    tail = f"(?![{edge}])" if word[-1].isascii() and word[-1].isalnum() else ""
    return head + re.escape(word) + tail

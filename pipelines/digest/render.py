"""The digest's words: subject, plain text and HTML from the stories to mail, and nothing else."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from pipelines.digest.links import DigestLinks
    from pipelines.storage.queries import StoryMatch

TEMPLATES = Path(__file__).with_name("templates")
LEAD_LINES = 2
WHY_COUNT = 3
ALSO_IN_COUNT = 6
SUBJECT_TOPICS = 3
_TEXT_PARTS = ("title", "lead", "body")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    # `.html.j2` is escaped, `.txt.j2` is not: every web value in the HTML part goes through here.
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass
class DigestContent:
    """One rendered digest: what `preview` shows and what the mailer sends."""

    subject: str
    text: str
    html: str
    count: int
    topics: list[str]
    items: list[StoryMatch] = field(default_factory=list)


def render_digest(
    items: Sequence[StoryMatch],
    *,
    day: date,
    attention: Sequence[str],
    tz: ZoneInfo,
    empty_ok: bool,
    waiting: int = 0,
    subject_prefix: str = "[newswatch]",
    links: DigestLinks | None = None,
) -> DigestContent:
    """Render the digest of `items` for `day`, grouped by topic, best first.

    `attention` lines (one per unhealthy source) become a footer; none means all sources are
    healthy. `waiting` counts matches held back for the next digest by `max_items`.
    With no items and `empty_ok` false this raises ValueError: an empty day sends nothing.
    `links` (when web.base_url is set) gives each item its web page and a signed "not relevant"
    link, in both parts.
    """
    if not items and not empty_ok:
        raise ValueError("no stories to render; pass empty_ok=True for the 'nothing new' mail")
    ordered = sorted(items, key=lambda r: (r.topic, -r.score, r.first_seen))
    topics = list(dict.fromkeys(r.topic for r in ordered))
    groups = [
        {"topic": topic, "items": [_view(r, tz, links) for r in ordered if r.topic == topic]}
        for topic in topics
    ]
    attention = [_clean(line) for line in attention if line.strip()]
    subject = _subject(day, len(ordered), topics, attention, subject_prefix)
    values: dict[str, Any] = {
        "subject": subject, "day": day.isoformat(), "zone": str(tz), "count": len(ordered),
        "groups": groups, "attention": attention, "waiting": waiting,
    }
    return DigestContent(
        subject=subject,
        text=_env.get_template("digest.txt.j2").render(values),
        html=_env.get_template("digest.html.j2").render(values),
        count=len(ordered),
        topics=topics,
        items=ordered,
    )


def why_matched(reasons: Any, limit: int = WHY_COUNT) -> str:
    """A short phrase from a match's stored reasons: the strongest positive evidence, e.g.
    `"AI" in title and body, "R&D budget" in lead, "MSIT" in body`.

    The reasons JSON is written by the classifier (`TopicScore.to_json`) and may change shape
    between versions, so anything unexpected is skipped rather than trusted: a digest must
    render whatever is stored. Penalties and zero weights (`missing:<group>`) explain a low
    score, not a match, so only positive weights count.
    """
    entries = reasons.get("reasons") if isinstance(reasons, dict) else reasons
    if not isinstance(entries, list):
        return ""
    ranked: list[tuple[float, int, str, str | None]] = []
    for order, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        weight = entry.get("weight")
        if weight is None:
            weight = 0.0  # an unweighted shape: keep the classifier's order, after weighted ones
        elif isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            continue
        what = next((entry[k] for k in ("evidence", "term", "feature")
                     if isinstance(entry.get(k), str) and entry[k].strip()), None)
        if what is None:
            continue
        where = entry.get("where")
        place = _clean(where) if isinstance(where, str) and where.strip() else None
        ranked.append((-weight, order, _clean(what), place))
    ranked.sort(key=lambda r: (r[0], r[1]))
    places: dict[str, list[str]] = {}
    for _, _, what, place in ranked:
        seen = places.setdefault(what, [])
        if place and place not in seen:
            seen.append(place)
    phrases = []
    for what, where in list(places.items())[:limit]:
        in_text = [w for w in where if w in _TEXT_PARTS]
        if in_text or not where:
            phrase = f"“{_shorten(what, 40)}”"
            phrases.append(f"{phrase} in {_and(in_text)}" if in_text else phrase)
        else:  # whole-article evidence, e.g. "similar to labeled article #12 ..."
            phrases.append(_shorten(what, 80))
    return ", ".join(phrases)


def _and(words: list[str]) -> str:
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"


def _view(row: StoryMatch, tz: ZoneInfo, links: DigestLinks | None = None) -> dict[str, Any]:
    when = row.published or row.first_seen
    lead_lines = _two_lines(_clean(row.lead))
    also_in = []
    for place in row.also_in[:ALSO_IN_COUNT]:
        url = str(place.get("url") or "")
        also_in.append({"source": _clean(str(place.get("source") or "?")), "url": _clean(url),
                        "href": _href(url)})
    return {
        "id": row.id,
        "title": _clean(row.title or "") or "(untitled)",
        "url": _clean(row.url),
        "href": _href(row.url),
        "source": _clean(row.source),
        "when": when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when else "",
        "score": f"{row.score:.2f}",
        "lead": " ".join(lead_lines),
        "lead_lines": lead_lines,
        "why": why_matched(row.reasons),
        "also_in": also_in,
        "also_more": max(0, len(row.also_in) - ALSO_IN_COUNT),
        "page": links.page(row.id) if links else None,
        "not_relevant": links.not_relevant(row.id, row.topic) if links else None,
    }


def _subject(day: date, count: int, topics: list[str], attention: list[str], prefix: str) -> str:
    head = f"{prefix} {day.isoformat()}".strip()
    if not count:
        health = ("1 source needs attention" if len(attention) == 1
                  else f"{len(attention)} sources need attention" if attention
                  else "all sources healthy")
        return f"{head}: nothing new, {health}"
    shown = ", ".join(topics[:SUBJECT_TOPICS])
    if len(topics) > SUBJECT_TOPICS:
        shown += f" (+{len(topics) - SUBJECT_TOPICS} more)"
    noun = "article" if count == 1 else "articles"
    return _clean(f"{head}: {count} new {noun} in {shown}")


def _two_lines(text: str) -> list[str]:
    """The lead as two lines of a text mail; Hangul and CJK take two columns each."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
    width = 38 if wide * 3 > len(text) else 74
    return textwrap.wrap(text, width, max_lines=LEAD_LINES, placeholder=" …")


def _href(url: str) -> str | None:
    """Only http(s) links become clickable: a `javascript:` URL from a page stays plain text."""
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _clean(value: str) -> str:
    """One line of visible text: control and bidi-override characters out, whitespace folded."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = value[:limit].rsplit(" ", 1)[0] if " " in value[:limit] else value[:limit]
    return cut.rstrip(" ,.;:") + " …"

"""Article bodies that pages ship as data: JSON-LD `articleBody` and client-side framework state.

Client-rendered portals (Next.js, Arc's Fusion) and paywalled pages put the full text only in
embedded JSON; the clean stage reads it from here when the HTML yields less. Next.js App Router
pages stream theirs as React Server Components data instead: pipelines/extraction/flight.py reads that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from lxml.html import HtmlElement
from w3lib.html import remove_tags, remove_tags_with_content, replace_entities

# Fewer characters are not an article body, in JSON or between <br> tags.
MIN_BODY = 200

_BODY_KEYS = {"articlebody", "body", "content", "text", "html", "bodyhtml", "contenthtml"}
# A list under a key ending so (compared lower-case, without "_" and "-") holds the body as content
# blocks: Next.js `body: [{"type": "paragraph", ...}]`, Arc's content_elements, Sanity, Contentful,
# Draft.js and Slate rich text. Each block's text is joined: the longest single one is a paragraph.
_BLOCK_LIST_KEY = re.compile(r"(?:body|content|contents|contentelements|blocks|paragraphs|richtext)$")
# Framework state also carries other stories and the page around the article; nothing under such
# a key is this page's body, however long the summaries of a "related" list add up to.
_OTHER_STORIES = re.compile(
    r"related|recommend|suggest|popular|trending|latest|mostread|mostviewed|more|next|prev|ranking"
    r"|teaser|promo|sponsor|nav|menu|sidebar|footer|breadcrumb|summary|excerpt"
)
# Block types that are prose (absent counts too); images, embeds, ads, "read more" links are not.
_PROSE_BLOCK = re.compile(
    r"text|paragraph|p|block|span|unstyled|normal|(?:block|pull)?quote|h[1-6]|head(?:er|ing)(?:[-_ ]?\w+)?"
    r"|sub-?head(?:er|ing|line)?",
    re.IGNORECASE,
)
_BLOCK_TYPE_KEYS = ("type", "_type", "nodeType", "__typename")
_BLOCK_TEXT_KEYS = ("text", "content", "html", "value")
# A block with a headline or a link of its own is a story card, not a paragraph of this story.
_CARD_KEYS = ("title", "headline", "url", "href", "link", "slug")
_MAX_DEPTH = 30

# `window.__INITIAL_STATE__ = {`, `Fusion.globalContent={`, `var initialState = {` ... (alternatives
# spelled out: a character class at their start makes the scan of large inline scripts 4x slower).
_STATE_ASSIGNMENT = re.compile(
    r"(?:__[A-Z][A-Z_]*__|globalContent|initialState|preloadedState|InitialState|PreloadedState)"
    r"\s*=\s*(?=[{\[])"
)

_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|h\d|li|blockquote|figcaption|tr)\s*>", re.IGNORECASE)

_WORD = re.compile(r"\w+")


def tidy(text: str) -> str:
    """One paragraph per line, without blank lines or runs of spaces."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def json_ld_articles(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """The JSON-LD objects that describe an article (@graph and lists included)."""
    for script in tree.iterfind('.//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                stack.extend(reversed(item.get("@graph") or []))
                if "articleBody" in item or "headline" in item or "datePublished" in item:
                    yield item


def first_value(items: list[dict[str, Any]], key: str) -> str | None:
    return next((v.strip() for i in items if isinstance(v := i.get(key), str) and v.strip()), None)


def json_ld_author(linked: list[dict[str, Any]]) -> str | None:
    for item in linked:
        authors = item.get("author")
        for author in authors if isinstance(authors, list) else [authors]:
            name = author.get("name") if isinstance(author, dict) else author
            if isinstance(name, str) and name.strip():
                return name.strip()
    return None


def embedded_body(tree: HtmlElement, linked: list[dict[str, Any]], more: Iterable[str] = ()) -> str:
    """The longest plausible article body in JSON-LD, client-side framework state or `more`.

    `more` are bodies found elsewhere (HTML fragments or text), such as the paragraphs of a
    Next.js App Router page's flight data.
    """
    candidates = [body for item in linked if isinstance(body := item.get("articleBody"), str)]
    candidates.extend(more)
    for script in tree.iterfind(".//script"):
        source = script.text or ""
        if script.get("type") == "application/json" or script.get("id") == "__NEXT_DATA__":
            starts = [0]
        else:
            starts = [match.end() for match in _STATE_ASSIGNMENT.finditer(source)]
        for start in starts:
            try:
                state, _ = json.JSONDecoder(strict=False).raw_decode(source, start)
            except (ValueError, RecursionError):
                continue
            candidates.extend(state_bodies(state))
    texts = (html_text(candidate) for candidate in candidates if len(candidate) >= MIN_BODY)
    return max((text for text in texts if _plausible(text)), key=len, default="")


def state_bodies(node: Any, depth: int = 0) -> Iterator[str]:
    """Strings under body-like keys, and lists of content blocks under body-like keys joined.

    Subtrees under keys that name other stories or page furniture are skipped whole.
    """
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            name = str(key).lower().replace("_", "").replace("-", "")
            if _OTHER_STORIES.search(name):
                continue
            if isinstance(value, str) and name in _BODY_KEYS:
                yield value
            elif isinstance(value, list) and _BLOCK_LIST_KEY.search(name):
                parts = [_block_text(block) for block in value]
                yield "\n".join(part for part in parts if part)
            if isinstance(value, dict | list):
                yield from state_bodies(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from state_bodies(item, depth + 1)


def _block_text(block: Any, depth: int = 0) -> str:
    """The text of one content block: a string, or a prose block's text, nested children included."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict) or depth > _MAX_DEPTH or not _is_prose(block):
        return ""
    for key in _BLOCK_TEXT_KEYS:
        if isinstance(value := block.get(key), str):
            return value
    for key in ("children", "content"):  # Slate and Sanity spans, Contentful text nodes
        if isinstance(nested := block.get(key), list):
            return "".join(_inline_text(child, depth + 1) for child in nested)
    return ""


def _inline_text(node: Any, depth: int) -> str:
    """Text of the spans inside a block, links and marks included (they have no prose type)."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return ""
    for key in _BLOCK_TEXT_KEYS:
        if isinstance(value := node.get(key), str):
            return value
    for key in ("children", "content"):
        if isinstance(nested := node.get(key), list):
            return "".join(_inline_text(child, depth + 1) for child in nested)
    return ""


def _is_prose(block: dict[str, Any]) -> bool:
    if any(key in block for key in _CARD_KEYS):
        return False
    kind = next((v for key in _BLOCK_TYPE_KEYS if isinstance(v := block.get(key), str)), None)
    return kind is None or _PROSE_BLOCK.fullmatch(kind) is not None


def confirmed_length(text: str, embedded: str) -> int:
    """Characters of the HTML's text in lines whose words the JSON body has too (at least 80 %)."""
    words = set(_WORD.findall(embedded))
    confirmed = 0
    for line in text.splitlines():
        own = set(_WORD.findall(line))
        if own and len(own & words) >= 0.8 * len(own):
            confirmed += len(line)
    return confirmed


def html_text(value: str) -> str:
    """Text of an HTML fragment from JSON, one paragraph per line."""
    if "<" in value:
        value = remove_tags(_BLOCK_END.sub("\n", remove_tags_with_content(value, ("script", "style"))))
    return tidy(replace_entities(value))


def _plausible(text: str) -> bool:
    """Prose rather than an id, URL, code or CSS: long enough, with spaces, few braces."""
    if len(text) < MIN_BODY or text.count(" ") < len(text) / 30:
        return False
    return sum(text.count(c) for c in "{};=") < len(text) / 50

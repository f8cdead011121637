"""pipelines/extraction/embedded.py: the content-block shapes that framework state uses for a body."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.extraction.embedded import state_bodies

_FIRST = "The committee approved the research funding plan after a long debate about oversight."
_SECOND = "University laboratories will get a share of the national compute budget from next year."

_SHAPES: dict[str, dict[str, Any]] = {
    "next-paragraphs": {
        "body": [{"type": "paragraph", "text": _FIRST}, {"type": "paragraph", "text": _SECOND}]
    },
    "arc-content-elements": {
        "content_elements": [
            {"_id": "a1", "type": "text", "content": _FIRST},
            {"_id": "a2", "type": "image", "caption": "A caption that is not prose of the story."},
            {"_id": "a3", "type": "interstitial_link", "content": "Read more", "url": "/other"},
            {"_id": "a4", "type": "text", "content": _SECOND},
        ]
    },
    "strings": {"paragraphs": [_FIRST, _SECOND]},
    "article-body-list": {"articleBody": [{"html": f"<p>{_FIRST}</p>"}, {"html": f"<p>{_SECOND}</p>"}]},
    "slate": {
        "blocks": [
            {
                "type": "paragraph",
                "children": [{"text": _FIRST[:20]}, {"type": "link", "children": [{"text": _FIRST[20:]}]}],
            },
            {"type": "paragraph", "children": [{"text": _SECOND}]},
        ]
    },
    "sanity": {
        "body": [
            {"_type": "block", "style": "normal", "children": [{"_type": "span", "text": _FIRST}]},
            {"_type": "image", "asset": {"_ref": "image-1"}},
            {"_type": "block", "style": "normal", "children": [{"_type": "span", "text": _SECOND}]},
        ]
    },
    "contentful": {
        "richText": {
            "nodeType": "document",
            "content": [
                {"nodeType": "paragraph", "content": [{"nodeType": "text", "value": _FIRST, "marks": []}]},
                {"nodeType": "embedded-entry-block", "data": {"target": {"sys": {"id": "x"}}}},
                {"nodeType": "paragraph", "content": [{"nodeType": "text", "value": _SECOND, "marks": []}]},
            ],
        }
    },
    "draft-js": {
        "content": {
            "blocks": [
                {"key": "k1", "text": _FIRST, "type": "unstyled"},
                {"key": "k2", "text": _SECOND, "type": "unstyled"},
            ]
        }
    },
}


@pytest.mark.parametrize("state", _SHAPES.values(), ids=_SHAPES.keys())
def test_content_blocks_are_joined_into_one_body(state: dict[str, Any]) -> None:
    bodies = list(state_bodies({"props": {"pageProps": {"story": state}}}))
    joined = [body for body in bodies if _FIRST in body and _SECOND in body]
    assert joined, bodies
    assert all("caption" not in body and "Read more" not in body for body in joined)


def test_other_stories_and_cards_are_not_bodies() -> None:
    """A card's own summary may still be a candidate alone; it is never joined with other cards."""
    card = {"headline": "Another story", "url": "/s/1", "text": _FIRST}
    state = {
        "relatedArticles": [{"body": [_SECOND, _SECOND]}],
        "nextArticle": {"articleBody": _SECOND},
        "content": [card, card],
    }
    bodies = [body for body in state_bodies(state) if body]
    assert bodies == [_FIRST, _FIRST]


def test_deep_state_is_cut_off() -> None:
    state: dict[str, Any] = {"body": _FIRST}
    for _ in range(5000):
        state = {"a": state}
    assert list(state_bodies(state)) == []

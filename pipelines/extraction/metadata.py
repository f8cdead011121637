"""The page's title, author, URL and date, read the way trafilatura reads them, and nothing else.

`trafilatura.extract_metadata` also reads the site name, categories, tags and licence, which
newswatch never stores: on the generated 51 KB portal those were 40 % of its time and 2.5 ms a
page, more than any other part of cleaning an article but trafilatura's text extraction itself.
`page_metadata` runs the same steps of trafilatura's, in the same order, for the four fields
that are kept, and tidies them as it does (`Document.clean_and_trim`); a test compares it with
`extract_metadata` field by field on every test page, so an upgrade that changes the steps is
caught.
"""

from __future__ import annotations

import logging
from html import unescape
from typing import NamedTuple

from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_title,
    extract_url,
    find_date,
    set_date_params,
)
from trafilatura.utils import line_processing

LOGGER = logging.getLogger(__name__)
_MAX_CHARS = 10_000  # trafilatura cuts every metadata field there


class PageMetadata(NamedTuple):
    title: str | None
    author: str | None
    url: str | None
    date: str | None  # as htmldate found it: YYYY-MM-DD or an ISO datetime


def page_metadata(tree: HtmlElement, default_url: str | None = None) -> PageMetadata:
    """What `extract_metadata(tree, default_url)` finds for title, author, url and date."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception as err:  # trafilatura guards its JSON-LD reader the same way
        LOGGER.warning("error in JSON metadata extraction: %s", err)
    title = metadata.title or extract_title(tree)
    author = metadata.author or extract_author(tree)
    url = metadata.url or extract_url(tree, default_url)
    date_config = set_date_params(True)
    date_config["url"] = url
    date = find_date(tree, **date_config)
    return PageMetadata(*map(_trimmed, (title, author, url, date)))


def _trimmed(value: str | None) -> str | None:
    """Document.clean_and_trim on one field."""
    if not isinstance(value, str):
        return value
    if len(value) > _MAX_CHARS:
        value = value[: _MAX_CHARS - 1] + "…"
    return line_processing(unescape(value))

"""Builds the fixture portal's pages (tests/portal/pages/) from the data files in sitegen/data/.

The pages are generated rather than hand-written so that the same article text feeds the HTML page,
the RSS/Atom item and the sitemap entry without drifting apart, and so that every page carries the
realistic chrome (menus, ranking lists, ads, footers) the extractor has to see through. The output
is committed, bytes exactly as served; `python -m tests.portal.build_pages --check` (run by
tests/test_portal.py) fails when the committed pages no longer match the generator.
"""

from __future__ import annotations

from tests.portal.sitegen import discover, en, euckr, faults, kr, news, root
from tests.portal.sitegen.common import Page


def build_all() -> list[Page]:
    """Every page of the portal, sorted by URL."""
    pages: list[Page] = []
    for site in (root, kr, euckr, en, news, faults, discover):
        pages.extend(site.build())
    urls = [p.url for p in pages]
    duplicates = sorted({u for u in urls if urls.count(u) > 1})
    if duplicates:
        raise ValueError(f"two fixture pages claim the same URL: {duplicates}")
    return sorted(pages, key=lambda p: p.url)

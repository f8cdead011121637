"""Site-wide files of the fixture portal: robots.txt and a front page listing the sources."""

from __future__ import annotations

from tests.portal.sitegen.common import BASE, HTML_UTF8, TEXT, Page, utf8

ROBOTS = f"""# robots.txt for the newswatch fixture portal
User-agent: *
Disallow: /private/
Disallow: /kr/comment/
Allow: /

Sitemap: {BASE}/news/sitemap_index.xml
"""

INDEX = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>newswatch fixture portal</title></head>
<body>
<h1>newswatch fixture portal</h1>
<ul>
  <li><a href="{BASE}/kr/rss.xml">뉴스벨 RSS (Korean, UTF-8)</a></li>
  <li><a href="{BASE}/euckr/list?page=1">한결일보 listing (EUC-KR)</a></li>
  <li><a href="{BASE}/en/atom.xml">The Northbridge Ledger Atom feed</a></li>
  <li><a href="{BASE}/news/sitemap_index.xml">Global Wire news sitemap index</a></li>
  <li><a href="{BASE}/fault/mixed.xml">Fault sources</a></li>
</ul>
</body>
</html>
"""


def build() -> list[Page]:
    return [
        Page(url="/robots.txt", kind="robots", content_type=TEXT, file="robots.txt",
             body=utf8(ROBOTS), note="disallows /private/ (and /kr/comment/)"),
        Page(url="/", kind="page", content_type=HTML_UTF8, file="index.html", body=utf8(INDEX),
             note="front page listing the sources"),
    ]

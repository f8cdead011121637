"""Fault sources (/fault/): feeds and pages that fail in one specific way each."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from tests.portal.sitegen.common import (
    BASE,
    HTML_UTF8,
    RSS,
    Page,
    encode_legacy,
    esc,
    http_date,
    load_data,
    rfc822,
    utf8,
)

FEED_LAST_MODIFIED = "2024-05-28T16:00:00+09:00"


def article_page(art: dict[str, Any], charset: str = "utf-8", repeat: int = 1) -> str:
    """A plain regional-paper article page; `repeat` copies the body to build the huge page."""
    shown = datetime.fromisoformat(art["published"]).strftime("%Y.%m.%d %H:%M")
    paragraphs = "\n".join(f"<p>{esc(p)}</p>" for p in art["paragraphs"])
    body = "\n".join([paragraphs] * repeat)
    return f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="{charset}">
<title>{esc(art["title"])} | 바다신문</title>
<meta property="og:title" content="{esc(art["title"])}">
<meta property="article:published_time" content="{art["published"]}">
<link rel="stylesheet" href="{BASE}/static/bada/style.css">
</head>
<body>
<header class="site-header">
  <a class="logo" href="{BASE}/fault/">바다신문</a>
  <nav><a href="{BASE}/fault/section/local">지역</a> <a href="{BASE}/fault/section/economy">경제</a>
  <a href="{BASE}/fault/section/culture">문화</a> <a href="{BASE}/fault/section/sports">스포츠</a></nav>
</header>
<main>
<article>
<h1 class="title">{esc(art["title"])}</h1>
<p class="info">바다신문 · 입력 {shown}</p>
<div class="article-body">
{body}
</div>
</article>
<aside class="popular"><h2>많이 본 뉴스</h2>
<ol><li><a href="{BASE}/fault/section/local/1">부산 도시철도 요금 내년부터 인상</a></li>
<li><a href="{BASE}/fault/section/local/2">해운대 모래축제 관람객 역대 최다</a></li></ol></aside>
</main>
<footer><p>바다신문 | 부산광역시 중구 중앙대로 00 | Copyright ⓒ 바다신문</p></footer>
</body>
</html>
"""


def _error_page(status: int, message: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>{status} {esc(message)}</title></head>
<body><h1>{status} {esc(message)}</h1>
<p>요청하신 페이지를 처리할 수 없습니다. 잠시 후 다시 시도해 주세요.</p>
<p><a href="{BASE}/fault/">바다신문 홈으로</a></p></body></html>
"""


def rss(title: str, items: list[tuple[str, str, str]]) -> str:
    """A minimal RSS 2.0 feed; items are (title, path, iso date)."""
    body = "\n".join(
        f"""<item>
  <title>{esc(t)}</title>
  <link>{BASE}{path}</link>
  <guid isPermaLink="true">{BASE}{path}</guid>
  <pubDate>{rfc822(date)}</pubDate>
</item>"""
        for t, path, date in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
<title>{esc(title)}</title>
<link>{BASE}/fault/</link>
<description>바다신문 {esc(title)}</description>
<language>ko</language>
{body}
</channel>
</rss>
"""


_HTML_FEED = f"""<!DOCTYPE html>
<html lang="ko">
<head><meta charset="utf-8"><title>RSS 서비스 안내 | 바다신문</title></head>
<body>
<header><a href="{BASE}/fault/">바다신문</a></header>
<main>
<h1>RSS 서비스 개편 안내</h1>
<p>바다신문 RSS 서비스가 개편되었습니다. 새 주소는 아래 목록에서 확인해 주세요.</p>
<ul>
  <li><a href="{BASE}/fault/mixed.xml">전체기사 RSS</a></li>
  <li><a href="{BASE}/fault/flaky.xml">경제 RSS</a></li>
</ul>
<p>문의: webmaster@bada.example</p>
</main>
</body>
</html>
"""


@cache
def _data() -> dict[str, Any]:
    return load_data("faults")


def huge_article() -> bytes:
    """The /fault/huge/article body (about 12 MB), built at serve time instead of committed."""
    spec = _data()["huge"]
    unit = len(utf8("\n".join(f"<p>{esc(p)}</p>" for p in spec["paragraphs"]))) + 1
    return utf8(article_page(spec, repeat=spec["huge_bytes"] // unit + 1))


def build() -> list[Page]:
    data = _data()
    arts = {a["slug"]: a for a in data["articles"]}
    last_modified = http_date(FEED_LAST_MODIFIED)
    good, flaky, slow = arts["good"], arts["flaky"], arts["slow"]
    good_item = (good["title"], "/fault/good/article", good["published"])
    mixed = rss("전체기사", [
        good_item,
        ("[단독] 삭제된 기사입니다", "/fault/missing/article", "2024-05-28T07:00:00+09:00"),
        ("서버 오류가 나는 기사", "/fault/error/article", "2024-05-28T06:00:00+09:00"),
    ])
    complete = rss("전체기사", [
        good_item,
        ("잘려 나간 두 번째 기사", "/fault/cut/article", "2024-05-28T07:00:00+09:00"),
    ])
    # Cut inside the second item's <link>, as a download that dropped mid-body would be.
    broken = complete[: complete.index("/fault/cut/article") + len("/fault/cut")]
    wrong = data["wrong_encoding"]
    odd_pages = rss("문화", [
        (wrong["title"], "/fault/wrong-encoding/article", "2024-05-28T08:00:00+09:00"),
        ("아주 긴 기사", "/fault/huge/article", "2024-05-28T07:30:00+09:00"),
    ])

    def feed(url: str, file: str, body: str, note: str, behavior: str | None = None) -> Page:
        return Page(url=url, kind="feed", content_type=RSS, file=file, body=utf8(body),
                    last_modified=last_modified, behavior=behavior, note=note)

    def article(slug: str, art: dict[str, Any], note: str) -> Page:
        return Page(url=f"/fault/{slug}/article", kind="article", content_type=HTML_UTF8,
                    file=f"fault/{slug}-article.html", body=utf8(article_page(art)), note=note)

    def error(url: str, file: str, status: int, message: str, note: str) -> Page:
        return Page(url=url, kind="error", content_type=HTML_UTF8, file=file, status=status,
                    body=utf8(_error_page(status, message)), note=note)

    return [
        error("/fault/404.xml", "fault/404.html", 404, "Not Found", "feed URL that is gone"),
        error("/fault/500.xml", "fault/500.html", 500, "Internal Server Error", "always 500"),
        error("/fault/missing/article", "fault/404.html", 404, "Not Found",
              "404 article linked from /fault/mixed.xml"),
        error("/fault/error/article", "fault/500.html", 500, "Internal Server Error",
              "500 article linked from /fault/mixed.xml"),
        feed("/fault/flaky.xml", "fault/flaky.xml",
             rss("경제", [(flaky["title"], "/fault/flaky/article", flaky["published"])]),
             "500 for the first `flaky_failures` requests (default 1), then this feed", "flaky"),
        feed("/fault/slow.xml", "fault/slow.xml",
             rss("사회", [(slow["title"], "/fault/slow/article", slow["published"])]),
             "answers only after `slow_delay` seconds (default 30)", "slow"),
        feed("/fault/mixed.xml", "fault/mixed.xml", mixed,
             "links one good, one 404 and one 500 article"),
        feed("/fault/pages.xml", "fault/pages.xml", odd_pages,
             "links the wrong-encoding article and the 12 MB article"),
        feed("/fault/broken.xml", "fault/broken.xml", broken,
             "truncated XML: one complete item, cut inside the second item's <link>"),
        Page(url="/fault/html-feed.xml", kind="page", content_type=HTML_UTF8,
             file="fault/html-feed.html", body=utf8(_HTML_FEED),
             note="200 text/html page where a feed is expected"),
        article("good", good, "healthy article (mixed.xml, broken.xml)"),
        article("flaky", flaky, "healthy article linked from flaky.xml"),
        article("slow", slow, "healthy article linked from slow.xml"),
        Page(url="/fault/wrong-encoding/article", kind="article", content_type=HTML_UTF8,
             file="fault/wrong-encoding-article.html",
             body=encode_legacy(article_page(wrong), "cp949"),
             note="CP949 bytes; header and <meta> both claim utf-8"),
        Page(url="/fault/huge/article", kind="article", content_type=HTML_UTF8, file=None,
             body=b"", behavior="huge", note="about 12 MB article page, built at serve time"),
    ]

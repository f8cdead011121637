"""Pages for discovering sources (`newswatch sources add`): a section page with feed links, one
whose only pollable thing is the site's robots.txt sitemap, and a listing with neither.

Their feeds and lists point at the portal's existing articles (/kr/, /en/, /news/), so a discovery
can show real extraction results. Nothing here is linked from the other sites' pages.
"""

from __future__ import annotations

from tests.portal.sitegen.common import ATOM, BASE, HTML_UTF8, RSS, Page, utf8

_CHROME = """<header><a class="logo" href="{base}/">Portal</a>
<nav class="menu"><a href="{base}/discover/world/">World</a> <a href="{base}/discover/tech/">Tech</a>
<a href="{base}/discover/sport/">Sport</a> <a href="{base}/discover/about/">About us</a></nav></header>"""

FEEDS_HOME = f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>뉴스벨 테크 섹션</title>
<link rel="alternate" type="application/rss+xml" title="뉴스벨 전체기사" href="{BASE}/discover/feeds/rss.xml">
<link rel="alternate" type="application/atom+xml" title="뉴스벨 칼럼" href="/discover/feeds/columns.atom">
<link rel="alternate" type="application/rss+xml" title="제휴 기사" href="{BASE}/discover/feeds/partners.xml">
<link rel="stylesheet" href="{BASE}/static/site.css">
</head><body>
{_CHROME.format(base=BASE)}
<main><ul class="news">
<li><a href="{BASE}/kr/article/1001">과기정통부, ‘글로벌 AI 프론티어랩’ 구축… 공동 소장에 얀르쿤 발탁</a></li>
<li><a href="{BASE}/kr/article/1002">AI 스타트업 루미나랩스, 600억원 시리즈B 유치</a></li>
</ul></main></body></html>
"""

FEEDS_RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>뉴스벨 전체기사</title><link>{BASE}/discover/feeds/</link>
<language>ko</language>
<item><title>한빛모터스 ‘그랑테라 하이브리드’ 사전계약 1만2000대 돌파</title>
<link>{BASE}/kr/article/1003</link>
<pubDate>Tue, 28 May 2024 14:03:00 +0900</pubDate></item>
<item><title>AI 스타트업 루미나랩스, 600억원 시리즈B 유치</title><link>{BASE}/kr/article/1002</link>
<pubDate>Tue, 28 May 2024 11:20:00 +0900</pubDate></item>
<item><title>과기정통부, ‘글로벌 AI 프론티어랩’ 구축… 공동 소장에 얀르쿤 발탁</title>
<link>{BASE}/kr/article/1001</link>
<pubDate>Tue, 28 May 2024 10:30:00 +0900</pubDate></item>
</channel></rss>
"""

# Older: ranked below the full feed.
COLUMNS_ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>뉴스벨 칼럼</title><id>{BASE}/discover/feeds/columns</id>
<updated>2024-05-26T21:48:00+09:00</updated>
<entry><title>LG, 9회말 김도윤 끝내기 2루타로 5연승</title><id>{BASE}/kr/article/1004</id>
<link href="{BASE}/kr/article/1004"/><updated>2024-05-26T21:48:00+09:00</updated></entry>
</feed>
"""

# Every item on another site: not proposed.
PARTNERS_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>제휴 기사</title><link>http://offsite.example/</link>
<item><title>여름휴가 항공권, 이렇게 사면 30% 싸다</title><link>http://offsite.example/news/8812</link>
<pubDate>Wed, 29 May 2024 09:00:00 +0900</pubDate></item>
</channel></rss>
"""

SITEMAP_SECTION = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Global Wire: world</title></head><body>
{_CHROME.format(base=BASE)}
<main><h1>World</h1>
<div class="card"><a href="{BASE}/news/story/korea-germany-ai-research-pact">
South Korea and Germany agree to co-fund joint AI research centres</a></div>
<div class="card"><a href="{BASE}/news/story/heatwave-power-demand">
Heatwave pushes India's power demand to record high</a></div>
</main></body></html>
"""

_STORIES = [
    ("australia-ai-research-institutes", "Australia commits A$180m to four national AI research institutes",
     "The government will fund four institutes over five years.", "28 May 2024"),
    ("norrland-semiconductor-results", "Norrland Semiconductor profit jumps as AI data-centre demand surges",
     "First-quarter operating profit rose 64%.", "28 May 2024"),
    ("open-model-maths-benchmark", "Open-source lab's new model tops maths reasoning benchmark",
     "It solved 71% of the hardest problems.", "27 May 2024"),
    ("harbour-tram-extension", "Council approves £410m harbour tram extension after ten-year fight",
     "The scheme was approved by 41 votes to 19.", "27 May 2024"),
]

LISTING = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>The Northbridge Ledger: latest</title></head><body>
{_CHROME.format(base=BASE)}
<main><h1>Latest</h1>
<ul class="story-list">
{"".join(f'''<li class="story"><h2 class="headline"><a href="/en/article/{slug}">{title}</a></h2>
<p class="standfirst">{summary}</p><span class="date">{date}</span></li>
''' for slug, title, summary, date in _STORIES)}</ul>
<p class="pages"><a class="more" href="/discover/listing/?page=2">More stories</a></p>
</main>
<aside><h3>Most read</h3><ol class="most-read">
<li><a href="/en/features/4">The chatbot that wrote my wedding speech: a cautionary tale</a></li>
<li><a href="/en/article/harbour-tram-extension">Council approves £410m harbour tram extension</a></li>
</ol></aside>
<footer><a href="/discover/about/">About us</a> <a href="/discover/contact/">Contact</a></footer>
</body></html>
"""


def build() -> list[Page]:
    return [
        Page(url="/discover/feeds/", kind="page", content_type=HTML_UTF8, file="discover/feeds.html",
             body=utf8(FEEDS_HOME), note="section page with three <link rel=alternate> feeds"),
        Page(url="/discover/feeds/rss.xml", kind="feed", content_type=RSS,
             file="discover/feeds-rss.xml", body=utf8(FEEDS_RSS),
             note="3 items: /kr/article/1003, 1002, 1001 (newest 2024-05-28 14:03 +09:00)"),
        Page(url="/discover/feeds/columns.atom", kind="feed", content_type=ATOM,
             file="discover/columns.atom", body=utf8(COLUMNS_ATOM), note="1 older entry: /kr/article/1004"),
        Page(url="/discover/feeds/partners.xml", kind="feed", content_type=RSS,
             file="discover/partners.xml", body=utf8(PARTNERS_RSS), note="every item off-site"),
        Page(url="/discover/sitemaps/", kind="page", content_type=HTML_UTF8,
             file="discover/sitemaps.html", body=utf8(SITEMAP_SECTION),
             note="section page with no feed: only robots.txt's sitemap carries its articles"),
        Page(url="/discover/listing/", kind="page", content_type=HTML_UTF8,
             file="discover/listing.html", body=utf8(LISTING),
             note="no feed: 4 `h2.headline a` article links, a menu and a most-read box"),
    ]

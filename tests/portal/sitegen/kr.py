"""The Korean aggregator portal "뉴스벨" (/kr/): RSS feed and article pages shaped like the seed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.portal.sitegen.common import (
    BASE,
    HTML_UTF8,
    RSS,
    Page,
    esc,
    http_date,
    json_script,
    load_data,
    trim,
    utf8,
)
from tests.portal.sitegen.kr_assets import ADS, CSS, FOOTER_SCRIPTS, GTAG

FEED_LAST_MODIFIED = "2024-05-28T14:30:00+09:00"
CHANGED_LAST_MODIFIED = "2024-05-29T09:20:00+09:00"

def _date_parts(iso: str) -> tuple[str, str]:
    dt = datetime.fromisoformat(iso)
    return dt.strftime("%Y.%m.%d %H:%M"), dt.isoformat()


def _nav_html(nav: list[list[Any]], current: str, element_id: str) -> str:
    items = []
    for label, slug, subs in nav:
        sub_links = "".join(
            f'<li><a href="{BASE}/kr/section/{slug}/{i}">{esc(s)}</a></li>'
            for i, s in enumerate(subs, 1)
        )
        sub = f'\n      <div class="sub"><ul>{sub_links}</ul></div>' if subs else ""
        on = ' class="on"' if label == current else ""
        items.append(
            f'    <li{on}><a href="{BASE}/kr/section/{slug}">{esc(label)}</a>{sub}</li>'
        )
    return f'<nav class="gnb" id="{element_id}">\n  <ul>\n' + "\n".join(items) + "\n  </ul>\n</nav>"


def _thumb_list(title: str, headlines: list[str], start: int) -> str:
    rows = []
    for n, text in enumerate(headlines):
        art = start + n
        rows.append(
            f'    <li><a href="{BASE}/kr/article/{art}">'
            f'<span class="thumb"><img src="{BASE}/static/thumb/{art}.jpg" alt="" loading="lazy">'
            f'</span><span class="tit">{esc(text)}</span></a></li>'
        )
    return (
        f'<section class="news-box">\n  <h3>{esc(title)}</h3>\n  <ul>\n'
        + "\n".join(rows)
        + "\n  </ul>\n</section>"
    )


def _numbered_list(title: str, headlines: list[list[str]], start: int) -> str:
    rows = []
    for n, (text, category) in enumerate(headlines, 1):
        art = start + n
        rows.append(
            f'    <li><a href="{BASE}/kr/article/{art}"><span class="num">{n}</span>'
            f'<strong class="tit">{esc(text)}</strong>'
            f'<span class="cate">{esc(category)}</span></a></li>'
        )
    return (
        f'<section class="news-box numbered">\n  <h3>{esc(title)}</h3>\n  <ol>\n'
        + "\n".join(rows)
        + "\n  </ol>\n</section>"
    )


def _lists_html(lists: dict[str, Any]) -> str:
    # Same order and titles as the seed page: the ranking boxes appear twice, as they do there.
    boxes = [
        _thumb_list("[차·테크] 랭킹 뉴스", lists["ranking"], 8101),
        _thumb_list("[차·테크] 공감 뉴스", lists["empathy"], 8201),
        _thumb_list("당신을 위한 인기글", lists["for_you"], 8301),
        _numbered_list("함께 보면 좋은 뉴스", lists["together"], 8400),
        _thumb_list("[차·테크] 인기 뉴스", lists["ranking"], 8101),
        _numbered_list("지금 뜨는 뉴스", lists["trending"], 8500),
        _thumb_list("[차·테크] 추천 뉴스", lists["empathy"], 8201),
        _thumb_list("당신을 위한 인기글", lists["for_you"], 8301),
        _numbered_list("추천 뉴스", lists["together"], 8400),
        _numbered_list("지금 뜨는 뉴스", lists["trending"], 8500),
    ]
    return "\n".join(boxes)


def _ad(slot: str) -> str:
    return (
        f'<div class="ad-area" id="div-gpt-ad-{slot}"><span class="ad-label">AD</span>\n'
        f"  <script>googletag.cmd.push(function(){{googletag.display('div-gpt-ad-{slot}');}});"
        "</script>\n</div>"
    )


def _body_html(art: dict[str, Any]) -> str:
    parts = [
        f'<figure class="photo">\n  <img src="{BASE}/static/photo/{art["image"]}" '
        f'alt="{esc(art["image_caption"])}">\n'
        f'  <figcaption>{esc(art["image_caption"])}</figcaption>\n</figure>'
    ]
    for n, para in enumerate(art["paragraphs"], 1):
        parts.append(f"<p>{esc(para)}</p>")
        if n == 3:
            parts.append(_ad("inread"))
    return "\n".join(parts)


def _jsonld(art: dict[str, Any], url: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": art["title"],
        "description": trim(art["paragraphs"][0], 140),
        "image": [f"{BASE}/static/photo/{art['image']}"],
        "datePublished": art["published"],
        "dateModified": art["modified"],
        "author": {"@type": "Organization", "name": art["press"]},
        "publisher": {
            "@type": "Organization",
            "name": "뉴스벨",
            "logo": {"@type": "ImageObject", "url": f"{BASE}/static/img/logo.png"},
        },
        "articleSection": art["section"],
        "inLanguage": "ko-KR",
    }
    return json_script(data)


def _menu_config(nav: list[list[Any]]) -> str:
    menu = [
        {"label": label, "slug": slug, "url": f"/kr/section/{slug}",
         "children": [{"label": s, "url": f"/kr/section/{slug}/{i}"} for i, s in enumerate(subs, 1)]}
        for label, slug, subs in nav
    ]
    config = {
        "service": "newsbell",
        "env": "production",
        "imageHost": f"{BASE}/static",
        "menu": menu,
        "comment": {"max": 300, "sort": "recent", "loginRequired": True},
        "share": ["kakao", "facebook", "x", "band", "url"],
    }
    return "window.__NB_CONFIG__ = " + json_script(config) + ";"


def article_page(site: dict[str, Any], nav: list, lists: dict[str, Any], art: dict[str, Any],
                 path: str) -> str:
    url = f"{BASE}{path}"
    shown, iso = _date_parts(art["published"])
    description = trim(art["paragraphs"][0], 140)
    title = art["title"]
    return f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(title)} - 뉴스벨</title>
<meta name="description" content="{esc(description)}">
<meta name="keywords" content="{esc(", ".join(art["keywords"]))}">
<meta name="author" content="{esc(art["press"])}">
<meta name="robots" content="index,follow,max-image-preview:large">
<link rel="canonical" href="{url}">
<link rel="alternate" type="application/rss+xml" title="뉴스벨 차·테크" href="{BASE}/kr/rss.xml">
<meta property="og:type" content="article">
<meta property="og:site_name" content="뉴스벨">
<meta property="og:locale" content="ko_KR">
<meta property="og:title" content="{esc(title)}">
<meta property="og:description" content="{esc(description)}">
<meta property="og:url" content="{url}">
<meta property="og:image" content="{BASE}/static/photo/{art["image"]}">
<meta property="article:published_time" content="{iso}">
<meta property="article:modified_time" content="{art["modified"]}">
<meta property="article:section" content="{esc(art["section"])}">
<meta property="article:publisher" content="https://www.facebook.com/newsbell.kr">
<meta property="dable:item_id" content="{art["id"]}">
<meta property="dable:author" content="{esc(art["press"])}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{esc(title)}">
<meta name="twitter:description" content="{esc(description)}">
<meta name="twitter:image" content="{BASE}/static/photo/{art["image"]}">
<link rel="icon" href="{BASE}/static/favicon.ico">
<link rel="apple-touch-icon" href="{BASE}/static/img/touch-icon-180.png">
<link rel="stylesheet" href="{BASE}/static/css/common.css?v=20240521">
<link rel="stylesheet" href="{BASE}/static/css/article.css?v=20240521">
<style>{CSS}</style>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-NB2024MAY"></script>
<script>{GTAG}</script>
<script async src="https://securepubads.g.doubleclick.net/tag/js/gpt.js"></script>
<script>{ADS}</script>
<script>{_menu_config(nav)}</script>
<script type="application/ld+json">{_jsonld(art, url)}</script>
</head>
<body class="article-view">
<div id="skip_nav">
  <a href="#gnb">주요 메뉴 바로가기 (상단)</a>
  <a href="#content">본문 컨텐츠 바로가기</a>
  <a href="#gnb_bottom">주요 메뉴 바로가기 (하단)</a>
</div>
<div class="top-util"><div class="wrap">
  <div class="util-left"><a href="{BASE}/kr/">뉴스벨 홈</a><a href="{BASE}/kr/section/cartech">차·테크</a>
  <a href="{BASE}/kr/newsletter">뉴스레터</a><a href="{BASE}/kr/app">앱 다운로드</a></div>
  <div class="util-right"><a href="{BASE}/kr/member/login">로그인</a>
  <a href="{BASE}/kr/member/join">회원가입</a><a href="{BASE}/kr/help">고객센터</a></div>
</div></div>
<header class="header"><div class="wrap">
  <h1 class="logo"><a href="{BASE}/kr/"><img src="{BASE}/static/img/logo.png" alt="뉴스벨"></a></h1>
  <form class="search" action="{BASE}/kr/search" method="get" role="search">
    <label for="q" class="blind">검색어 입력</label>
    <input type="search" id="q" name="q" placeholder="검색어를 입력하세요">
    <button type="submit" class="blind">검색</button>
  </form>
</div></header>
{_nav_html(nav, art["section"], "gnb")}
{_ad("top")}
<div class="container wrap">
<main class="content" id="content">
  <article class="article" data-article-id="{art["id"]}">
    <div class="article-head">
      <span class="category">{esc(art["section"])}</span>
      <h1 class="headline">{esc(title)}</h1>
      <div class="byline">
        <span class="press">{esc(art["press"])}</span>
        <span class="views">조회수 <em class="count" data-id="{art["id"]}"></em></span>
        <time class="date blind" datetime="{iso}">{shown}</time>
        <div class="article-tools">
          <button type="button" class="btn-font" title="글자 크기">
            <span class="blind">글자 크기</span></button>
          <button type="button" class="btn-print" title="인쇄"><span class="blind">인쇄</span></button>
          <button type="button" class="btn-share" title="공유"><span class="blind">공유</span></button>
        </div>
      </div>
    </div>
    <div class="article-body" id="article-body" itemprop="articleBody">
{_body_html(art)}
    </div>
    <div class="reporter-box">
      <span class="name">{esc(art["press"])}</span>
      <span class="mail">{esc(art["reporter_email"])}</span>
    </div>
  </article>
  {_ad("bottom")}
  <section class="comment" id="comment">
    <h3 class="cmt-title">댓글<span class="cnt">0</span></h3>
    <form class="cmt-write" action="{BASE}/kr/comment/write" method="post">
      <input type="hidden" name="article_id" value="{art["id"]}">
      <textarea name="content" maxlength="300" title="댓글 입력"
        placeholder="로그인 후 댓글을 작성할 수 있습니다."></textarea>
      <div class="cmt-count"><span class="max">300</span></div>
      <button type="submit" class="btn-submit"><span class="blind">등록</span></button>
    </form>
    <div class="cmt-list"><h4 class="cmt-head">댓글<span class="cnt">0</span></h4></div>
  </section>
{_lists_html(lists)}
  <div class="share-layer" id="share-layer">
    <strong class="share-title">공유하기</strong>
    <button type="button" data-share="kakao"><span class="blind">카카오톡</span></button>
    <button type="button" data-share="facebook"><span class="blind">페이스북</span></button>
    <button type="button" data-share="x"><span class="blind">X</span></button>
    <button type="button" data-share="url"><span class="blind">링크 복사</span></button>
  </div>
</main>
<aside class="aside">
  {_ad("right1")}
  {_ad("right2")}
</aside>
</div>
<footer class="footer">
<div class="wrap">
  {_nav_html(nav, "", "gnb_bottom")}
  <div class="f-menu">
    <a href="{BASE}/kr/company">회사소개</a><a href="{BASE}/kr/terms">이용약관</a>
    <a href="{BASE}/kr/privacy"><strong>개인정보처리방침</strong></a>
    <a href="{BASE}/kr/youth">청소년보호정책</a><a href="{BASE}/kr/ad">광고문의</a>
    <a href="{BASE}/kr/partner">제휴문의</a>
  </div>
  <address>
    (주)뉴스벨 | 서울특별시 중구 세종대로 135, 12층 | 대표이사 한지원 | 사업자등록번호 214-88-00000<br>
    인터넷신문 등록번호 서울 아00000 | 등록일 2019.03.12 | 발행·편집인 한지원 | 청소년보호책임자 오세라<br>
    대표전화 02-000-0000 | 제보 {esc(site["domain_note"])}<br>
    뉴스벨에 게재된 기사의 저작권은 각 언론사에 있으며 무단 전재 및 재배포를 금합니다.
  </address>
  <p class="copyright">Copyright © NEWSBELL. All rights reserved.</p>
</div>
</footer>
{FOOTER_SCRIPTS}
</body>
</html>
"""


def private_page(art: dict[str, Any]) -> str:
    paras = "\n".join(f"<p>{esc(p)}</p>" for p in art["paragraphs"])
    return f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex,nofollow">
<title>{esc(art["title"])} - 뉴스벨 내부</title>
</head>
<body>
<header><p>뉴스벨 편집국 내부 시스템 · 외부 유출 금지</p></header>
<main id="content">
<article>
<h1>{esc(art["title"])}</h1>
<div class="body">
{paras}
</div>
</article>
</main>
</body>
</html>
"""


def _rss_item(art: dict[str, Any], path: str) -> str:
    link = f"{BASE}{path}"
    description = ""
    if not art.get("feed_no_description"):
        description = f"\n  <description><![CDATA[{trim(art['paragraphs'][0], 120)}]]></description>"
    extras = ""
    if "press" in art:
        extras = (
            f"\n  <dc:creator>{esc(art['press'])}</dc:creator>"
            f"\n  <category>{esc(art['section'])}</category>"
            f'\n  <media:thumbnail url="{BASE}/static/photo/{art["image"]}"/>'
        )
    return f"""<item>
  <title><![CDATA[{art["title"]}]]></title>
  <link>{link}</link>
  <guid isPermaLink="true">{link}</guid>{description}{extras}
  <pubDate>{art["feed_date"]}</pubDate>
</item>"""


def rss(site: dict[str, Any], items: list[tuple[dict[str, Any], str]], last_build: str) -> str:
    body = "\n".join(_rss_item(art, path) for art, path in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
<title>{esc(site["feed_title"])}</title>
<link>{BASE}/kr/</link>
<atom:link href="{BASE}/kr/rss.xml" rel="self" type="application/rss+xml"/>
<description>{esc(site["feed_description"])}</description>
<language>ko</language>
<copyright>Copyright © NEWSBELL. All rights reserved.</copyright>
<lastBuildDate>{last_build}</lastBuildDate>
<ttl>10</ttl>
<image>
  <url>{BASE}/static/img/logo.png</url>
  <title>{esc(site["feed_title"])}</title>
  <link>{BASE}/kr/</link>
</image>
{body}
</channel>
</rss>
"""


def _sort_key(item: tuple[dict[str, Any], str]) -> str:
    art = item[0]
    return art.get("published") or "2024-05-28T13:00:00+09:00"


def build() -> list[Page]:
    data = load_data("kr")
    site, nav, lists = data["site"], data["site"]["nav"], data["lists"]
    pages: list[Page] = []
    always: list[tuple[dict[str, Any], str]] = []
    changed: list[tuple[dict[str, Any], str]] = []
    for art in data["articles"]:
        path = f"/kr/article/{art['id']}"
        pages.append(Page(
            url=path, kind="article", content_type=HTML_UTF8, file=f"kr/article/{art['id']}.html",
            body=utf8(article_page(site, nav, lists, art, path)),
            note=f"{art['press']}: {art['title']}",
        ))
        (changed if art["in_feed"] == "changed" else always).append((art, path))

    private = data["private"]
    private_path = f"/private/kr/article/{private['id']}"
    pages.append(Page(
        url=private_path, kind="article", content_type=HTML_UTF8,
        file=f"private/kr/article/{private['id']}.html", body=utf8(private_page(private)),
        note="disallowed by robots.txt; linked from /kr/rss.xml; must never be requested",
    ))
    always.append((private, private_path))

    always.sort(key=_sort_key, reverse=True)
    with_new = sorted(always + changed, key=_sort_key, reverse=True)
    pages.append(Page(
        url="/kr/rss.xml", kind="feed", content_type=RSS, file="kr/rss.xml",
        body=utf8(rss(site, always, site["feed_last_build"])),
        last_modified=http_date(FEED_LAST_MODIFIED), behavior="changing-feed",
        note="RSS 2.0; state feed_changed / etag_bug swap in the #changed body",
    ))
    pages.append(Page(
        url="/kr/rss.xml#changed", kind="feed", content_type=RSS, file="kr/rss-changed.xml",
        body=utf8(rss(site, with_new, site["changed_last_build"])),
        last_modified=http_date(CHANGED_LAST_MODIFIED),
        note="body of /kr/rss.xml after set_state(feed_changed=True): adds /kr/article/1007",
    ))
    return pages

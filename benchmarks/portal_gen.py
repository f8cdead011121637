"""A large generated news portal for the end-to-end crawl benchmark, and the server that counts.

``generate(DIR)`` writes a few thousand article pages over many sources (feeds, Atom, Google News
sitemaps, sitemap indexes, paginated listings), mixed Korean (some in EUC-KR) and English, with
the boilerplate of real portals: menus with a hundred links, ranking boxes, comment threads, ad
slots, inline CSS and scripts, JSON-LD. Some articles are syndicated to other sources, either
verbatim (same text, another template: a duplicate-text drop) or rewritten (new title and lead:
a near-duplicate of the same story). Article text is sampled sentence by sentence from the labelled
articles in ``tests/data`` with numbers changed, so no two stories are alike by accident.

``BenchPortal(DIR)`` serves the generated pages on 127.0.0.1 from a background thread, with
ETag/Last-Modified on every page and 304 answers to conditional requests, and counts requests and
bytes by kind (article, index, robots) so a benchmark can tell what a crawl downloaded.

    python benchmarks/portal_gen.py generate DIR [--sources 30 --min-articles 100 --max-articles 160]
    python benchmarks/portal_gen.py serve DIR [--port 8400]     # browse it; Ctrl-C stops

Absolute links are written as ``{base}`` and replaced with the server's URL when pages are loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FILES = ROOT / "tests" / "data"
BASE = "{base}"
HTML_UTF8 = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"
LISTING_PAGE_SIZE = 30
KST = ZoneInfo("Asia/Seoul")


# -- text ---------------------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _euckr_ok(text: str) -> bool:
    """Every character has a 2-byte EUC-KR code (Python writes the others as 8-byte jamo runs)."""
    try:
        return all(len(ch.encode("euc_kr")) <= 2 for ch in set(text))
    except UnicodeEncodeError:
        return False


_SENTENCE_END = re.compile(r"(?<=[.!?…”\"'’])\s+")
_NUMBER = re.compile(r"\d+")


class Corpus:
    """Sentences and titles per language, and articles made of them."""

    def __init__(self) -> None:
        self.sentences: dict[str, list[str]] = {"ko": [], "en": []}
        self.titles: dict[str, list[str]] = {"ko": [], "en": []}
        for line in (CORPUS_FILES / "dev-articles.jsonl").read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                self.titles[row["lang"]].append(row["title"])
                self._add(row["lang"], row["body"])
        for path in sorted((CORPUS_FILES / "near_duplicates").glob("*.txt")):
            if ".rewrite" not in path.name:
                self._add(path.name[:2], path.read_text("utf-8"))
        self.euckr_sentences = [s for s in self.sentences["ko"] if _euckr_ok(s)]
        self.euckr_titles = [t for t in self.titles["ko"] if _euckr_ok(t)]

    def _add(self, lang: str, body: str) -> None:
        for paragraph in body.splitlines():
            for sentence in _SENTENCE_END.split(paragraph.strip()):
                if len(sentence) >= 25:
                    self.sentences[lang].append(sentence.strip())

    def article(self, lang: str, rng: random.Random, euckr: bool = False) -> tuple[str, list[str]]:
        """A title and paragraphs: 1.5-4 KB of Korean or 2.5-6 KB of English text."""
        pool = self.euckr_sentences if euckr else self.sentences[lang]
        titles = self.euckr_titles if euckr else self.titles[lang]
        target = rng.randint(1500, 4000) if lang == "ko" else rng.randint(2500, 6000)
        paragraphs: list[str] = []
        size = 0
        while size < target:
            count = rng.choice((1, 2, 2, 3)) if lang == "ko" else rng.choice((1, 2, 2, 3, 4))
            paragraph = " ".join(_renumber(rng.choice(pool), rng) for _ in range(count))
            paragraphs.append(paragraph)
            size += len(paragraph)
        parts = [p.strip() for t in rng.sample(titles, 2) for p in re.split(r"…|:|;| - ", t) if p.strip()]
        title = _renumber(" … ".join(parts[:2]) if lang == "ko" else parts[0], rng)
        return title, paragraphs


def _renumber(text: str, rng: random.Random) -> str:
    """The same sentence with other figures, so that sampled texts do not repeat each other."""

    def swap(match: re.Match[str]) -> str:
        digits = match.group(0)
        if len(digits) == 4 and digits[:2] in ("19", "20"):
            return digits
        first = str(rng.randint(1, 9)) if len(digits) > 1 else str(rng.randint(0, 9))
        return first + "".join(str(rng.randint(0, 9)) for _ in digits[1:])

    return _NUMBER.sub(swap, text)


def _rewrite(title: str, paragraphs: list[str], lang: str, corpus: Corpus,
             rng: random.Random, euckr: bool) -> tuple[str, list[str]]:
    """Another outlet's version of the story: new title and lead, a few sentences dropped."""
    pool = corpus.euckr_sentences if euckr else corpus.sentences[lang]
    lead = " ".join(_renumber(rng.choice(pool), rng) for _ in range(2))
    body = [lead, *paragraphs[1:]]
    for _ in range(max(1, len(body) // 6)):
        if len(body) > 3:
            del body[rng.randrange(2, len(body))]
    new_title = ("[종합] " if lang == "ko" else "UPDATE: ") + title
    return new_title, body


# -- sources ------------------------------------------------------------------------------------

# (template, index kind, language, encoding); cycled over the sources.
SOURCE_KINDS = [
    ("kr-portal", "feed", "ko", "utf-8"),
    ("en-ledger", "atom", "en", "utf-8"),
    ("kr-legacy", "listing", "ko", "euc-kr"),
    ("en-wire", "sitemap-index", "en", "utf-8"),
    ("kr-press", "sitemap", "ko", "utf-8"),
    ("en-local", "listing", "en", "utf-8"),
    ("kr-portal", "listing", "ko", "utf-8"),
    ("en-ledger", "feed", "en", "utf-8"),
    ("kr-legacy", "feed", "ko", "euc-kr"),
    ("en-wire", "sitemap", "en", "utf-8"),
]
KR_NAMES = ["뉴스벨", "한결일보", "아침경제", "디지털타임라인", "서울포커스", "미래신문", "한빛뉴스",
            "누리일보", "테크인사이트", "바른경제", "새날신문", "동녘일보", "코리아데일리", "가온뉴스",
            "IT조선비전", "산업투데이", "정책브리핑24", "지역일보"]
EN_NAMES = ["The Northbridge Ledger", "Global Wire", "Harbour Post", "Tech Dispatch", "Eastside Herald",
            "Capital Review", "The Morning Sentinel", "Policy Watch", "Valley Times", "Metro Courier",
            "The Lakeside Gazette", "Business Current", "Science Desk", "Coastline News"]
KR_SECTIONS = ["정치", "경제", "사회", "국제", "IT·과학", "산업", "문화", "스포츠", "연예", "오피니언",
               "부동산", "금융", "자동차", "생활", "지역", "교육"]
EN_SECTIONS = ["World", "Politics", "Business", "Markets", "Technology", "Science", "Climate",
               "Health", "Sport", "Culture", "Opinion", "Lifestyle", "Travel", "Property", "Local"]
KR_USERS = ["하늘바라기", "kim***", "파란고래", "lee_j***", "서울시민", "park**", "아침햇살", "choi7***",
            "별빛정원", "jung***", "달리는거북", "news_fan"]
EN_USERS = ["harbourwatcher", "J. Patel", "mkelly", "old_reader", "Sam R.", "northsider", "T. Okafor",
            "civic_minded", "A. Lindqvist", "bluefern", "Dana W.", "quietcommuter"]


@dataclass
class SourceSpec:
    name: str
    slug: str
    template: str
    kind: str  # feed | atom | sitemap | sitemap-index | listing
    language: str
    encoding: str
    csr: bool = False  # article text only in __NEXT_DATA__ (a client-rendered site)
    heavy: int = 1  # 0..3: how much boilerplate its pages carry
    lean: bool = False  # smaller pages (about 15 KB): less CSS, script, menus, boxes and comments
    index_paths: list[str] = field(default_factory=list)

    def config(self, base: str) -> dict[str, Any]:
        """The newswatch.toml `[[sources]]` entry for this source."""
        entry: dict[str, Any] = {"name": self.name, "language": self.language}
        url = base + self.index_paths[0]
        if self.kind in ("feed", "atom"):
            entry["feed"] = url
        elif self.kind.startswith("sitemap"):
            entry["sitemap"] = url
        else:
            entry["listing"] = url
            entry["links"] = "ul.article-list a.headline"
            entry["next"] = "a.next"
            entry["max_pages"] = len(self.index_paths)
        return entry


@dataclass
class Article:
    id: int
    source: str
    path: str
    title: str
    paragraphs: list[str]
    published: datetime
    section: str
    author: str
    copy_of: str | None = None  # path of the original when syndicated
    copy_kind: str | None = None  # exact | rewrite


@dataclass
class Resource:
    path: str
    kind: str  # article | index | robots | other
    source: str | None
    content_type: str
    file: str
    last_modified: str
    etag: str = ""


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _route_key(target: str) -> str:
    """Path plus the query without tracking parameters, sorted: what identifies a page here."""
    parts = urlsplit(target)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not k.lower().startswith("utm_"))
    return parts.path + (f"?{urlencode(query)}" if query else "")


# -- page chrome --------------------------------------------------------------------------------


def _css(rng: random.Random, prefix: str, rules: int) -> str:
    props = ["margin", "padding", "font-size", "line-height", "letter-spacing", "border-bottom",
             "color", "background", "width", "min-height", "border-radius", "top", "left"]
    names = ["head", "body", "tit", "txt", "box", "list", "item", "thumb", "btn", "tab", "nav", "sub",
             "rank", "cmt", "ad", "foot", "util", "badge", "label", "wrap", "inner", "area"]
    lines = []
    for n in range(rules):
        sel = f".{prefix}-{rng.choice(names)}-{rng.choice(names)}{n % 7 or ''}"
        if n % 3 == 0:
            sel += f" .{prefix}-{rng.choice(names)}"
        decls = ";".join(
            f"{p}:{rng.randint(0, 40)}px" if p not in ("color", "background")
            else f"{p}:#{rng.randrange(0x1000000):06x}"
            for p in rng.sample(props, rng.randint(2, 6))
        )
        lines.append(f"{sel}{{{decls}}}")
    return "\n".join(lines)


def _script(rng: random.Random, site: str, size: int) -> str:
    """Analytics, ad slot and menu set-up scripts: noise of the kind every portal inlines."""
    parts = [
        "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        f"gtag('js',new Date());gtag('config','G-{rng.randrange(16**8):08X}');",
        "var googletag=googletag||{};googletag.cmd=googletag.cmd||[];",
    ]
    n = 0
    while sum(map(len, parts)) < size:
        n += 1
        slot = f"/{rng.randrange(10**8)}/{site}/article_{n}"
        parts.append(
            f"googletag.cmd.push(function(){{googletag.defineSlot('{slot}',[[300,250],[336,280]],"
            f"'div-gpt-ad-{n}').addService(googletag.pubads());googletag.pubads()"
            f".setTargeting('section','{rng.randrange(99)}').setTargeting('pos','{n}');}});"
            f"function nw_{n}_{rng.randrange(16**6):06x}(e){{var t=document.querySelectorAll"
            f"('.nw-{n}');for(var i=0;i<t.length;i++){{t[i].classList.toggle('on',i==e);}}"
            f"return t.length>{rng.randint(1, 9)}?{rng.randint(10, 999)}:null;}}"
        )
    return "\n".join(parts)


def _nav(spec: SourceSpec, rng: random.Random, element_id: str) -> str:
    sections = KR_SECTIONS if spec.language == "ko" else EN_SECTIONS
    subs = KR_SECTIONS + EN_SECTIONS[:4] if spec.language == "ko" else EN_SECTIONS
    items = []
    for n, label in enumerate(sections[: 4 if spec.lean else 8 + 2 * spec.heavy]):
        links = "".join(
            f'<li><a href="{BASE}/{spec.slug}/section/{n}/{m}">{esc(s)}</a></li>'
            for m, s in enumerate(rng.sample(subs, 2 if spec.lean else 4 + 2 * spec.heavy))
        )
        items.append(f'<li><a href="{BASE}/{spec.slug}/section/{n}">{esc(label)}</a>'
                     f'<div class="sub"><ul>{links}</ul></div></li>')
    return f'<nav class="gnb" id="{element_id}"><ul>\n' + "\n".join(items) + "\n</ul></nav>"


def _box(spec: SourceSpec, title: str, others: list[Article], numbered: bool, thumbs: bool) -> str:
    rows = []
    for n, other in enumerate(others, 1):
        num = f'<span class="num">{n}</span>' if numbered else ""
        thumb = (f'<span class="thumb"><img src="{BASE}/static/thumb/{other.id}.jpg" alt="" '
                 f'loading="lazy"></span>' if thumbs else "")
        rows.append(f'<li><a href="{BASE}{other.path}">{num}{thumb}<span class="tit">'
                    f'{esc(other.title)}</span></a><span class="info"><span class="cate">'
                    f'{esc(other.section)}</span><span class="time">{other.published:%H:%M}</span>'
                    f'</span></li>')
    tag = "ol" if numbered else "ul"
    return (f'<section class="news-box rank-box"><h3>{esc(title)}</h3><{tag}>\n' + "\n".join(rows)
            + f"\n</{tag}></section>")


def _boxes(spec: SourceSpec, rng: random.Random, pool: list[Article]) -> str:
    ko = spec.language == "ko"
    titles = (["많이 본 뉴스", "실시간 인기기사", "이 시각 주요뉴스", "함께 보면 좋은 뉴스", "추천 뉴스",
               "섹션별 주요뉴스", "포토뉴스", "지금 뜨는 뉴스"] if ko else
              ["Most read", "Trending now", "Related stories", "More from this section", "Editor's picks",
               "Latest", "Popular this week", "Recommended for you"])
    count = 1 if spec.lean else 2 + 2 * spec.heavy
    return "\n".join(
        _box(spec, titles[n % len(titles)], rng.sample(pool, min(len(pool), rng.randint(6, 10))),
             numbered=n % 2 == 1, thumbs=n % 3 == 0)
        for n in range(count)
    )


def _comments(spec: SourceSpec, rng: random.Random, corpus: Corpus) -> str:
    ko = spec.language == "ko"
    pool = corpus.euckr_sentences if spec.encoding == "euc-kr" else corpus.sentences[spec.language]
    users = KR_USERS if ko else EN_USERS
    tag = "div" if spec.template == "kr-legacy" else "p"  # table-era boards write no <p>
    rows = []
    for n in range(rng.randint(1, 2) if spec.lean else rng.randint(2, 4 + 4 * spec.heavy)):
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 2)))
        rows.append(
            f'<li class="cmt-item" data-id="{rng.randrange(10**7)}"><div class="cmt-info">'
            f'<span class="nick">{esc(rng.choice(users))}</span><span class="date">'
            f'{rng.randint(1, 59)}{"분 전" if ko else " min ago"}</span></div>'
            f'<{tag} class="cmt-text">{esc(text)}</{tag}><div class="cmt-act"><button class="like">'
            f'{"공감" if ko else "Like"} {rng.randint(0, 300)}</button><button class="dislike">'
            f'{"비공감" if ko else "Dislike"} {rng.randint(0, 60)}</button>'
            f'<button class="reply">{"답글" if ko else "Reply"} {n % 3}</button></div></li>'
        )
    head = "댓글" if ko else "Top comments"
    return (f'<section class="comment" id="comments"><h3 class="cmt-title">{head}'
            f'<span class="cnt">{len(rows)}</span></h3><form class="cmt-write" method="post" '
            f'action="{BASE}/{spec.slug}/comment"><textarea name="c" maxlength="300"></textarea>'
            f'<button type="submit">{"등록" if ko else "Post"}</button></form>'
            f'<ul class="cmt-list">\n' + "\n".join(rows) + "\n</ul></section>")


def _ad(slot: str) -> str:
    return (f'<div class="ad-area" id="div-gpt-ad-{slot}"><span class="ad-label">AD</span>'
            f"<script>googletag.cmd.push(function(){{googletag.display('div-gpt-ad-{slot}');}});"
            "</script></div>")


def _footer(spec: SourceSpec, rng: random.Random) -> str:
    ko = spec.language == "ko"
    links = (["회사소개", "이용약관", "개인정보처리방침", "청소년보호정책", "광고문의", "제휴문의",
              "기사제보", "고충처리인", "RSS", "모바일"] if ko else
             ["About us", "Terms", "Privacy", "Cookie settings", "Advertise", "Contact", "Careers",
              "Corrections", "RSS", "Newsletters"])
    f_links = "".join(f'<a href="{BASE}/{spec.slug}/info/{n}">{esc(t)}</a>' for n, t in enumerate(links))
    family = "".join(f'<option value="{BASE}/family/{n}">{esc(name)}</option>'
                     for n, name in enumerate(rng.sample(KR_NAMES if ko else EN_NAMES, 8)))
    notice = ("이 사이트에 게재된 기사의 저작권은 각 언론사에 있으며 무단 전재 및 재배포를 금합니다."
              if ko else f"© {spec.name}. All rights reserved. Reproduction without permission prohibited.")
    sections = KR_SECTIONS if ko else EN_SECTIONS
    service_map = "".join(
        f'<dl><dt><a href="{BASE}/{spec.slug}/section/{n}">{esc(label)}</a></dt>'
        + "".join(f'<dd><a href="{BASE}/{spec.slug}/section/{n}/{m}">{esc(sub)}</a></dd>'
                  for m, sub in enumerate(rng.sample(sections, 3 + spec.heavy)))
        + "</dl>"
        for n, label in enumerate(sections[:2] if spec.lean else sections))
    return (f'<footer class="footer"><div class="service-map">{service_map}</div>'
            f'<div class="f-menu">{f_links}</div>'
            f'<select class="family" onchange="goFamily(this)">{family}</select>'
            f"<address>{esc(spec.name)} | {'등록번호' if ko else 'Registered no.'} "
            f"{rng.randrange(10**5):05d} | {'대표전화' if ko else 'Tel'} 02-{rng.randrange(10**4):04d}-"
            f"{rng.randrange(10**4):04d}</address><p class=\"copyright\">{esc(notice)}</p></footer>")


def _head(spec: SourceSpec, rng: random.Random, title: str, url: str, extra: str,
          css_rules: int, script_bytes: int) -> str:
    charset = "euc-kr" if spec.encoding == "euc-kr" else "utf-8"
    if spec.lean:
        css_rules, script_bytes = css_rules // 8, script_bytes // 8
    meta_charset = (f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
                    if spec.template == "kr-legacy" else f'<meta charset="{charset}">')
    return f"""<!DOCTYPE html>
<html lang="{spec.language}">
<head>
{meta_charset}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} - {esc(spec.name)}</title>
<link rel="canonical" href="{url}">
<meta property="og:site_name" content="{esc(spec.name)}">
<meta property="og:title" content="{esc(title)}">
<meta property="og:url" content="{url}">
<meta property="og:type" content="article">
<meta property="og:image" content="{BASE}/static/{spec.slug}/og.png">
<meta name="twitter:card" content="summary_large_image">
{extra}
<link rel="stylesheet" href="{BASE}/static/{spec.slug}/common.css?v={rng.randrange(10**6)}">
<style>{_css(rng, spec.slug[:3], css_rules)}</style>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-{spec.slug.upper()}"></script>
<script>{_script(rng, spec.slug, script_bytes)}</script>
</head>"""


def _jsonld(spec: SourceSpec, art: Article, url: str, with_body: bool) -> str:
    data: dict[str, Any] = {
        "@context": "https://schema.org", "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": art.title, "datePublished": art.published.isoformat(),
        "dateModified": (art.published + timedelta(minutes=40)).isoformat(),
        "author": [{"@type": "Person", "name": art.author}],
        "publisher": {"@type": "Organization", "name": spec.name,
                      "logo": {"@type": "ImageObject", "url": f"{BASE}/static/{spec.slug}/logo.png"}},
        "articleSection": art.section, "inLanguage": spec.language,
        "description": art.paragraphs[0][:140],
    }
    if with_body:
        data["articleBody"] = "\n\n".join(art.paragraphs)
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


# -- article templates --------------------------------------------------------------------------


def _date_meta(art: Article) -> str:
    return (f'<meta property="article:published_time" content="{art.published.isoformat()}">\n'
            f'<meta property="article:section" content="{esc(art.section)}">')


def page_kr_portal(spec: SourceSpec, art: Article, rng: random.Random, corpus: Corpus,
                   pool: list[Article]) -> str:
    url = BASE + art.path
    shown = art.published.astimezone(KST).strftime("%Y.%m.%d %H:%M")
    paras = []
    for n, p in enumerate(art.paragraphs, 1):
        paras.append(f"<p>{esc(p)}</p>")
        if n == 3:
            paras.append(_ad("inread"))
    extra = _date_meta(art) + "\n" + _jsonld(spec, art, url, with_body=False)
    aside = _boxes(spec, rng, pool) if spec.heavy >= 2 else ""
    return f"""{_head(spec, rng, art.title, url, extra, 60 + 50 * spec.heavy, 1500 + 2000 * spec.heavy)}
<body class="article-view">
<div id="skip_nav"><a href="#gnb">주요 메뉴 바로가기</a><a href="#content">본문 바로가기</a></div>
<div class="top-util"><a href="{BASE}/{spec.slug}/">홈</a><a href="{BASE}/{spec.slug}/login">로그인</a>
<a href="{BASE}/{spec.slug}/join">회원가입</a><a href="{BASE}/{spec.slug}/newsletter">뉴스레터</a></div>
<header class="header"><h1 class="logo"><a href="{BASE}/{spec.slug}/">{esc(spec.name)}</a></h1>
<form class="search" action="{BASE}/{spec.slug}/search"><input type="search" name="q"></form></header>
{_nav(spec, rng, "gnb")}
{_ad("top")}
<div class="container">
<main class="content" id="content">
<article class="article" data-id="{art.id}">
<div class="article-head"><span class="category">{esc(art.section)}</span>
<h1 class="headline">{esc(art.title)}</h1>
<div class="byline"><span class="press">{esc(art.author)} 기자</span>
<time class="date" datetime="{art.published.isoformat()}">입력 {shown}</time>
<div class="article-tools"><button class="btn-font">글자 크기</button><button class="btn-share">공유</button>
</div></div></div>
<div class="article-body" id="article-body" itemprop="articleBody">
<figure class="photo"><img src="{BASE}/static/photo/{art.id}.jpg" alt="">
<figcaption>사진 {esc(spec.name)} 제공</figcaption></figure>
{chr(10).join(paras)}
</div>
<div class="reporter-box"><span class="name">{esc(art.author)} 기자</span>
<span class="mail">reporter{art.id}@{spec.slug}.example</span></div>
</article>
{_ad("bottom")}
{_comments(spec, rng, corpus)}
{_boxes(spec, rng, pool)}
<div class="share-layer"><strong>공유하기</strong><button data-share="kakao">카카오톡</button>
<button data-share="facebook">페이스북</button><button data-share="url">링크 복사</button></div>
</main>
<aside class="aside">{_ad("right1")}{aside}{_ad("right2")}</aside>
</div>
{_nav(spec, rng, "gnb_bottom")}
{_footer(spec, rng)}
</body>
</html>
"""


def page_kr_legacy(spec: SourceSpec, art: Article, rng: random.Random, corpus: Corpus,
                   pool: list[Article]) -> str:
    """Table layout, body as text between <br><br>, date only in the text (older Korean CMSs)."""
    url = BASE + art.path
    shown = art.published.astimezone(KST).strftime("%Y.%m.%d %H:%M")
    body = "<br><br>\n".join(esc(p) for p in art.paragraphs)
    rank = "".join(f'<tr><td class="rank"><b>{n}</b> <a href="{BASE}{o.path}">{esc(o.title)}</a></td></tr>'
                   for n, o in enumerate(rng.sample(pool, min(len(pool), 10)), 1))
    section_news = "".join(
        f'<li><a href="{BASE}{o.path}">{esc(o.title)}</a>'
        f'<div class="summary">{esc(o.paragraphs[0][:80])}</div></li>'
        for o in rng.sample(pool, min(len(pool), 4 + 2 * spec.heavy)))
    menu = " ".join(f'<a href="{BASE}/{spec.slug}/list.php?sec={n}">{esc(s)}</a>'
                    for n, s in enumerate(KR_SECTIONS))
    return f"""{_head(spec, rng, art.title, url, "", 30 + 40 * spec.heavy, 1500 + 2000 * spec.heavy)}
<body leftmargin="0" topmargin="0">
<table width="1000" border="0" cellspacing="0" cellpadding="0" align="center">
<tr><td class="top"><span class="today">{art.published.astimezone(KST).strftime("%Y년 %m월 %d일")}</span>
<a href="{BASE}/{spec.slug}/">{esc(spec.name)}</a> |
<a href="{BASE}/{spec.slug}/login.php">로그인</a></td></tr>
<tr><td class="menu" bgcolor="#0b3c7a">{menu}</td></tr>
<tr><td>{_nav(spec, rng, "submenu")}</td></tr>
</table>
<table width="1000" border="0" cellspacing="0" cellpadding="0" align="center"><tr>
<td width="680" valign="top">
<table width="100%"><tr><td class="title_big">{esc(art.title)}</td></tr>
<tr><td class="date">입력 {shown} | {esc(art.author)} 기자</td></tr>
<tr><td><a href="javascript:fontPlus()">크게</a> <a href="javascript:fontMinus()">작게</a>
<a href="javascript:printArticle({art.id})">인쇄</a></td></tr></table>
<div id="articleBody" class="article_txt">
{body}
<br><br>[{esc(spec.name)} {art.published.astimezone(KST).strftime("%Y년 %m월 %d일")}자]
</div>
<p class="copy">ⓒ {esc(spec.name)} 무단전재 및 재배포 금지</p>
<div class="box_title">이 시각 주요뉴스</div><ul>{section_news}</ul>
{_comments(spec, rng, corpus)}
</td>
<td width="20"></td>
<td width="300" valign="top">
<div class="box_title">많이 본 기사</div><table>{rank}</table>
{_ad("side1")}
{_boxes(spec, rng, pool)}
{_ad("side2")}
</td></tr></table>
{_footer(spec, rng)}
</body>
</html>
"""


def page_kr_press(spec: SourceSpec, art: Article, rng: random.Random, corpus: Corpus,
                  pool: list[Article]) -> str:
    return page_kr_portal(spec, art, rng, corpus, pool)


def page_en_ledger(spec: SourceSpec, art: Article, rng: random.Random, corpus: Corpus,
                   pool: list[Article]) -> str:
    url = BASE + art.path
    paras = []
    for n, p in enumerate(art.paragraphs, 1):
        paras.append(f"<p>{esc(p)}</p>")
        if n == 3:
            paras.append(
                '<aside class="newsletter-box"><h4>Sign up to The Morning Briefing</h4><p>Our editors\' '
                'pick of the day\'s news, every weekday morning.</p><form><input type="email">'
                "<button>Sign up</button></form></aside>")
        if n == 5:
            other = rng.choice(pool)
            paras.append(f'<p class="related-inline">Read more: <a href="{BASE}{other.path}">'
                         f"{esc(other.title)}</a></p>")
    extra = (_date_meta(art) + f'\n<meta name="author" content="{esc(art.author)}">\n'
             + _jsonld(spec, art, url, with_body=False))
    return f"""{_head(spec, rng, art.title, url, extra, 50 + 50 * spec.heavy, 1500 + 2000 * spec.heavy)}
<body>
<div class="cookie-banner" role="dialog"><p>We use cookies and similar technologies to improve your
experience, measure audiences and show you relevant advertising.</p><button>Accept all</button>
<button>Manage settings</button></div>
<div class="ticker"><a href="{BASE}/{spec.slug}/live">Live: {esc(rng.choice(pool).title)}</a></div>
<header class="masthead"><a class="logo" href="{BASE}/{spec.slug}/">{esc(spec.name)}</a>
<a href="{BASE}/{spec.slug}/subscribe" class="subscribe">Subscribe</a></header>
{_nav(spec, rng, "site-nav")}
{_ad("leaderboard")}
<main id="main">
<article class="story">
<header><p class="kicker"><a href="{BASE}/{spec.slug}/{art.section.lower()}">{esc(art.section)}</a></p>
<h1 class="story-title">{esc(art.title)}</h1>
<p class="byline">By <a rel="author" href="{BASE}/{spec.slug}/author/{art.id % 17}">{esc(art.author)}</a></p>
<time datetime="{art.published.isoformat()}">{art.published.strftime("%a %d %b %Y %H.%M UTC")}</time>
</header>
<figure><img src="{BASE}/static/{spec.slug}/{art.id}.jpg" alt="">
<figcaption>Photograph: agency</figcaption></figure>
<div class="story-body">
{chr(10).join(paras)}
</div>
<footer class="story-tags">Topics: <a href="{BASE}/{spec.slug}/t/1">{esc(art.section)}</a></footer>
</article>
{_comments(spec, rng, corpus)}
{_boxes(spec, rng, pool)}
</main>
<aside class="rail">{_ad("mpu1")}{_ad("mpu2")}</aside>
{_footer(spec, rng)}
</body>
</html>
"""


def page_en_wire(spec: SourceSpec, art: Article, rng: random.Random, corpus: Corpus,
                 pool: list[Article]) -> str:
    url = BASE + art.path
    extra = _date_meta(art) + "\n" + _jsonld(spec, art, url, with_body=True)
    if spec.csr:
        state = {"props": {"pageProps": {"story": {
            "headline": art.title, "id": art.id, "published": art.published.isoformat(),
            "body": [{"type": "paragraph", "text": p} for p in art.paragraphs],
            "related": [{"title": o.title, "url": o.path} for o in rng.sample(pool, min(len(pool), 8))],
        }}}, "page": "/story/[id]", "buildId": f"b{rng.randrange(16**8):08x}"}
        main = ('<div id="__next"></div><script id="__NEXT_DATA__" type="application/json">'
                + json.dumps(state, ensure_ascii=False).replace("</", "<\\/") + "</script>")
    else:
        paras = "\n".join(f"<p>{esc(p)}</p>" for p in art.paragraphs)
        main = f"""<main><article>
<h1>{esc(art.title)}</h1>
<div class="meta"><span class="author">{esc(art.author)}</span>
<time datetime="{art.published.isoformat()}">{art.published.strftime("%B %d, %Y %H:%M")}</time></div>
<div class="article-text">
{paras}
</div>
<div class="trending"><h2>Trending on {esc(spec.name)}</h2>{_boxes(spec, rng, pool)}</div>
</article></main>"""
    return f"""{_head(spec, rng, art.title, url, extra, 40 + 50 * spec.heavy, 2000 + 2500 * spec.heavy)}
<body>
<header><a href="{BASE}/{spec.slug}/">{esc(spec.name)}</a>{_nav(spec, rng, "top-nav")}</header>
{_ad("top")}
{main}
{_footer(spec, rng)}
</body>
</html>
"""


def page_en_local(spec: SourceSpec, art: Article, rng: random.Random, corpus: Corpus,
                  pool: list[Article]) -> str:
    return page_en_ledger(spec, art, rng, corpus, pool)


TEMPLATES = {
    "kr-portal": page_kr_portal, "kr-legacy": page_kr_legacy, "kr-press": page_kr_press,
    "en-ledger": page_en_ledger, "en-wire": page_en_wire, "en-local": page_en_local,
}


# -- indexes ------------------------------------------------------------------------------------


def _rss(spec: SourceSpec, arts: list[Article], utm: bool) -> str:
    suffix = "?utm_source=rss&amp;utm_medium=feed" if utm else ""
    items = "\n".join(
        f"<item><title><![CDATA[{a.title}]]></title><link>{BASE}{esc(a.path)}{suffix}</link>"
        f'<guid isPermaLink="false">{spec.slug}-{a.id}</guid>'
        f"<description><![CDATA[{a.paragraphs[0][:120]}]]></description>"
        f"<dc:creator>{esc(a.author)}</dc:creator><category>{esc(a.section)}</category>"
        f"<pubDate>{format_datetime(a.published.astimezone(KST if spec.language == 'ko' else UTC))}"
        f"</pubDate></item>"
        for a in arts
    )
    encoding = "EUC-KR" if spec.encoding == "euc-kr" else "UTF-8"
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{esc(spec.name)}</title><link>{BASE}/{spec.slug}/</link>
<description>{esc(spec.name)} RSS</description><language>{spec.language}</language>
{items}
</channel></rss>
"""


def _atom(spec: SourceSpec, arts: list[Article]) -> str:
    entries = "\n".join(
        f"<entry><title>{esc(a.title)}</title><link rel=\"alternate\" href=\"{BASE}{esc(a.path)}"
        f'?utm_source=rss&amp;utm_medium=feed"/><id>tag:{spec.slug},2024:{a.id}</id>'
        f"<published>{a.published.isoformat()}</published><updated>{a.published.isoformat()}</updated>"
        f"<author><name>{esc(a.author)}</name></author><summary>{esc(a.paragraphs[0][:200])}</summary>"
        f"</entry>"
        for a in arts
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{esc(spec.name)}</title>
<link rel="alternate" href="{BASE}/{spec.slug}/"/><id>tag:{spec.slug},2024:feed</id>
<updated>{arts[0].published.isoformat()}</updated>
{entries}
</feed>
"""


def _news_sitemap(spec: SourceSpec, arts: list[Article]) -> str:
    urls = "\n".join(
        f"<url><loc>{BASE}{esc(a.path)}</loc><news:news><news:publication><news:name>{esc(spec.name)}"
        f"</news:name><news:language>{spec.language}</news:language></news:publication>"
        f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
        f"<news:title>{esc(a.title)}</news:title></news:news></url>"
        for a in arts
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/'
            'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
            f"{urls}\n</urlset>\n")


def _sitemap_index(children: list[tuple[str, datetime]]) -> str:
    rows = "\n".join(f"<sitemap><loc>{BASE}{path}</loc><lastmod>{moment.isoformat()}</lastmod></sitemap>"
                     for path, moment in children)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">\n{rows}\n</sitemapindex>\n')


def _listing(spec: SourceSpec, arts: list[Article], page: int, pages: int, rng: random.Random,
             pool: list[Article]) -> str:
    ko = spec.language == "ko"
    rows = "\n".join(
        f'<li><a class="thumb" href="{BASE}{esc(a.path)}"><img src="{BASE}/static/thumb/{a.id}.jpg" '
        f'alt=""></a><a class="headline" href="{BASE}{esc(a.path)}">{esc(a.title)}</a>'
        f'<p class="summary">{esc(a.paragraphs[0][:100])}</p><span class="byline">{esc(a.author)} | '
        f"{a.published.astimezone(KST if ko else UTC).strftime('%Y-%m-%d %H:%M')}</span></li>"
        for a in arts
    )
    next_link = (f'<a class="next" href="{BASE}{spec.index_paths[page]}">{"다음" if ko else "Next"}</a>'
                 if page < pages else "")
    numbers = " ".join(f'<a href="{BASE}{p}">{n}</a>' for n, p in enumerate(spec.index_paths, 1))
    title = f"{'최신기사' if ko else 'Latest news'} - {spec.name}"
    return f"""{_head(spec, rng, title, BASE + spec.index_paths[page - 1], "", 40 + 30 * spec.heavy, 2000)}
<body>
<header><a href="{BASE}/{spec.slug}/">{esc(spec.name)}</a></header>
{_nav(spec, rng, "gnb")}
<main><h2>{"최신기사" if ko else "Latest news"}</h2>
<ul class="article-list">
{rows}
</ul>
<div class="paging">{numbers} {next_link}</div>
</main>
<aside>{_boxes(spec, rng, pool)}</aside>
{_footer(spec, rng)}
</body>
</html>
"""


# -- the generator ------------------------------------------------------------------------------


def _slug(n: int, template: str) -> str:
    return f"{template.split('-')[0]}{n:02d}"


def _article_path(spec: SourceSpec, art_id: int, published: datetime, rng: random.Random) -> str:
    if spec.template == "kr-legacy":
        return f"/{spec.slug}/view.php?no={art_id}"
    if spec.template.startswith("kr"):
        return f"/{spec.slug}/article/{art_id}"
    if spec.template == "en-wire":
        return f"/{spec.slug}/story/{art_id}-{rng.choice(('policy', 'markets', 'world', 'tech'))}"
    return f"/{spec.slug}/{published:%Y/%m/%d}/story-{art_id}"


def generate(out: Path, *, sources: int = 30, min_articles: int = 100, max_articles: int = 160,
             seed: int = 20240528, exact_copies: float = 0.02, rewrites: float = 0.05,
             now: datetime | None = None, lean: bool = False) -> dict[str, Any]:
    """Write the portal under `out` (pages/ and manifest.json) and return the manifest.

    `lean` makes pages of about 15 KB (51 KB without): the same text with less page chrome.
    """
    rng = random.Random(seed)
    corpus = Corpus()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    pages_dir = out / "pages"
    pages_dir.mkdir(parents=True, exist_ok=True)

    specs: list[SourceSpec] = []
    kr_names, en_names = iter(KR_NAMES * 3), iter(EN_NAMES * 3)
    for n in range(sources):
        template, kind, lang, encoding = SOURCE_KINDS[n % len(SOURCE_KINDS)]
        base_name = next(kr_names) if lang == "ko" else next(en_names)
        name = base_name if base_name not in {s.name for s in specs} else f"{base_name} {n + 1}"
        spec = SourceSpec(name=name, slug=_slug(n + 1, template), template=template, kind=kind,
                          language=lang, encoding=encoding, heavy=0 if lean else n % 4, lean=lean)
        spec.csr = template == "en-wire" and n % 3 == 0
        specs.append(spec)

    # Original articles, newest first per source.
    articles: dict[str, list[Article]] = {}
    next_id = 1000
    for spec in specs:
        count = rng.randint(min_articles, max_articles)
        own = []
        for _ in range(count):
            next_id += 1
            published = now - timedelta(minutes=rng.randint(5, 48 * 60))
            title, paragraphs = corpus.article(spec.language, rng, euckr=spec.encoding == "euc-kr")
            sections = KR_SECTIONS if spec.language == "ko" else EN_SECTIONS
            given = ["민준", "서연", "도윤", "하은", "지호", "수아"]
            author = (rng.choice("김이박최정강조윤장임") + rng.choice(given)
                      if spec.language == "ko" else
                      rng.choice(["Maya", "Tom", "Priya", "Lars", "Grace", "Omar"]) + " "
                      + rng.choice(["Fischer", "Okoye", "Tanaka", "Brennan", "Silva", "Novak"]))
            own.append(Article(id=next_id, source=spec.name, path="", title=title,
                               paragraphs=paragraphs, published=published,
                               section=rng.choice(sections), author=author))
        for art in own:
            art.path = _article_path(spec, art.id, art.published, rng)
        articles[spec.name] = own

    # Syndication: copies of other same-language sources' articles.
    copies = Counter[str]()
    originals = [a for arts in articles.values() for a in arts]
    by_name = {s.name: s for s in specs}
    for spec in specs:
        same_lang = [a for a in originals if a.source != spec.name
                     and by_name[a.source].language == spec.language
                     and (spec.encoding != "euc-kr" or _euckr_ok(a.title + "".join(a.paragraphs)))]
        own_count = len(articles[spec.name])
        for kind, share in (("exact", exact_copies), ("rewrite", rewrites)):
            for original in rng.sample(same_lang, min(len(same_lang), round(own_count * share))):
                next_id += 1
                title, paragraphs = original.title, list(original.paragraphs)
                if kind == "rewrite":
                    title, paragraphs = _rewrite(title, paragraphs, spec.language, corpus, rng,
                                                 spec.encoding == "euc-kr")
                published = original.published + timedelta(minutes=rng.randint(3, 90))
                copy = Article(id=next_id, source=spec.name, path="", title=title,
                               paragraphs=paragraphs, published=min(published, now),
                               section=original.section, author=original.author,
                               copy_of=original.path, copy_kind=kind)
                copy.path = _article_path(spec, copy.id, copy.published, rng)
                articles[spec.name].append(copy)
                copies[kind] += 1
    for arts in articles.values():
        arts.sort(key=lambda a: a.published, reverse=True)

    resources: list[Resource] = []
    sizes: list[int] = []

    def write(path: str, kind: str, source: str | None, content_type: str, text: str,
              encoding: str, modified: datetime) -> None:
        body = text.encode(encoding)
        name = hashlib.sha1(path.encode()).hexdigest()[:16] + (".html" if "html" in content_type else ".xml")
        (pages_dir / name).write_bytes(body)
        resources.append(Resource(path=_route_key(path), kind=kind, source=source,
                                  content_type=content_type, file=f"pages/{name}",
                                  last_modified=_http_date(modified),
                                  etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"'))
        if kind == "article":
            sizes.append(len(body))

    for spec in specs:
        arts = articles[spec.name]
        newest = arts[0].published
        # Index pages first: the listing paths are needed by the article pages' links.
        if spec.kind == "feed":
            spec.index_paths = [f"/{spec.slug}/rss.xml"]
        elif spec.kind == "atom":
            spec.index_paths = [f"/{spec.slug}/atom.xml"]
        elif spec.kind == "sitemap":
            spec.index_paths = [f"/{spec.slug}/sitemap-news.xml"]
        elif spec.kind == "sitemap-index":
            spec.index_paths = [f"/{spec.slug}/sitemap_index.xml"]
        else:
            pages = math.ceil(len(arts) / LISTING_PAGE_SIZE)
            stem = "list.php?page=" if spec.template == "kr-legacy" else "latest?page="
            spec.index_paths = [f"/{spec.slug}/{stem}{n}" for n in range(1, pages + 1)]

        encoding = "cp949" if spec.encoding == "euc-kr" else "utf-8"
        html_type = "text/html; charset=EUC-KR" if spec.encoding == "euc-kr" else HTML_UTF8
        pool = [a for a in arts if a.copy_of is None]
        template = TEMPLATES[spec.template]
        for art in arts:
            write(art.path, "article", spec.name, html_type,
                  template(spec, art, rng, corpus, pool), encoding, art.published)

        if spec.kind == "feed":
            feed_type = "application/rss+xml; charset=EUC-KR" if spec.encoding == "euc-kr" else RSS
            write(spec.index_paths[0], "index", spec.name, feed_type,
                  _rss(spec, arts, utm=spec.language == "en"), encoding, newest)
        elif spec.kind == "atom":
            write(spec.index_paths[0], "index", spec.name, ATOM, _atom(spec, arts), "utf-8", newest)
        elif spec.kind == "sitemap":
            write(spec.index_paths[0], "index", spec.name, XML, _news_sitemap(spec, arts), "utf-8", newest)
        elif spec.kind == "sitemap-index":
            half = len(arts) // 2
            children = [(f"/{spec.slug}/sitemap-news-1.xml", arts[:half]),
                        (f"/{spec.slug}/sitemap-news-2.xml", arts[half:])]
            for path, part in children:
                write(path, "index", spec.name, XML, _news_sitemap(spec, part), "utf-8", part[0].published)
            write(spec.index_paths[0], "index", spec.name, XML,
                  _sitemap_index([(p, part[0].published) for p, part in children]), "utf-8", newest)
        else:
            pages = len(spec.index_paths)
            for page in range(1, pages + 1):
                chunk = arts[(page - 1) * LISTING_PAGE_SIZE: page * LISTING_PAGE_SIZE]
                write(spec.index_paths[page - 1], "index", spec.name, html_type,
                      _listing(spec, chunk, page, pages, rng, pool), encoding, newest)

    robots = "User-agent: *\nDisallow: /private/\nDisallow: /*/comment\nAllow: /\n"
    write("/robots.txt", "robots", None, "text/plain; charset=utf-8", robots, "utf-8", now)

    article_count = sum(len(a) for a in articles.values())
    manifest = {
        "generated": now.isoformat(),
        "seed": seed,
        "sources": [asdict(s) for s in specs],
        "resources": [asdict(r) for r in resources],
        "summary": {
            "sources": len(specs),
            "articles": article_count,
            "originals": article_count - sum(copies.values()),
            "exact_copies": copies["exact"],
            "rewritten_copies": copies["rewrite"],
            "article_bytes": sum(sizes),
            "article_kb_mean": round(sum(sizes) / len(sizes) / 1024, 1),
            "article_kb_min": round(min(sizes) / 1024, 1),
            "article_kb_max": round(max(sizes) / 1024, 1),
            "kinds": dict(Counter(s.kind for s in specs)),
            "languages": dict(Counter(f"{s.language}/{s.encoding}" for s in specs)),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    return manifest


def load_manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "manifest.json").read_text("utf-8"))


# -- the server ---------------------------------------------------------------------------------


@dataclass
class _Page:
    kind: str
    source: str | None
    content_type: str
    body: bytes
    etag: str
    last_modified: str
    modified: datetime


@dataclass
class Hit:
    """One request the portal answered."""

    time: float
    path: str
    kind: str
    source: str | None
    status: int
    bytes_out: int  # status line, headers and body as written to the socket
    conditional: bool


class BenchPortal:
    """The generated portal on 127.0.0.1 (a free port unless given), served from daemon threads.

    `own_hosts=True` serves each source from its own loopback address (127.0.1.1, 127.0.1.2, …,
    one port), its links pointing there: each source is then its own site, with its own download
    slot and politeness, as real outlets are. All on 127.0.0.1, the sources share one site.
    """

    def __init__(self, root: Path, port: int = 0, own_hosts: bool = False) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self.manifest = load_manifest(root)
        names = [spec["name"] for spec in self.manifest["sources"]]
        self._servers = [_Server(("127.0.0.1", port), _Handler)]
        port = self._servers[0].server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.bases = {name: self.url for name in names}
        if own_hosts:
            for index, name in enumerate(names):
                address = f"127.0.{1 + index // 254}.{1 + index % 254}"
                self._servers.append(_Server((address, port), _Handler))
                self.bases[name] = f"http://{address}:{port}"
        self._pages: dict[str, _Page] = {}
        for res in self.manifest["resources"]:
            base = self.bases.get(res["source"], self.url).encode("ascii")
            body = (root / res["file"]).read_bytes().replace(b"{base}", base)
            self._pages[res["path"]] = _Page(
                kind=res["kind"], source=res["source"], content_type=res["content_type"], body=body,
                etag=res["etag"], last_modified=res["last_modified"],
                modified=parsedate_to_datetime(res["last_modified"]))
        self._threads = []
        for server in self._servers:
            server.portal = self
            self._threads.append(threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="bench-portal",
                daemon=True))

    def configs(self) -> list[dict[str, Any]]:
        """The `[[sources]]` entries, each source at its own base."""
        return [SourceSpec(**spec).config(self.bases[spec["name"]])
                for spec in self.manifest["sources"]]

    def start(self) -> BenchPortal:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> BenchPortal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def article_bodies(self) -> list[tuple[str, str, bytes]]:
        """(URL, Content-Type, bytes) of every article page, as served."""
        return [(self.bases.get(p.source, self.url) + path, p.content_type, p.body)
                for path, p in self._pages.items() if p.kind == "article"]

    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def summary(self) -> dict[str, Any]:
        """Requests and bytes by kind and status since the last reset."""
        hits = self.hits()
        out: dict[str, Any] = {"requests": len(hits), "bytes": sum(h.bytes_out for h in hits)}
        for kind in ("article", "index", "robots", "other"):
            mine = [h for h in hits if h.kind == kind]
            out[kind] = {
                "requests": len(mine),
                "bytes": sum(h.bytes_out for h in mine),
                "status": dict(sorted(Counter(str(h.status) for h in mine).items())),
            }
        if hits:
            out["first"] = min(h.time for h in hits)
            out["last"] = max(h.time for h in hits)
            articles = sorted(h.time for h in hits if h.kind == "article")
            if articles:  # when half, 90 % and all of the article pages had been served
                out["article_times"] = {f"p{q}": articles[min(len(articles) - 1, len(articles) * q // 100)]
                                        for q in (50, 90, 100)}
        return out

    def _answer(self, target: str, headers: dict[str, str]) -> tuple[int, _Page | None, bool]:
        page = self._pages.get(_route_key(target))
        if page is None:
            return 404, None, False
        conditional = "if-none-match" in headers or "if-modified-since" in headers
        if _not_modified(headers, page):
            return 304, page, conditional
        return 200, page, conditional

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)


def _not_modified(headers: dict[str, str], page: _Page) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or page.etag in tags
    since = headers.get("if-modified-since")
    if since:
        with contextlib.suppress(TypeError, ValueError):
            return page.modified <= parsedate_to_datetime(since)
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    portal: BenchPortal


_NOT_FOUND = b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>"
_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        portal = self.server.portal
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, page, conditional = portal._answer(self.path, headers)
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}", "Server: newswatch-bench/1.0",
                 f"Date: {format_datetime(datetime.now(UTC), usegmt=True)}"]
        payload = _NOT_FOUND if page is None else page.body
        if page is not None:
            lines += [f"ETag: {page.etag}", f"Last-Modified: {page.last_modified}",
                      "Cache-Control: public, max-age=0, must-revalidate"]
        if status == 304:
            payload = b""
        else:
            lines += [f"Content-Type: {page.content_type if page else 'text/html; charset=utf-8'}",
                      f"Content-Length: {len(payload)}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        data = head + payload if body else head
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        portal._record(Hit(time=time.time(), path=self.path, kind=page.kind if page else "other",
                           source=page.source if page else None, status=status, bytes_out=len(data),
                           conditional=conditional))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the portal into DIR")
    gen.add_argument("dir", type=Path)
    gen.add_argument("--sources", type=int, default=30)
    gen.add_argument("--min-articles", type=int, default=100)
    gen.add_argument("--max-articles", type=int, default=160)
    gen.add_argument("--seed", type=int, default=20240528)
    gen.add_argument("--lean", action="store_true", help="pages of about 15 KB instead of 51 KB")
    serve = sub.add_parser("serve", help="serve DIR on 127.0.0.1 until Ctrl-C")
    serve.add_argument("dir", type=Path)
    serve.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "generate":
        started = time.perf_counter()
        manifest = generate(args.dir, sources=args.sources, min_articles=args.min_articles,
                            max_articles=args.max_articles, seed=args.seed, lean=args.lean)
        print(json.dumps(manifest["summary"], ensure_ascii=False, indent=1))
        print(f"generated in {time.perf_counter() - started:.1f}s into {args.dir}")
        return 0
    with BenchPortal(args.dir, args.port) as portal:
        print(f"serving {args.dir} at {portal.url} (Ctrl-C stops)")
        for entry in portal.configs()[:5]:
            print(" ", entry)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

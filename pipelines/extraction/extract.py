"""Pull the article out of a fetched page: text, title, date, author, language, canonical URL."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura import bare_extraction, html2txt, load_html

from pipelines.extraction.dates import SEOUL, parse_date
from pipelines.extraction.embedded import (
    MIN_BODY,
    confirmed_length,
    embedded_body,
    first_value,
    json_ld_articles,
    json_ld_author,
    tidy,
)
from pipelines.extraction.encoding import decode_html
from pipelines.extraction.flight import read_flight
from pipelines.extraction.metadata import page_metadata

if TYPE_CHECKING:
    from pipelines.extraction.flight import FlightArticle

LOGGER = logging.getLogger(__name__)

# Precision mode keeps ranking lists, related-article blocks and comments out of the text. It
# sometimes keeps only a fragment of the page (a reprint notice, a caption); as trafilatura's own
# escalation does, a short result covering under _PAGE_SHARE of the page's text is retried in
# the default mode and replaced if that finds at least _RETRY_GAIN times more, in paragraphs:
# on a short article the default mode dumps the whole page, menus and ranking lists, whose
# lines are short (at most _PROSE_SHARE of it in lines of _PROSE_LINE characters or more). Both
# passes run in fast mode: trafilatura's readability/justext comparison prunes the whole raw tree
# first (a third of the time) and changed no page of the benchmark or the test portal.
_PRECISE = {"favor_precision": True, "include_comments": False, "fast": True}
_RETRY_BELOW = 3000
_PAGE_SHARE = 0.2
_RETRY_GAIN = 2.0
_PROSE_LINE = 80
_PROSE_SHARE = 0.5
# An article body embedded as JSON replaces the HTML's text when it is _EMBEDDED_GAIN times longer
# than the part of that text it confirms (a paywall teaser, the lede of a client-rendered page),
# or when the HTML gave next to nothing. Framework state also carries other articles ("read
# next", prefetched pages): a body that confirms none of a real HTML text is not this page's.
_EMBEDDED_GAIN = 2.0
# Responses that cannot hold an article page, whatever their bytes look like.
_NOT_HTML = ("image/", "audio/", "video/", "font/", "application/pdf", "application/json", "text/css")
# Shorter texts are not articles (menus, captions, JSON by mistake); the feed's summary serves better.
_MIN_TEXT = 50
# Soft 404s are served with status 200; only short texts are checked, so an article that
# mentions "404" keeps its body.
_ERROR_PAGE = re.compile(
    r"\b(?:404|410|page not found|not found|page (?:does not|doesn't|no longer) exist"
    r"|no longer available)\b|(?:페이지|기사)(?:를|가|는)? (?:찾을 수 없|존재하지 않)"
    r"|요청하신 페이지|삭제된 기사|존재하지 않는 (?:기사|페이지)|잘못된 (?:접근|경로|주소)",
    re.IGNORECASE,
)
_ERROR_PAGE_MAX = 600
# "입력 2024.05.28 14:03" lines; tags may sit between the label and the date. Only those with a
# time of day count: footers print the paper's registration day ("등록일 2005.03.01"), and "수정"
# (modified) is left out on purpose.
_LABELLED_DATE = re.compile(
    r"(?:입력|등록|게재|송고)(?:\s*(?:일시|일자|시간|일))?\s*[:：]?\s*"
    r"(?:</?[a-zA-Z][^>]{0,200}>\s*){0,3}(\d{4}[.\-/년][^<]{4,40})"
)
_HAS_TIME = re.compile(r"\d{1,2}\s*(?::|시)\s*\d")
_META_DATE_KEYS = (
    "article:published_time", "og:article:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "article.published", "dc.date.issued", "dcterms.created", "parsely-pub-date",
    "sailthru.date",
)  # fmt: skip
_BYLINE = re.compile(r"(?:^|[\s(=])([가-힣]{2,4}) ?기자(?=$|[\s=·,)]|[\w.+-]+@)", re.MULTILINE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_ENGLISH_WORDS = re.compile(r"\b(?:the|and|of|to|in|is|that|for|with|was)\b", re.IGNORECASE)


# Compiled once: tree.xpath() compiles its expression on every call.
_DATE_PUBLISHED = XPath('//*[@itemprop="datePublished"]')
_DECLARED_TITLE = XPath(
    'boolean(//title[normalize-space()] | //meta[@property="og:title" or @name="twitter:title"][@content])'
)
_CANONICAL = (XPath('//link[@rel="canonical"]/@href'), XPath('//meta[@property="og:url"]/@content'))
# The text nodes html2txt may keep: those of its first <body>, outside scripts and styles, which
# it always deletes (their text is all of their content: the HTML parser reads it as raw text).
_BODY_TEXT = XPath("(.//body)[1]//text()[not(parent::script or parent::style)]", smart_strings=False)
_ALL_TEXT = XPath(".//text()[not(parent::script or parent::style)]", smart_strings=False)


@dataclass
class Extracted:
    """What the clean stage keeps of a page; `text` is "" when the page is not an article."""

    title: str | None = None
    text: str = ""
    published: datetime | None = None  # aware
    author: str | None = None
    language: str | None = None  # ISO 639-1
    canonical_url: str | None = None


def extract_article(
    body: bytes | str,
    url: str,
    content_type: str | None = None,
    language_hint: str | None = None,
) -> Extracted:
    """Extract the article from a page as served; never raises, whatever the bytes are.

    `body` is decoded with decode_html (so EUC-KR pages come out right) and parsed once; the
    tree is shared by trafilatura and the lookups here. `language_hint` (the source's configured
    language) wins over what the page says, and decides that zone-less dates are Seoul time.
    """
    try:
        found = _extract(body, url, content_type, language_hint)
    except Exception:  # one malformed page must never stop a crawl round
        LOGGER.exception("extraction failed, treating as not an article: %s", url)
        return Extracted()
    found.title, found.text, found.author = map(_storable, (found.title, found.text, found.author))
    return found


def _storable(value: str | None) -> str | None:
    """The text without what no database stores: NUL (PostgreSQL refuses it in text, where SQLite
    kept it) and lone surrogates (a half pair, escaped in a page's JSON, which no driver encodes).
    Both come through JSON-LD and flight data, which json.loads decodes escapes and all."""
    if not value:
        return value
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "ignore").decode("utf-8")
    return value


def _extract(body: bytes | str, url: str, content_type: str | None, language_hint: str | None) -> Extracted:
    if (content_type or "").split(";")[0].strip().lower().startswith(_NOT_HTML):
        return Extracted()
    html = body if isinstance(body, str) else decode_html(body, content_type)
    # No markup at all: plain text or JSON served as a page. lxml refuses NUL characters, which
    # junk and some broken servers send.
    tree = load_html(html.replace("\x00", "")) if "<" in html else None
    if tree is None:
        return Extracted()
    _mark_br_body(tree)
    # Metadata is read apart from the text: bare_extraction returns None, metadata and all, when the
    # text is too short, and reading it again cost a second pass. Reading metadata only reads the
    # tree (checked on the benchmark and test portal pages): the lookups below see it unchanged.
    metadata = page_metadata(tree, url)
    document = bare_extraction(tree, url=url or metadata.url, **_PRECISE)
    text = tidy(document.text) if document else ""
    linked = list(json_ld_articles(tree))
    # App Router pages stream their tree as flight data; the substring test spares all others a pass.
    flight = read_flight(tree) if "__next_f" in html else None
    embedded = embedded_body(tree, linked, flight.bodies if flight else ())
    confirmed = confirmed_length(text, embedded) if embedded else 0  # most pages embed no body
    if len(embedded) > _EMBEDDED_GAIN * confirmed and (confirmed or len(text) < MIN_BODY):
        text = embedded
    else:
        text = _recall_retry(tree, url, text)
    title = metadata.title or first_value(linked, "headline")
    if flight and flight.title and not _DECLARED_TITLE(tree):
        # With no <title> or og:title, trafilatura guesses from the HTML's headings: on an App Router
        # shell those are the ranking box's or the logo's. The flight tree's <h1> is the article's.
        title = first_value(linked, "headline") or flight.title
    if _not_an_article(title, text):
        text = ""
    language = _language(language_hint, tree, text or title or "")
    zone = SEOUL if language == "ko" else None
    return Extracted(
        title=title,
        text=text,
        published=_published(tree, html, linked, flight, metadata.date, zone),
        author=metadata.author or json_ld_author(linked) or _byline(text),
        language=language,
        canonical_url=_canonical_url(tree, url),
    )


def _mark_br_body(tree: HtmlElement) -> None:
    """Point trafilatura at a body written as bare text between <br> tags (older Korean CMSs).

    Such a container matches none of trafilatura's body selectors, and its fallback then takes
    the whole layout table with menus and footer. The element with the most text of its own
    between <br> tags is labelled with schema.org's articleBody, the first thing trafilatura looks
    for, when it holds more text than all <p> elements together: pages written in paragraphs
    are left alone, as trafilatura reads them well.
    """
    best = max({br.getparent() for br in tree.iter("br")}, key=_own_text_length, default=None)
    if best is None or best.tag not in ("div", "article", "section", "td"):
        return
    own = _own_text_length(best)
    if own < MIN_BODY or len(best.findall("br")) < 2:
        return
    # A page that marks its body itself is left alone. Tested last: matching an attribute on
    # every element costs more than all the tests above, which settle four pages in five.
    if tree.find('.//*[@itemprop="articleBody"]') is not None:
        return
    if own > sum(len(p.text_content()) for p in tree.iter("p")):
        best.set("itemprop", "articleBody")


def _own_text_length(element: HtmlElement) -> int:
    """Characters of the element's own text runs, not of its children's (links, captions...)."""
    return len((element.text or "").strip()) + sum(len((c.tail or "").strip()) for c in element)


def _recall_retry(tree: HtmlElement, url: str, text: str) -> str:
    """Precision mode's text, unless the default mode finds far more of it in paragraphs."""
    if len(text) >= _RETRY_BELOW or len(text) >= _PAGE_SHARE * _page_text_bound(tree):
        return text  # settled without html2txt, a quarter of the time of a whole extraction
    if len(text) >= _PAGE_SHARE * len(html2txt(tree)):
        return text
    document = bare_extraction(tree, url=url, include_comments=False, fast=True)
    retry = tidy(document.text) if document else ""
    if len(retry) > _RETRY_GAIN * len(text) and _prose_share(retry) >= _PROSE_SHARE:
        return retry
    return text


def _page_text_bound(tree: HtmlElement) -> int:
    """An upper bound of len(html2txt(tree)), at a fraction of its cost, that settles most pages.

    html2txt copies the tree, deletes scripts, styles, footers, asides and cookie banners (an EXSLT
    regex test, run in Python, on every element's class and id), spaces block elements apart and
    collapses runs of whitespace. Collapsed text is as long as its non-space characters plus the
    gaps between its words. Deleting characters adds neither; spaces set between text nodes can
    split words only where one node ends and the next begins, so no more words than when every
    node is kept apart, as here. Scripts and styles are left out: html2txt always deletes them.
    A text that reaches _PAGE_SHARE of the bound reaches it of html2txt's length: same decision.
    """
    nodes = _BODY_TEXT(tree) or _ALL_TEXT(tree)  # html2txt reads the whole tree when there is no body
    return len(" ".join(" ".join(nodes).split()))


def _prose_share(text: str) -> float:
    return sum(len(line) for line in text.splitlines() if len(line) >= _PROSE_LINE) / len(text)


def _byline(text: str) -> str | None:
    """The reporter of a Korean article, from "김현우 기자" at its start or end."""
    match = _BYLINE.search(text[-300:]) or _BYLINE.search(text[:200])
    return match.group(1) if match else None


def _not_an_article(title: str | None, text: str) -> bool:
    """Too short to be an article, or a short page saying it is an error (a "soft 404")."""
    if len(text) >= _ERROR_PAGE_MAX:
        return False
    return len(text) < _MIN_TEXT or bool(_ERROR_PAGE.search(f"{title or ''}\n{text}"))


def _language(hint: str | None, tree: HtmlElement, text: str) -> str | None:
    """ISO 639-1: the source's hint, else Hangul text, else <html lang>, else English words."""
    if hint and hint.strip():
        return _language_code(hint)
    sample = text[:3000]
    letters = sum(ch.isalpha() for ch in sample)
    if letters and len(_HANGUL.findall(sample)) >= 0.3 * letters:
        return "ko"
    declared = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or ""
    if declared.strip():
        return _language_code(declared)
    words = len(sample.split())
    if words >= 20 and len(_ENGLISH_WORDS.findall(sample)) >= 0.08 * words:
        return "en"
    return None


def _language_code(tag: str) -> str:
    """The ISO 639-1 part of a language tag: "ko-KR", "ko_KR" and "KO" are all "ko"."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


def _published(
    tree: HtmlElement,
    html: str,
    linked: list[Any],
    flight: FlightArticle | None,
    date_only: str | None,
    zone: tzinfo | None,
) -> datetime | None:
    """The first candidate with a time of day, else the first date; trafilatura's day last."""
    first_date = None
    for value in _date_candidates(tree, html, linked, flight):
        parsed = parse_date(value, zone)
        if parsed is None:
            continue
        if _HAS_TIME.search(value):
            return parsed
        first_date = first_date or parsed
    return first_date or parse_date(date_only, zone)


def _date_candidates(
    tree: HtmlElement, html: str, linked: list[Any], flight: FlightArticle | None
) -> Iterator[str]:
    """Publication dates the page states, most authoritative first: meta tags, microdata, JSON-LD,
    flight data, then "입력 ..." lines in the HTML."""
    metas: dict[str, str] = {}
    for meta in tree.iterfind(".//meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key and meta.get("content"):
            metas.setdefault(key, meta.get("content", ""))
    yield from (metas[key] for key in _META_DATE_KEYS if key in metas)
    for element in _DATE_PUBLISHED(tree):
        yield element.get("content") or element.get("datetime") or element.text_content()[:100]
    yield from (v for item in linked if isinstance(v := item.get("datePublished"), str))
    yield from flight.dates if flight else ()
    labelled = (match.group(1) for match in _LABELLED_DATE.finditer(html))
    yield from (value for value in labelled if _HAS_TIME.search(value))


def _canonical_url(tree: HtmlElement, url: str) -> str | None:
    """<link rel=canonical>, else og:url, made absolute against the page URL."""
    for xpath in _CANONICAL:
        for href in xpath(tree):
            absolute = urljoin(url, href.strip())
            if absolute.startswith(("http://", "https://")):
                return absolute
    return None

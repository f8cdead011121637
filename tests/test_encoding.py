"""pipelines/extraction/encoding.py: Korean pages whose declarations lie, and bytes that are junk."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from pipelines.extraction.encoding import decode_html

PAGES = Path(__file__).parent / "pages"
# 똠 and 햏 exist in CP949 but not in EUC-KR proper: a page that uses them only decodes as CP949.
TEXT = "과학기술정보통신부는 28일 글로벌 AI 프론티어랩을 구축한다고 밝혔다. 똠방각하 햏자 “인용”"


def _page(charset_meta: str | None = None, text: str = TEXT) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    return f"<html><head>{meta}<title>뉴스</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize(
    ("encoding", "content_type", "meta"),
    [
        # Header and meta agree.
        ("cp949", "text/html; charset=euc-kr", "euc-kr"),
        ("utf-8", "text/html; charset=utf-8", "utf-8"),
        # Header says UTF-8, the page (and its meta) are CP949: a server migrated, pages not.
        ("cp949", "text/html; charset=utf-8", "euc-kr"),
        ("cp949", "text/html; charset=UTF-8", None),
        # Server default header "ISO-8859-1" decodes anything; the page's meta must win.
        ("cp949", "text/html; charset=ISO-8859-1", "euc-kr"),
        # Header says EUC-KR but the body is valid UTF-8: UTF-8 wins.
        ("utf-8", "text/html; charset=euc-kr", "euc-kr"),
        ("utf-8", "text/html; charset=ks_c_5601-1987", None),
        # Labels for CP949 that Python does not know by itself.
        ("cp949", "text/html; charset=x-windows-949", None),
        ("cp949", "text/html; charset=ks_c_5601-1987", None),
        ("cp949", None, "x-windows-949"),
        # Only the meta tag, or nothing at all.
        ("cp949", None, "euc-kr"),
        ("cp949", None, None),
        ("utf-8", None, None),
    ],
)
def test_korean_page_decodes(encoding: str, content_type: str | None, meta: str | None) -> None:
    html = _page(meta, TEXT * 3)  # detection needs a few sentences when nothing is declared
    assert decode_html(html.encode(encoding), content_type) == html


def test_euc_kr_fixture_with_lying_header() -> None:
    """The recorded EUC-KR page is served with "charset=utf-8" (see tests/pages/meta.json)."""
    body = (PAGES / "euckr-daily" / "k-cloud-npu_2024_05_27.html").read_bytes()
    text = decode_html(body, "text/html; charset=utf-8")
    assert "국산 AI 반도체로 데이터센터 채운다" in text
    assert "\ufffd" not in text


def test_euc_kr_fixture_without_any_declaration() -> None:
    body = (PAGES / "euckr-daily" / "k-cloud-npu_2024_05_27.html").read_bytes()
    body = body.replace(b'<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">', b"")
    assert b"charset" not in body
    text = decode_html(body)
    assert "정부가 2030년까지 국내 데이터센터 시장에서" in text


def test_western_single_byte_page() -> None:
    html = '<html><head><meta charset="windows-1252"></head><body><p>Café déjà vu – “quoted”</p>'
    assert decode_html(html.encode("cp1252")) == html
    assert decode_html(html.encode("cp1252"), "text/html; charset=iso-8859-1") == html


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_byte_order_mark_wins(bom: bytes, encoding: str) -> None:
    html = _page("euc-kr")
    assert decode_html(bom + html.encode(encoding), "text/html; charset=euc-kr") == html


def test_utf16_declared_in_header_without_bom() -> None:
    html = _page()
    assert decode_html(html.encode("utf-16-le"), "text/html; charset=utf-16le") == html


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00" * 100,
        bytes(random.Random(7).randrange(256) for _ in range(5000)),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "한국어 텍스트".encode("cp949")[:-1],  # cut in the middle of a character
    ],
    ids=["empty", "nul", "random", "png", "truncated"],
)
def test_junk_never_raises(body: bytes) -> None:
    assert isinstance(decode_html(body, "text/html; charset=euc-kr"), str)
    assert isinstance(decode_html(body, "text/html; charset=no-such-charset"), str)
    assert isinstance(decode_html(body), str)


def test_mostly_cp949_with_a_broken_byte_keeps_the_declared_charset() -> None:
    html = _page("euc-kr", TEXT * 3)
    body = html.encode("cp949").replace("밝혔다".encode("cp949"), b"\xff\xff", 1)
    text = decode_html(body, "text/html; charset=euc-kr")
    assert "글로벌 AI 프론티어랩" in text

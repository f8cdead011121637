"""The old-style newspaper "한결일보" (/euckr/): table layout, paginated listing, EUC-KR bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.portal.sitegen.common import BASE, Page, encode_legacy, esc, http_date, load_data

LISTING_LAST_MODIFIED = "2024-05-28T15:30:00+09:00"

_META = {
    "http-equiv": '<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">',
    "http-equiv-ks": '<meta http-equiv="Content-Type" content="text/html; charset=ks_c_5601-1987">',
    "charset": '<meta charset="euc-kr">',
}

_STYLE = """
body,td,th,p,div,input,select{font-family:'굴림',Gulim,'돋움',Dotum,sans-serif;font-size:12px;
color:#333}a:link,a:visited{color:#333;text-decoration:none}a:hover{text-decoration:underline}
.menu a{color:#fff;font-weight:bold;padding:0 9px}.title_big{font-size:22px;font-weight:bold;
color:#000;line-height:30px}.article_txt{font-size:14px;line-height:24px;color:#222}
.date{font-size:11px;color:#888}.rank a{color:#444}.box_title{font-weight:bold;color:#0b3c7a}
.headline{font-size:14px;font-weight:bold;color:#0b3c7a}.summary{color:#666;line-height:18px}
.paging a,.paging b{padding:0 4px}.copy{color:#999;font-size:11px;line-height:18px}
"""

_SCRIPT = """
<script type="text/javascript" src="/euckr/js/common.js"></script>
<script type="text/javascript">
<!--
function fontPlus(){ var o=document.getElementById('articleBody'); if(o){ o.style.fontSize='16px'; } }
function fontMinus(){ var o=document.getElementById('articleBody'); if(o){ o.style.fontSize='12px'; } }
function printArticle(no){ window.open('/euckr/print.php?no='+no,'print','width=680,height=700'); }
function mailArticle(no){ window.open('/euckr/mail.php?no='+no,'mail','width=480,height=520'); }
var rollIdx = 0, rollTimer = null;
function rollNews(){
  var items = document.getElementById('roll_news');
  if(!items){ return; }
  var rows = items.getElementsByTagName('li');
  for(var i=0;i<rows.length;i++){ rows[i].style.display = (i==rollIdx) ? 'block' : 'none'; }
  rollIdx = (rollIdx + 1) % rows.length;
  rollTimer = setTimeout(rollNews, 3000);
}
function showSub(code){
  var subs = document.getElementsByTagName('div');
  for(var i=0;i<subs.length;i++){
    if(subs[i].className=='submenu'){ subs[i].style.display = (subs[i].id=='sub_'+code) ? 'block' : 'none'; }
  }
}
function goFamily(sel){ if(sel.value){ window.open(sel.value); } }
function setCookie(name, value, days){
  var d = new Date(); d.setTime(d.getTime() + days*24*60*60*1000);
  document.cookie = name + '=' + escape(value) + '; path=/; expires=' + d.toGMTString();
}
function closePop(id){ document.getElementById(id).style.display='none'; setCookie(id,'done',1); }
window.onload = function(){ rollNews(); };
//-->
</script>
"""


def _top(site: dict[str, Any], title: str, meta: str) -> str:
    menu = "".join(
        f'<a href="/euckr/list?sec={code}" onmouseover="showSub(\'{code}\')">{esc(label)}</a>'
        for label, code in site["menu"]
    )
    submenus = "\n".join(
        f'<div class="submenu" id="sub_{code}" style="display:none">'
        + " | ".join(
            f'<a href="/euckr/list?sec={code}&amp;sub={n}">{esc(label)}</a>'
            for n, label in enumerate(labels, 1)
        )
        + "</div>"
        for code, labels in site["submenu"]
    )
    roll = "".join(
        f'<li><a href="/euckr/view.php?no={2800 + n}">{esc(t)}</a></li>'
        for n, t in enumerate(site["section_news"], 1)
    )
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html>
<head>
{meta}
<title>{esc(title)}</title>
<style type="text/css">{_STYLE}</style>
{_SCRIPT}
</head>
<body leftmargin="0" topmargin="0" marginwidth="0" marginheight="0" bgcolor="#FFFFFF">
<table width="980" border="0" cellspacing="0" cellpadding="0" align="center">
<tr>
  <td height="24" class="date">{esc(site["today"])} | <a href="/euckr/member/login.php">로그인</a>
  | <a href="/euckr/member/join.php">회원가입</a> | <a href="/euckr/rss.php">RSS</a></td>
  <td align="right" class="date"><a href="/euckr/subscribe.php">신문구독</a>
  | <a href="/euckr/ad.php">광고안내</a> | <a href="/euckr/sitemap.php">사이트맵</a></td>
</tr>
<tr>
  <td height="80"><a href="/euckr/"><img src="/euckr/img/logo.gif" width="260" height="60"
    border="0" alt="{esc(site["name"])}"></a></td>
  <td align="right"><form name="search" action="/euckr/search.php" method="get">
    <input type="text" name="kwd" size="20"> <input type="image" src="/euckr/img/btn_search.gif"
    alt="검색"></form></td>
</tr>
<tr>
  <td colspan="2" height="32" bgcolor="#0B3C7A" class="menu">{menu}</td>
</tr>
<tr>
  <td colspan="2" height="26" bgcolor="#EEF2F8">
{submenus}
  </td>
</tr>
<tr>
  <td colspan="2" height="26"><b style="color:#C00">속보</b>
    <ul id="roll_news" style="display:inline;margin:0;padding:0;list-style:none">{roll}</ul></td>
</tr>
</table>
"""


def _sidebar(site: dict[str, Any]) -> str:
    ranks = "\n".join(
        f'<tr><td height="22" class="rank"><b>{n}</b> '
        f'<a class="rank" href="/euckr/view.php?no={2900 + n}">{esc(t)}</a></td></tr>'
        for n, t in enumerate(site["most_read"], 1)
    )
    cells = [
        f'<td align="center" width="33%"><a class="photo" href="/euckr/photo.php?no={50 + n}">'
        f'<img src="/euckr/photo/{50 + n}_s.jpg" width="90" height="60" border="0"><br>{esc(t)}'
        "</a></td>"
        for n, t in enumerate(site["photo_news"], 1)
    ]
    photos = ["\n".join(cells[:3]), "\n".join(cells[3:6])]
    sections = "\n".join(
        f'<tr><td height="22">· <a class="rank" href="/euckr/view.php?no={2800 + n}">{esc(t)}</a>'
        "</td></tr>"
        for n, t in enumerate(site["section_news"], 1)
    )
    opinion = "\n".join(
        f'<tr><td height="22">· <a class="rank" href="/euckr/opinion.php?no={700 + n}">{esc(t)}</a>'
        "</td></tr>"
        for n, t in enumerate(site["opinion"], 1)
    )
    regional = "\n".join(
        f'<tr><td height="22">[{esc(area)}] <a class="rank" href="/euckr/local.php?no={600 + n}">'
        f"{esc(t)}</a></td></tr>"
        for n, (area, t) in enumerate(site["regional"], 1)
    )
    return f"""<td width="260" valign="top" style="padding-left:20px">
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td height="28" class="box_title">많이 본 기사</td></tr>
{ranks}
</table>
<br>
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td height="28" class="box_title">섹션별 주요뉴스</td></tr>
{sections}
</table>
<br>
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td height="28" class="box_title">오피니언</td></tr>
{opinion}
</table>
<br>
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td height="28" class="box_title">전국 소식</td></tr>
{regional}
</table>
<br>
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td colspan="3" height="28" class="box_title">포토뉴스</td></tr>
<tr>{photos[0]}</tr>
<tr>{photos[1]}</tr>
</table>
<br>
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td align="center"><a href="/euckr/ad/click.php?id=77" target="_blank"><img
  src="/euckr/ad/banner_250x250.gif" width="250" height="250" border="0" alt="광고"></a></td></tr>
</table>
</td>"""


def _bottom(site: dict[str, Any]) -> str:
    family = "".join(
        f'<option value="/euckr/family.php?site={n}">{esc(name)}</option>'
        for n, name in enumerate(site["family_sites"], 1)
    )
    return f"""<div id="pop_notice" style="position:absolute;left:120px;top:160px;width:320px;
  border:2px solid #0B3C7A;background:#FFF;display:none">
  <div class="box_title" style="padding:8px">[공지] 홈페이지 개편 안내</div>
  <div style="padding:8px">{esc(site["name"])} 홈페이지가 6월 1일 새 단장합니다. 기존 즐겨찾기 주소는
  그대로 이용하실 수 있습니다.</div>
  <div align="right" style="padding:4px"><a href="javascript:closePop('pop_notice')">
  오늘 하루 열지 않기 [닫기]</a></div>
</div>
<table width="980" border="0" cellspacing="0" cellpadding="0" align="center">
<tr><td align="right" height="30"><select name="family" onchange="goFamily(this)">
  <option value="">패밀리 사이트</option>{family}</select></td></tr>
</table>
<table width="980" border="0" cellspacing="0" cellpadding="0" align="center">
<tr><td height="1" bgcolor="#CCCCCC"></td></tr>
<tr><td height="70" class="copy" align="center">
  <a href="/euckr/company.php">회사소개</a> | <a href="/euckr/policy.php">개인정보취급방침</a>
  | <a href="/euckr/youth.php">청소년보호정책</a> | <a href="/euckr/copyright.php">저작권규약</a><br>
  {esc(site["name"])} | 서울특별시 종로구 한결로 22 | 등록번호 서울 가-00000 | 발행인·편집인 윤태호<br>
  Copyright ⓒ {esc(site["name"])} All rights reserved. 무단전재 및 재배포 금지
</td></tr>
</table>
</body>
</html>
"""


def _print_date(published: str) -> str:
    dt = datetime.strptime(published, "%Y.%m.%d %H:%M")
    return f"{dt.year}년 {dt.month}월 {dt.day}일"


def _body(art: dict[str, Any]) -> str:
    paragraphs = [esc(p) for p in art["paragraphs"]]
    if art["body_style"] == "br":
        return "<br><br>\n".join(paragraphs)
    return "\n".join(f"<p>{p}</p>" for p in paragraphs)


_AD_SCRIPT = """<script type="text/javascript">
<!--
var ad_zone = 'hangyeol_article_bottom', ad_w = 640, ad_h = 120;
var ad_ord = Math.floor(Math.random() * 10000000000);
var ad_kw = (document.title || '').substring(0, 30);
document.write('<iframe src="/euckr/ad/serve.php?zone=' + ad_zone + '&amp;ord=' + ad_ord
  + '&amp;kw=' + escape(ad_kw) + '" width="' + ad_w + '" height="' + ad_h
  + '" frameborder="0" scrolling="no" marginwidth="0" marginheight="0"></iframe>');
function adClick(id){ var i = new Image(); i.src = '/euckr/ad/click.php?id=' + id + '&t=' + ad_ord; }
//-->
</script>
<noscript><a href="/euckr/ad/click.php?id=77"><img src="/euckr/ad/banner_640x120.gif"
  width="640" height="120" border="0" alt="광고"></a></noscript>"""


def _headlines_box(others: list[dict[str, Any]]) -> str:
    rows = "\n".join(
        f'''<tr><td style="padding:6px 0;border-bottom:1px dotted #CCC">
  <a class="rank" href="/euckr/view.php?no={o["no"]}"><b>{esc(o["title"])}</b></a><br>
  <span class="summary">{esc(o["summary"])}</span></td></tr>'''
        for o in others
    )
    return f'''<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td height="28" class="box_title" style="border-bottom:2px solid #0B3C7A">이 시각 주요뉴스</td></tr>
{rows}
</table>'''


def article_page(site: dict[str, Any], art: dict[str, Any],
                 others: list[dict[str, Any]] | None = None) -> str:
    no = art["no"]
    return _top(site, f"{art['title']} - {site['name']}", _META[art["meta"]]) + f"""
<table width="980" border="0" cellspacing="0" cellpadding="0" align="center">
<tr>
<td width="700" valign="top" style="padding-top:15px">
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td class="date"><a href="/euckr/">홈</a> &gt; <a href="/euckr/list">{esc(art["section"])}</a></td></tr>
<tr><td class="title_big" style="padding:10px 0 6px 0">{esc(art["title"])}</td></tr>
<tr><td class="date" style="padding-bottom:8px;border-bottom:1px solid #DDDDDD">
  {esc(art["reporter"])} | 입력 {art["published"]} | 수정 {art["modified"]}
  <span style="float:right"><a href="javascript:fontPlus()">[크게]</a>
  <a href="javascript:fontMinus()">[작게]</a> <a href="javascript:printArticle({no})">[인쇄]</a>
  <a href="javascript:mailArticle({no})">[메일]</a></span></td></tr>
<tr><td style="padding:20px 0">
<div id="articleBody" class="article_txt">
{_body(art)}
</div>
<br>
<div class="article_txt">{esc(art["reporter"])} {esc(art["reporter_email"])}</div>
<div class="date">[{esc(site["name"])} {_print_date(art["published"])}자]</div>
<div class="date">&lt;저작권자 ⓒ {esc(site["name"])}, 무단전재 및 재배포 금지&gt;</div>
</td></tr>
<tr><td align="center" style="padding:10px 0">{_AD_SCRIPT}</td></tr>
<tr><td style="padding:10px 0">{_headlines_box(others or [])}</td></tr>
<tr><td style="padding:10px;background:#F5F5F5" class="box_title">이 기사와 관련된 기사
  <ul>
    <li><a class="rank" href="/euckr/view.php?no=2871">관련기사 모아보기</a></li>
    <li><a class="rank" href="/euckr/view.php?no=2865">지난 기사 검색</a></li>
  </ul>
</td></tr>
</table>
</td>
{_sidebar(site)}
</tr>
</table>
""" + _bottom(site)


def listing_page(site: dict[str, Any], articles: dict[str, dict[str, Any]], number: int,
                 total: int, entries: list[str], listing: dict[str, Any]) -> str:
    rows = []
    for key in entries:
        if key == "offsite":
            href, title, summary, date = (
                listing["offsite_url"], listing["offsite_title"], "제휴 매체 기사입니다.", "2024.05.28"
            )
        else:
            art = articles[key]
            # Absolute links on page 1, relative on page 2, root-relative on page 3: all three
            # shapes occur on real listings and must resolve against the page URL.
            href = {
                1: f"{BASE}/euckr/view.php?no={key}",
                2: f"view.php?no={key}",
            }.get(number, f"/euckr/view.php?no={key}")
            title, summary, date = art["title"], art["summary"], art["published"][:10]
        rows.append(f"""<tr>
  <td height="64" style="border-bottom:1px dotted #CCCCCC">
    <a class="headline" href="{href}">{esc(title)}</a><br>
    <span class="summary">{esc(summary)}</span>
  </td>
  <td width="90" align="center" class="date" style="border-bottom:1px dotted #CCCCCC">{date}</td>
</tr>""")
    numbers = " ".join(
        f"<b>[{n}]</b>" if n == number else f'<a href="list?page={n}">[{n}]</a>'
        for n in range(1, total + 1)
    )
    prev_link = f'<a class="prev" href="list?page={number - 1}">◀ 이전</a> ' if number > 1 else ""
    next_link = f' <a class="next" href="list?page={number + 1}">다음 ▶</a>' if number < total else ""
    return _top(site, f"최신기사 - {site['name']}", _META["http-equiv"]) + f"""
<table width="980" border="0" cellspacing="0" cellpadding="0" align="center">
<tr>
<td width="700" valign="top" style="padding-top:15px">
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td colspan="2" class="title_big" style="border-bottom:2px solid #0B3C7A">최신기사</td></tr>
{chr(10).join(rows)}
<tr><td colspan="2" height="40" align="center" class="paging">{prev_link}{numbers}{next_link}</td></tr>
</table>
</td>
{_sidebar(site)}
</tr>
</table>
""" + _bottom(site)


def build() -> list[Page]:
    data = load_data("euckr")
    site, listing = data["site"], data["listing"]
    articles = {a["no"]: a for a in data["articles"]}
    pages: list[Page] = []

    def others(art: dict[str, Any]) -> list[dict[str, Any]]:
        return [a for a in data["articles"] if a["no"] != art["no"]]

    for art in data["articles"]:
        pages.append(Page(
            url=f"/euckr/view.php?no={art['no']}", kind="article", content_type=art["header"],
            file=f"euckr/view-{art['no']}.html",
            body=encode_legacy(article_page(site, art, others(art)), "euc_kr"),
            ignore_query=False,
            note=f"EUC-KR body, header {art['header']!r}, meta {art['meta']}: {art['title']}",
        ))
    total = len(listing["pages"])
    for number, entries in enumerate(listing["pages"], 1):
        body = encode_legacy(listing_page(site, articles, number, total, entries, listing), "euc_kr")
        urls = [f"/euckr/list?page={number}"] + (["/euckr/list"] if number == 1 else [])
        for url in urls:
            pages.append(Page(
                url=url, kind="listing", content_type="text/html; charset=euc-kr",
                file=f"euckr/list-{number}.html", body=body, ignore_query=False,
                last_modified=http_date(LISTING_LAST_MODIFIED),
                note=f"listing page {number} of {total}: a.headline links, a.next pagination",
            ))
    return pages

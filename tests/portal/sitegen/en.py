"""The English site "The Northbridge Ledger" (/en/): Atom feed with utm links, canonical pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.portal.sitegen.common import (
    ATOM,
    BASE,
    HTML_UTF8,
    Page,
    esc,
    http_date,
    json_script,
    load_data,
    utf8,
)

FEED_LAST_MODIFIED = "2024-05-28T08:10:00+00:00"
FEED_UTM = "?utm_source=rss&utm_medium=feed"
MOSTREAD_UTM = "?utm_source=mostread&utm_medium=web"

_CSS = """
:root{--ink:#121212;--muted:#6b6b6b;--rule:#dcdcdc;--brand:#0a3d62;--accent:#c0392b}
*{box-sizing:border-box}body{margin:0;font:17px/1.6 Georgia,'Times New Roman',serif;
color:var(--ink)}a{color:var(--brand)}.site-header{border-bottom:1px solid var(--rule)}
.masthead{max-width:1180px;margin:0 auto;padding:18px 20px;display:flex;align-items:center;
justify-content:space-between}.masthead .logo{font:700 30px/1 'Playfair Display',serif;
color:var(--ink);text-decoration:none}.primary-nav ul{display:flex;gap:18px;list-style:none;
margin:0;padding:10px 20px;max-width:1180px;margin:0 auto;font:600 14px/1 Arial,sans-serif}
.ticker{background:var(--accent);color:#fff;font:600 14px/1.4 Arial,sans-serif;padding:8px 20px}
.layout{max-width:1180px;margin:0 auto;padding:24px 20px;display:grid;
grid-template-columns:minmax(0,1fr) 300px;gap:40px}.article-header h1{font-size:40px;
line-height:1.15;margin:8px 0 12px}.standfirst{font-size:21px;color:#333;margin:0 0 16px}
.byline{font:14px/1.4 Arial,sans-serif;color:var(--muted)}.byline a{font-weight:700}
figure{margin:24px 0}figcaption{font:13px/1.4 Arial,sans-serif;color:var(--muted)}
.article-body p{margin:0 0 22px}.newsletter{border:1px solid var(--rule);padding:20px;
margin:28px 0;background:#f7f9fb;font-family:Arial,sans-serif}.newsletter input{padding:8px;
width:60%}.related ul,.most-read ol{padding-left:18px;font:15px/1.4 Arial,sans-serif}
.most-read li{margin-bottom:12px}.cookie-banner{position:fixed;bottom:0;left:0;right:0;
background:#1e272e;color:#fff;padding:16px 20px;font:14px/1.5 Arial,sans-serif;z-index:100}
.cookie-banner button{margin-left:10px;padding:8px 14px}.site-footer{background:#f2f2f2;
padding:32px 20px;font:13px/1.6 Arial,sans-serif;color:var(--muted)}
.share-tools button{border:1px solid var(--rule);background:#fff;padding:6px 10px}
@media (max-width:900px){.layout{grid-template-columns:1fr}.article-header h1{font-size:30px}}
"""

_ANALYTICS = """
window.__ledger = window.__ledger || {};
window.__ledger.consent = (document.cookie.match(/ledger_consent=([^;]+)/) || [])[1] || 'unset';
(function(){
  if (window.__ledger.consent !== 'all') { return; }
  var s = document.createElement('script'); s.async = true;
  s.src = 'https://analytics.ledger-metrics.example/collect.js?site=nbl';
  document.head.appendChild(s);
})();
document.addEventListener('DOMContentLoaded', function(){
  var banner = document.getElementById('cookie-consent');
  if (banner && window.__ledger.consent !== 'unset') { banner.hidden = true; }
  document.querySelectorAll('[data-consent]').forEach(function(btn){
    btn.addEventListener('click', function(){
      document.cookie = 'ledger_consent=' + btn.dataset.consent + ';path=/;max-age=31536000';
      banner.hidden = true;
    });
  });
});
"""

_CONSENT = """
window.__tcfapiConfig = {
  "vendorListVersion": 212, "cmpId": 31, "cmpVersion": 4, "gdprApplies": true,
  "purposes": {"1": "Store and/or access information on a device",
    "2": "Use limited data to select advertising", "3": "Create profiles for personalised advertising",
    "4": "Use profiles to select personalised advertising", "7": "Measure advertising performance",
    "8": "Measure content performance", "9": "Understand audiences through statistics",
    "10": "Develop and improve services"},
  "vendors": {"google": 755, "xandr": 32, "magnite": 52, "pubmatic": 76, "criteo": 91,
    "index-exchange": 10, "ozone": 524, "permutive": 361, "comscore": 77, "chartbeat": 2}
};
window.__ledgerAds = {
  "network": "/59666047/theledger", "refresh": false, "lazyLoad": {"fetchMarginPercent": 150},
  "slots": [
    {"id": "ad-top-above-nav", "sizes": [[970, 250], [728, 90]], "targeting": {"pos": "top"}},
    {"id": "ad-inline-1", "sizes": [[300, 250], [620, 350]], "targeting": {"pos": "inline1"}},
    {"id": "ad-right-rail", "sizes": [[300, 600], [300, 250]], "targeting": {"pos": "right"}},
    {"id": "ad-merchandising", "sizes": [[970, 250], [88, 70]], "targeting": {"pos": "merch"}}
  ]
};
"""


def _nav(site: dict[str, Any]) -> str:
    items = []
    for section, subs in site["subsections"]:
        slug = section.lower()
        sub_links = "".join(
            f'<li><a href="{BASE}/en/section/{slug}/{sub.lower().replace(" ", "-")}">{esc(sub)}</a></li>'
            for sub in subs
        )
        items.append(
            f'<li class="nav-item"><a href="{BASE}/en/section/{slug}">{esc(section)}</a>'
            f'<ul class="mega" hidden>{sub_links}</ul></li>'
        )
    return (
        '<nav class="primary-nav" aria-label="Sections"><ul>\n  '
        + "\n  ".join(items)
        + "\n</ul></nav>"
    )


def _most_read(site: dict[str, Any]) -> str:
    items = []
    for n, (slug, title) in enumerate(site["most_read"], 1):
        href = f"{BASE}/en/article/{slug}{MOSTREAD_UTM}" if slug else f"{BASE}/en/features/{n}"
        items.append(f'<li><a href="{href}">{esc(title)}</a></li>')
    return (
        '<section class="most-read" aria-labelledby="most-read-title">\n'
        '  <h2 id="most-read-title">Most read</h2>\n  <ol>\n    '
        + "\n    ".join(items)
        + "\n  </ol>\n</section>"
    )


def _chrome_top(site: dict[str, Any], title: str, head_extra: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
{head_extra}
<link rel="alternate" type="application/atom+xml" title="{esc(site["name"])}" href="{BASE}/en/atom.xml">
<link rel="stylesheet" href="{BASE}/static/ledger/main.4f2a91.css">
<style>{_CSS}</style>
<script>{_ANALYTICS}</script>
</head>
<body>
<div class="cookie-banner" id="cookie-consent" role="dialog" aria-label="Cookie consent">
  <p>We use cookies and similar technologies to run this site, measure our audience and show
  you relevant advertising. You can accept all cookies or manage your preferences at any time
  in our <a href="{BASE}/en/help/cookies">cookie policy</a>.</p>
  <button type="button" data-consent="all">Accept all</button>
  <button type="button" data-consent="essential">Essential only</button>
  <a href="{BASE}/en/help/privacy-settings">Manage preferences</a>
</div>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
  <div class="masthead">
    <a class="logo" href="{BASE}/en/">{esc(site["name"])}</a>
    <div class="account"><a href="{BASE}/en/subscribe">Subscribe</a> ·
      <a href="{BASE}/en/signin">Sign in</a> ·
      <form action="{BASE}/en/search" role="search" style="display:inline">
        <input type="search" name="q" aria-label="Search" placeholder="Search"></form></div>
  </div>
  {_nav(site)}
  <div class="ticker"><a href="{BASE}/en/live/markets" style="color:#fff">{esc(site["ticker"])}</a></div>
</header>
"""


def _footer(site: dict[str, Any]) -> str:
    columns = []
    for title, labels in site["footer"]:
        links = "".join(
            f'<li><a href="{BASE}/en/{label.lower().replace(" ", "-").replace("&", "and")}">'
            f"{esc(label)}</a></li>"
            for label in labels
        )
        columns.append(f'  <div class="footer-col"><h3>{esc(title)}</h3><ul>{links}</ul></div>')
    return f"""<footer class="site-footer">
{chr(10).join(columns)}
  <nav aria-label="Footer"><a href="{BASE}/en/about">About us</a> ·
    <a href="{BASE}/en/contact">Contact</a> · <a href="{BASE}/en/help/terms">Terms of use</a> ·
    <a href="{BASE}/en/help/privacy">Privacy policy</a> · <a href="{BASE}/en/help/cookies">Cookies</a> ·
    <a href="{BASE}/en/advertise">Advertise with us</a> · <a href="{BASE}/en/atom.xml">RSS</a></nav>
  <p>© 2024 {esc(site["name"])} Ltd. Registered in England and Wales No. 00000000.
  All rights reserved. Independent journalism since 1911.</p>
</footer>
<script>{_CONSENT}</script>
<script src="{BASE}/static/ledger/app.9c1d7e.js" defer></script>
</body>
</html>
"""


def _more_stories(site: dict[str, Any]) -> str:
    items = "\n".join(
        f'''  <li class="teaser"><a href="{BASE}/en/story/{n}"><h3>{esc(title)}</h3></a>
    <p>{esc(standfirst)}</p></li>'''
        for n, (title, standfirst) in enumerate(site["more_stories"], 4401)
    )
    return (
        '<section class="more-stories" aria-labelledby="more-title">\n'
        f'<h2 id="more-title">More from {esc(site["name"])}</h2>\n<ul>\n{items}\n</ul>\n</section>'
    )


def _comments(site: dict[str, Any], url: str) -> str:
    items = "\n".join(
        f'''  <li class="comment"><span class="user">{esc(user)}</span>
    <p>{esc(text)}</p><span class="recommends">{votes} recommends</span>
    <button type="button">Reply</button> <button type="button">Report</button></li>'''
        for user, text, votes in site["comments"]
    )
    return f'''<section class="comments" id="comments" aria-labelledby="comments-title">
<h2 id="comments-title">Top comments</h2>
<ol>
{items}
</ol>
<p><a href="{url}#comments-all">View all 37 comments</a> ·
  <a href="{BASE}/en/help/community-standards">Community standards</a></p>
</section>'''


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%a %d %b %Y %H.%M UTC")


def article_page(site: dict[str, Any], art: dict[str, Any], by_slug: dict[str, Any]) -> str:
    clean = f"{BASE}/en/article/{art['slug']}"
    profile = f"{BASE}/en/profile/{art['author'].lower().replace(' ', '-')}"
    jsonld = json_script({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": art["title"],
        "description": art["standfirst"],
        "datePublished": art["published"],
        "dateModified": art["modified"],
        "author": [{"@type": "Person", "name": art["author"]}],
        "publisher": {"@type": "NewsMediaOrganization", "name": site["name"]},
        "mainEntityOfPage": clean,
        "isAccessibleForFree": True,
    })
    head = f"""<meta name="description" content="{esc(art["standfirst"])}">
<link rel="canonical" href="{clean}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(art["title"])}">
<meta property="og:description" content="{esc(art["standfirst"])}">
<meta property="og:url" content="{clean}">
<meta property="og:image" content="{BASE}/static/ledger/img/{art["slug"]}.jpg">
<meta property="article:published_time" content="{art["published"]}">
<meta property="article:modified_time" content="{art["modified"]}">
<meta property="article:section" content="{esc(art["section"])}">
<meta property="article:author" content="{profile}">
<meta name="twitter:card" content="summary_large_image">
<script type="application/ld+json">{jsonld}</script>"""
    paragraphs = [f"<p>{esc(p)}</p>" for p in art["paragraphs"]]
    paragraphs.insert(3, f"""<aside class="newsletter" aria-label="Newsletter sign-up">
  <h2>Sign up to The Morning Briefing</h2>
  <p>Start every weekday with the stories that matter, handpicked by our editors. Free, and
  straight to your inbox.</p>
  <form action="{BASE}/en/newsletters/signup" method="post"><input type="email" name="email"
    placeholder="Your email address" aria-label="Email"><button type="submit">Sign up</button></form>
  <p class="small">Privacy notice: newsletters may contain info about charities, online ads and
  content funded by outside parties.</p>
</aside>""")
    related = "\n".join(
        f'    <li><a href="{BASE}/en/article/{slug}">{esc(by_slug[slug]["title"])}</a></li>'
        for slug in art["related"]
    )
    return _chrome_top(site, f"{art['title']} | {site['name']}", head) + f"""<div class="layout">
<main id="main">
<article class="article">
  <header class="article-header">
    <a class="kicker" href="{BASE}/en/section/{art["section"].lower()}">{esc(art["section"])}</a>
    <h1>{esc(art["title"])}</h1>
    <p class="standfirst">{esc(art["standfirst"])}</p>
    <div class="byline">By <a rel="author" href="{profile}">{esc(art["author"])}</a>,
      {esc(art["author_role"])} ·
      <time datetime="{art["published"]}">{_when(art["published"])}</time></div>
    <div class="share-tools"><button data-share="email">Share via Email</button>
      <button data-share="facebook">Share on Facebook</button>
      <button data-share="x">Share on X</button><button data-share="copy">Copy link</button></div>
  </header>
  <figure>
    <img src="{BASE}/static/ledger/img/{art["slug"]}.jpg" alt="" width="860" height="484">
    <figcaption>{esc(art["image_caption"])}</figcaption>
  </figure>
  <div class="article-body">
    {chr(10).join("    " + p for p in paragraphs).lstrip()}
  </div>
</article>
{_comments(site, clean)}
<section class="related" aria-labelledby="related-title">
  <h2 id="related-title">Related stories</h2>
  <ul>
{related}
  </ul>
</section>
{_more_stories(site)}
</main>
<aside class="rail">
  {_most_read(site)}
  <div class="ad-slot" data-ad-unit="/nbl/article/rail" style="min-height:250px">Advertisement</div>
</aside>
</div>
""" + _footer(site)


def home_page(site: dict[str, Any], articles: list[dict[str, Any]]) -> str:
    items = "\n".join(
        f"""  <li class="teaser"><a class="teaser-link" href="{BASE}/en/article/{a["slug"]}">
    <h3>{esc(a["title"])}</h3></a><p>{esc(a["standfirst"])}</p></li>"""
        for a in articles
    )
    head = f'<link rel="canonical" href="{BASE}/en/">'
    return _chrome_top(site, f"{site['name']} - News, analysis and opinion", head) + f"""
<div class="layout">
<main id="main">
<h1 class="section-title">Latest news</h1>
<ul class="teasers">
{items}
</ul>
</main>
<aside class="rail">
  {_most_read(site)}
</aside>
</div>
""" + _footer(site)


def atom(site: dict[str, Any], articles: list[dict[str, Any]]) -> str:
    def entry(art: dict[str, Any], link: str, entry_id: str) -> str:
        return f"""<entry>
  <title>{esc(art["title"])}</title>
  <link rel="alternate" type="text/html" href="{esc(link)}"/>
  <id>{entry_id}</id>
  <published>{art["published"]}</published>
  <updated>{art["modified"]}</updated>
  <author><name>{esc(art["author"])}</name></author>
  <category term="{esc(art["section"])}"/>
  <summary type="html">{esc(art["standfirst"])}</summary>
</entry>"""

    ordered = sorted(articles, key=lambda a: a["published"], reverse=True)
    entries = [
        entry(a, f"{BASE}/en/article/{a['slug']}{FEED_UTM}", f"tag:ledger.example,2024:{a['slug']}")
        for a in ordered
    ]
    # The CMS re-published the funding story after a correction: same page, second entry with
    # its own id and the clean link. Dedupe must collapse it onto the first entry's article.
    first = next(a for a in articles if a["slug"] == "australia-ai-research-institutes")
    entries.append(entry(first, f"{BASE}/en/article/{first['slug']}",
                         f"tag:ledger.example,2024:{first['slug']}-corrected"))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
<title>{esc(site["name"])}</title>
<subtitle>Latest news from {esc(site["name"])}</subtitle>
<link rel="self" type="application/atom+xml" href="{BASE}/en/atom.xml"/>
<link rel="alternate" type="text/html" href="{BASE}/en/"/>
<id>tag:ledger.example,2024:feed</id>
<updated>{site["feed_updated"]}</updated>
<rights>© 2024 {esc(site["name"])} Ltd</rights>
{chr(10).join(entries)}
</feed>
"""


def build() -> list[Page]:
    data = load_data("en")
    site, articles = {**data["site"], **data["furniture"]}, data["articles"]
    by_slug = {a["slug"]: a for a in articles}
    last_modified = http_date(FEED_LAST_MODIFIED)
    pages = [
        Page(url="/en/atom.xml", kind="feed", content_type=ATOM, file="en/atom.xml",
             body=utf8(atom(site, articles)), last_modified=last_modified,
             note="Atom; entry links carry ?utm_source=rss&utm_medium=feed; one duplicate entry"),
        Page(url="/en/", kind="listing", content_type=HTML_UTF8, file="en/index.html",
             body=utf8(home_page(site, articles)), last_modified=last_modified,
             note="home page: a.teaser-link clean links; Most read box links with utm params"),
    ]
    for art in articles:
        pages.append(Page(
            url=f"/en/article/{art['slug']}", kind="article", content_type=HTML_UTF8,
            file=f"en/article/{art['slug']}.html", body=utf8(article_page(site, art, by_slug)),
            note=f"query string ignored; rel=canonical is the clean URL: {art['title']}",
        ))
    return pages

"""The news wire "Global Wire" (/news/): Google News sitemap index, SSR, Next.js and JSON-LD pages."""

from __future__ import annotations

from typing import Any

from tests.portal.sitegen import common
from tests.portal.sitegen.common import BASE, HTML_UTF8, XML, Page, esc, http_date, json_script, utf8

SITEMAP_LAST_MODIFIED = "2024-05-28T10:30:00+00:00"
BUILD_ID = "gw-2024.05.27-3f9c1a"

_CSS = (
    "body{margin:0;font-family:'Source Sans Pro',Helvetica,Arial,sans-serif;color:#1a1a1a}"
    ".gw-header{background:#111;color:#fff;padding:12px 24px;display:flex;gap:24px}"
    ".gw-header a{color:#fff;text-decoration:none;font-weight:600}"
    ".gw-main{max-width:760px;margin:32px auto;padding:0 20px}"
    ".gw-main h1{font-size:36px;line-height:1.2;margin:0 0 12px}"
    ".gw-byline{color:#666;font-size:14px;margin-bottom:24px}"
    ".gw-body p{font-size:18px;line-height:1.7;margin:0 0 20px}"
    ".gw-paywall{border:2px solid #111;padding:24px;text-align:center;margin:32px 0}"
    ".gw-trending{border-top:3px solid #111;margin-top:40px;padding-top:12px}"
    ".gw-footer{background:#f3f3f3;padding:24px;font-size:13px;color:#666}"
    ".gw-mega{display:none;position:absolute;top:100%;left:0;background:#fff;color:#111;"
    "box-shadow:0 8px 24px rgba(0,0,0,.15);padding:16px 24px;min-width:420px;z-index:40}"
    ".gw-nav-item{position:relative}.gw-nav-item:hover .gw-mega{display:grid;"
    "grid-template-columns:repeat(2,minmax(0,1fr));gap:6px 24px}"
    ".gw-more{border-top:1px solid #ddd;margin-top:32px;padding-top:16px}"
    ".gw-more li{margin-bottom:14px}.gw-more h3{font-size:17px;margin:0 0 4px}"
    ".gw-more p{margin:0;color:#555;font-size:15px;line-height:1.5}"
    ".gw-footer-cols{display:grid;grid-template-columns:repeat(4,1fr);gap:24px}"
    ".gw-footer h4{text-transform:uppercase;letter-spacing:.06em;font-size:12px;color:#111}"
    ".gw-footer ul{list-style:none;margin:0;padding:0}.gw-footer li{margin:0 0 6px}"
    ".gw-share{display:flex;gap:8px;margin:0 0 24px}.gw-share button{border:1px solid #ccc;"
    "background:#fff;border-radius:16px;padding:4px 12px;font-size:13px}"
    ".gw-ad{min-height:250px;background:#f7f7f7;display:flex;align-items:center;"
    "justify-content:center;color:#999;font-size:12px;margin:24px 0}"
    "@media (max-width:760px){.gw-main h1{font-size:28px}.gw-footer-cols{grid-template-columns:1fr 1fr}}"
)

def _atomic_css() -> str:
    """Tailwind-style utility classes, as a Next.js site inlines them in every page."""
    props = {"m": "margin", "p": "padding", "mt": "margin-top", "mb": "margin-bottom",
             "ml": "margin-left", "mr": "margin-right", "pt": "padding-top",
             "pb": "padding-bottom", "pl": "padding-left", "pr": "padding-right",
             "gap": "gap", "w": "width", "h": "height", "min-h": "min-height"}
    rules = [f".{k}-{n}{{{v}:{n * 0.25:g}rem}}" for k, v in props.items() for n in range(13)]
    sizes = {"xs": ".75rem", "sm": ".875rem", "base": "1rem", "lg": "1.125rem", "xl": "1.25rem",
             "2xl": "1.5rem", "3xl": "1.875rem", "4xl": "2.25rem", "5xl": "3rem"}
    rules += [f".text-{k}{{font-size:{v}}}" for k, v in sizes.items()]
    greys = ["f9fafb", "f3f4f6", "e5e7eb", "d1d5db", "9ca3af", "6b7280", "4b5563", "374151",
             "1f2937", "111827"]
    for n, hexv in enumerate(greys):
        weight = 50 if n == 0 else n * 100
        rules += [f".text-gray-{weight}{{color:#{hexv}}}", f".bg-gray-{weight}{{background:#{hexv}}}",
                  f".border-gray-{weight}{{border-color:#{hexv}}}"]
    rules += [".flex{display:flex}", ".grid{display:grid}", ".hidden{display:none}",
              ".items-center{align-items:center}", ".justify-between{justify-content:space-between}",
              ".font-bold{font-weight:700}", ".font-semibold{font-weight:600}",
              ".uppercase{text-transform:uppercase}", ".rounded{border-radius:.25rem}",
              ".shadow{box-shadow:0 1px 3px rgba(0,0,0,.1)}", ".sr-only{position:absolute;width:1px;"
              "height:1px;overflow:hidden;clip:rect(0,0,0,0)}"]
    return "".join(rules)


_INLINE_JS = """
window.__GW_ENV__ = {"region": "global", "edition": "en", "consentRequired": true};
(function(){var d=document,w=window;w.gwq=w.gwq||[];w.gwq.push(['init','gw-web',{
sampleRate:0.25,trackScroll:true,trackReadTime:true}]);var s=d.createElement('script');
s.async=1;s.src='https://metrics.globalwire.example/v3/gw.js';
var f=d.getElementsByTagName('script')[0];f.parentNode.insertBefore(s,f);})();
"""


def _head(art: dict[str, Any], extra: str = "") -> str:
    url = f"{BASE}/news/story/{art['slug']}"
    return f"""<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{esc(art["title"])} | Global Wire</title>
<meta name="description" content="{esc(art["description"])}"/>
<meta name="keywords" content="{esc(art["keywords"])}"/>
<link rel="canonical" href="{url}"/>
<meta property="og:type" content="article"/><meta property="og:title" content="{esc(art["title"])}"/>
<meta property="og:description" content="{esc(art["description"])}"/>
<meta property="og:url" content="{url}"/>
<meta property="article:published_time" content="{art["published"]}"/>
<meta property="article:modified_time" content="{art["modified"]}"/>
<meta property="article:section" content="{esc(art["section"])}"/>
<link rel="preload" href="{BASE}/news/_next/static/css/8e2f1c0a.css" as="style"/>
<link rel="stylesheet" href="{BASE}/news/_next/static/css/8e2f1c0a.css" data-n-g=""/>
<style>{_CSS}</style>
<style data-emotion="gw-atomic">{_atomic_css()}</style>
<noscript data-n-css=""></noscript>
<script defer="" nomodule="" src="{BASE}/news/_next/static/chunks/polyfills-c67a75d1b6f99dc8.js"></script>
<script src="{BASE}/news/_next/static/chunks/webpack-5c7f3b3e0b4b2f3a.js" defer=""></script>
<script src="{BASE}/news/_next/static/chunks/framework-0c7baedefba6b077.js" defer=""></script>
<script src="{BASE}/news/_next/static/chunks/main-8f8a6a1b6f5e4c3d.js" defer=""></script>
<script src="{BASE}/news/_next/static/chunks/pages/story/%5Bslug%5D-2b1e9d4c7a.js" defer=""></script>
<script src="{BASE}/news/_next/static/{BUILD_ID}/_buildManifest.js" defer=""></script>
<script>{_INLINE_JS}</script>
{extra}</head>"""


def _header(f: dict[str, Any]) -> str:
    items = []
    for section, subs in f["nav"]:
        slug = section.lower()
        sub_links = "".join(
            f'<a href="{BASE}/news/section/{slug}/{sub.lower().replace(" ", "-").replace("&", "and")}">'
            f"{esc(sub)}</a>"
            for sub in subs
        )
        items.append(
            f'<div class="gw-nav-item"><a href="{BASE}/news/section/{slug}">{esc(section)}</a>'
            f'<div class="gw-mega">{sub_links}</div></div>'
        )
    return (
        f'<header class="gw-header"><a href="{BASE}/news/">GLOBAL WIRE</a>\n'
        + "\n".join(items)
        + "\n</header>"
    )


def _trending(f: dict[str, Any]) -> str:
    items = "".join(
        f'<li><a href="{BASE}/news/story/trending-{n}">{esc(t)}</a></li>'
        for n, t in enumerate(f["trending"], 1)
    )
    return f'<section class="gw-trending"><h2>Trending on Global Wire</h2><ol>{items}</ol></section>'


def _more(f: dict[str, Any]) -> str:
    items = "\n".join(
        f'<li><a href="{BASE}/news/story/more-{n}"><h3>{esc(title)}</h3></a><p>{esc(summary)}</p></li>'
        for n, (title, summary) in enumerate(f["more"], 1)
    )
    return f'<section class="gw-more"><h2>More from Global Wire</h2><ul>\n{items}\n</ul></section>'


def _footer(f: dict[str, Any]) -> str:
    columns = "\n".join(
        f'<div><h4>{esc(title)}</h4><ul>'
        + "".join(
            f'<li><a href="{BASE}/news/{label.lower().replace(" ", "-")}">{esc(label)}</a></li>'
            for label in labels
        )
        + "</ul></div>"
        for title, labels in f["footer"]
    )
    return (
        f'<footer class="gw-footer"><div class="gw-footer-cols">\n{columns}\n</div>'
        "<p>Global Wire is an independent news agency. All quotes "
        "delayed a minimum of 15 minutes. © 2024 Global Wire. All rights reserved.</p>"
        f'<p><a href="{BASE}/news/about">About</a> · <a href="{BASE}/news/terms">Terms</a> · '
        f'<a href="{BASE}/news/privacy">Privacy</a> · <a href="{BASE}/news/licensing">Licensing</a>'
        "</p></footer>"
    )


def _byline(art: dict[str, Any]) -> str:
    return (
        f'<div class="gw-byline">By {esc(art["author"])} · '
        f'<time datetime="{art["published"]}">{art["published"][:10]}</time></div>'
    )


_SHARE = (
    '<div class="gw-share"><button data-share="x">Post</button>'
    '<button data-share="linkedin">LinkedIn</button><button data-share="email">Email</button>'
    '<button data-share="link">Copy link</button></div>'
)


def _jsonld(art: dict[str, Any], with_body: bool) -> str:
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": art["title"],
        "description": art["description"],
        "datePublished": art["published"],
        "dateModified": art["modified"],
        "author": [{"@type": "Person", "name": art["author"]}],
        "publisher": {"@type": "NewsMediaOrganization", "name": "Global Wire",
                      "logo": {"@type": "ImageObject", "url": f"{BASE}/news/static/logo.png"}},
        "mainEntityOfPage": f"{BASE}/news/story/{art['slug']}",
        "articleSection": art["section"],
        "inLanguage": "en",
    }
    if with_body:
        data["articleBody"] = "\n\n".join(art["paragraphs"])
        data["isAccessibleForFree"] = False
        data["hasPart"] = {"@type": "WebPageElement", "isAccessibleForFree": False,
                           "cssSelector": ".gw-paywall"}
    return f'<script type="application/ld+json">{json_script(data)}</script>\n'


def ssr_page(art: dict[str, Any], f: dict[str, Any]) -> str:
    paragraphs = "\n".join(f"<p>{esc(p)}</p>" for p in art["paragraphs"])
    return _head(art, _jsonld(art, with_body=False)) + f"""<body><div id="__next">{_header(f)}
<main class="gw-main"><article><h1>{esc(art["title"])}</h1>
{_byline(art)}
{_SHARE}
<div class="gw-body">
{paragraphs}
</div></article>
<div class="gw-ad" data-slot="mid">Advertisement · Scroll to continue</div>
{_trending(f)}
{_more(f)}</main>
{_footer(f)}</div>
</body></html>
"""


def jsonld_page(art: dict[str, Any], f: dict[str, Any]) -> str:
    # The visible page is a paywall teaser; only the JSON-LD carries the story.
    return _head(art, _jsonld(art, with_body=True)) + f"""<body><div id="__next">{_header(f)}
<main class="gw-main"><article><h1>{esc(art["title"])}</h1>
{_byline(art)}
<div class="gw-body"><p>{esc(art["teaser"])}</p></div>
<div class="gw-paywall"><h2>Continue reading with a Global Wire subscription</h2>
<p>Get unlimited access to our reporting, analysis and markets data. Cancel anytime.</p>
<a href="{BASE}/news/subscribe">Subscribe for $1 a week</a> <a href="{BASE}/news/signin">Sign in</a>
</div></article>
{_trending(f)}
{_more(f)}</main>
{_footer(f)}</div>
</body></html>
"""


def next_page(art: dict[str, Any], f: dict[str, Any]) -> str:
    # Client-side rendered: the HTML body holds an empty mount point; the story is only in the
    # Next.js page data, so an extractor must read __NEXT_DATA__ (or fall back to the sitemap).
    data = {
        "props": {
            "pageProps": {
                "story": {
                    "id": f"gw-{art['published'][:10]}-{art['slug']}",
                    "slug": art["slug"],
                    "headline": art["title"],
                    "dek": art["description"],
                    "section": {
                        "name": art["section"],
                        "path": f"/news/section/{art['section'].lower()}",
                    },
                    "byline": [{"name": art["author"], "role": "Correspondent"}],
                    "publishedAt": art["published"],
                    "updatedAt": art["modified"],
                    "body": [{"type": "paragraph", "text": p} for p in art["paragraphs"]],
                    "tags": [t.strip() for t in art["keywords"].split(",")],
                    "canonicalUrl": f"{BASE}/news/story/{art['slug']}",
                },
                "navigation": [
                    {"label": section, "href": f"/news/section/{section.lower()}",
                     "children": [{"label": sub} for sub in subs]}
                    for section, subs in f["nav"]
                ],
                "trending": [{"title": t, "href": f"/news/story/trending-{n}"}
                             for n, t in enumerate(f["trending"], 1)],
                "moreStories": [{"title": t, "summary": m, "href": f"/news/story/more-{n}"}
                                for n, (t, m) in enumerate(f["more"], 1)],
                "i18n": {"readMore": "Read more", "share": "Share", "subscribe": "Subscribe",
                         "advertisement": "Advertisement", "signIn": "Sign in",
                         "minuteRead": "{n} minute read", "updated": "Updated {ago}"},
                "latest": [
                    {"id": f"gw-latest-{n:03d}", "title": t,
                     "href": f"/news/story/more-{n}", "summary": m,
                     "image": {"src": f"/news/static/img/latest-{n}.jpg", "width": 640,
                               "height": 360, "alt": ""},
                     "publishedAt": f"2024-05-28T0{n}:00:00+00:00", "readingMinutes": 3 + n}
                    for n, (t, m) in enumerate(f["more"], 1)
                ],
                "ads": {"network": "/2231/globalwire", "slots": ["top", "mid", "rail"],
                        "targeting": {"section": art["section"].lower(), "type": "story",
                                      "keywords": art["keywords"]}},
            },
            "__N_SSP": True,
        },
        "page": "/story/[slug]",
        "query": {"slug": art["slug"]},
        "buildId": BUILD_ID,
        "isFallback": False,
        "gssp": True,
        "scriptLoader": [],
    }
    return _head(art) + f"""<body><div id="__next"></div>
<script id="__NEXT_DATA__" type="application/json">{json_script(data)}</script>
</body></html>
"""


def sitemap_index() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap>
    <loc>{BASE}/news/sitemap-news.xml</loc>
    <lastmod>{SITEMAP_LAST_MODIFIED}</lastmod>
  </sitemap>
</sitemapindex>
"""


def news_sitemap(site: dict[str, Any], articles: list[dict[str, Any]]) -> str:
    urls = "\n".join(f"""  <url>
    <loc>{BASE}/news/story/{a["slug"]}</loc>
    <lastmod>{a["modified"]}</lastmod>
    <news:news>
      <news:publication>
        <news:name>{esc(site["publication"])}</news:name>
        <news:language>{site["language"]}</news:language>
      </news:publication>
      <news:publication_date>{a["published"]}</news:publication_date>
      <news:title>{esc(a["title"])}</news:title>
      <news:keywords>{esc(a["keywords"])}</news:keywords>
    </news:news>
  </url>""" for a in articles)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>
"""


_RENDERERS = {"ssr": ssr_page, "jsonld": jsonld_page, "next": next_page}


def build() -> list[Page]:
    data = common.load_data("news")
    site, articles, furniture = data["site"], data["articles"], data["furniture"]
    last_modified = http_date(SITEMAP_LAST_MODIFIED)
    pages = [
        Page(url="/news/sitemap_index.xml", kind="sitemap", content_type=XML,
             file="news/sitemap_index.xml", body=utf8(sitemap_index()),
             last_modified=last_modified, note="sitemapindex -> /news/sitemap-news.xml"),
        Page(url="/news/sitemap-news.xml", kind="sitemap", content_type=XML,
             file="news/sitemap-news.xml", body=utf8(news_sitemap(site, articles)),
             last_modified=last_modified, note="Google News sitemap, 3 stories"),
    ]
    for art in articles:
        pages.append(Page(
            url=f"/news/story/{art['slug']}", kind="article", content_type=HTML_UTF8,
            file=f"news/story/{art['slug']}.html", body=utf8(_RENDERERS[art["render"]](art, furniture)),
            note=f"render={art['render']}: {art['title']}",
        ))
    return pages

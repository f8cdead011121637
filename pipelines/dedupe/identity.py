"""What makes two articles the same: the canonical URL, and a fingerprint of the normalised text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Parameters that say where a reader came from, never which article: dropped from the identity.
TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs")
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref", "ref_src", "cmpid",
    "ncid", "ocid", "sr_share", "spm", "fromrss",
})
_NON_WORD = re.compile(r"[\W_]+")
# The length of articles.canonical_url and pages.canonical_url: PostgreSQL enforces it (SQLite
# does not), and a unique B-tree entry must stay under about 2,700 bytes anyway.
MAX_IDENTITY = 2000


def canonical_url(url: str) -> str:
    """The URL that identifies an article: tracking parameters and fragments gone, query sorted,
    at most MAX_IDENTITY characters.

    Parameters that carry the article id (`?idxno=123`, `?no=…`) stay; only names known to
    track the reader go, so two sites' URL schemes never collapse into one.
    """
    query = urlsplit(url).query
    tracking = [
        name for name, _ in parse_qsl(query, keep_blank_values=True)
        if name.lower() in TRACKING_PARAMS or name.lower().startswith(TRACKING_PREFIXES)
    ]
    if tracking:
        url = url_query_cleaner(url, tracking, remove=True)
    canonical = canonicalize_url(url)
    parts = urlsplit(canonical)
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    identity = f"{parts.scheme}://{host}{path}" + (f"?{parts.query}" if parts.query else "")
    if len(identity) > MAX_IDENTITY:
        # A page may declare any canonical URL, and percent-encoding makes a Korean slug nine
        # times longer. Past the column, the identity is a prefix and a digest of the whole:
        # still one per URL, and, with the fragment mark no canonical URL has, no other URL's.
        digest = hashlib.sha256(identity.encode()).hexdigest()
        identity = f"{identity[: MAX_IDENTITY - len(digest) - 1]}#{digest}"
    return identity


def normalise_text(text: str) -> str:
    """Text reduced to its words, so whitespace, quotes and case do not make it "new"."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def fingerprint(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def usable_canonical(declared: str | None, fetched_url: str,
                     trusted_domains: Iterable[str] = ()) -> tuple[str, bool]:
    """The page's rel=canonical when it names an article on a host it may speak for, else the
    fetched URL; and whether a declared canonical was refused for its host.

    A page may claim any URL as its canonical. Trusted across hosts, one site could store its text
    under another source's article URL: the real article would then be skipped as "stored
    already", and readers would see the stranger's text under the real link. So a canonical counts
    only on the host that served the page, or under a domain the source is configured for (its own
    site and its `allowed_domains`). Some sites point every page's canonical at their home page;
    trusting that would merge every article into one, so a canonical without a path is ignored.
    """
    fetched = canonical_url(fetched_url)
    if not declared or urlsplit(declared).scheme not in ("http", "https"):
        return fetched, False
    if not urlsplit(declared).path.strip("/"):
        return fetched, False
    if not same_site(declared, fetched_url, trusted_domains):
        return fetched, True
    return canonical_url(declared), False


def same_site(url: str, served_by: str, trusted_domains: Iterable[str] = ()) -> bool:
    """Whether `url` is on the host that served a page, or on/below one of the trusted domains."""
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and (host == (urlsplit(served_by).hostname or "").lower()
                           or on_site(url, trusted_domains))


def on_site(url: str, domains: Iterable[str]) -> bool:
    """Whether the URL's host is one of the domains or below one of them (ports ignored)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith(f".{d}") for d in (d.lower() for d in domains))

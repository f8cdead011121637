"""What a source would give before it is saved or polled: sample articles and one dry poll.

`sample_articles` fetches a few article pages and runs the clean stage's extraction on them, as
`sources add` shows. `dry_poll` is `sources test`: the source's index read by the crawl's reader,
the links checked against the store (read only), extraction and topic scores for the first new
articles. Nothing is written anywhere: no store row, no HTTP cache entry, no settled index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.discovery.dry_round import DryRound
from crawler.discovery.polite_fetch import FetchRefused, PoliteFetcher
from crawler.spiders.candidates import Candidate, site_domain
from crawler.spiders.feed import read_feed
from crawler.spiders.listing import read_listing
from crawler.spiders.sitemap import MAX_CHILD_SITEMAPS, read_sitemap
from pipelines.dedupe.identity import canonical_url, on_site

if TYPE_CHECKING:
    from crawler.config import Config, SourceConfig
    from pipelines.scoring.topics import Topic

READERS = {"feed": read_feed, "sitemap": read_sitemap, "listing": read_listing}
SAMPLES = 2


@dataclass
class Sample:
    """One article page as the clean stage would keep it (or why it could not be read)."""

    url: str
    robots: str
    allowed: bool
    status: int | None = None
    title: str | None = None
    published: datetime | None = None
    language: str | None = None
    chars: int = 0
    opening: str = ""
    error: str | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)

    @property
    def extracted(self) -> bool:
        return self.chars > 0

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["published"] = self.published.isoformat() if self.published else None
        return data


def sample_articles(fetcher: PoliteFetcher, candidates: list[Candidate], language: str | None,
                    count: int = SAMPLES, topics: list[Topic] | None = None) -> list[Sample]:
    """Fetch and extract the first `count` candidates the site's robots.txt allows."""
    from pipelines.extraction.extract import extract_article

    samples: list[Sample] = []
    for candidate in candidates:
        if len(samples) >= count:
            break
        allowed, why = fetcher.robots_verdict(candidate.url)
        sample = Sample(candidate.url, why, allowed)
        samples.append(sample)
        if not allowed:
            count += 1  # a forbidden link is shown, and the next one is tried in its place
            continue
        try:
            page = fetcher.get(candidate.url)
        except FetchRefused as exc:
            sample.error = str(exc)
            continue
        sample.status = page.status
        if page.status != 200:
            sample.error = f"HTTP {page.status}"
            continue
        article = extract_article(page.body, page.url, page.content_type, language)
        sample.title = article.title or candidate.title
        sample.published = article.published or candidate.published
        sample.language = article.language
        sample.chars = len(article.text)
        sample.opening = article.text[:200]
        if not article.text:
            sample.error = "no article text found on the page"
        if topics and article.text:
            from pipelines.scoring.scorer import score_all

            sample.scores = [{"topic": s.topic, "score": round(s.score, 4), "matched": s.matched}
                             for s in score_all(sample.title, article.text, article.language, topics)]
    return samples


@dataclass
class DryPoll:
    """One poll of a source, not made: what it would request, what is new, and what comes out."""

    source: SourceConfig
    index_urls: list[str]
    found: int
    known: int
    new: list[Candidate]
    skipped: dict[str, int]
    problems: list[str]
    samples: list[Sample]
    requested: list[str]
    store_read: bool
    forbidden: list[str] = field(default_factory=list)  # new links robots.txt keeps the crawl from

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.name, "kind": self.source.kind, "url": self.source.url,
            "index_urls": self.index_urls, "found": self.found, "known": self.known,
            "store_read": self.store_read,
            "new": [{"url": c.url, "title": c.title,
                     "published": c.published.isoformat() if c.published else None} for c in self.new],
            "skipped": self.skipped, "problems": self.problems,
            "articles": [s.to_json() for s in self.samples], "requested": self.requested,
            "forbidden_by_robots": self.forbidden,
        }


def dry_poll(config: Config, source: SourceConfig, topics: list[Topic], articles: int = 3) -> DryPoll:
    """Read the source's index now and say what a round would do with it; store nothing."""
    crawl = config.crawl
    fetcher = PoliteFetcher(crawl, [site_domain(source.url), *source.allowed_domains])
    current = DryRound(source, max_page_bytes=crawl.max_page_bytes)
    candidates, index_urls, problems = _read_index(fetcher, current, source)
    fresh: dict[str, Candidate] = {}
    for candidate in candidates:
        if not candidate.url.startswith(("http://", "https://")):
            current.inc_value("not_http")
        elif not on_site(candidate.url, current.domains()):
            current.inc_value("offsite")
        else:
            fresh.setdefault(canonical_url(candidate.url), candidate)
    known, store_read = _known(config, list(fresh))
    oldest = datetime.min.replace(tzinfo=UTC)
    new = sorted((c for url, c in fresh.items() if url not in known),
                 key=lambda c: c.published or oldest, reverse=True)
    if len(new) > crawl.max_articles_per_round:
        current.inc_value("over_budget", len(new) - crawl.max_articles_per_round)
        new = new[: crawl.max_articles_per_round]
    samples = sample_articles(fetcher, new, source.language, articles, topics) if articles else []
    skipped = {key.rsplit("/", 1)[-1]: value for key, value in current.stats.items()}
    known_count = sum(1 for url in fresh if url in known)
    forbidden = [c.url for c in new if not fetcher.robots_verdict(c.url)[0]]
    return DryPoll(source, index_urls, len(candidates), known_count, new, skipped, problems, samples,
                   list(fetcher.requested), store_read, forbidden)


def _read_index(fetcher: PoliteFetcher, current: DryRound, source: SourceConfig
                ) -> tuple[list[Candidate], list[str], list[str]]:
    """Every candidate of the source's index, following sitemap children and listing pages as a
    round does (crawler/spiders/): at most MAX_CHILD_SITEMAPS children, `pages` listing pages."""
    reader = READERS[source.kind]
    queue: list[tuple[str, dict[str, Any]]] = [(source.url, {})]
    candidates: list[Candidate] = []
    index_urls: list[str] = []
    problems: list[str] = []
    while queue and len(index_urls) < 1 + max(MAX_CHILD_SITEMAPS, source.pages):
        url, meta = queue.pop(0)
        index_urls.append(url)
        try:
            page = fetcher.get(url)
        except FetchRefused as exc:
            problems.append(str(exc))
            continue
        if page.status != 200:
            problems.append(f"{url}: HTTP {page.status}")
            continue
        response = page.response()
        response.meta.update(meta)
        read = reader(response, current)  # type: ignore[arg-type]
        if read.broken:
            problems.append(f"{url}: {read.broken}")
            continue
        current.vouch(read.domains)
        candidates.extend(read.candidates)
        queue.extend(read.more)
    return candidates, index_urls, problems


def _known(config: Config, canonical_urls: list[str]) -> tuple[set[str], bool]:
    """The URLs the store has seen, read without writing: no database file is created, nothing
    migrated. (set(), False) when there is no database yet."""
    from pipelines.storage.store import Store, StoreError

    url = config.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return set(), False
    try:
        store = Store.open(url, migrate=False)
    except StoreError:
        return set(), False
    try:
        if store.schema_revision() is None:
            return set(), False
        return store.known_urls(canonical_urls), True
    finally:
        store.close()

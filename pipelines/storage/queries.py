"""Reads of stored matches, one row per story and topic: what `matches`, `show` and the digest print.

A store holds a million articles and a hundred thousand matches, so a read never loads them all:
the folding to one row per story and topic, the order and the page are one SQL query over narrow
columns (ids, scores, dates), and only the rows shown are then read wide: their title and URL,
the first LEAD_PREFIX characters of the text for the lead, their reasons and other appearances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from pipelines.storage.models import Article, DigestItem, Label, Match, Page, Source
from pipelines.storage.search import Via, contains, reads_texts, uses_index

if TYPE_CHECKING:
    from sqlalchemy import Row, Select
    from sqlalchemy.orm import Session

LEAD_LIMIT = 280  # characters of the digest's two-line lead
# Characters of the text read for a lead: LEAD_LIMIT and room for the whitespace lead_of folds.
# A text whose first LEAD_PREFIX characters fold to less than a lead is read whole (rare).
LEAD_PREFIX = 400
BATCH = 500  # rows read wide at a time when every row is wanted (iter_story_matches)
# Matches a page of a search that reads texts reads first in page order, before it weighs going
# on against asking the index (see _walk): a word in one match of forty fills a page of 50.
WALK = 2000
Order = Literal["topic", "score"]


@dataclass
class StoryMatch:
    """A story flagged for a topic: its best-scoring article, and where else it appeared."""

    id: int  # the article id of the best-scoring appearance; `show ID` and `label ID` take it
    match_id: int
    story_id: int
    url: str  # as fetched: links never point where newswatch did not go (see identity.py)
    title: str | None
    source: str
    topic: str
    score: float
    published: datetime | None
    first_seen: datetime
    lead: str
    reasons: dict[str, Any]
    label: bool | None = None  # a reader's verdict on this article and topic, if any
    also_in: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "title": self.title, "source": self.source,
            "topic": self.topic, "score": round(self.score, 4), "published": self.published,
            "first_seen": self.first_seen, "also_in": self.also_in, "story_id": self.story_id,
            "label": None if self.label is None else ("relevant" if self.label else "irrelevant"),
        }


@dataclass
class StoryPage:
    """One page of stories, and how many there are over all pages."""

    rows: list[StoryMatch]
    total: int
    estimated: bool = False  # `total` is estimated: counting would read every text that matches
    walked: int = 0  # candidates whose text a search read in page order (0: no walk, see _walk)


@dataclass(frozen=True)
class Filters:
    """Which matches count, before they are folded to one row per story and topic.

    `source` is the only one applied after the fold: a story is listed under the source of its
    best article. `undigested` keeps the stories and topics that are in no digest yet (sent or
    pending), `digest_id` only those of one digest.
    """

    since: datetime | None = None
    topic: str | None = None
    source: str | None = None
    search: str | None = None
    min_score: float | None = None
    undigested: bool = False
    digest_id: int | None = None


def lead_of(text: str, limit: int = LEAD_LIMIT) -> str:
    """The first sentences of the text, cut on a word boundary: the digest's two-line lead."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def story_page(session: Session, filters: Filters | None = None, *, order: Order = "topic",
               limit: int | None = None, offset: int = 0) -> StoryPage:
    """Stored matches folded to one row per (story, topic), best first: `limit` rows from `offset`.

    `order` "topic" is by topic, then best score, then first seen (what `matches` lists);
    "score" is by best score, then first seen, whatever the topic (what the digest takes).
    """
    filters = filters or Filters()
    walked = _walk(session, filters, order, limit, offset)
    if not isinstance(walked, str):
        narrow, total, estimated, read = walked
        return StoryPage(_widen(session, narrow), total, estimated, read)
    narrow = session.execute(_page(session, filters, order, limit, offset, walked)).all()
    total = (offset + len(narrow) if limit is None or (narrow and len(narrow) < limit)
             else count_stories(session, filters, via=walked))
    return StoryPage(_widen(session, narrow), total)


def story_matches(session: Session, filters: Filters | None = None, *,
                  order: Order = "topic") -> list[StoryMatch]:
    """Every row of `story_page`, read wide a batch at a time: for small stores and tests."""
    return list(iter_story_matches(session, filters, order=order))


def iter_story_matches(session: Session, filters: Filters | None = None, *,
                       order: Order = "topic", offset: int = 0,
                       limit: int | None = None) -> Iterator[StoryMatch]:
    """The rows of `story_page` one after another, however many: the narrow rows are read at
    once (tens of bytes each), the wide ones BATCH at a time, so memory stays bounded."""
    filters = filters or Filters()
    walked = _walk(session, filters, order, limit, offset)
    narrow = (session.execute(_page(session, filters, order, limit, offset, walked)).all()
              if isinstance(walked, str) else walked[0])
    for start in range(0, len(narrow), BATCH):
        yield from _widen(session, narrow[start : start + BATCH])


def count_stories(session: Session, filters: Filters | None = None, *,
                  via: Via = "planner") -> int:
    """How many rows `story_page` has over all pages."""
    best = _best(session, filters or Filters(), via=via).subquery()
    return session.scalar(select(func.count()).select_from(best)) or 0


def _walk(session: Session, filters: Filters, order: Order, limit: int | None,
          offset: int) -> tuple[Sequence[Row[Any]], int, bool, int] | Via:
    """A page of a search that reads texts (every row from `offset` when `limit` is None), found
    by reading candidates' texts in page order: the rows, the total, whether the total is
    estimated, and how many texts were read. Else how the page query should read texts:
    "index" for a word so rare that the index finds its rows with less reading than the walk
    would need; "planner" when no walk applies (no search, or one FTS5 answers).

    A common word is in a large share of the texts: the trigram index hands over most of a
    million rows and each is read (3.3 s for "semiconductor" in 71k of 1M articles), where the
    page order finds 50 in the first few hundred matches. The page is exact: a story's better
    match comes before it in either order, so the fold of a prefix is a prefix of the fold.

    The walk reads WALK candidates, then, while the page is not full, as many more as the share
    found so far says the page needs (twice that, at least WALK; for every row, all of them) as
    long as that is fewer texts than the index would hand over (that share of every stored
    article). The total is exact when every candidate was read, else scaled from the share
    found (counting exactly would read every matching text).
    """
    if not (WALK and filters.search and reads_texts(session, filters.search)):
        return "planner"
    candidates = select(Match.id).where(*_kept(session, Match, replace(filters, search=None)))
    if filters.topic:
        candidates = candidates.where(Match.topic == filters.topic)
    if filters.min_score is not None:
        candidates = candidates.where(Match.score >= filters.min_score)
    many = session.scalar(select(func.count()).select_from(candidates.subquery())) or 0
    indexed = uses_index(session, filters.search)
    stored = (session.scalar(select(func.max(Article.id))) or 0) if indexed else 0  # ~ articles
    end = None if limit is None else offset + limit
    hits, walked, chunk = [], 0, WALK
    while True:
        window = (candidates.order_by(*_order(order)).offset(walked or None).limit(chunk)
                  .scalar_subquery())
        hits += session.execute(_best(session, filters, via="rows")
                                .where(Match.id.in_(window)).order_by(*_order(order))).all()
        walked = min(many, walked + chunk)
        if walked >= many:  # every candidate was read: this is the whole answer
            return hits[offset:end], len(hits), False, walked
        if end is not None and len(hits) >= end:
            return hits[offset:end], max(len(hits), round(len(hits) * many / walked)), True, walked
        share = len(hits) / walked
        more = many - walked
        if end is not None and share:
            more = min(more, round((end - len(hits)) / share))
        if indexed and more >= share * stored:
            return "index"  # it hands over fewer texts than the walk would read
        chunk = max(WALK, 2 * more)


def _best(session: Session, filters: Filters, *, via: Via = "planner") -> Select[Any]:
    """The best match of each story and topic among those the filters keep, narrow columns only.

    "Best" is a match that no other kept match of the same story and topic beats: by a higher
    score, then an earlier first_seen, then a lower id. Asked per row (NOT EXISTS a better one,
    through the index on story and topic), not by ranking every match first: read in score
    order, the digest stops after its `max_items` stories where a window function would have
    ranked all the unsent matches of years first.
    """
    better = aliased(Match, name="better")
    beaten = exists().where(
        better.story_id == Match.story_id, better.topic == Match.topic,
        or_(better.score > Match.score,
            and_(better.score == Match.score,
                 or_(better.first_seen < Match.first_seen,
                     and_(better.first_seen == Match.first_seen, better.id < Match.id)))),
        *_kept(session, better, filters, via))
    query = select(Match.id.label("match_id"), Match.article_id, Match.story_id, Match.topic,
                   Match.score, Match.first_seen).where(*_kept(session, Match, filters, via),
                                                        ~beaten)
    # The same for every match of a story and topic, so no concern of the better match.
    if filters.topic:
        query = query.where(Match.topic == filters.topic)
    if filters.min_score is not None:
        query = query.where(Match.score >= filters.min_score)
    if filters.undigested:
        query = query.where(~exists().where(DigestItem.story_id == Match.story_id,
                                            DigestItem.topic == Match.topic))
    if filters.digest_id is not None:
        query = query.where(exists().where(DigestItem.digest_id == filters.digest_id,
                                           DigestItem.story_id == Match.story_id,
                                           DigestItem.topic == Match.topic))
    if filters.source:  # of the best article: after the fold, so not asked of the better one
        query = query.where(exists().where(
            Article.id == Match.article_id, Article.source_id == Source.id,
            Source.name == filters.source))
    return query


def _kept(session: Session, match: type[Match], filters: Filters,
          via: Via = "planner") -> list[ColumnElement[bool]]:
    """The filters of one match that decide which of a story's matches compete to be its best."""
    kept = []
    if filters.since is not None:
        kept.append(match.first_seen >= filters.since)
    if filters.search:
        kept.append(contains(session, filters.search, match.article_id, via=via))
    return kept


def _order(order: Order) -> tuple[Any, ...]:
    best = (Match.score.desc(), Match.first_seen, Match.id)
    return (Match.topic, *best) if order == "topic" else best


def _page(session: Session, filters: Filters, order: Order, limit: int | None,
          offset: int, via: Via = "planner") -> Select[Any]:
    return (_best(session, filters, via=via).order_by(*_order(order)).limit(limit)
            .offset(offset or None))


def _widen(session: Session, narrow: Sequence[Row[Any]]) -> list[StoryMatch]:
    """The rows shown, read wide: title, URL, date, lead, reasons, label, other appearances."""
    if not narrow:
        return []
    ids = [row.match_id for row in narrow]
    wide = {row.id: row for row in session.execute(
        select(Match.id, Match.reasons, Article.url, Article.title, Article.published,
               func.substr(Article.text, 1, LEAD_PREFIX + 1).label("start"),
               Source.name.label("source"), Label.relevant)
        .join(Article, Match.article_id == Article.id)
        .join(Source, Article.source_id == Source.id)
        .outerjoin(Label, (Label.article_id == Match.article_id) & (Label.topic == Match.topic))
        .where(Match.id.in_(ids)))}
    rows = []
    for row in narrow:
        shown = wide[row.match_id]
        rows.append(StoryMatch(
            id=row.article_id, match_id=row.match_id, story_id=row.story_id, url=shown.url,
            title=shown.title, source=shown.source, topic=row.topic, score=row.score,
            published=shown.published, first_seen=row.first_seen,
            lead=_lead(session, row.article_id, shown.start or ""),
            reasons=shown.reasons or {}, label=shown.relevant))
    _attach_also_in(session, rows)
    return rows


def _lead(session: Session, article_id: int, start: str) -> str:
    if len(start) > LEAD_PREFIX and len(" ".join(start.split())) <= LEAD_LIMIT:
        # The first characters were mostly whitespace: only the whole text gives the lead.
        start = session.scalar(select(Article.text).where(Article.id == article_id)) or ""
    return lead_of(start)


def appearances(session: Session, story_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Every place each story appeared: its stored articles and the exact copies dropped."""
    ids = list(set(story_ids))
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return found
    articles = session.execute(
        select(Article.id, Article.story_id, Article.url, Article.title,
               Source.name)
        .join(Source, Article.source_id == Source.id).where(Article.story_id.in_(ids))
    ).all()
    story_of = {row.id: row.story_id for row in articles}
    for row in articles:
        found[row.story_id].append({"article_id": row.id, "source": row.name, "url": row.url,
                                    "title": row.title})
    copies = session.execute(
        select(Page.article_id, Page.url, Page.title, Source.name)
        .join(Source, Page.source_id == Source.id)
        .where(Page.article_id.in_(list(story_of)), Page.outcome == "duplicate_text")
    ).all()
    for row in copies:
        found[story_of[row.article_id]].append({"article_id": row.article_id,
                                                "source": row.name, "url": row.url,
                                                "title": row.title})
    return found


def _attach_also_in(session: Session, rows: list[StoryMatch]) -> None:
    places = appearances(session, (r.story_id for r in rows))
    for row in rows:
        seen = {row.url}
        for place in places.get(row.story_id, []):
            if place["url"] not in seen:
                seen.add(place["url"])
                row.also_in.append({"source": place["source"], "url": place["url"]})


def labels_for(session: Session, article_id: int) -> dict[str, bool]:
    return {label.topic: label.relevant for label in session.scalars(
        select(Label).where(Label.article_id == article_id))}

"""Near-duplicate stories: LSH band keys of MinHash signatures, stored and looked up in the database.

The index is the `article_bands` table: one row per band of a stored article's signature, its key
indexed. Nothing is held in memory between look-ups, so a process pays per query, not per stored
article, and every process and machine on one database shares one index, always current.
`Store.add_article` looks a new article up inside the transaction that stores it, under the
database's write lock, so two copies stored at once cannot both start a story.

Old rows: migration 0003 gives bands to every stored article, and re-signs, in batches of a few
thousand, those whose signature is missing or of an older SIGNATURE_VERSION. Nothing is
re-signed at run time; an article stored without a signature takes no part. A later bump of
SIGNATURE_VERSION needs a migration that re-signs and re-bands the same way
(`fill_bands` in `versions/0003_article_bands.py`): rows signed the old way share no bands with
new ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from sqlalchemy import Select, bindparam, func, select

from pipelines.dedupe.shingles import (
    CURRENT_HEADER,
    NUM_PERM,
    SIGNATURE_BYTES,
    is_empty,
    jaccard,
    shingle_hashes,
)
from pipelines.storage.models import Article, ArticleBand, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Chosen by benchmarks/near_duplicates_threshold.py; see benchmarks/near_duplicates.md.
DEFAULT_THRESHOLD = 0.33
DEFAULT_WINDOW_DAYS = 30
# LSH bands of 3 values find 79% of pairs at the threshold and 99.6% at 0.5; bands of 2 would
# make 4% of unrelated English articles candidates (40k a query at a million), bands of 4 find
# only 32% at the threshold.
ROWS = 3
BANDS = NUM_PERM // ROWS
# How many of the articles sharing the most bands with a query (the newest first among equals:
# a copy usually follows its original within hours) have their signatures compared. A copy at
# the threshold shares one band or a few; the ~600 unrelated articles that a topical corpus of a
# million makes candidates (benchmarks/near_duplicates.md) mostly share one. The window is
# checked on the RANKED first only: on SQLite the join reads each article past its text, so it
# must stay bounded however many articles share a band. Measured in near_duplicates_index.py.
CANDIDATES = 32
RANKED = 4 * CANDIDATES
# How many of those, closest first, have their text read for the exact check.
SHORTLIST = 5
# With the texts at hand the estimate only shortlists; 0.1 is 2.5 standard errors at 128 values.
_ESTIMATE_MARGIN = 0.1
_MIX32 = np.uint32(0x9E3779B1)


def _band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 32-bit key per band and signature (shape n x bands); equal bands, equal keys.

    A multiply-xor chain in uint32, salted per band so equal values in two bands give different
    keys. 32 bits suffice: a chance collision only adds a candidate that find() then rejects.
    """
    parts = sigs[:, : bands * rows].reshape(len(sigs), bands, rows)
    keys = np.arange(1, bands + 1, dtype=np.uint32) * _MIX32
    for column in range(rows):
        keys = (keys ^ parts[:, :, column]) * _MIX32
    return keys ^ (keys >> np.uint32(15))


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """The stored keys of signatures (int64, n x BANDS): band number << 32 | the band's hash.

    Packing the band number in lets one indexed integer column serve every band, and keeps a
    band's hash from meeting the same hash in another band.
    """
    sigs = np.atleast_2d(np.asarray(sigs, dtype=np.uint32))
    hashes = _band_keys(sigs, BANDS, ROWS).astype(np.int64)
    return (np.arange(BANDS, dtype=np.int64) << 32) | hashes


def band_rows(article_id: int, values: np.ndarray) -> list[dict[str, int]]:
    """The `article_bands` rows of a stored article; none for the empty signature."""
    if is_empty(values):
        return []
    return [{"key": key, "article_id": article_id} for key in band_keys(values)[0].tolist()]


def current_values(data: bytes | None) -> np.ndarray | None:
    """The values of a stored signature of the current version, or None for any other."""
    if data is None or len(data) != SIGNATURE_BYTES or not data.startswith(CURRENT_HEADER):
        return None
    return np.frombuffer(data, dtype="<u4", offset=len(CURRENT_HEADER)).astype(np.uint32)


class NearDuplicate(NamedTuple):
    """A stored article that a new one copies, and how alike the two are."""

    article_id: int
    story_id: int
    similarity: float


@dataclass(frozen=True)
class NearDuplicates:
    """How alike, and how recent, a stored article must be for a new one to join its story."""

    threshold: float = DEFAULT_THRESHOLD
    window_days: int = DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError(f"near-duplicate threshold {self.threshold} must be between 0 and 1")
        if self.window_days < 1:
            raise ValueError(f"dedupe window of {self.window_days} days: give at least 1")

    def find(self, db: Connection | Session, values: np.ndarray, text: str | None = None,
             now: datetime | None = None) -> NearDuplicate | None:
        """The closest stored article fetched in the window before `now`, if near enough.

        Articles sharing a band key with the signature are candidates, ranked by how many they
        share (newest first among equals); one query reads the signatures of the first
        CANDIDATES of the RANKED that are in the window, and they estimate the similarity. Given
        the text, the estimate only shortlists (within 0.1 of the threshold) and the exact
        Jaccard of the texts decides, so a pair near the threshold is not merged on estimation
        noise. (Only when more than RANKED articles older than the window share more bands with
        the query than its copy in the window does would the copy be missed.)
        """
        if is_empty(values):
            return None
        if values.size != NUM_PERM:
            raise ValueError(f"signature has {values.size} values, the index {NUM_PERM}")
        moment = utcnow() if now is None else now
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: give it a zone (the store keeps UTC)")
        since = moment - timedelta(days=self.window_days)
        stored = [row for row in db.execute(_CANDIDATES_SQL, {
            "keys": band_keys(values)[0].tolist(), "since": since})
            if current_values(row.minhash) is not None]
        if not stored:
            return None
        blob = b"".join(row.minhash[len(CURRENT_HEADER) :] for row in stored)
        sigs = np.frombuffer(blob, dtype="<u4").reshape(len(stored), NUM_PERM)
        estimates = (sigs == values).mean(axis=1)
        floor = self.threshold - _ESTIMATE_MARGIN if text is not None else self.threshold
        close = [int(i) for i in np.argsort(-estimates, kind="stable")[:SHORTLIST]
                 if estimates[i] >= floor]
        if not close:
            return None
        if text is None:
            best = stored[close[0]]
            return NearDuplicate(best.id, best.story_id, float(estimates[close[0]]))
        texts = dict(db.execute(select(Article.id, Article.text).where(
            Article.id.in_([stored[i].id for i in close]))).all())
        ours = shingle_hashes(text)
        scores = [(jaccard(ours, shingle_hashes(texts.get(stored[i].id) or "")), i) for i in close]
        score, i = max(scores, key=lambda pair: pair[0])  # the first of equals: the closest estimate
        if score < self.threshold:
            return None
        return NearDuplicate(stored[i].id, stored[i].story_id, score)


def _candidates_query() -> Select[tuple[int, int, bytes | None]]:
    shared = func.count().label("shared")
    ranked = (select(ArticleBand.article_id, shared)
              .where(ArticleBand.key.in_(bindparam("keys", expanding=True)))
              .group_by(ArticleBand.article_id)
              .order_by(shared.desc(), ArticleBand.article_id.desc())
              .limit(RANKED).subquery())
    return (select(Article.id, Article.story_id, Article.minhash)
            .join(ranked, ranked.c.article_id == Article.id)
            .where(Article.fetched_at >= bindparam("since"))
            .order_by(ranked.c.shared.desc(), Article.id.desc())
            .limit(CANDIDATES))


# Built once: putting the statement together took longer than SQLite took to run it.
_CANDIDATES_SQL = _candidates_query()

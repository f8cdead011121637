"""Near-duplicate stories: a compact LSH index over the MinHash signatures of stored articles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from pipelines.dedupe.shingles import (
    CURRENT_HEADER,
    EMPTY_VALUE,
    NUM_PERM,
    SIGNATURE_BYTES,
    is_empty,
    similarity,
)
from pipelines.storage.models import Article, utcnow

if TYPE_CHECKING:
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)

# Chosen by benchmarks/near_duplicates_threshold.py; see benchmarks/near_duplicates.md.
DEFAULT_THRESHOLD = 0.33
# LSH bands of 3 values find 79% of pairs at the threshold and 99.6% at 0.5; bands of 2 would
# make 4% of unrelated English articles candidates (40k a query at a million), bands of 4 find
# only 32% at the threshold.
ROWS = 3
BANDS = NUM_PERM // ROWS
_MIX32 = np.uint32(0x9E3779B1)
_ROW_MASK = np.uint64(0xFFFFFFFF)


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


class NearDuplicateIndex:
    """Signatures of the stored articles in a window, banded for LSH look-ups.

    datasketch's MinHashLSH keeps a Python set per bucket, about 330 bytes per band and entry
    (14 GB for 42 bands at a million articles), so the bands live here in numpy arrays instead:
    each band key packed with its row into one uint64, in sorted runs merged logarithmically
    (inserts stay cheap, a look-up is a binary search per run), plus an unsorted tail of the
    latest inserts.
    """

    _TAIL = 4096

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM,
                 texts: Callable[[int], str | None] | None = None) -> None:
        """`texts` reads a stored article's text, for the exact check in find()."""
        if not 0 < threshold < 1:
            raise ValueError(f"near-duplicate threshold {threshold} must be between 0 and 1")
        self.threshold, self.num_perm = threshold, num_perm
        self.bands, self.rows = num_perm // ROWS, ROWS
        self._texts = texts
        self._size = 0
        self._sigs = np.empty((1024, num_perm), dtype=np.uint32)
        self._ids = np.empty((1024, 3), dtype=np.int64)  # article id, story id, fetched (epoch s)
        self._runs: list[np.ndarray] = []  # sorted (band key << 32 | row), largest first
        self._tail_keys = np.empty((self._TAIL, self.bands), dtype=np.uint32)
        self._tail_rows = np.empty(self._TAIL, dtype=np.uint64)
        self._tail = 0
        # For catch_up(): the newest stored id looked at, and the ids this process added since.
        self._seen_id = 0
        self._added: set[int] = set()
        self.caught_up_at = 0.0

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays: what the window keeps bounded."""
        arrays = [self._sigs, self._ids, self._tail_keys, self._tail_rows, *self._runs]
        return sum(array.nbytes for array in arrays)

    def add(self, article_id: int, story_id: int, values: np.ndarray, fetched_at: datetime) -> None:
        """Index a stored article's signature; an empty one (no story text) is not indexed."""
        if is_empty(values):
            return
        self._added.add(article_id)
        row = self._append(np.asarray(values, dtype=np.uint32)[None, :],
                           np.array([[article_id, story_id, _epoch(fetched_at)]]))
        self._tail_keys[self._tail] = _band_keys(self._sigs[row : row + 1], self.bands,
                                                 self.rows)[0]
        self._tail_rows[self._tail] = row
        self._tail += 1
        if self._tail == self._TAIL:
            self._flush()

    def find(self, values: np.ndarray, text: str | None = None) -> tuple[int, int, float] | None:
        """(article id, story id, similarity) of the closest stored near-duplicate, or None.

        Band collisions only nominate candidates; one is accepted when its estimated Jaccard
        similarity reaches the threshold. Given the text and a way to read stored texts, the
        estimate only shortlists (within 0.1) and the exact Jaccard of the texts decides, so a
        pair near the threshold is not merged on estimation noise.
        """
        if self._size == 0 or is_empty(values):
            return None
        if values.size != self.num_perm:
            raise ValueError(f"signature has {values.size} values, the index {self.num_perm}")
        rows = self._candidates(_band_keys(values[None, :], self.bands, self.rows)[0])
        if rows.size == 0:
            return None
        estimates = (self._sigs[rows] == values).mean(axis=1)
        exact = text is not None and self._texts is not None
        floor = self.threshold - 0.1 if exact else self.threshold
        for i in np.argsort(-estimates, kind="stable")[:5]:
            if estimates[i] < floor:
                break
            article_id, story_id, _ = (int(v) for v in self._ids[rows[i]])
            stored = self._texts(article_id) if exact else None  # type: ignore[misc]
            score = float(estimates[i]) if stored is None else similarity(text or "", stored)
            if score >= self.threshold:
                return article_id, story_id, score
        return None

    def prune(self, older_than: datetime) -> int:
        """Drop articles fetched before `older_than` and give their memory back; returns how many."""
        self._flush()
        keep = self._ids[: self._size, 2] >= _epoch(older_than)
        dropped = self._size - int(keep.sum())
        if dropped:
            new_row = (np.cumsum(keep) - 1).astype(np.uint64)
            for i, run in enumerate(self._runs):  # renumbering keeps each run sorted
                rows = run & _ROW_MASK
                live = keep[rows]
                self._runs[i] = (run[live] & ~_ROW_MASK) | new_row[rows[live]]
            self._size -= dropped
            capacity = max(1024, self._size + self._size // 4)
            self._sigs = np.resize(self._sigs[: keep.size][keep], (capacity, self.num_perm))
            self._ids = np.resize(self._ids[: keep.size][keep], (capacity, 3))
        return dropped

    @classmethod
    def load(cls, store: Store, window_days: int, threshold: float | None = None,
             ) -> NearDuplicateIndex:
        """Rebuild from the stored signatures of the last `window_days` days."""
        index = cls(DEFAULT_THRESHOLD if threshold is None else threshold,
                    texts=partial(_stored_text, store))
        index.catch_up(store, window_days)
        return index

    def catch_up(self, store: Store, window_days: int) -> int:
        """Index the window's articles stored since the last look; returns how many were new here.

        At start that is all of them, in one query. Later it is what other processes stored: the
        daemon crawls sources in parallel processes, each with its own index, and without this the
        same wire story fetched by two of them in one round would start two stories. Rows without
        a current signature (NULL, or an older version) are re-shingled from their text.
        """
        since = utcnow() - timedelta(days=window_days)
        with store.session() as session:
            result = session.execute(
                select(Article.id, Article.story_id, Article.fetched_at, Article.minhash)
                .where(Article.fetched_at >= since, Article.id > self._seen_id)
                .order_by(Article.id)).all()
        self.caught_up_at = time.monotonic()
        if result:
            self._seen_id = result[-1].id
        # Every id this process added was stored before it was added, so the query saw it.
        result = [r for r in result if r.id not in self._added]
        self._added.clear()
        ready = [r for r in result if r.minhash and len(r.minhash) == SIGNATURE_BYTES
                 and r.minhash.startswith(CURRENT_HEADER)]
        if ready:
            blob = b"".join(r.minhash[len(CURRENT_HEADER) :] for r in ready)
            sigs = np.frombuffer(blob, dtype="<u4").reshape(-1, NUM_PERM).astype(np.uint32)
            ids = np.array([(r.id, r.story_id, _epoch(r.fetched_at)) for r in ready])
            keep = ~(sigs == EMPTY_VALUE).all(axis=1)  # texts with no story left
            if keep.any():
                self._bulk(sigs[keep], ids[keep])
        done = {r.id for r in ready}
        stale = {r.id: r for r in result if r.id not in done}
        pending = list(stale)
        if pending:
            from pipelines.dedupe.minhash import signature  # datasketch: only when old rows need it

            logger.info("re-shingling %d stored articles without a current signature", len(stale))
        for start in range(0, len(pending), 500):
            with store.session() as session:
                texts = session.execute(select(Article.id, Article.text).where(
                    Article.id.in_(pending[start : start + 500]))).all()
            for article_id, text in texts:
                row = stale[article_id]
                self.add(row.id, row.story_id, signature(text), row.fetched_at)
        self._added.clear()
        return len(result)

    # -- storage -------------------------------------------------------------------------------

    def _append(self, sigs: np.ndarray, ids: np.ndarray) -> int:
        start, end = self._size, self._size + len(sigs)
        if end > len(self._sigs):
            capacity = max(end, len(self._sigs) * 3 // 2)
            self._sigs = np.resize(self._sigs, (capacity, self.num_perm))
            self._ids = np.resize(self._ids, (capacity, 3))
        self._sigs[start:end], self._ids[start:end] = sigs, ids
        self._size = end
        return start

    def _bulk(self, sigs: np.ndarray, ids: np.ndarray) -> None:
        self._flush()
        start = self._append(sigs, ids)
        parts = []
        for chunk in range(0, len(sigs), 65536):  # bounds the uint64 temporaries
            keys = _band_keys(sigs[chunk : chunk + 65536], self.bands, self.rows)
            rows = np.arange(start + chunk, start + chunk + len(keys), dtype=np.uint64)
            parts.append(((keys.astype(np.uint64) << 32) | rows[:, None]).ravel())
        self._push(np.sort(np.concatenate(parts)))

    def _flush(self) -> None:
        if self._tail:
            keys = self._tail_keys[: self._tail].astype(np.uint64) << 32
            self._push(np.sort((keys | self._tail_rows[: self._tail, None]).ravel()))
            self._tail = 0

    def _push(self, run: np.ndarray) -> None:
        """Add a sorted run, merging runs of similar size so there are only log(n) of them."""
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer, older = self._runs.pop(), self._runs.pop()
            self._runs.append(np.insert(older, np.searchsorted(older, newer), newer))

    def _candidates(self, keys: np.ndarray) -> np.ndarray:
        low, high = keys.astype(np.uint64) << 32, (keys.astype(np.uint64) << 32) | _ROW_MASK
        found = []
        for run in self._runs:
            starts, ends = np.searchsorted(run, low), np.searchsorted(run, high, side="right")
            found += [run[a:b] & _ROW_MASK for a, b in zip(starts, ends, strict=True) if b > a]
        if self._tail:
            hits = (self._tail_keys[: self._tail] == keys).any(axis=1)
            found.append(self._tail_rows[: self._tail][hits])
        return np.unique(np.concatenate(found)).astype(np.intp) if found else np.empty(0, np.intp)


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: give it a zone (the store keeps UTC)")
    return int(moment.timestamp())


def _stored_text(store: Store, article_id: int) -> str | None:
    with store.session() as session:
        return session.scalar(select(Article.text).where(Article.id == article_id))

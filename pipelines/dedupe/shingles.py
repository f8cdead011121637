"""The text side of near-duplicate stories: the story without its outlet, its shingles, and the
stored form of a MinHash signature.

Kept free of datasketch (which imports scipy, ~40 MB and 0.3 s, for tuning its own LSH) and of the
database, so the crawl process, which only compares signatures, loads neither; see minhash.py for
the signing and near_duplicates.py for the index.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from pipelines.dedupe.identity import normalise_text

# Chosen by benchmarks/near_duplicates_threshold.py; see benchmarks/near_duplicates.md.
SHINGLE_K = 7
NUM_PERM = 128
SEED = 1
# Below this many distinct shingles (about as many characters of story) a text is a caption or a
# template, and whatever it shares with another is more likely the outlet than the story: it gets
# the empty signature, which is never indexed nor matched.
MIN_SHINGLES = 60
# What datasketch's MinHash holds before any update: the maximum of every 32-bit value.
EMPTY_VALUE = np.iinfo(np.uint32).max
# Bump when the shingles change (k, patterns, normalisation): load() then re-shingles old rows.
SIGNATURE_VERSION = 1
_HEADER = struct.Struct("<2sBH")
CURRENT_HEADER = _HEADER.pack(b"ND", SIGNATURE_VERSION, NUM_PERM)
SIGNATURE_BYTES = _HEADER.size + 4 * NUM_PERM

# Lines that are the outlet talking, not the story. Dropping them keeps a syndicated copy in
# another template close to the original and keeps two stories under one footer apart. Keyword
# lines go only when short, so a paragraph that mentions a newsletter stays; a body line dropped
# by mistake is dropped from every copy alike, so copies still match.
_COPYRIGHT = re.compile(
    r"무단\s*전재|재배포\s*금지|저작권자|all rights reserved|copyright|[ⓒ©]", re.IGNORECASE)
_OUTLET_LINE = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # reporter e-mail
    r"|^\S{2,4}\s?(?:기자|특파원|인턴기자|객원기자)(?:\s|$|\()"  # Korean byline
    r"|^by\s+\w[\w.'-]*(?:[\s,]+[\w.'-]+){0,5}$|^(?:staff writer|correspondent|reporter)$"
    r"|^(?:입력|수정|등록|updated|published|posted)\b.*\d"
    r"|^[▶▷►]|구독|제보|카카오톡|앱을?\s*(?:내려받|다운)|뉴스레터|기사를?\s*추천|관련\s*기사"
    r"|newsletter|subscribe|sign up|news tip|social media|read more|related (?:articles|stories)"
    r"|originally appeared|(?:reporting|editing|writing) by|getty images|^photo:"
    r"|^[(\[]?(?:사진|그래픽|자료|영상)\s*=",
    re.IGNORECASE,
)
# Datelines glued to the first paragraph: "[서울=뉴시스] 김민준 기자 = ", "SEOUL, June 3 (Wire) - ".
_DATELINE = re.compile(
    r"^\s*[\[(〔【][^\])〕】]{1,30}[\])〕】]\s*(?:\S{2,4}\s?(?:기자|특파원)\s*=\s*)?"
    r"|^[A-Z][A-Z .'-]{1,30},?(?:\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\s*\([^)]{2,30}\)\s*[-–—]+\s*"
)
_SHORT_LINE = 150
_LONG_LINE = 300
_MIX = np.uint64(0x9E3779B97F4A7C15)


def content_text(text: str) -> str:
    """The story without the outlet: template lines dropped, datelines cut, words normalised."""
    kept = []
    for raw in text.splitlines():
        line = _DATELINE.sub("", raw.strip(), count=1)
        if not line or (len(line) <= _LONG_LINE and _COPYRIGHT.search(line)):
            continue
        if len(line) <= _SHORT_LINE and _OUTLET_LINE.search(line):
            continue
        kept.append(normalise_text(line))
    return " ".join(part for part in kept if part)


def shingle_hashes(text: str, k: int = SHINGLE_K) -> np.ndarray:
    """Distinct 32-bit hashes of the k-character shingles of `content_text(text)`.

    Characters, not words: Korean needs no tokenizer, and a particle glued to a noun still
    shares most shingles with the bare noun. Hashed with numpy (a polynomial over code points),
    because a Python hash call per shingle would dominate the pipeline's time.
    """
    codes = np.frombuffer(content_text(text).encode("utf-32-le"), dtype=np.uint32)
    if codes.size == 0:
        return np.empty(0, dtype=np.uint32)
    codes = codes.astype(np.uint64)
    width = min(k, codes.size)
    count = codes.size - width + 1
    hashes = np.zeros(count, dtype=np.uint64)
    for offset in range(width):
        hashes = hashes * _MIX + codes[offset : offset + count]
    hashes ^= hashes >> np.uint64(31)
    hashes *= _MIX
    return _distinct((hashes >> np.uint64(32)).astype(np.uint32))


def _distinct(values: np.ndarray) -> np.ndarray:
    """np.unique of a flat array, by sorting: numpy 2's unique hashes instead, about 20 times
    slower on a page's few thousand shingles (it was nearly a third of the time signing takes)."""
    values = np.sort(values)
    keep = np.empty(values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two shingle sets as shingle_hashes gives them (sorted, distinct)."""
    shared = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - shared
    return shared / union if union else 0.0


def similarity(text_a: str, text_b: str) -> float:
    """Exact Jaccard similarity of the two texts' shingle sets: what signatures estimate."""
    return jaccard(shingle_hashes(text_a), shingle_hashes(text_b))


def is_empty(values: np.ndarray) -> bool:
    """True for the signature of a text with no story left (see MIN_SHINGLES)."""
    return bool((values == EMPTY_VALUE).all())


def to_bytes(values: np.ndarray) -> bytes:
    """A versioned header and the hash values as little-endian uint32: 517 bytes at 128."""
    values = np.asarray(values, dtype="<u4")
    return _HEADER.pack(b"ND", SIGNATURE_VERSION, values.size) + values.tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    """Read what to_bytes wrote; raises ValueError for another version or a damaged value."""
    if len(data) != SIGNATURE_BYTES or not data.startswith(CURRENT_HEADER):
        raise ValueError(f"not a v{SIGNATURE_VERSION} signature of {NUM_PERM} values "
                         f"({len(data)} bytes, header {data[:_HEADER.size]!r}): "
                         "re-run signature() on the article's text")
    return np.frombuffer(data, dtype="<u4", offset=_HEADER.size).astype(np.uint32)

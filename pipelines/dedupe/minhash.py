"""Signing a text for near-duplicate look-ups: datasketch's MinHash over its character shingles.

Only the processes that sign text import this (the extraction workers, and the crawl process when
it re-signs old rows): datasketch loads scipy for its LSH tuning, which the index does not use.
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHash

from pipelines.dedupe.shingles import EMPTY_VALUE, MIN_SHINGLES, NUM_PERM, SEED, shingle_hashes

_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=SEED).permutations


def _identity(value: np.uint32) -> np.uint32:
    return value


def signature(text: str) -> np.ndarray:
    """The MinHash values (uint32) of the text's shingles; empty when too little story is left."""
    hashes = shingle_hashes(text)
    if hashes.size < MIN_SHINGLES:
        return np.full(NUM_PERM, EMPTY_VALUE, dtype=np.uint32)
    mh = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=_identity,
                 permutations=_PERMUTATIONS, scheme="affine32")
    mh.update_batch(hashes)
    return np.asarray(mh.hashvalues, dtype=np.uint32)

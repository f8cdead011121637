"""Signing a text for near-duplicate look-ups: datasketch's MinHash over its character shingles.

The signature is exactly datasketch's `MinHash(num_perm=128, seed=1, scheme="affine32")` fed the
shingle hashes (tests/test_near_duplicates.py checks it value for value), computed here with numpy
in blocks: datasketch's `update_batch` calls a hash function per shingle in Python and builds one
shingles × permutations array, twice the time for the same numbers. datasketch still makes the
permutations. Only the processes that sign text import this (the extraction workers): datasketch
loads scipy for its LSH tuning, which nothing here uses.
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHash

from pipelines.dedupe.shingles import EMPTY_VALUE, MIN_SHINGLES, NUM_PERM, SEED, shingle_hashes

_A, _B = (np.asarray(row, dtype=np.uint32) for row in
          MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations)
_BLOCK = 512  # shingles a step: a 512 x 128 block of uint32 stays in the CPU cache


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before the permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def signature(text: str) -> np.ndarray:
    """The MinHash values (uint32) of the text's shingles; empty when too little story is left."""
    hashes = shingle_hashes(text)
    values = np.full(NUM_PERM, EMPTY_VALUE, dtype=np.uint32)
    if hashes.size < MIN_SHINGLES:
        return values
    with np.errstate(over="ignore"):  # the permutations are modulo 2**32: wrapping is the point
        mixed = _fmix32(hashes.astype(np.uint32))
        for start in range(0, mixed.size, _BLOCK):
            block = mixed[start : start + _BLOCK, None] * _A + _B
            np.minimum(values, block.min(axis=0), out=values)
    return values

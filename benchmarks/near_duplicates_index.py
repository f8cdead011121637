"""Near-duplicate index at scale: insert and query time, memory, at 100k and 1M signatures.

Stored signatures are synthetic: random values below 2^32 / 1,000, as the minima of a story of
about a thousand shingles are (uniform values would look like two-shingle captions, which the
index ignores). Planted near-copies of stored signatures, sharing a known fraction of values,
check recall; fresh random signatures check that unrelated queries find nothing.

Measured per size: add() latency (median, p99, max: the max is a tail merge), total build time,
find() latency for misses and hits (median, p99), recall per planted similarity, the index's
array memory and the process RSS growth, and NearDuplicateIndex.load() from a SQLite store.
With --baseline, datasketch's MinHashLSH with the same bands at the smallest size, for scale.

Run by hand (a few minutes, about 3 GB of RAM at 1M):
    python benchmarks/near_duplicates_index.py [--sizes 100000 1000000] [--baseline]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHashLSH
from sqlalchemy import insert

from pipelines.dedupe import near_duplicates as nd
from pipelines.dedupe import shingles as sh
from pipelines.dedupe.minhash import signature
from pipelines.storage.models import Article, Source, Story
from pipelines.storage.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "near_duplicates"
LOW = 2**32 // 1_000
SHARES = (0.25, 0.4, 0.5, 0.7, 0.9)  # planted similarity; 0.25 is below the threshold


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def lean(values: np.ndarray) -> LeanMinHash:
    return LeanMinHash(seed=sh.SEED, hashvalues=values, scheme="affine32")


def planted(rng: np.random.Generator, sigs: np.ndarray, count: int) -> list[tuple[int, float,
                                                                                  np.ndarray]]:
    """(stored row, share, query values): stored signatures with 1 - share of values redrawn."""
    out = []
    for row in rng.choice(len(sigs), size=count, replace=False):
        share = SHARES[len(out) % len(SHARES)]
        values = sigs[row].copy()
        changed = rng.choice(sh.NUM_PERM, size=round(sh.NUM_PERM * (1 - share)), replace=False)
        values[changed] = rng.integers(0, LOW, size=changed.size, dtype=np.uint32)
        out.append((int(row), share, values))
    return out


def ms(seconds: np.ndarray, q: float) -> str:
    return f"{np.percentile(seconds, q) * 1e3:.3f}"


def bench_index(size: int, queries: int, rng: np.random.Generator) -> dict[str, str]:
    sigs = rng.integers(0, LOW, size=(size, sh.NUM_PERM), dtype=np.uint32)
    now = datetime.now(UTC)
    gc.collect()
    before = rss_mb()
    index = nd.NearDuplicateIndex()
    adds = np.empty(size)
    started = time.perf_counter()
    for row in range(size):
        mh = sigs[row]
        t = time.perf_counter()
        index.add(row, row, mh, now)
        adds[row] = time.perf_counter() - t
    build = time.perf_counter() - started
    grown = rss_mb() - before

    misses, hits, recall = [], [], {share: [0, 0] for share in SHARES}
    for _ in range(queries):
        mh = rng.integers(0, LOW, size=sh.NUM_PERM, dtype=np.uint32)
        t = time.perf_counter()
        found = index.find(mh)
        misses.append(time.perf_counter() - t)
        if found is not None:
            raise SystemExit(f"an unrelated signature matched {found}: the index is broken")
    for row, share, values in planted(rng, sigs, queries):
        mh = values
        t = time.perf_counter()
        found = index.find(mh)
        hits.append(time.perf_counter() - t)
        recall[share][0] += found is not None and found[0] == row
        recall[share][1] += 1
    return {
        "stored": f"{size:,}",
        "add() median / p99 / max ms": f"{ms(adds, 50)} / {ms(adds, 99)} / {adds.max() * 1e3:.1f}",
        "build by add(), total s": f"{build:.1f}",
        "find() miss median / p99 ms": f"{ms(np.array(misses), 50)} / {ms(np.array(misses), 99)}",
        "find() hit median / p99 ms": f"{ms(np.array(hits), 50)} / {ms(np.array(hits), 99)}",
        "found (planted similarity)": ", ".join(
            f"{share}: {got}/{n}" for share, (got, n) in recall.items()),
        "index arrays MB": f"{index.nbytes / 2**20:.0f}",
        "bytes per signature": f"{index.nbytes / size:.0f}",
        "RSS growth MB": f"{grown:.0f}",
    } | bench_load(sigs, now)


def bench_load(sigs: np.ndarray, now: datetime) -> dict[str, str]:
    """Store the signatures in a fresh SQLite file and time load() (a restart)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store.open(url)
        with store.session() as session:
            session.add(Source(name="bench", kind="feed", url="https://bench.example/"))
            session.add(Story(id=1))
        header = sh.to_bytes(sigs[0])[:5]
        with store.engine.begin() as connection:
            for start in range(0, len(sigs), 20_000):
                connection.execute(insert(Article), [
                    {"source_id": 1, "story_id": 1, "url": f"u{i}", "canonical_url": f"u{i}",
                     "text": "", "fingerprint": f"f{i}", "fetched_at": now - timedelta(hours=1),
                     "minhash": header + sigs[i].astype("<u4").tobytes()}
                    for i in range(start, min(start + 20_000, len(sigs)))])
        gc.collect()
        started = time.perf_counter()
        loaded = nd.NearDuplicateIndex.load(Store(url), window_days=30)
        took = time.perf_counter() - started
        if len(loaded) != len(sigs):
            raise SystemExit(f"load() rebuilt {len(loaded)} of {len(sigs)} signatures")
        mh = sigs[len(sigs) // 2]
        if loaded.find(mh) is None:
            raise SystemExit("load() lost a stored signature")
        store.engine.dispose()
    return {"load() from SQLite s": f"{took:.1f}"}


def bench_datasketch(size: int, queries: int, rng: np.random.Generator) -> dict[str, str]:
    """datasketch's MinHashLSH (dict storage) with the same bands, for comparison."""
    sigs = rng.integers(0, LOW, size=(size, sh.NUM_PERM), dtype=np.uint32)
    gc.collect()
    before = rss_mb()
    lsh = MinHashLSH(num_perm=sh.NUM_PERM, params=(nd.BANDS, nd.ROWS))
    started = time.perf_counter()
    for row in range(size):
        lsh.insert(row, lean(sigs[row]), check_duplication=False)
    build = time.perf_counter() - started
    grown = rss_mb() - before
    times = []
    for _ in range(queries):
        mh = lean(rng.integers(0, LOW, size=sh.NUM_PERM, dtype=np.uint32))
        t = time.perf_counter()
        lsh.query(mh)
        times.append(time.perf_counter() - t)
    return {"stored": f"{size:,}", "insert mean ms": f"{build / size * 1e3:.3f}",
            "query median / p99 ms": f"{ms(np.array(times), 50)} / {ms(np.array(times), 99)}",
            "RSS growth MB": f"{grown:.0f}", "bytes per signature": f"{grown * 2**20 / size:.0f}",
            "(signatures themselves not kept)": ""}


def bench_per_article(repeat: int = 200) -> dict[str, str]:
    """signature() on the fixture articles, and find() with the exact check on a stored text."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
    started = time.perf_counter()
    for _ in range(repeat // 10):
        for text in texts:
            signature(text)
    per_signature = (time.perf_counter() - started) / (len(texts) * (repeat // 10))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'exact.db'}"
        store = Store.open(url)
        with store.session() as session:
            session.add(Source(name="bench", kind="feed", url="https://bench.example/"))
        now = datetime.now(UTC)
        for i, text in enumerate(texts):
            store.add_article({"source_id": 1, "url": f"u{i}", "canonical_url": f"u{i}",
                               "text": text, "fingerprint": f"f{i}", "fetched_at": now,
                               "minhash": sh.to_bytes(signature(text))})
        index = nd.NearDuplicateIndex.load(Store(url), window_days=30)
        copy = "\n".join(texts[0].splitlines()[:-1])
        mh = signature(copy)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            found = index.find(mh, text=copy)
            times.append(time.perf_counter() - t)
        if found is None:
            raise SystemExit("the exact check lost a copy")
        store.engine.dispose()
    return {"signature() per article ms": f"{per_signature * 1e3:.3f}",
            "find() hit with exact check ms": f"{ms(np.array(times), 50)} (median), "
                                              f"{ms(np.array(times), 99)} (p99)"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"index: num_perm {sh.NUM_PERM}, {nd.BANDS} bands x {nd.ROWS} rows, threshold "
          f"{nd.DEFAULT_THRESHOLD}, find() without text (estimate only)\n")
    for key, value in bench_per_article().items():
        print(f"{key:<32}{value}")
    print()
    for size in args.sizes:
        for key, value in bench_index(size, args.queries, np.random.default_rng(args.seed)).items():
            print(f"{key:<32}{value}")
        print()
    if args.baseline:
        print("datasketch MinHashLSH, same bands")
        result = bench_datasketch(min(args.sizes), args.queries, np.random.default_rng(args.seed))
        for key, value in result.items():
            print(f"{key:<32}{value}")


if __name__ == "__main__":
    main()
